package control

import (
	"context"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// DatasetTypeOf reads Lookout for Vision's lower-case dataset type.
func DatasetTypeOf(s string) (ocellus.DatasetType, error) {
	switch s {
	case "train":
		return ocellus.DatasetTrain, nil
	case "test":
		return ocellus.DatasetTest, nil
	}
	return "", ocellus.Errorf(ocellus.Invalid, "DatasetType must be train or test, not %q.", s)
}

// LookoutDataset is a dataset with Lookout for Vision's image counts.
type LookoutDataset struct {
	*ocellus.Dataset
	ProjectName string
	Normal      int
	Anomaly     int
}

// lookoutDataset finds a project's dataset of type t.
func (l *Lookout) lookoutDataset(ctx context.Context, p *ocellus.Project, t ocellus.DatasetType) (*ocellus.Dataset, error) {
	ds, err := l.c.store.Datasets(ctx, p.ARN)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.Type == t {
			return d, nil
		}
	}
	return nil, lookoutErr(ocellus.NotFound, ResourceDataset, p.Name+"/"+strings.ToLower(string(t)),
		"The project %s has no %s dataset.", p.Name, strings.ToLower(string(t)))
}

// CreateLookoutDataset creates a project's train or test dataset, empty or
// from a Ground Truth manifest in S3 (imported by an import-dataset job).
func (l *Lookout) CreateLookoutDataset(ctx context.Context, account, project string, t ocellus.DatasetType, src ocellus.DatasetSource) (*ocellus.Dataset, error) {
	p, err := l.LookoutProject(ctx, account, project)
	if err != nil {
		return nil, err
	}
	if _, err := l.lookoutDataset(ctx, p, t); err == nil {
		return nil, lookoutErr(ocellus.AlreadyExists, ResourceDataset, project+"/"+strings.ToLower(string(t)),
			"The project %s already has a %s dataset.", project, strings.ToLower(string(t)))
	}
	d, err := l.c.CreateDataset(ctx, account, CreateDatasetInput{ProjectARN: p.ARN, Type: t, Source: src})
	if ocellus.KindOf(err) == ocellus.AlreadyExists {
		return nil, lookoutErr(ocellus.AlreadyExists, ResourceDataset, project+"/"+strings.ToLower(string(t)),
			"The project %s already has a %s dataset.", project, strings.ToLower(string(t)))
	}
	if err != nil {
		return nil, err
	}
	// The import goroutine owns d and updates its status: answer from the
	// fields it never writes.
	out := &ocellus.Dataset{ARN: d.ARN, ProjectARN: d.ProjectARN, Account: account, Type: d.Type, Source: src, Created: d.Created,
		Status: ocellus.DatasetCreateInProgress}
	if src.ManifestBucket == "" && src.ManifestKey == "" {
		out.Status = ocellus.DatasetCreateComplete
	}
	out.StatusMessage, out.StatusMessageCode = out.Status.Message()
	return out, nil
}

// DescribeLookoutDataset returns a dataset with its image counts.
func (l *Lookout) DescribeLookoutDataset(ctx context.Context, account, project string, t ocellus.DatasetType) (*LookoutDataset, error) {
	p, err := l.LookoutProject(ctx, account, project)
	if err != nil {
		return nil, err
	}
	d, err := l.lookoutDataset(ctx, p, t)
	if err != nil {
		return nil, err
	}
	out := &LookoutDataset{Dataset: d, ProjectName: p.Name}
	ls, err := l.c.store.LabelStats(ctx, d.ARN, "", 0)
	if err != nil {
		return nil, err
	}
	for _, s := range ls {
		switch s.Name {
		case "normal":
			out.Normal = s.EntryCount
		case "anomaly":
			out.Anomaly = s.EntryCount
		}
	}
	return out, nil
}

// DeleteLookoutDataset deletes a dataset with no work in progress.
func (l *Lookout) DeleteLookoutDataset(ctx context.Context, account, project string, t ocellus.DatasetType) error {
	p, err := l.LookoutProject(ctx, account, project)
	if err != nil {
		return err
	}
	d, err := l.lookoutDataset(ctx, p, t)
	if err != nil {
		return err
	}
	ms, err := l.c.store.LookoutModelsByStatus(ctx, ModelTraining)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.ProjectARN == p.ARN {
			return lookoutErr(ocellus.InUse, ResourceDataset, project+"/"+strings.ToLower(string(t)),
				"Model %d of project %s is training on this dataset; wait for it to finish.", m.Version, project)
		}
	}
	if d.Status.InProgress() {
		return lookoutErr(ocellus.InUse, ResourceDataset, project+"/"+strings.ToLower(string(t)),
			"The %s dataset of project %s is %s; wait for it to finish.", strings.ToLower(string(t)), project, d.Status)
	}
	return l.c.store.DeleteDataset(ctx, d.ARN)
}

// ListLookoutEntriesInput filters ListDatasetEntries.
type ListLookoutEntriesInput struct {
	Labeled           *bool
	AnomalyClass      string // "normal" | "anomaly" | ""
	Before, After     time.Time
	SourceRefContains string
	NextToken         string
	MaxResults        int
}

// ListLookoutEntries pages a dataset's JSON lines. The date filters apply
// to the label's creation-date in the line (Ground Truth's annotation
// date); a line without a readable date does not pass a date filter.
func (l *Lookout) ListLookoutEntries(ctx context.Context, account, project string, t ocellus.DatasetType, in ListLookoutEntriesInput) ([]string, string, error) {
	p, err := l.LookoutProject(ctx, account, project)
	if err != nil {
		return nil, "", err
	}
	d, err := l.lookoutDataset(ctx, p, t)
	if err != nil {
		return nil, "", err
	}
	if d, err = l.c.readableDataset(ctx, account, d.ARN); err != nil {
		return nil, "", err
	}
	list := "l4v-entries:" + d.ARN
	after, err := decodeLookoutToken(list, in.NextToken)
	if err != nil {
		return nil, "", err
	}
	limit := pageLimit(in.MaxResults)
	f := store.EntryFilter{DatasetARN: d.ARN, Labeled: in.Labeled, SourceRefContains: in.SourceRefContains, After: after}
	if in.AnomalyClass != "" {
		f.ContainsLabels = []string{strings.ToLower(in.AnomalyClass)}
	}
	dated := !in.Before.IsZero() || !in.After.IsZero()
	var out []string
	cursor := after
	// Ask the store for no more than what is still missing, so a page never
	// has to be cut in the middle (its cursor only resumes after its end).
	for len(out) < limit {
		f.After, f.Limit = cursor, limit-len(out)
		es, next, err := l.c.store.ListEntries(ctx, f)
		if err != nil {
			return nil, "", err
		}
		for _, e := range es {
			pe := manifest.ParseLine([]byte(e.Line), manifest.ParseOptions{Service: manifest.LookoutForVision})
			if dated && !inDateRange(pe, in.Before, in.After) {
				continue
			}
			out = append(out, lookoutLine(e.Line, pe))
		}
		cursor = next
		if next == "" {
			break
		}
	}
	tok := ""
	if cursor != "" {
		tok = encodeToken(list, cursor)
	}
	return out, tok, nil
}

func inDateRange(e *manifest.Entry, before, after time.Time) bool {
	var when time.Time
	if e.Anomaly != nil {
		when = e.Anomaly.CreationDate
	}
	if when.IsZero() {
		return false
	}
	if !before.IsZero() && !when.Before(before) {
		return false
	}
	if !after.IsZero() && !when.After(after) {
		return false
	}
	return true
}

// lookoutLine renders a stored line the way Lookout for Vision returns it:
// the manifest line itself, without the "cl-metadata" member Custom Labels
// adds. A line with errors keeps them (and the stored form).
func lookoutLine(stored string, e *manifest.Entry) string {
	if len(e.Issues) > 0 {
		return stored
	}
	return string(e.ValidationLine())
}

// UpdateLookoutEntries adds or replaces (by source-ref) a dataset's lines
// through an update-dataset job; a failed update leaves the entries as they
// were.
func (l *Lookout) UpdateLookoutEntries(ctx context.Context, account, project string, t ocellus.DatasetType, changes []byte) (ocellus.DatasetStatus, error) {
	p, err := l.LookoutProject(ctx, account, project)
	if err != nil {
		return "", err
	}
	d, err := l.lookoutDataset(ctx, p, t)
	if err != nil {
		return "", err
	}
	if len(changes) > 10_485_760 {
		return "", ocellus.Errorf(ocellus.Invalid, "Changes is %d bytes; the maximum is 10485760.", len(changes))
	}
	if err := l.c.UpdateDatasetEntries(ctx, account, d.ARN, changes); err != nil {
		if ocellus.KindOf(err) == ocellus.InUse {
			return "", lookoutErr(ocellus.InUse, ResourceDataset, project+"/"+strings.ToLower(string(t)), "%s", ocellus.MessageOf(err))
		}
		return "", err
	}
	return ocellus.DatasetUpdateInProgress, nil
}

// ProjectDatasets lists a project's datasets (for DescribeProject).
func (l *Lookout) ProjectDatasets(ctx context.Context, projectARN string) ([]*ocellus.Dataset, error) {
	return l.c.store.Datasets(ctx, projectARN)
}
