// Package store defines how the control plane persists metadata. There are
// two implementations behind the Store interface: sqlite (the default, one
// file under the data dir) and, for scale-out, PostgreSQL. Both run the
// conformance suite in storetest.
package store

import (
	"context"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// ProjectFilter selects projects for listing. Results are ordered by
// creation time then ARN; After is the ARN of the last project of the
// previous page.
type ProjectFilter struct {
	Account  string
	Service  string
	Names    []string // empty: all
	Features []string // empty: all
	After    string
	Limit    int
}

// Store persists projects, tags and policies. Methods return *ocellus.Error
// with NotFound, AlreadyExists, QuotaExceeded or InvalidPolicyRevision where
// the operation's contract says so; anything else is Internal.
type Store interface {
	CreateProject(ctx context.Context, p *ocellus.Project) error
	Project(ctx context.Context, arn string) (*ocellus.Project, error)
	ListProjects(ctx context.Context, f ProjectFilter) ([]*ocellus.Project, error)
	// DeleteProject removes the project with its tags and policies.
	DeleteProject(ctx context.Context, arn string) error

	// SetTags adds or overwrites tags on arn, refusing with QuotaExceeded
	// when the resource would carry more than max tags.
	SetTags(ctx context.Context, arn string, tags map[string]string, max int) error
	RemoveTags(ctx context.Context, arn string, keys []string) error
	Tags(ctx context.Context, arn string) (map[string]string, error)

	// PutPolicy creates a policy when expectRevision is empty and none of
	// that name exists, or replaces the one whose revision is expectRevision.
	PutPolicy(ctx context.Context, p *ocellus.Policy, expectRevision string, max int) error
	// DeletePolicy deletes a policy; a non-empty expectRevision must match.
	DeletePolicy(ctx context.Context, projectARN, name, expectRevision string) error
	// ListPolicies lists a project's policies by name, after the given name.
	ListPolicies(ctx context.Context, projectARN, after string, limit int) ([]*ocellus.Policy, error)

	Close() error
}
