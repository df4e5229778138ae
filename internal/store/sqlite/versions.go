package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// versionBody is the JSON-stored part of a version: everything but the
// indexed columns. Adding a field needs no migration.
type versionBody struct {
	Description      string              `json:"description,omitempty"`
	StatusMessage    string              `json:"statusMessage,omitempty"`
	TrainingEndMS    int64               `json:"trainingEndMs,omitempty"`
	BillableSeconds  int64               `json:"billableSeconds,omitempty"`
	OutputBucket     string              `json:"outputBucket,omitempty"`
	OutputPrefix     string              `json:"outputPrefix,omitempty"`
	KmsKeyID         string              `json:"kmsKeyId,omitempty"`
	MinUnits         int                 `json:"minUnits,omitempty"`
	MaxUnits         int                 `json:"maxUnits,omitempty"`
	SourceVersionARN string              `json:"sourceVersionArn,omitempty"`
	Training         ocellus.DataResult  `json:"training"`
	Testing          ocellus.DataResult  `json:"testing"`
	F1               *float64            `json:"f1,omitempty"`
	EvaluationResult *ocellus.S3Location `json:"evaluationResult,omitempty"`
	ManifestSummary  *ocellus.S3Location `json:"manifestSummary,omitempty"`
	Artifact         string              `json:"artifact,omitempty"`
	Kind             string              `json:"kind,omitempty"`
}

func bodyOf(v *ocellus.ProjectVersion) string {
	b := versionBody{Description: v.Description, StatusMessage: v.StatusMessage, BillableSeconds: v.BillableSeconds,
		OutputBucket: v.OutputBucket, OutputPrefix: v.OutputPrefix, KmsKeyID: v.KmsKeyID, MinUnits: v.MinUnits, MaxUnits: v.MaxUnits,
		SourceVersionARN: v.SourceVersionARN, Training: v.Training, Testing: v.Testing, F1: v.F1,
		EvaluationResult: v.EvaluationResult, ManifestSummary: v.ManifestSummary, Artifact: v.Artifact, Kind: v.Kind}
	if !v.TrainingEnd.IsZero() {
		b.TrainingEndMS = v.TrainingEnd.UnixMilli()
	}
	out, _ := json.Marshal(b)
	return string(out)
}

const versionCols = `arn, project_arn, account, name, status, created_ms, body`

func scanVersion(row scanner) (*ocellus.ProjectVersion, error) {
	var v ocellus.ProjectVersion
	var status, body string
	var created int64
	if err := row.Scan(&v.ARN, &v.ProjectARN, &v.Account, &v.Name, &status, &created, &body); err != nil {
		return nil, err
	}
	var b versionBody
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		return nil, err
	}
	v.Status, v.Created = ocellus.VersionStatus(status), time.UnixMilli(created).UTC()
	v.Description, v.StatusMessage, v.BillableSeconds = b.Description, b.StatusMessage, b.BillableSeconds
	v.OutputBucket, v.OutputPrefix, v.KmsKeyID, v.MinUnits, v.MaxUnits = b.OutputBucket, b.OutputPrefix, b.KmsKeyID, b.MinUnits, b.MaxUnits
	v.SourceVersionARN, v.Training, v.Testing, v.F1 = b.SourceVersionARN, b.Training, b.Testing, b.F1
	v.EvaluationResult, v.ManifestSummary, v.Artifact, v.Kind = b.EvaluationResult, b.ManifestSummary, b.Artifact, b.Kind
	if b.TrainingEndMS != 0 {
		v.TrainingEnd = time.UnixMilli(b.TrainingEndMS).UTC()
	}
	return &v, nil
}

// CreateVersion inserts a model version.
func (s *Store) CreateVersion(ctx context.Context, v *ocellus.ProjectVersion) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO project_versions (`+versionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		v.ARN, v.ProjectARN, v.Account, v.Name, string(v.Status), v.Created.UnixMilli(), bodyOf(v))
	if isUnique(err) {
		return ocellus.Errorf(ocellus.AlreadyExists, "A model version named %s already exists in the project.", v.Name)
	}
	return ocellus.Wrap(err, "insert version")
}

// Version returns a version by ARN.
func (s *Store) Version(ctx context.Context, arn string) (*ocellus.ProjectVersion, error) {
	v, err := scanVersion(s.db.QueryRowContext(ctx, `SELECT `+versionCols+` FROM project_versions WHERE arn = ?`, arn))
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
		v, err := scanVersion(rows)
		if err != nil {
			return nil, ocellus.Wrap(err, "scan version")
		}
		out = append(out, v)
	}
	return out, ocellus.Wrap(rows.Err(), "list versions")
}

// Versions lists a project's versions, newest first.
func (s *Store) Versions(ctx context.Context, projectARN string, names []string) ([]*ocellus.ProjectVersion, error) {
	q := `SELECT ` + versionCols + ` FROM project_versions WHERE project_arn = ?`
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
	return s.queryVersions(ctx, `SELECT `+versionCols+` FROM project_versions WHERE status IN (`+placeholders(len(states))+`) ORDER BY created_ms`, args...)
}

// UpdateVersion saves a version's status and body.
func (s *Store) UpdateVersion(ctx context.Context, v *ocellus.ProjectVersion) error {
	res, err := s.db.ExecContext(ctx, `UPDATE project_versions SET status = ?, body = ? WHERE arn = ?`, string(v.Status), bodyOf(v), v.ARN)
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
