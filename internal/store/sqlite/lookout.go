package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// ClientToken returns a saved idempotency token.
func (s *Store) ClientToken(ctx context.Context, account, token string) (*store.ClientToken, error) {
	t := store.ClientToken{Account: account, Token: token}
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT operation, params_hash, result, created_ms, pending FROM l4v_client_tokens WHERE account = ? AND token = ?`,
		account, token).Scan(&t.Operation, &t.ParamsHash, &t.Result, &created, &t.Pending)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The client token %s is unknown.", token)
	}
	if err != nil {
		return nil, ocellus.Wrap(err, "read client token")
	}
	t.Created = time.UnixMilli(created).UTC()
	return &t, nil
}

// PutClientToken saves or replaces a token.
func (s *Store) PutClientToken(ctx context.Context, t *store.ClientToken) error {
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO l4v_client_tokens (account, token, operation, params_hash, result, created_ms, pending)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, t.Account, t.Token, t.Operation, t.ParamsHash, nonNil(t.Result), t.Created.UnixMilli(), t.Pending)
	return ocellus.Wrap(err, "save client token")
}

// ClaimClientToken inserts t if the token has no record, or replaces prev
// if it is unchanged; SQLite's single writer orders the claims.
func (s *Store) ClaimClientToken(ctx context.Context, t, prev *store.ClientToken) (bool, error) {
	var res sql.Result
	var err error
	if prev == nil {
		res, err = s.db.ExecContext(ctx, `INSERT INTO l4v_client_tokens (account, token, operation, params_hash, result, created_ms, pending)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, token) DO NOTHING`,
			t.Account, t.Token, t.Operation, t.ParamsHash, nonNil(t.Result), t.Created.UnixMilli(), t.Pending)
	} else {
		res, err = s.db.ExecContext(ctx, `UPDATE l4v_client_tokens SET operation = ?, params_hash = ?, result = ?, created_ms = ?, pending = ?
			WHERE account = ? AND token = ? AND created_ms = ? AND pending = ?`,
			t.Operation, t.ParamsHash, nonNil(t.Result), t.Created.UnixMilli(), t.Pending, t.Account, t.Token, prev.Created.UnixMilli(), prev.Pending)
	}
	if err != nil {
		return false, ocellus.Wrap(err, "claim client token")
	}
	n, err := res.RowsAffected()
	return n == 1, ocellus.Wrap(err, "claim client token")
}

// ReleaseClientToken deletes a pending claim made at created.
func (s *Store) ReleaseClientToken(ctx context.Context, account, token string, created time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM l4v_client_tokens WHERE account = ? AND token = ? AND pending AND created_ms = ?`,
		account, token, created.UnixMilli())
	return ocellus.Wrap(err, "release client token")
}

func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// CreateLookoutModel numbers and inserts a model in one transaction, so two
// concurrent CreateModel calls never get the same version.
func (s *Store) CreateLookoutModel(ctx context.Context, m *ocellus.Model, arn func(version int) string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var last int
		err := tx.QueryRowContext(ctx, `SELECT last_version FROM l4v_model_counters WHERE project_arn = ?`, m.ProjectARN).Scan(&last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return ocellus.Wrap(err, "read model counter")
		}
		m.Version = last + 1
		m.ARN = arn(m.Version)
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO l4v_model_counters (project_arn, last_version) VALUES (?, ?)`, m.ProjectARN, m.Version); err != nil {
			return ocellus.Wrap(err, "save model counter")
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO l4v_models (`+store.ModelColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ProjectARN, m.Version, m.ARN, m.Account, m.Description, m.Status, m.StatusMessage, m.Created.UnixMilli(), m.OutputBucket,
			m.OutputPrefix, m.KmsKeyID, m.MinUnits, m.MaxUnits, m.HasPerformance, m.F1, m.Recall, m.Precision,
			m.EvaluationManifest, m.EvaluationResult, msOrZero(m.EvaluationEnd), m.Artifact)
		if isUnique(err) {
			return ocellus.Errorf(ocellus.AlreadyExists, "The model %s already exists.", m.ARN)
		}
		return ocellus.Wrap(err, "insert model")
	})
}

// LookoutModel returns one model.
func (s *Store) LookoutModel(ctx context.Context, projectARN string, version int) (*ocellus.Model, error) {
	m, err := store.ScanModel(s.db.QueryRowContext(ctx, `SELECT `+store.ModelColumns+` FROM l4v_models WHERE project_arn = ? AND version = ?`, projectARN, version))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The model version %d does not exist.", version)
	}
	return m, ocellus.Wrap(err, "read model")
}

func (s *Store) queryModels(ctx context.Context, q string, args ...any) ([]*ocellus.Model, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+store.ModelColumns+` FROM l4v_models WHERE `+q, args...)
	if err != nil {
		return nil, ocellus.Wrap(err, "list models")
	}
	defer rows.Close()
	var out []*ocellus.Model
	for rows.Next() {
		m, err := store.ScanModel(rows)
		if err != nil {
			return nil, ocellus.Wrap(err, "scan model")
		}
		out = append(out, m)
	}
	return out, ocellus.Wrap(rows.Err(), "list models")
}

// LookoutModels pages a project's models by version.
func (s *Store) LookoutModels(ctx context.Context, projectARN string, after, limit int) ([]*ocellus.Model, error) {
	q := `project_arn = ? AND version > ? ORDER BY version`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	return s.queryModels(ctx, q, projectARN, after)
}

// LookoutModelsByStatus lists models in any of the statuses.
func (s *Store) LookoutModelsByStatus(ctx context.Context, statuses ...ocellus.ModelStatus) ([]*ocellus.Model, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	args := make([]any, len(statuses))
	for i, st := range statuses {
		args[i] = st
	}
	return s.queryModels(ctx, `status IN (`+placeholders(len(statuses))+`) ORDER BY project_arn, version`, args...)
}

// UpdateLookoutModel saves a model's mutable fields.
func (s *Store) UpdateLookoutModel(ctx context.Context, m *ocellus.Model) error {
	res, err := s.db.ExecContext(ctx, `UPDATE l4v_models SET description = ?, status = ?, message = ?, output_bucket = ?, output_prefix = ?,
		kms_key_id = ?, min_units = ?, max_units = ?, has_performance = ?, f1 = ?, recall = ?, precision_ = ?, eval_manifest = ?,
		eval_result = ?, eval_end_ms = ?, artifact = ? WHERE project_arn = ? AND version = ?`,
		m.Description, m.Status, m.StatusMessage, m.OutputBucket, m.OutputPrefix, m.KmsKeyID, m.MinUnits, m.MaxUnits, m.HasPerformance,
		m.F1, m.Recall, m.Precision, m.EvaluationManifest, m.EvaluationResult, msOrZero(m.EvaluationEnd), m.Artifact, m.ProjectARN, m.Version)
	if err != nil {
		return ocellus.Wrap(err, "update model")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ocellus.Errorf(ocellus.NotFound, "The model %s does not exist.", m.ARN)
	}
	return nil
}

// DeleteLookoutModel removes a model and its tags (its artifact file is the
// artifact store's).
func (s *Store) DeleteLookoutModel(ctx context.Context, projectARN string, version int) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var arn string
		err := tx.QueryRowContext(ctx, `SELECT arn FROM l4v_models WHERE project_arn = ? AND version = ?`, projectARN, version).Scan(&arn)
		if errors.Is(err, sql.ErrNoRows) {
			return ocellus.Errorf(ocellus.NotFound, "The model version %d does not exist.", version)
		}
		if err != nil {
			return ocellus.Wrap(err, "read model")
		}
		for _, q := range []string{`DELETE FROM l4v_models WHERE arn = ?`, `DELETE FROM tags WHERE arn = ?`} {
			if _, err := tx.ExecContext(ctx, q, arn); err != nil {
				return ocellus.Wrap(err, "delete model")
			}
		}
		return nil
	})
}

// CreatePackagingJob inserts a job.
func (s *Store) CreatePackagingJob(ctx context.Context, j *ocellus.PackagingJob) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO l4v_packaging_jobs (`+store.PackagingJobColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ProjectARN, j.Account, j.Name, j.ModelVersion, j.Description, j.Method, nonNil(j.Config), j.Status, j.StatusMessage,
		nonNil(j.Output), j.Created.UnixMilli(), j.Updated.UnixMilli())
	if isUnique(err) {
		return ocellus.Errorf(ocellus.AlreadyExists, "A model packaging job named %s already exists.", j.Name)
	}
	return ocellus.Wrap(err, "insert packaging job")
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// PackagingJob returns one job.
func (s *Store) PackagingJob(ctx context.Context, projectARN, name string) (*ocellus.PackagingJob, error) {
	j, err := store.ScanPackagingJob(s.db.QueryRowContext(ctx, `SELECT `+store.PackagingJobColumns+` FROM l4v_packaging_jobs WHERE project_arn = ? AND name = ?`, projectARN, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The model packaging job %s does not exist.", name)
	}
	return j, ocellus.Wrap(err, "read packaging job")
}

func (s *Store) queryJobs(ctx context.Context, q string, args ...any) ([]*ocellus.PackagingJob, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+store.PackagingJobColumns+` FROM l4v_packaging_jobs WHERE `+q, args...)
	if err != nil {
		return nil, ocellus.Wrap(err, "list packaging jobs")
	}
	defer rows.Close()
	var out []*ocellus.PackagingJob
	for rows.Next() {
		j, err := store.ScanPackagingJob(rows)
		if err != nil {
			return nil, ocellus.Wrap(err, "scan packaging job")
		}
		out = append(out, j)
	}
	return out, ocellus.Wrap(rows.Err(), "list packaging jobs")
}

// PackagingJobs pages a project's jobs in creation order.
func (s *Store) PackagingJobs(ctx context.Context, projectARN, after string, limit int) ([]*ocellus.PackagingJob, error) {
	q := `project_arn = ?`
	args := []any{projectARN}
	if after != "" {
		q += ` AND seq > (SELECT seq FROM l4v_packaging_jobs WHERE project_arn = ? AND name = ?)`
		args = append(args, projectARN, after)
	}
	q += ` ORDER BY seq`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	return s.queryJobs(ctx, q, args...)
}

// PackagingJobsByStatus lists jobs in any of the statuses.
func (s *Store) PackagingJobsByStatus(ctx context.Context, statuses ...ocellus.PackagingStatus) ([]*ocellus.PackagingJob, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	args := make([]any, len(statuses))
	for i, st := range statuses {
		args[i] = st
	}
	return s.queryJobs(ctx, `status IN (`+placeholders(len(statuses))+`) ORDER BY seq`, args...)
}

// UpdatePackagingJob saves a job's status and output.
func (s *Store) UpdatePackagingJob(ctx context.Context, j *ocellus.PackagingJob) error {
	res, err := s.db.ExecContext(ctx, `UPDATE l4v_packaging_jobs SET status = ?, message = ?, output = ?, updated_ms = ? WHERE project_arn = ? AND name = ?`,
		j.Status, j.StatusMessage, nonNil(j.Output), j.Updated.UnixMilli(), j.ProjectARN, j.Name)
	if err != nil {
		return ocellus.Wrap(err, "update packaging job")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ocellus.Errorf(ocellus.NotFound, "The model packaging job %s does not exist.", j.Name)
	}
	return nil
}

// DeleteLookoutProject removes a project's model counter and packaging jobs.
func (s *Store) DeleteLookoutProject(ctx context.Context, projectARN string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM l4v_model_counters WHERE project_arn = ?`, `DELETE FROM l4v_packaging_jobs WHERE project_arn = ?`} {
			if _, err := tx.ExecContext(ctx, q, projectARN); err != nil {
				return ocellus.Wrap(err, "delete project state")
			}
		}
		return nil
	})
}

// artifactsMigration is the migration that takes Lookout for Vision model
// artifacts out of the database.
const artifactsMigration = "0005_lookout_artifacts"

// moveArtifacts runs, in the migration's transaction, before
// artifactsMigration drops the BLOB table: it hands every stored artifact
// to Options.MoveArtifact and returns the step that records the sealed
// files' paths on their models once the column exists. A crash before the
// commit leaves the BLOBs where they were (the files are written again on
// the next open); after it, the rows name the files.
func (s *Store) moveArtifacts(ctx context.Context, tx *sql.Tx) (func() error, error) {
	rows, err := tx.QueryContext(ctx, `SELECT a.model_arn, COALESCE(m.kms_key_id, ''), a.data, m.arn IS NOT NULL
		FROM l4v_model_artifacts a LEFT JOIN l4v_models m ON m.arn = a.model_arn ORDER BY a.model_arn`)
	if err != nil {
		return nil, err
	}
	type moved struct{ arn, path string }
	var done []moved
	n := 0
	for rows.Next() {
		var arn, key string
		var data []byte
		var hasModel bool
		if err := rows.Scan(&arn, &key, &data, &hasModel); err != nil {
			rows.Close()
			return nil, err
		}
		if !hasModel {
			continue // an artifact whose model is gone: nothing to keep
		}
		n++
		if s.opts.MoveArtifact == nil {
			continue
		}
		path, err := s.opts.MoveArtifact(arn, key, data)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("seal the artifact of %s: %w", arn, err)
		}
		done = append(done, moved{arn, path})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if n > 0 && s.opts.MoveArtifact == nil {
		return nil, fmt.Errorf("the database holds %d unsealed Lookout for Vision model artifact(s) from an older Ocellus; open it with the server (which seals them into the data dir's models/) rather than without an artifact store", n)
	}
	return func() error {
		for _, m := range done {
			if _, err := tx.ExecContext(ctx, `UPDATE l4v_models SET artifact = ? WHERE arn = ?`, m.path, m.arn); err != nil {
				return err
			}
		}
		return nil
	}, nil
}
