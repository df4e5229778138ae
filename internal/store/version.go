package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// versionBody is the part of a model version that the stores keep as one
// JSON document beside their indexed columns (ARN, project, account, name,
// status, creation time): adding a field needs no migration.
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
	Feature          string              `json:"feature,omitempty"`
	Threshold        *float64            `json:"confidenceThreshold,omitempty"`
	BaseModelVersion string              `json:"baseModelVersion,omitempty"`
}

// VersionBody encodes the fields of v that are not columns of their own.
func VersionBody(v *ocellus.ProjectVersion) string {
	b := versionBody{Description: v.Description, StatusMessage: v.StatusMessage, BillableSeconds: v.BillableSeconds,
		OutputBucket: v.OutputBucket, OutputPrefix: v.OutputPrefix, KmsKeyID: v.KmsKeyID, MinUnits: v.MinUnits, MaxUnits: v.MaxUnits,
		SourceVersionARN: v.SourceVersionARN, Training: v.Training, Testing: v.Testing, F1: v.F1,
		EvaluationResult: v.EvaluationResult, ManifestSummary: v.ManifestSummary, Artifact: v.Artifact, Kind: v.Kind,
		Feature: v.Feature, Threshold: v.ConfidenceThreshold, BaseModelVersion: v.BaseModelVersion}
	if !v.TrainingEnd.IsZero() {
		b.TrainingEndMS = v.TrainingEnd.UnixMilli()
	}
	out, _ := json.Marshal(b)
	return string(out)
}

// SetVersionBody fills the fields of v that VersionBody encoded in body.
func SetVersionBody(v *ocellus.ProjectVersion, body []byte) error {
	var b versionBody
	if err := json.Unmarshal(body, &b); err != nil {
		return fmt.Errorf("version body: %w", err)
	}
	v.Description, v.StatusMessage, v.BillableSeconds = b.Description, b.StatusMessage, b.BillableSeconds
	v.OutputBucket, v.OutputPrefix, v.KmsKeyID, v.MinUnits, v.MaxUnits = b.OutputBucket, b.OutputPrefix, b.KmsKeyID, b.MinUnits, b.MaxUnits
	v.SourceVersionARN, v.Training, v.Testing, v.F1 = b.SourceVersionARN, b.Training, b.Testing, b.F1
	v.EvaluationResult, v.ManifestSummary, v.Artifact, v.Kind = b.EvaluationResult, b.ManifestSummary, b.Artifact, b.Kind
	v.Feature, v.ConfidenceThreshold, v.BaseModelVersion = b.Feature, b.Threshold, b.BaseModelVersion
	if b.TrainingEndMS != 0 {
		v.TrainingEnd = time.UnixMilli(b.TrainingEndMS).UTC()
	}
	return nil
}
