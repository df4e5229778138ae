package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// Row is a result row as both stores' drivers give it (database/sql's
// *Row and *Rows, pgx's Row and Rows). The tables of the SQLite and the
// PostgreSQL schema have the same columns, so the columns a store selects
// (the *Columns lists, in that order) are scanned here once. Times are Unix
// milliseconds.
type Row interface{ Scan(dest ...any) error }

// ProjectColumns are the columns ScanProject reads.
const ProjectColumns = `arn, account, service, name, feature, auto_update, status, created_ms`

// ScanProject reads a project row.
func ScanProject(row Row) (*ocellus.Project, error) {
	var p ocellus.Project
	var created int64
	var status string
	if err := row.Scan(&p.ARN, &p.Account, &p.Service, &p.Name, &p.Feature, &p.AutoUpdate, &status, &created); err != nil {
		return nil, err
	}
	p.Status = ocellus.ProjectStatus(status)
	p.Created = time.UnixMilli(created).UTC()
	return &p, nil
}

// DatasetColumns are the columns ScanDataset reads.
const DatasetColumns = `arn, project_arn, account, type, status, status_message, status_message_code, source,
	labeled_entries, total_entries, total_labels, error_entries, created_ms, updated_ms`

// ScanDataset reads a dataset row (its source is JSON).
func ScanDataset(row Row) (*ocellus.Dataset, error) {
	var d ocellus.Dataset
	var typ, status, source string
	var created, updated int64
	err := row.Scan(&d.ARN, &d.ProjectARN, &d.Account, &typ, &status, &d.StatusMessage, &d.StatusMessageCode, &source,
		&d.Stats.LabeledEntries, &d.Stats.TotalEntries, &d.Stats.TotalLabels, &d.Stats.ErrorEntries, &created, &updated)
	if err != nil {
		return nil, err
	}
	d.Type, d.Status = ocellus.DatasetType(typ), ocellus.DatasetStatus(status)
	if err := json.Unmarshal([]byte(source), &d.Source); err != nil {
		return nil, fmt.Errorf("dataset source: %w", err)
	}
	d.Created, d.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return &d, nil
}

// VersionColumns are the columns ScanVersion reads.
const VersionColumns = `arn, project_arn, account, name, status, created_ms, body`

// ScanVersion reads a model version row (body: VersionBody's JSON).
func ScanVersion(row Row) (*ocellus.ProjectVersion, error) {
	var v ocellus.ProjectVersion
	var status, body string
	var created int64
	if err := row.Scan(&v.ARN, &v.ProjectARN, &v.Account, &v.Name, &status, &created, &body); err != nil {
		return nil, err
	}
	v.Status, v.Created = ocellus.VersionStatus(status), time.UnixMilli(created).UTC()
	if err := SetVersionBody(&v, []byte(body)); err != nil {
		return nil, err
	}
	return &v, nil
}

// ModelColumns are the columns ScanModel reads.
const ModelColumns = `project_arn, version, arn, account, description, status, message, created_ms, output_bucket, output_prefix,
	kms_key_id, min_units, max_units, has_performance, f1, recall, precision_, eval_manifest, eval_result, eval_end_ms, artifact`

// ScanModel reads a Lookout for Vision model row.
func ScanModel(row Row) (*ocellus.Model, error) {
	var m ocellus.Model
	var status string
	var created, evalEnd int64
	err := row.Scan(&m.ProjectARN, &m.Version, &m.ARN, &m.Account, &m.Description, &status, &m.StatusMessage, &created,
		&m.OutputBucket, &m.OutputPrefix, &m.KmsKeyID, &m.MinUnits, &m.MaxUnits, &m.HasPerformance, &m.F1, &m.Recall,
		&m.Precision, &m.EvaluationManifest, &m.EvaluationResult, &evalEnd, &m.Artifact)
	if err != nil {
		return nil, err
	}
	m.Status = ocellus.ModelStatus(status)
	m.Created = time.UnixMilli(created).UTC()
	if evalEnd != 0 {
		m.EvaluationEnd = time.UnixMilli(evalEnd).UTC()
	}
	return &m, nil
}

// PackagingJobColumns are the columns ScanPackagingJob reads.
const PackagingJobColumns = `project_arn, account, name, model_version, description, method, config, status, message, output, created_ms, updated_ms`

// ScanPackagingJob reads a Lookout for Vision packaging job row.
func ScanPackagingJob(row Row) (*ocellus.PackagingJob, error) {
	var j ocellus.PackagingJob
	var status string
	var created, updated int64
	if err := row.Scan(&j.ProjectARN, &j.Account, &j.Name, &j.ModelVersion, &j.Description, &j.Method, &j.Config, &status,
		&j.StatusMessage, &j.Output, &created, &updated); err != nil {
		return nil, err
	}
	j.Status = ocellus.PackagingStatus(status)
	j.Created, j.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return &j, nil
}
