package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// CreateVersion inserts a model version.
func (s *Store) CreateVersion(ctx context.Context, v *ocellus.ProjectVersion) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO project_versions (`+store.VersionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		v.ARN, v.ProjectARN, v.Account, v.Name, string(v.Status), v.Created.UnixMilli(), store.VersionBody(v))
	if isUnique(err) {
		return ocellus.Errorf(ocellus.AlreadyExists, "A model version named %s already exists in the project.", v.Name)
	}
	return ocellus.Wrap(err, "insert version")
}

// Version returns a version by ARN.
func (s *Store) Version(ctx context.Context, arn string) (*ocellus.ProjectVersion, error) {
	v, err := store.ScanVersion(s.db.QueryRowContext(ctx, `SELECT `+store.VersionColumns+` FROM project_versions WHERE arn = ?`, arn))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The model version %s does not exist.", arn)
	}
	return v, ocellus.Wrap(err, "read version")
}

func (s *Store) queryVersions(ctx context.Context, q string, args ...any) ([]*ocellus.ProjectVersion, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, ocellus.Wrap(err, "list versions")
	}
	defer rows.Close()
	var out []*ocellus.ProjectVersion
	for rows.Next() {
		v, err := store.ScanVersion(rows)
		if err != nil {
			return nil, ocellus.Wrap(err, "scan version")
		}
		out = append(out, v)
	}
	return out, ocellus.Wrap(rows.Err(), "list versions")
}

// Versions lists a project's versions, newest first.
func (s *Store) Versions(ctx context.Context, projectARN string, names []string) ([]*ocellus.ProjectVersion, error) {
	q := `SELECT ` + store.VersionColumns + ` FROM project_versions WHERE project_arn = ?`
	args := []any{projectARN}
	if len(names) > 0 {
		q += ` AND name IN (` + placeholders(len(names)) + `)`
		for _, n := range names {
			args = append(args, n)
		}
	}
	return s.queryVersions(ctx, q+` ORDER BY created_ms DESC, arn DESC`, args...)
}

// VersionsInState lists versions in any of the states.
func (s *Store) VersionsInState(ctx context.Context, states ...ocellus.VersionStatus) ([]*ocellus.ProjectVersion, error) {
	if len(states) == 0 {
		return nil, nil
	}
	args := make([]any, len(states))
	for i, st := range states {
		args[i] = string(st)
	}
	return s.queryVersions(ctx, `SELECT `+store.VersionColumns+` FROM project_versions WHERE status IN (`+placeholders(len(states))+`) ORDER BY created_ms`, args...)
}

// UpdateVersion saves a version's status and body.
func (s *Store) UpdateVersion(ctx context.Context, v *ocellus.ProjectVersion) error {
	res, err := s.db.ExecContext(ctx, `UPDATE project_versions SET status = ?, body = ? WHERE arn = ?`, string(v.Status), store.VersionBody(v), v.ARN)
	if err != nil {
		return ocellus.Wrap(err, "update version")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ocellus.Errorf(ocellus.NotFound, "The model version %s does not exist.", v.ARN)
	}
	return nil
}

// DeleteVersion removes a version and its tags.
func (s *Store) DeleteVersion(ctx context.Context, arn string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM project_versions WHERE arn = ?`, arn)
		if err != nil {
			return ocellus.Wrap(err, "delete version")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ocellus.Errorf(ocellus.NotFound, "The model version %s does not exist.", arn)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM tags WHERE arn = ?`, arn)
		return ocellus.Wrap(err, "delete version tags")
	})
}
