// Package store defines how the control plane persists metadata. Two
// implementations stand behind the Store interface: sqlite (one file under
// the data dir, the default) and postgres (--database postgres://, for
// several nodes sharing one database). Both run the conformance suite in
// storetest.
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
	// InTx runs fn so that what it stores, and the jobs it enqueues on a
	// queue in the same database, are kept together or not at all:
	// PostgreSQL runs fn in one transaction that the context given to fn
	// carries. SQLite keeps the queue in a file of its own, so there fn
	// simply runs; a record whose job was not stored is found in progress
	// by the sweep at start-up (control.Recover) and enqueued then.
	InTx(ctx context.Context, fn func(ctx context.Context) error) error

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

	// Datasets: at most one of each type per project (AlreadyExists).
	CreateDataset(ctx context.Context, d *ocellus.Dataset) error
	Dataset(ctx context.Context, arn string) (*ocellus.Dataset, error)
	Datasets(ctx context.Context, projectARN string) ([]*ocellus.Dataset, error)
	// DatasetsOf returns the datasets of several projects at once, by project.
	DatasetsOf(ctx context.Context, projectARNs []string) (map[string][]*ocellus.Dataset, error)
	// DatasetsInProgress lists datasets left in an *_IN_PROGRESS state, for
	// recovery after a restart.
	DatasetsInProgress(ctx context.Context) ([]*ocellus.Dataset, error)
	// UpdateDataset saves status, message, source and stats.
	UpdateDataset(ctx context.Context, d *ocellus.Dataset) error
	// DeleteDataset removes a dataset with its entries, tags and pending
	// update.
	DeleteDataset(ctx context.Context, arn string) error
	// BeginDatasetUpdate saves d (as UpdateDataset) and the lines of its
	// update in one transaction, replacing any lines stored before, so that
	// a dataset UPDATE_IN_PROGRESS always has its lines.
	BeginDatasetUpdate(ctx context.Context, d *ocellus.Dataset, lines []byte) error
	// DatasetUpdateLines returns the lines BeginDatasetUpdate stored
	// (NotFound when there are none).
	DatasetUpdateLines(ctx context.Context, datasetARN string) ([]byte, error)
	// EndDatasetUpdate removes the stored lines; none stored is not an error.
	EndDatasetUpdate(ctx context.Context, datasetARN string) error

	// PutEntries inserts entries or replaces those with the same source-ref,
	// in one transaction.
	PutEntries(ctx context.Context, datasetARN string, entries []*ocellus.DatasetEntry) error
	// ClearEntries removes every entry of a dataset.
	ClearEntries(ctx context.Context, datasetARN string) error
	// ListEntries pages entries in insertion order.
	ListEntries(ctx context.Context, f EntryFilter) ([]*ocellus.DatasetEntry, string, error)
	// MoveEntries moves the named entries to another dataset.
	MoveEntries(ctx context.Context, fromARN, toARN string, sourceRefs []string) error
	// EntryStats counts a dataset's entries.
	EntryStats(ctx context.Context, datasetARN string) (ocellus.DatasetStats, error)
	// LabelStats pages per-label counts by label name, after the given name.
	LabelStats(ctx context.Context, datasetARN, after string, limit int) ([]ocellus.LabelStats, error)

	// Model versions: names are unique per project (AlreadyExists).
	CreateVersion(ctx context.Context, v *ocellus.ProjectVersion) error
	Version(ctx context.Context, arn string) (*ocellus.ProjectVersion, error)
	// Versions lists a project's versions newest first, optionally only
	// those named.
	Versions(ctx context.Context, projectARN string, names []string) ([]*ocellus.ProjectVersion, error)
	// VersionsInState lists versions (of any project) in the given states,
	// for recovery after a restart.
	VersionsInState(ctx context.Context, states ...ocellus.VersionStatus) ([]*ocellus.ProjectVersion, error)
	UpdateVersion(ctx context.Context, v *ocellus.ProjectVersion) error
	DeleteVersion(ctx context.Context, arn string) error

	LookoutStore
	HostingStore

	Close() error
}

// EntryFilter selects dataset entries. After is the cursor returned with
// the previous page.
type EntryFilter struct {
	DatasetARN        string
	ContainsLabels    []string
	Labeled           *bool
	HasErrors         *bool
	SourceRefContains string
	After             string
	Limit             int
}
