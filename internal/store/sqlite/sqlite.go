// Package sqlite implements store.Store on a single SQLite file (WAL mode,
// pure-Go driver), the default metadata store.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/sqlitedb"
	"github.com/ocellus/ocellus/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite implementation of store.Store.
type Store struct {
	db   *sql.DB
	opts Options
}

var _ store.Store = (*Store)(nil)

// Options configures Open. The zero value opens a database made by this
// version, or one with nothing left to move.
type Options struct {
	// MoveArtifact takes a Lookout for Vision model artifact that an
	// Ocellus before migration 0005 kept unsealed in the database, seals
	// it into the artifact store with the model's KmsKeyId and returns the
	// path to record on the model. Nil: Open refuses a database that still
	// holds such artifacts, rather than lose them.
	MoveArtifact func(modelARN, kmsKeyID string, data []byte) (string, error)
}

// Open opens (creating if needed) the database file at path and applies
// pending migrations in order (internal/sqlitedb: WAL, synchronous=FULL,
// foreign keys, immediate write transactions, four connections).
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, path string, opts Options) (*Store, error) {
	db, err := sqlitedb.Open(path, sqlitedb.Options{ForeignKeys: true, Immediate: true, MaxOpenConns: 4})
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, opts: opts}
	if err := sqlitedb.MigrateWith(ctx, db, migrations, "migrations", map[string]sqlitedb.Hook{artifactsMigration: s.moveArtifacts}); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// InTx runs fn (store.Store.InTx): the queue is in another file, so there is
// no transaction to share with it; calls in fn commit one by one.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error { return fn(ctx) }

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return ocellus.Wrap(err, "begin transaction")
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return ocellus.Wrap(err, "commit")
	}
	return nil
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// CreateProject inserts p; AlreadyExists if the account has that name.
func (s *Store) CreateProject(ctx context.Context, p *ocellus.Project) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO projects (`+store.ProjectColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ARN, p.Account, p.Service, p.Name, p.Feature, p.AutoUpdate, string(p.Status), p.Created.UnixMilli())
	if isUnique(err) {
		return ocellus.Errorf(ocellus.AlreadyExists, "A project named %s already exists.", p.Name)
	}
	return ocellus.Wrap(err, "insert project")
}

// Project returns the project with that ARN.
func (s *Store) Project(ctx context.Context, arn string) (*ocellus.Project, error) {
	p, err := store.ScanProject(s.db.QueryRowContext(ctx, `SELECT `+store.ProjectColumns+` FROM projects WHERE arn = ?`, arn))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The project %s does not exist.", arn)
	}
	if err != nil {
		return nil, ocellus.Wrap(err, "read project")
	}
	return p, nil
}

// ListProjects lists an account's projects in creation order.
func (s *Store) ListProjects(ctx context.Context, f store.ProjectFilter) ([]*ocellus.Project, error) {
	q := `SELECT ` + store.ProjectColumns + ` FROM projects WHERE account = ? AND service = ?`
	args := []any{f.Account, f.Service}
	if len(f.Names) > 0 {
		q += ` AND name IN (` + placeholders(len(f.Names)) + `)`
		for _, n := range f.Names {
			args = append(args, n)
		}
	}
	if len(f.Features) > 0 {
		q += ` AND feature IN (` + placeholders(len(f.Features)) + `)`
		for _, n := range f.Features {
			args = append(args, n)
		}
	}
	if f.After != "" {
		q += ` AND (created_ms, arn) > (SELECT created_ms, arn FROM projects WHERE arn = ?)`
		args = append(args, f.After)
	}
	q += ` ORDER BY created_ms, arn`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, ocellus.Wrap(err, "list projects")
	}
	defer rows.Close()
	var out []*ocellus.Project
	for rows.Next() {
		p, err := store.ScanProject(rows)
		if err != nil {
			return nil, ocellus.Wrap(err, "scan project")
		}
		out = append(out, p)
	}
	return out, ocellus.Wrap(rows.Err(), "list projects")
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// DeleteProject removes a project and everything attached to it.
func (s *Store) DeleteProject(ctx context.Context, arn string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM projects WHERE arn = ?`, arn)
		if err != nil {
			return ocellus.Wrap(err, "delete project")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ocellus.Errorf(ocellus.NotFound, "The project %s does not exist.", arn)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM project_policies WHERE project_arn = ?`, arn); err != nil {
			return ocellus.Wrap(err, "delete policies")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE arn = ? OR arn LIKE ?`, arn, arn+"/%"); err != nil {
			return ocellus.Wrap(err, "delete tags")
		}
		rows, err := tx.QueryContext(ctx, `SELECT arn FROM datasets WHERE project_arn = ?`, arn)
		if err != nil {
			return ocellus.Wrap(err, "list project datasets")
		}
		var datasets []string
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return ocellus.Wrap(err, "scan dataset arn")
			}
			datasets = append(datasets, d)
		}
		rows.Close()
		for _, d := range datasets {
			if err := deleteDatasetRows(ctx, tx, d); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM datasets WHERE project_arn = ?`, arn)
		return ocellus.Wrap(err, "delete project datasets")
	})
}

// SetTags upserts tags, keeping the total within max.
func (s *Store) SetTags(ctx context.Context, arn string, tags map[string]string, max int) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for k, v := range tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tags (arn, key, value) VALUES (?, ?, ?) ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value`, arn, k, v); err != nil {
				return ocellus.Wrap(err, "set tag")
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tags WHERE arn = ?`, arn).Scan(&n); err != nil {
			return ocellus.Wrap(err, "count tags")
		}
		if n > max {
			return ocellus.Errorf(ocellus.QuotaExceeded, "A resource can have at most %d tags; this request would give it %d.", max, n)
		}
		return nil
	})
}

// RemoveTags deletes the given keys; absent keys are ignored.
func (s *Store) RemoveTags(ctx context.Context, arn string, keys []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE arn = ? AND key = ?`, arn, k); err != nil {
				return ocellus.Wrap(err, "remove tag")
			}
		}
		return nil
	})
}

// Tags returns the tags on arn.
func (s *Store) Tags(ctx context.Context, arn string) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, value FROM tags WHERE arn = ?`, arn)
	if err != nil {
		return nil, ocellus.Wrap(err, "list tags")
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, ocellus.Wrap(err, "scan tag")
		}
		out[k] = v
	}
	return out, ocellus.Wrap(rows.Err(), "list tags")
}

// PutPolicy creates or replaces a project policy under optimistic concurrency.
func (s *Store) PutPolicy(ctx context.Context, p *ocellus.Policy, expectRevision string, max int) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var cur string
		var created int64
		err := tx.QueryRowContext(ctx, `SELECT revision_id, created_ms FROM project_policies WHERE project_arn = ? AND name = ?`, p.ProjectARN, p.Name).Scan(&cur, &created)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if expectRevision != "" {
				return ocellus.Errorf(ocellus.InvalidPolicyRevision, "The policy %s does not exist, so revision id %s does not match.", p.Name, expectRevision)
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM project_policies WHERE project_arn = ?`, p.ProjectARN).Scan(&n); err != nil {
				return ocellus.Wrap(err, "count policies")
			}
			if n >= max {
				return ocellus.Errorf(ocellus.QuotaExceeded, "The project already has the maximum of %d project policies.", max)
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO project_policies (project_arn, name, revision_id, document, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?)`,
				p.ProjectARN, p.Name, p.RevisionID, p.Document, p.Created.UnixMilli(), p.Updated.UnixMilli())
			return ocellus.Wrap(err, "insert policy")
		case err != nil:
			return ocellus.Wrap(err, "read policy")
		}
		if expectRevision == "" {
			return ocellus.Errorf(ocellus.AlreadyExists, "The policy %s already exists; pass its PolicyRevisionId to update it.", p.Name)
		}
		if expectRevision != cur {
			return ocellus.Errorf(ocellus.InvalidPolicyRevision, "The revision id %s does not match the current revision of policy %s.", expectRevision, p.Name)
		}
		p.Created = time.UnixMilli(created).UTC()
		_, err = tx.ExecContext(ctx, `UPDATE project_policies SET revision_id = ?, document = ?, updated_ms = ? WHERE project_arn = ? AND name = ?`,
			p.RevisionID, p.Document, p.Updated.UnixMilli(), p.ProjectARN, p.Name)
		return ocellus.Wrap(err, "update policy")
	})
}

// DeletePolicy deletes a project policy.
func (s *Store) DeletePolicy(ctx context.Context, projectARN, name, expectRevision string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT revision_id FROM project_policies WHERE project_arn = ? AND name = ?`, projectARN, name).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return ocellus.Errorf(ocellus.NotFound, "The policy %s does not exist on project %s.", name, projectARN)
		}
		if err != nil {
			return ocellus.Wrap(err, "read policy")
		}
		if expectRevision != "" && expectRevision != cur {
			return ocellus.Errorf(ocellus.InvalidPolicyRevision, "The revision id %s does not match the current revision of policy %s.", expectRevision, name)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM project_policies WHERE project_arn = ? AND name = ?`, projectARN, name)
		return ocellus.Wrap(err, "delete policy")
	})
}

// ListPolicies lists policies by name.
func (s *Store) ListPolicies(ctx context.Context, projectARN, after string, limit int) ([]*ocellus.Policy, error) {
	q := `SELECT project_arn, name, revision_id, document, created_ms, updated_ms FROM project_policies WHERE project_arn = ? AND name > ? ORDER BY name`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, projectARN, after)
	if err != nil {
		return nil, ocellus.Wrap(err, "list policies")
	}
	defer rows.Close()
	var out []*ocellus.Policy
	for rows.Next() {
		var p ocellus.Policy
		var c, u int64
		if err := rows.Scan(&p.ProjectARN, &p.Name, &p.RevisionID, &p.Document, &c, &u); err != nil {
			return nil, ocellus.Wrap(err, "scan policy")
		}
		p.Created, p.Updated = time.UnixMilli(c).UTC(), time.UnixMilli(u).UTC()
		out = append(out, &p)
	}
	return out, ocellus.Wrap(rows.Err(), "list policies")
}
