package store

import (
	"context"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// LookoutStore holds what only Lookout for Vision needs (idempotency
// tokens, models, packaging jobs). Projects, tags, datasets and entries are
// shared with Custom Labels through Store's own methods.
type LookoutStore interface {
	// ClientToken returns the record of an idempotency token, NotFound when
	// none was saved.
	ClientToken(ctx context.Context, account, token string) (*ClientToken, error)
	// PutClientToken saves (or replaces) a token's record.
	PutClientToken(ctx context.Context, t *ClientToken) error
	// ClaimClientToken saves t (normally Pending) as the token's record
	// only if the record is still prev: none when prev is nil, else the
	// one read (same Created and Pending). It reports whether t was saved:
	// of several nodes claiming from the same prev, exactly one wins.
	ClaimClientToken(ctx context.Context, t, prev *ClientToken) (bool, error)
	// ReleaseClientToken removes the pending claim made at created (its
	// request failed, so the token may be used again), leaving any other
	// record alone.
	ReleaseClientToken(ctx context.Context, account, token string, created time.Time) error

	// CreateLookoutModel assigns the project's next model version (1, 2,
	// ...; never reused, even after a deletion), fills m.Version and
	// m.ARN via arn(version) and saves the model.
	CreateLookoutModel(ctx context.Context, m *ocellus.Model, arn func(version int) string) error
	LookoutModel(ctx context.Context, projectARN string, version int) (*ocellus.Model, error)
	// LookoutModels lists a project's models by version, after the given
	// version (0: from the start).
	LookoutModels(ctx context.Context, projectARN string, after, limit int) ([]*ocellus.Model, error)
	// LookoutModelsByStatus lists every model in one of the statuses (for
	// recovery after a restart).
	LookoutModelsByStatus(ctx context.Context, statuses ...ocellus.ModelStatus) ([]*ocellus.Model, error)
	UpdateLookoutModel(ctx context.Context, m *ocellus.Model) error
	// DeleteLookoutModel removes a model with its tags. Its trained
	// artifact is a sealed file of the control plane's artifact store
	// (Model.Artifact), not the store's.
	DeleteLookoutModel(ctx context.Context, projectARN string, version int) error

	// CreatePackagingJob saves a new job (AlreadyExists for a name the
	// project already used).
	CreatePackagingJob(ctx context.Context, j *ocellus.PackagingJob) error
	PackagingJob(ctx context.Context, projectARN, name string) (*ocellus.PackagingJob, error)
	// PackagingJobs lists a project's jobs by creation, after the named job.
	PackagingJobs(ctx context.Context, projectARN, after string, limit int) ([]*ocellus.PackagingJob, error)
	PackagingJobsByStatus(ctx context.Context, statuses ...ocellus.PackagingStatus) ([]*ocellus.PackagingJob, error)
	UpdatePackagingJob(ctx context.Context, j *ocellus.PackagingJob) error

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
	// Pending: the token is claimed and its first request still running
	// (on some node); Result is empty until it ends.
	Pending bool
}
