package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// ClientToken returns a saved idempotency token.
func (s *Store) ClientToken(ctx context.Context, account, token string) (*store.ClientToken, error) {
	t := store.ClientToken{Account: account, Token: token}
	var created int64
	err := s.pool.QueryRow(ctx, `SELECT operation, params_hash, result, created_ms, pending FROM l4v_client_tokens WHERE account = $1 AND token = $2`,
		account, token).Scan(&t.Operation, &t.ParamsHash, &t.Result, &created, &t.Pending)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The client token %s is unknown.", token)
	}
	if err != nil {
		return nil, wrap(err, "read client token")
	}
	t.Created = time.UnixMilli(created).UTC()
	return &t, nil
}

// PutClientToken saves or replaces a token.
func (s *Store) PutClientToken(ctx context.Context, t *store.ClientToken) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO l4v_client_tokens (account, token, operation, params_hash, result, created_ms, pending)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (account, token) DO UPDATE SET operation = excluded.operation,
		params_hash = excluded.params_hash, result = excluded.result, created_ms = excluded.created_ms, pending = excluded.pending`,
		t.Account, t.Token, t.Operation, t.ParamsHash, nonNil(t.Result), t.Created.UnixMilli(), t.Pending)
	return wrap(err, "save client token")
}

// ClaimClientToken inserts t if the token has no record, or replaces prev
// if it is unchanged. The primary key decides between two inserts; between
// two updates, the second waits for the first to commit and then no
// longer matches prev (READ COMMITTED re-reads the row).
func (s *Store) ClaimClientToken(ctx context.Context, t, prev *store.ClientToken) (bool, error) {
	var tag pgconn.CommandTag
	var err error
	if prev == nil {
		tag, err = s.pool.Exec(ctx, `INSERT INTO l4v_client_tokens (account, token, operation, params_hash, result, created_ms, pending)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (account, token) DO NOTHING`,
			t.Account, t.Token, t.Operation, t.ParamsHash, nonNil(t.Result), t.Created.UnixMilli(), t.Pending)
	} else {
		tag, err = s.pool.Exec(ctx, `UPDATE l4v_client_tokens SET operation = $3, params_hash = $4, result = $5, created_ms = $6, pending = $7
			WHERE account = $1 AND token = $2 AND created_ms = $8 AND pending = $9`,
			t.Account, t.Token, t.Operation, t.ParamsHash, nonNil(t.Result), t.Created.UnixMilli(), t.Pending, prev.Created.UnixMilli(), prev.Pending)
	}
	if err != nil {
		return false, wrap(err, "claim client token")
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseClientToken deletes a pending claim made at created.
func (s *Store) ReleaseClientToken(ctx context.Context, account, token string, created time.Time) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM l4v_client_tokens WHERE account = $1 AND token = $2 AND pending AND created_ms = $3`,
		account, token, created.UnixMilli())
	return wrap(err, "release client token")
}

func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// CreateLookoutModel numbers and inserts a model in one transaction; the
// counter's upsert takes the row lock, so two concurrent CreateModel calls
// (on any nodes) never get the same version.
func (s *Store) CreateLookoutModel(ctx context.Context, m *ocellus.Model, arn func(version int) string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO l4v_model_counters (project_arn, last_version) VALUES ($1, 1)
			ON CONFLICT (project_arn) DO UPDATE SET last_version = l4v_model_counters.last_version + 1 RETURNING last_version`, m.ProjectARN).Scan(&m.Version)
		if err != nil {
			return wrap(err, "next model version")
		}
		m.ARN = arn(m.Version)
		_, err = tx.Exec(ctx, `INSERT INTO l4v_models (`+store.ModelColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
			m.ProjectARN, m.Version, m.ARN, m.Account, m.Description, string(m.Status), m.StatusMessage, m.Created.UnixMilli(), m.OutputBucket,
			m.OutputPrefix, m.KmsKeyID, m.MinUnits, m.MaxUnits, m.HasPerformance, m.F1, m.Recall, m.Precision,
			m.EvaluationManifest, m.EvaluationResult, msOrZero(m.EvaluationEnd), m.Artifact)
		if isUnique(err) {
			return ocellus.Errorf(ocellus.AlreadyExists, "The model %s already exists.", m.ARN)
		}
		return wrap(err, "insert model")
	})
}

// LookoutModel returns one model.
func (s *Store) LookoutModel(ctx context.Context, projectARN string, version int) (*ocellus.Model, error) {
	m, err := store.ScanModel(s.q(ctx).QueryRow(ctx, `SELECT `+store.ModelColumns+` FROM l4v_models WHERE project_arn = $1 AND version = $2`, projectARN, version))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The model version %d does not exist.", version)
	}
	return m, wrap(err, "read model")
}

func (s *Store) queryModels(ctx context.Context, q string, args ...any) ([]*ocellus.Model, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+store.ModelColumns+` FROM l4v_models WHERE `+q, args...)
	return collect(rows, err, "models", store.ScanModel)
}

// LookoutModels pages a project's models by version.
func (s *Store) LookoutModels(ctx context.Context, projectARN string, after, limit int) ([]*ocellus.Model, error) {
	q := `project_arn = $1 AND version > $2 ORDER BY version`
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
	return s.queryModels(ctx, `status = ANY($1) ORDER BY project_arn, version`, strs(statuses))
}

// UpdateLookoutModel saves a model's mutable fields.
func (s *Store) UpdateLookoutModel(ctx context.Context, m *ocellus.Model) error {
	tag, err := s.q(ctx).Exec(ctx, `UPDATE l4v_models SET description = $1, status = $2, message = $3, output_bucket = $4, output_prefix = $5,
		kms_key_id = $6, min_units = $7, max_units = $8, has_performance = $9, f1 = $10, recall = $11, precision_ = $12, eval_manifest = $13,
		eval_result = $14, eval_end_ms = $15, artifact = $16 WHERE project_arn = $17 AND version = $18`,
		m.Description, string(m.Status), m.StatusMessage, m.OutputBucket, m.OutputPrefix, m.KmsKeyID, m.MinUnits, m.MaxUnits, m.HasPerformance,
		m.F1, m.Recall, m.Precision, m.EvaluationManifest, m.EvaluationResult, msOrZero(m.EvaluationEnd), m.Artifact, m.ProjectARN, m.Version)
	if err != nil {
		return wrap(err, "update model")
	}
	if tag.RowsAffected() == 0 {
		return ocellus.Errorf(ocellus.NotFound, "The model %s does not exist.", m.ARN)
	}
	return nil
}

// DeleteLookoutModel removes a model and its tags (its artifact file is the
// artifact store's).
func (s *Store) DeleteLookoutModel(ctx context.Context, projectARN string, version int) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var arn string
		err := tx.QueryRow(ctx, `DELETE FROM l4v_models WHERE project_arn = $1 AND version = $2 RETURNING arn`, projectARN, version).Scan(&arn)
		if errors.Is(err, pgx.ErrNoRows) {
			return ocellus.Errorf(ocellus.NotFound, "The model version %d does not exist.", version)
		}
		if err != nil {
			return wrap(err, "delete model")
		}
		_, err = tx.Exec(ctx, `DELETE FROM tags WHERE arn = $1`, arn)
		return wrap(err, "delete model tags")
	})
}

// CreatePackagingJob inserts a job.
func (s *Store) CreatePackagingJob(ctx context.Context, j *ocellus.PackagingJob) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO l4v_packaging_jobs (`+store.PackagingJobColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		j.ProjectARN, j.Account, j.Name, j.ModelVersion, j.Description, j.Method, nonNil(j.Config), string(j.Status), j.StatusMessage,
		nonNil(j.Output), j.Created.UnixMilli(), j.Updated.UnixMilli())
	if isUnique(err) {
		return ocellus.Errorf(ocellus.AlreadyExists, "A model packaging job named %s already exists.", j.Name)
	}
	return wrap(err, "insert packaging job")
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// PackagingJob returns one job.
func (s *Store) PackagingJob(ctx context.Context, projectARN, name string) (*ocellus.PackagingJob, error) {
	j, err := store.ScanPackagingJob(s.q(ctx).QueryRow(ctx, `SELECT `+store.PackagingJobColumns+` FROM l4v_packaging_jobs WHERE project_arn = $1 AND name = $2`, projectARN, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The model packaging job %s does not exist.", name)
	}
	return j, wrap(err, "read packaging job")
}

func (s *Store) queryJobs(ctx context.Context, q string, args ...any) ([]*ocellus.PackagingJob, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+store.PackagingJobColumns+` FROM l4v_packaging_jobs WHERE `+q, args...)
	return collect(rows, err, "packaging jobs", store.ScanPackagingJob)
}

// PackagingJobs pages a project's jobs in creation order.
func (s *Store) PackagingJobs(ctx context.Context, projectARN, after string, limit int) ([]*ocellus.PackagingJob, error) {
	q := `project_arn = $1`
	args := []any{projectARN}
	if after != "" {
		q += ` AND seq > (SELECT seq FROM l4v_packaging_jobs WHERE project_arn = $1 AND name = $2)`
		args = append(args, after)
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
	return s.queryJobs(ctx, `status = ANY($1) ORDER BY seq`, strs(statuses))
}

// UpdatePackagingJob saves a job's status and output.
func (s *Store) UpdatePackagingJob(ctx context.Context, j *ocellus.PackagingJob) error {
	tag, err := s.q(ctx).Exec(ctx, `UPDATE l4v_packaging_jobs SET status = $1, message = $2, output = $3, updated_ms = $4 WHERE project_arn = $5 AND name = $6`,
		string(j.Status), j.StatusMessage, nonNil(j.Output), j.Updated.UnixMilli(), j.ProjectARN, j.Name)
	if err != nil {
		return wrap(err, "update packaging job")
	}
	if tag.RowsAffected() == 0 {
		return ocellus.Errorf(ocellus.NotFound, "The model packaging job %s does not exist.", j.Name)
	}
	return nil
}

// DeleteLookoutProject removes a project's model counter and packaging jobs.
func (s *Store) DeleteLookoutProject(ctx context.Context, projectARN string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		for _, q := range []string{`DELETE FROM l4v_model_counters WHERE project_arn = $1`, `DELETE FROM l4v_packaging_jobs WHERE project_arn = $1`} {
			if _, err := tx.Exec(ctx, q, projectARN); err != nil {
				return wrap(err, "delete project state")
			}
		}
		return nil
	})
}
