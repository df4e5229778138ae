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
	// Feature is FeatureContentModeration for a Custom Moderation adapter
	// ("" is a Custom Labels model version).
	Feature string
	// ConfidenceThreshold is an adapter's
	// FeatureConfig.ContentModeration.ConfidenceThreshold (percent), the
	// operating point its evaluation is reported at; nil when not given.
	ConfidenceThreshold *float64
	// BaseModelVersion is the moderation base model an adapter corrects.
	BaseModelVersion string
}

// Adapter reports whether v is a Custom Moderation adapter.
func (v *ProjectVersion) Adapter() bool { return v.Feature == FeatureContentModeration }

// VersionARN builds a Custom Labels model version ARN:
// arn:...:project/{project}/version/{version}/{ms}.
func VersionARN(p *Project, name string, created time.Time) string {
	a, _ := ParseARN(p.ARN)
	a.Resource = "project/" + p.Name + "/version/" + name + "/" + strconv.FormatInt(created.UnixMilli(), 10)
	return a.String()
}

// Message returns the status message sent for a model version in state s
// when nothing more specific is known (a failure stores its reason). AWS
// sends StatusMessage in every state, training included.
func (s VersionStatus) Message() string {
	switch s {
	case VersionTrainingInProgress:
		return "The model is being trained."
	case VersionTrainingCompleted:
		return "The model is ready to run."
	case VersionTrainingFailed:
		return "The model could not be trained."
	case VersionStarting:
		return "The model is starting."
	case VersionRunning:
		return "The model is running."
	case VersionFailed:
		return "The model could not be started."
	case VersionStopping:
		return "The model is stopping."
	case VersionStopped:
		return "The model is stopped."
	case VersionDeleting:
		return "The model is being deleted."
	case VersionCopyingInProgress:
		return "The model version is being copied."
	case VersionCopyingCompleted:
		return "The model version was copied."
	case VersionCopyingFailed:
		return "The model version could not be copied."
	}
	return "The model is " + string(s) + "."
}

// Message returns the version's status message as the APIs send it: the
// stored one, or the state's default where none was stored.
func (v *ProjectVersion) Message() string {
	if v.StatusMessage != "" {
		return v.StatusMessage
	}
	return v.Status.Message()
}
