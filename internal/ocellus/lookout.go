package ocellus

import (
	"strconv"
	"time"
)

// ModelStatus is the lifecycle state of a Lookout for Vision model
// (ModelStatus on the wire).
type ModelStatus string

const (
	ModelTraining        ModelStatus = "TRAINING"
	ModelTrained         ModelStatus = "TRAINED"
	ModelTrainingFailed  ModelStatus = "TRAINING_FAILED"
	ModelStartingHosting ModelStatus = "STARTING_HOSTING"
	ModelHosted          ModelStatus = "HOSTED"
	ModelHostingFailed   ModelStatus = "HOSTING_FAILED"
	ModelStoppingHosting ModelStatus = "STOPPING_HOSTING"
	ModelDeleting        ModelStatus = "DELETING"
)

// modelTransitions are the moves a Lookout for Vision model makes:
// training ends TRAINED or TRAINING_FAILED; a trained model is hosted
// (STARTING_HOSTING, then HOSTED or HOSTING_FAILED) and stopped
// (STOPPING_HOSTING, then TRAINED); a model that is neither training nor
// hosted can be deleted.
var modelTransitions = map[ModelStatus][]ModelStatus{
	ModelTraining:        {ModelTrained, ModelTrainingFailed},
	ModelTrained:         {ModelStartingHosting, ModelDeleting},
	ModelTrainingFailed:  {ModelDeleting},
	ModelStartingHosting: {ModelHosted, ModelHostingFailed, ModelStoppingHosting},
	ModelHosted:          {ModelStoppingHosting, ModelHostingFailed},
	ModelHostingFailed:   {ModelStartingHosting, ModelStoppingHosting, ModelDeleting},
	ModelStoppingHosting: {ModelTrained},
}

// CanBecome reports whether a model in state s may move to state t.
func (s ModelStatus) CanBecome(t ModelStatus) bool {
	for _, n := range modelTransitions[s] {
		if n == t {
			return true
		}
	}
	return false
}

// Trained reports whether a model in state s has a trained artifact.
func (s ModelStatus) Trained() bool {
	switch s {
	case ModelTrained, ModelStartingHosting, ModelHosted, ModelHostingFailed, ModelStoppingHosting:
		return true
	}
	return false
}

// Hosting reports whether the model is being or has been loaded for
// inference (its inference units are then part of its description).
func (s ModelStatus) Hosting() bool { return s == ModelHosted || s == ModelStartingHosting }

// Message returns the status message sent for a model in state s when
// nothing more specific is known (a failure stores its reason). Lookout for
// Vision sends StatusMessage in every state, training included.
func (s ModelStatus) Message() string {
	switch s {
	case ModelTraining:
		return "The model is being trained."
	case ModelTrained:
		return "Training completed successfully."
	case ModelTrainingFailed:
		return "The model could not be trained."
	case ModelStartingHosting:
		return "The model is being hosted."
	case ModelHosted:
		return "The model is running."
	case ModelHostingFailed:
		return "The model could not be hosted."
	case ModelStoppingHosting:
		return "The model is being stopped."
	case ModelDeleting:
		return "The model is being deleted."
	}
	return "The model is " + string(s) + "."
}

// Model is a Lookout for Vision model version: version n of a project,
// numbered 1, 2, ... and never reused.
type Model struct {
	ARN           string
	ProjectARN    string
	Account       string
	Version       int
	Description   string
	Status        ModelStatus
	StatusMessage string
	Created       time.Time
	OutputBucket  string
	OutputPrefix  string
	KmsKeyID      string
	MinUnits      int
	MaxUnits      int
	// Performance is set once the model is evaluated.
	HasPerformance bool
	F1             float64
	Recall         float64
	Precision      float64
	// EvaluationManifest and EvaluationResult are S3 keys in OutputBucket.
	EvaluationManifest string
	EvaluationResult   string
	EvaluationEnd      time.Time
	// Artifact is where the trained model is kept, sealed with KmsKeyID
	// (data-dir relative path); empty until training succeeds.
	Artifact string
}

// Message returns the model's status message as the API sends it: the
// stored one, or the state's default where none was stored.
func (m *Model) Message() string {
	if m.StatusMessage != "" {
		return m.StatusMessage
	}
	return m.Status.Message()
}

// LookoutModelARN builds a Lookout for Vision model ARN:
// arn:aws:lookoutvision:{region}:{account}:model/{project}/{version}.
func LookoutModelARN(region, account, project string, version int) string {
	return ARN{Partition: "aws", Service: LookoutVision, Region: region, Account: account,
		Resource: "model/" + project + "/" + strconv.Itoa(version)}.String()
}

// PackagingStatus is the state of a model packaging job
// (ModelPackagingJobStatus on the wire).
type PackagingStatus string

const (
	PackagingCreated   PackagingStatus = "CREATED"
	PackagingRunning   PackagingStatus = "RUNNING"
	PackagingSucceeded PackagingStatus = "SUCCEEDED"
	PackagingFailed    PackagingStatus = "FAILED"
)

// CanBecome reports whether a packaging job in state s may move to state
// t: CREATED -> RUNNING -> SUCCEEDED | FAILED. A job RUNNING when the
// service stopped runs again from the start (RUNNING -> RUNNING).
func (s PackagingStatus) CanBecome(t PackagingStatus) bool {
	switch s {
	case PackagingCreated:
		return t == PackagingRunning
	case PackagingRunning:
		return t == PackagingRunning || t == PackagingSucceeded || t == PackagingFailed
	}
	return false
}

// InProgress reports whether the job has still to finish.
func (s PackagingStatus) InProgress() bool { return s == PackagingCreated || s == PackagingRunning }

// Message returns the status message sent for a packaging job in state s
// when no more specific one was stored.
func (s PackagingStatus) Message() string {
	switch s {
	case PackagingCreated:
		return "The model packaging job was created."
	case PackagingRunning:
		return "The model is being packaged."
	case PackagingSucceeded:
		return "The model package was written to S3."
	case PackagingFailed:
		return "The model could not be packaged."
	}
	return "The model packaging job is " + string(s) + "."
}

// PackagingJob is a Lookout for Vision model packaging job. Config is the
// job's configuration as the caller gave it (JSON), echoed back by
// DescribeModelPackagingJob; Output is its result (JSON): what it wrote
// and where.
type PackagingJob struct {
	ProjectARN    string
	Account       string
	Name          string
	ModelVersion  int
	Description   string
	Method        string
	Config        []byte
	Status        PackagingStatus
	StatusMessage string
	Output        []byte
	Created       time.Time
	Updated       time.Time
}

// Message returns the job's status message as the API sends it: the stored
// one, or the state's default.
func (j *PackagingJob) Message() string {
	if j.StatusMessage != "" {
		return j.StatusMessage
	}
	return j.Status.Message()
}
