package store

import (
	"context"
	"time"
)

// LookoutStore holds what only Lookout for Vision needs (idempotency
// tokens, models, packaging jobs). Projects, tags, datasets and entries are
// shared with Custom Labels through Store's own methods.
//
// The record types live here rather than in package ocellus because no
// other part of the service uses them; they are plain data, and the
// Lookout for Vision wire shapes are built from them in api/lookoutvision.
type LookoutStore interface {
	// ClientToken returns the record of an idempotency token, NotFound when
	// none was saved.
	ClientToken(ctx context.Context, account, token string) (*ClientToken, error)
	// PutClientToken saves (or replaces) a token's record.
	PutClientToken(ctx context.Context, t *ClientToken) error

	// CreateLookoutModel assigns the project's next model version (1, 2,
	// ...; never reused, even after a deletion), fills m.Version and
	// m.ARN via arn(version) and saves the model.
	CreateLookoutModel(ctx context.Context, m *LookoutModel, arn func(version int) string) error
	LookoutModel(ctx context.Context, projectARN string, version int) (*LookoutModel, error)
	// LookoutModels lists a project's models by version, after the given
	// version (0: from the start).
	LookoutModels(ctx context.Context, projectARN string, after, limit int) ([]*LookoutModel, error)
	// LookoutModelsByStatus lists every model in one of the statuses (for
	// recovery after a restart).
	LookoutModelsByStatus(ctx context.Context, statuses ...string) ([]*LookoutModel, error)
	UpdateLookoutModel(ctx context.Context, m *LookoutModel) error
	// DeleteLookoutModel removes a model with its artifact and tags.
	DeleteLookoutModel(ctx context.Context, projectARN string, version int) error
	// PutModelArtifact stores a trained model's file.
	PutModelArtifact(ctx context.Context, modelARN string, data []byte) error
	ModelArtifact(ctx context.Context, modelARN string) ([]byte, error)

	// CreatePackagingJob saves a new job (AlreadyExists for a name the
	// project already used).
	CreatePackagingJob(ctx context.Context, j *PackagingJob) error
	PackagingJob(ctx context.Context, projectARN, name string) (*PackagingJob, error)
	// PackagingJobs lists a project's jobs by creation, after the named job.
	PackagingJobs(ctx context.Context, projectARN, after string, limit int) ([]*PackagingJob, error)
	PackagingJobsByStatus(ctx context.Context, statuses ...string) ([]*PackagingJob, error)
	UpdatePackagingJob(ctx context.Context, j *PackagingJob) error

	// DeleteLookoutProject removes what a Lookout for Vision project leaves
	// behind besides its row: the model version counter and packaging jobs.
	DeleteLookoutProject(ctx context.Context, projectARN string) error
}

// ClientToken records the first answer given for an idempotency token.
type ClientToken struct {
	Account   string
	Token     string
	Operation string
	// ParamsHash identifies the request's parameters; Result is the
	// response body first sent (JSON).
	ParamsHash string
	Result     []byte
	Created    time.Time
}

// LookoutModel is a Lookout for Vision model version.
type LookoutModel struct {
	ARN          string
	ProjectARN   string
	Account      string
	Version      int
	Description  string
	Status       string
	Message      string
	Created      time.Time
	OutputBucket string
	OutputPrefix string
	KmsKeyID     string
	MinUnits     int
	MaxUnits     int
	// Performance is set once the model is evaluated.
	HasPerformance bool
	F1             float64
	Recall         float64
	Precision      float64
	// EvaluationManifest and EvaluationResult are S3 keys in OutputBucket.
	EvaluationManifest string
	EvaluationResult   string
	EvaluationEnd      time.Time
}

// PackagingJob is a model packaging job. Config is the job's configuration
// as the caller gave it (JSON), echoed back by Describe.
type PackagingJob struct {
	ProjectARN   string
	Account      string
	Name         string
	ModelVersion int
	Description  string
	Method       string
	Config       []byte
	Status       string
	Message      string
	// Output is the job's result (JSON): what it wrote and where.
	Output  []byte
	Created time.Time
	Updated time.Time
}
