// Package postgres implements store.Store on PostgreSQL (pgx v5), the
// metadata store of several Ocellus nodes sharing one database.
//
// The schema comes from embedded, ordered migrations (migrations/NNNN_name.sql),
// applied as internal/sqlitedb applies the SQLite store's: each in one
// transaction with its row in schema_migrations, names never reused. A
// session advisory lock held while migrating makes nodes that start together apply
// them once.
//
// Driver errors are told apart by SQLSTATE code, never by message: a
// unique violation (23505) is the domain's AlreadyExists where the
// operation's contract says so, as SQLite's unique violations are; a full
// disk (53100) is the error a full data volume gives (ocellus.DiskFull).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/pgtx"
	"github.com/ocellus/ocellus/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	pool *pgxpool.Pool
	own  bool // Close closes pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN, as pgx takes them) and applies pending migrations. Close closes
// the connection pool.
func Open(ctx context.Context, url string) (*Store, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s, err := New(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// New is Open on a pool the caller owns (and closes after Close), so that
// the job queue can share it.
func New(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	if err := pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool, migrations, "migrations"); err != nil {
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Pool is the connection pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool if Open made it.
func (s *Store) Close() error {
	if s.own {
		s.pool.Close()
	}
	return nil
}

// migrationLock is the advisory lock key that serializes migrations
// between nodes ("ocellus" in ASCII).
const migrationLock = 0x6f63656c6c7573

// migrate applies the migrations dir/*.sql of fsys the database has not
// recorded, in file-name order, each in its own transaction with its row in
// schema_migrations (version = the file name without ".sql"). It holds a
// session advisory lock throughout, so that nodes starting together wait
// for one another rather than race on the catalog.
func migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS, dir string) error {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_ms BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrations table: %w", err)
	}
	for _, name := range names {
		version := strings.TrimSuffix(path.Base(name), ".sql")
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			body, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)`, version, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", version, err)
		}
	}
	return nil
}

// SQLSTATE codes the adapter maps (PostgreSQL, Appendix A).
const (
	codeUniqueViolation = "23505"
	codeDiskFull        = "53100"
)

func code(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isUnique(err error) bool { return code(err) == codeUniqueViolation }

// diskFullError is a PostgreSQL "disk full" that reads as a full volume:
// errors.Is(err, syscall.ENOSPC) holds, so ocellus.DiskFull and the API's
// answer are those of SQLite's SQLITE_FULL.
type diskFullError struct{ pg error }

func (e diskFullError) Error() string   { return "database disk is full: " + e.pg.Error() }
func (e diskFullError) Unwrap() []error { return []error{syscall.ENOSPC, e.pg} }

// wrap is ocellus.Wrap with the driver's errors mapped first.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if code(err) == codeDiskFull {
		err = diskFullError{err}
	}
	return ocellus.Wrap(err, format, args...)
}

// querier is what a pool and a transaction share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// q is where a call made with ctx runs: the transaction of InTx that ctx
// carries (internal/pgtx), else the pool.
func (s *Store) q(ctx context.Context) querier {
	if tx := pgtx.From(ctx); tx != nil {
		return tx
	}
	return s.pool
}

// InTx runs fn with a context that carries one transaction: every store
// call, and the job queue's Enqueue on the same database, made with that
// context is committed together when fn returns nil, or rolled back with
// the rest otherwise. Inside it, a call that needs a transaction of its
// own takes a savepoint.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if pgtx.From(ctx) != nil {
		return fn(ctx)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap(err, "begin transaction")
	}
	if err := fn(pgtx.With(ctx, tx)); err != nil {
		tx.Rollback(ctx)
		return err
	}
	return wrap(tx.Commit(ctx), "commit")
}

// tx runs fn in a transaction (a savepoint in the transaction of InTx):
// committed when fn returns nil, rolled back otherwise.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	var tx pgx.Tx
	var err error
	if outer := pgtx.From(ctx); outer != nil {
		tx, err = outer.Begin(ctx)
	} else {
		tx, err = s.pool.Begin(ctx)
	}
	if err != nil {
		return wrap(err, "begin transaction")
	}
	if err := fn(tx); err != nil {
		tx.Rollback(ctx)
		return err
	}
	return wrap(tx.Commit(ctx), "commit")
}

// lock serializes, until the transaction ends, the transactions that
// check a count before they write (tags and policies of one resource).
func lock(ctx context.Context, tx pgx.Tx, key string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key)
	return wrap(err, "lock %s", key)
}

// collect scans every row with scan.
func collect[T any](rows pgx.Rows, err error, what string, scan func(store.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, wrap(err, "list %s", what)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, wrap(err, "scan %s", what)
		}
		out = append(out, v)
	}
	return out, wrap(rows.Err(), "list %s", what)
}

// CreateProject inserts p; AlreadyExists if the account has that name.
func (s *Store) CreateProject(ctx context.Context, p *ocellus.Project) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO projects (`+store.ProjectColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		p.ARN, p.Account, p.Service, p.Name, p.Feature, p.AutoUpdate, string(p.Status), p.Created.UnixMilli())
	if isUnique(err) {
		return ocellus.Errorf(ocellus.AlreadyExists, "A project named %s already exists.", p.Name)
	}
	return wrap(err, "insert project")
}

// Project returns the project with that ARN.
func (s *Store) Project(ctx context.Context, arn string) (*ocellus.Project, error) {
	p, err := store.ScanProject(s.q(ctx).QueryRow(ctx, `SELECT `+store.ProjectColumns+` FROM projects WHERE arn = $1`, arn))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The project %s does not exist.", arn)
	}
	if err != nil {
		return nil, wrap(err, "read project")
	}
	return p, nil
}

// ListProjects lists an account's projects in creation order.
func (s *Store) ListProjects(ctx context.Context, f store.ProjectFilter) ([]*ocellus.Project, error) {
	q := `SELECT ` + store.ProjectColumns + ` FROM projects WHERE account = $1 AND service = $2`
	args := []any{f.Account, f.Service}
	if len(f.Names) > 0 {
		args = append(args, f.Names)
		q += fmt.Sprintf(` AND name = ANY($%d)`, len(args))
	}
	if len(f.Features) > 0 {
		args = append(args, f.Features)
		q += fmt.Sprintf(` AND feature = ANY($%d)`, len(args))
	}
	if f.After != "" {
		args = append(args, f.After)
		q += fmt.Sprintf(` AND (created_ms, arn) > (SELECT created_ms, arn FROM projects WHERE arn = $%d)`, len(args))
	}
	q += ` ORDER BY created_ms, arn`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.q(ctx).Query(ctx, q, args...)
	return collect(rows, err, "projects", store.ScanProject)
}

// DeleteProject removes a project and everything attached to it.
func (s *Store) DeleteProject(ctx context.Context, arn string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM projects WHERE arn = $1`, arn)
		if err != nil {
			return wrap(err, "delete project")
		}
		if tag.RowsAffected() == 0 {
			return ocellus.Errorf(ocellus.NotFound, "The project %s does not exist.", arn)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM project_policies WHERE project_arn = $1`, arn); err != nil {
			return wrap(err, "delete policies")
		}
		// The project's own tags and those of what its ARN prefixes
		// (datasets, versions).
		if _, err := tx.Exec(ctx, `DELETE FROM tags WHERE arn = $1 OR starts_with(arn, $2)`, arn, arn+"/"); err != nil {
			return wrap(err, "delete tags")
		}
		rows, err := tx.Query(ctx, `SELECT arn FROM datasets WHERE project_arn = $1`, arn)
		datasets, err := collect(rows, err, "project datasets", func(r store.Row) (d string, err error) {
			err = r.Scan(&d)
			return d, err
		})
		if err != nil {
			return err
		}
		for _, d := range datasets {
			if err := deleteDatasetRows(ctx, tx, d); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM datasets WHERE project_arn = $1`, arn)
		return wrap(err, "delete project datasets")
	})
}

// SetTags upserts tags, keeping the total within max.
func (s *Store) SetTags(ctx context.Context, arn string, tags map[string]string, max int) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := lock(ctx, tx, "tags "+arn); err != nil {
			return err
		}
		for k, v := range tags {
			if _, err := tx.Exec(ctx, `INSERT INTO tags (arn, key, value) VALUES ($1, $2, $3) ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value`, arn, k, v); err != nil {
				return wrap(err, "set tag")
			}
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM tags WHERE arn = $1`, arn).Scan(&n); err != nil {
			return wrap(err, "count tags")
		}
		if n > max {
			return ocellus.Errorf(ocellus.QuotaExceeded, "A resource can have at most %d tags; this request would give it %d.", max, n)
		}
		return nil
	})
}

// RemoveTags deletes the given keys; absent keys are ignored.
func (s *Store) RemoveTags(ctx context.Context, arn string, keys []string) error {
	_, err := s.q(ctx).Exec(ctx, `DELETE FROM tags WHERE arn = $1 AND key = ANY($2)`, arn, keys)
	return wrap(err, "remove tags")
}

// Tags returns the tags on arn.
func (s *Store) Tags(ctx context.Context, arn string) (map[string]string, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT key, value FROM tags WHERE arn = $1`, arn)
	kvs, err := collect(rows, err, "tags", func(r store.Row) (kv [2]string, err error) {
		err = r.Scan(&kv[0], &kv[1])
		return kv, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		out[kv[0]] = kv[1]
	}
	return out, nil
}

// PutPolicy creates or replaces a project policy under optimistic concurrency.
func (s *Store) PutPolicy(ctx context.Context, p *ocellus.Policy, expectRevision string, max int) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := lock(ctx, tx, "policies "+p.ProjectARN); err != nil {
			return err
		}
		var cur string
		var created int64
		err := tx.QueryRow(ctx, `SELECT revision_id, created_ms FROM project_policies WHERE project_arn = $1 AND name = $2`, p.ProjectARN, p.Name).Scan(&cur, &created)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if expectRevision != "" {
				return ocellus.Errorf(ocellus.InvalidPolicyRevision, "The policy %s does not exist, so revision id %s does not match.", p.Name, expectRevision)
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM project_policies WHERE project_arn = $1`, p.ProjectARN).Scan(&n); err != nil {
				return wrap(err, "count policies")
			}
			if n >= max {
				return ocellus.Errorf(ocellus.QuotaExceeded, "The project already has the maximum of %d project policies.", max)
			}
			_, err = tx.Exec(ctx, `INSERT INTO project_policies (project_arn, name, revision_id, document, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6)`,
				p.ProjectARN, p.Name, p.RevisionID, p.Document, p.Created.UnixMilli(), p.Updated.UnixMilli())
			return wrap(err, "insert policy")
		case err != nil:
			return wrap(err, "read policy")
		}
		if expectRevision == "" {
			return ocellus.Errorf(ocellus.AlreadyExists, "The policy %s already exists; pass its PolicyRevisionId to update it.", p.Name)
		}
		if expectRevision != cur {
			return ocellus.Errorf(ocellus.InvalidPolicyRevision, "The revision id %s does not match the current revision of policy %s.", expectRevision, p.Name)
		}
		p.Created = time.UnixMilli(created).UTC()
		_, err = tx.Exec(ctx, `UPDATE project_policies SET revision_id = $1, document = $2, updated_ms = $3 WHERE project_arn = $4 AND name = $5`,
			p.RevisionID, p.Document, p.Updated.UnixMilli(), p.ProjectARN, p.Name)
		return wrap(err, "update policy")
	})
}

// DeletePolicy deletes a project policy.
func (s *Store) DeletePolicy(ctx context.Context, projectARN, name, expectRevision string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var cur string
		err := tx.QueryRow(ctx, `SELECT revision_id FROM project_policies WHERE project_arn = $1 AND name = $2 FOR UPDATE`, projectARN, name).Scan(&cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return ocellus.Errorf(ocellus.NotFound, "The policy %s does not exist on project %s.", name, projectARN)
		}
		if err != nil {
			return wrap(err, "read policy")
		}
		if expectRevision != "" && expectRevision != cur {
			return ocellus.Errorf(ocellus.InvalidPolicyRevision, "The revision id %s does not match the current revision of policy %s.", expectRevision, name)
		}
		_, err = tx.Exec(ctx, `DELETE FROM project_policies WHERE project_arn = $1 AND name = $2`, projectARN, name)
		return wrap(err, "delete policy")
	})
}

// ListPolicies lists policies by name.
func (s *Store) ListPolicies(ctx context.Context, projectARN, after string, limit int) ([]*ocellus.Policy, error) {
	q := `SELECT project_arn, name, revision_id, document, created_ms, updated_ms FROM project_policies WHERE project_arn = $1 AND name > $2 ORDER BY name`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, err := s.q(ctx).Query(ctx, q, projectARN, after)
	return collect(rows, err, "policies", func(r store.Row) (*ocellus.Policy, error) {
		var p ocellus.Policy
		var c, u int64
		if err := r.Scan(&p.ProjectARN, &p.Name, &p.RevisionID, &p.Document, &c, &u); err != nil {
			return nil, err
		}
		p.Created, p.Updated = time.UnixMilli(c).UTC(), time.UnixMilli(u).UTC()
		return &p, nil
	})
}
