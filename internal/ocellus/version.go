package ocellus

import (
	"strconv"
	"time"
)

// VersionStatus is the lifecycle state of a Custom Labels model version.
type VersionStatus string

const (
	VersionTrainingInProgress VersionStatus = "TRAINING_IN_PROGRESS"
	VersionTrainingCompleted  VersionStatus = "TRAINING_COMPLETED"
	VersionTrainingFailed     VersionStatus = "TRAINING_FAILED"
	VersionStarting           VersionStatus = "STARTING"
	VersionRunning            VersionStatus = "RUNNING"
	VersionFailed             VersionStatus = "FAILED"
	VersionStopping           VersionStatus = "STOPPING"
	VersionStopped            VersionStatus = "STOPPED"
	VersionDeleting           VersionStatus = "DELETING"
	VersionCopyingInProgress  VersionStatus = "COPYING_IN_PROGRESS"
	VersionCopyingCompleted   VersionStatus = "COPYING_COMPLETED"
	VersionCopyingFailed      VersionStatus = "COPYING_FAILED"
)

// Trained reports whether the version has a usable model artifact.
func (s VersionStatus) Trained() bool {
	switch s {
	case VersionTrainingCompleted, VersionStarting, VersionRunning, VersionFailed, VersionStopping, VersionStopped, VersionCopyingCompleted:
		return true
	}
	return false
}

// S3Location names an S3 object.
type S3Location struct {
	Bucket  string `json:"bucket"`
	Key     string `json:"key"`
	Version string `json:"version,omitempty"`
}

// DataResult is TrainingDataResult / TestingDataResult: the manifests a
// training run used (Input), wrote (Output) and validated (Validation).
type DataResult struct {
	Input      []S3Location `json:"input,omitempty"`
	Output     []S3Location `json:"output,omitempty"`
	Validation []S3Location `json:"validation,omitempty"`
	AutoCreate bool         `json:"autoCreate,omitempty"`
}

// ProjectVersion is a trained (or training) Custom Labels model.
type ProjectVersion struct {
	ARN              string
	ProjectARN       string
	Account          string
	Name             string
	Description      string
	Status           VersionStatus
	StatusMessage    string
	Created          time.Time
	TrainingEnd      time.Time
	BillableSeconds  int64
	OutputBucket     string
	OutputPrefix     string
	KmsKeyID         string
	MinUnits         int
	MaxUnits         int
	SourceVersionARN string
	Training         DataResult
	Testing          DataResult
	F1               *float64
	EvaluationResult *S3Location
	ManifestSummary  *S3Location
	Artifact         string // where the model artifact is kept (data-dir relative path)
	Kind             string // classification, multilabel or detection
}

// VersionARN builds a Custom Labels model version ARN:
// arn:...:project/{project}/version/{version}/{ms}.
func VersionARN(p *Project, name string, created time.Time) string {
	a, _ := ParseARN(p.ARN)
	a.Resource = "project/" + p.Name + "/version/" + name + "/" + strconv.FormatInt(created.UnixMilli(), 10)
	return a.String()
}
