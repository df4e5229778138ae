package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// CreateVersion inserts a model version.
func (s *Store) CreateVersion(ctx context.Context, v *ocellus.ProjectVersion) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO project_versions (`+store.VersionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		v.ARN, v.ProjectARN, v.Account, v.Name, string(v.Status), v.Created.UnixMilli(), store.VersionBody(v))
	if isUnique(err) {
		return ocellus.Errorf(ocellus.AlreadyExists, "A model version named %s already exists in the project.", v.Name)
	}
	return wrap(err, "insert version")
}

// Version returns a version by ARN.
func (s *Store) Version(ctx context.Context, arn string) (*ocellus.ProjectVersion, error) {
	v, err := store.ScanVersion(s.q(ctx).QueryRow(ctx, `SELECT `+store.VersionColumns+` FROM project_versions WHERE arn = $1`, arn))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The model version %s does not exist.", arn)
	}
	return v, wrap(err, "read version")
}

func (s *Store) queryVersions(ctx context.Context, q string, args ...any) ([]*ocellus.ProjectVersion, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+store.VersionColumns+` FROM project_versions WHERE `+q, args...)
	return collect(rows, err, "versions", store.ScanVersion)
}

// Versions lists a project's versions, newest first.
func (s *Store) Versions(ctx context.Context, projectARN string, names []string) ([]*ocellus.ProjectVersion, error) {
	if len(names) > 0 {
		return s.queryVersions(ctx, `project_arn = $1 AND name = ANY($2) ORDER BY created_ms DESC, arn DESC`, projectARN, names)
	}
	return s.queryVersions(ctx, `project_arn = $1 ORDER BY created_ms DESC, arn DESC`, projectARN)
}

// VersionsInState lists versions in any of the states.
func (s *Store) VersionsInState(ctx context.Context, states ...ocellus.VersionStatus) ([]*ocellus.ProjectVersion, error) {
	if len(states) == 0 {
		return nil, nil
	}
	return s.queryVersions(ctx, `status = ANY($1) ORDER BY created_ms`, strs(states))
}

// strs turns a list of a string type into []string, which pgx sends as a
// text array.
func strs[S ~string](in []S) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return out
}

// UpdateVersion saves a version's status and body.
func (s *Store) UpdateVersion(ctx context.Context, v *ocellus.ProjectVersion) error {
	tag, err := s.q(ctx).Exec(ctx, `UPDATE project_versions SET status = $1, body = $2 WHERE arn = $3`, string(v.Status), store.VersionBody(v), v.ARN)
	if err != nil {
		return wrap(err, "update version")
	}
	if tag.RowsAffected() == 0 {
		return ocellus.Errorf(ocellus.NotFound, "The model version %s does not exist.", v.ARN)
	}
	return nil
}

// DeleteVersion removes a version and its tags.
func (s *Store) DeleteVersion(ctx context.Context, arn string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM project_versions WHERE arn = $1`, arn)
		if err != nil {
			return wrap(err, "delete version")
		}
		if tag.RowsAffected() == 0 {
			return ocellus.Errorf(ocellus.NotFound, "The model version %s does not exist.", arn)
		}
		_, err = tx.Exec(ctx, `DELETE FROM tags WHERE arn = $1`, arn)
		return wrap(err, "delete version tags")
	})
}
