package control

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"sort"
	"sync"

	"github.com/ocellus/ocellus/internal/blob"
	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// entryBatch is how many entries an import writes per transaction.
const entryBatch = 500

// CreateDatasetInput describes a new Custom Labels dataset.
type CreateDatasetInput struct {
	ProjectARN string
	Type       ocellus.DatasetType
	// At most one source: a Ground Truth manifest in S3, or another dataset
	// to copy. Neither makes an empty dataset.
	Source ocellus.DatasetSource
	Tags   map[string]string
}

// CreateDataset creates a dataset and starts importing its entries.
func (c *Control) CreateDataset(ctx context.Context, account string, in CreateDatasetInput) (*ocellus.Dataset, error) {
	p, err := c.project(ctx, account, in.ProjectARN)
	if err != nil {
		return nil, err
	}
	if err := refuseModerationProject(p, "CreateDataset"); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	src := in.Source
	hasManifest := src.ManifestBucket != "" || src.ManifestKey != ""
	switch {
	case hasManifest && src.DatasetARN != "":
		return nil, ocellus.Errorf(ocellus.Invalid, "Specify either DatasetSource.GroundTruthManifest or DatasetSource.DatasetArn, not both.")
	case hasManifest:
		if src.ManifestBucket == "" || src.ManifestKey == "" {
			return nil, ocellus.Errorf(ocellus.Invalid, "GroundTruthManifest.S3Object needs both Bucket and Name.")
		}
		info, err := c.blobs.Head(ctx, account, src.ManifestBucket, src.ManifestKey, src.ManifestVersion)
		if err != nil {
			return nil, err
		}
		if src.ManifestVersion == "" {
			// Pin the version read now, so a recovery after a restart
			// imports the same bytes.
			src.ManifestVersion = info.VersionID
		}
	case src.DatasetARN != "":
		from, err := c.dataset(ctx, account, src.DatasetARN)
		if err != nil {
			return nil, err
		}
		if !from.Status.Usable() {
			return nil, ocellus.Errorf(ocellus.NotReady, "The source dataset %s is %s.", from.ARN, from.Status)
		}
	}
	now := ocellus.Now(c.now)
	d := &ocellus.Dataset{ARN: ocellus.DatasetARN(p, in.Type, now), ProjectARN: p.ARN, Account: account, Type: in.Type,
		Status: ocellus.DatasetCreateInProgress, Source: src, Created: now, Updated: now}
	d.StatusMessage, d.StatusMessageCode = d.Status.Message()
	if !hasManifest && src.DatasetARN == "" {
		d.Status, d.StatusMessage, d.StatusMessageCode = ocellus.DatasetCreateComplete, "The dataset was successfully created.", ocellus.StatusSuccess
	}
	// The dataset, its tags and its import job are stored together
	// (store.Store.InTx). Where they cannot be (SQLite), a crash before the
	// job is stored leaves the dataset CREATE_IN_PROGRESS: the sweep at
	// start-up enqueues it then.
	err = c.store.InTx(ctx, func(ctx context.Context) error {
		if err := c.store.CreateDataset(ctx, d); err != nil {
			return err
		}
		if len(in.Tags) > 0 {
			if err := c.store.SetTags(ctx, d.ARN, in.Tags, ocellus.MaxTagsPerResource); err != nil {
				return err
			}
		}
		if d.Status == ocellus.DatasetCreateInProgress {
			return c.enqueueImport(ctx, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// dataset loads a dataset the caller owns.
func (c *Control) dataset(ctx context.Context, account, arn string) (*ocellus.Dataset, error) {
	if err := ocellus.CheckOwner(arn, account, c.region); err != nil {
		return nil, err
	}
	d, err := c.store.Dataset(ctx, arn)
	if err != nil {
		return nil, err
	}
	if d.Account != account {
		return nil, ocellus.Errorf(ocellus.NotFound, "The dataset %s does not exist.", arn)
	}
	return d, nil
}

// DescribeDataset returns a dataset.
func (c *Control) DescribeDataset(ctx context.Context, account, arn string) (*ocellus.Dataset, error) {
	return c.dataset(ctx, account, arn)
}

// ProjectDatasets lists the datasets of projects (for DescribeProjects), by
// project ARN, in one query.
func (c *Control) ProjectDatasets(ctx context.Context, projectARNs []string) (map[string][]*ocellus.Dataset, error) {
	return c.store.DatasetsOf(ctx, projectARNs)
}

// DeleteDataset deletes a dataset that has no work in progress.
func (c *Control) DeleteDataset(ctx context.Context, account, arn string) error {
	d, err := c.dataset(ctx, account, arn)
	if err != nil {
		return err
	}
	if d.Status.InProgress() {
		return ocellus.Errorf(ocellus.InUse, "The dataset %s is %s; wait for it to finish.", arn, d.Status)
	}
	return c.store.DeleteDataset(ctx, arn)
}

// ListEntriesInput filters ListDatasetEntries.
type ListEntriesInput struct {
	DatasetARN        string
	ContainsLabels    []string
	Labeled           *bool
	HasErrors         *bool
	SourceRefContains string
	NextToken         string
	MaxResults        int
}

// ListDatasetEntries pages a dataset's entries.
func (c *Control) ListDatasetEntries(ctx context.Context, account string, in ListEntriesInput) ([]*ocellus.DatasetEntry, string, error) {
	d, err := c.readableDataset(ctx, account, in.DatasetARN)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeToken("entries:"+d.ARN, in.NextToken)
	if err != nil {
		return nil, "", err
	}
	limit := in.MaxResults
	if limit <= 0 {
		limit = 100
	}
	es, next, err := c.store.ListEntries(ctx, store.EntryFilter{DatasetARN: d.ARN, ContainsLabels: in.ContainsLabels, Labeled: in.Labeled,
		HasErrors: in.HasErrors, SourceRefContains: in.SourceRefContains, After: after, Limit: limit})
	if err != nil {
		return nil, "", err
	}
	if next != "" {
		next = encodeToken("entries:"+d.ARN, next)
	}
	return es, next, nil
}

// readableDataset loads a dataset whose entries can be listed.
func (c *Control) readableDataset(ctx context.Context, account, arn string) (*ocellus.Dataset, error) {
	d, err := c.dataset(ctx, account, arn)
	if err != nil {
		return nil, err
	}
	switch d.Status {
	case ocellus.DatasetCreateInProgress:
		return nil, ocellus.Errorf(ocellus.NotReady, "The dataset %s is still being created.", arn)
	case ocellus.DatasetCreateFailed:
		return nil, ocellus.Errorf(ocellus.NotReady, "The dataset %s failed to be created: %s", arn, d.StatusMessage)
	case ocellus.DatasetUpdateInProgress, ocellus.DatasetDeleteInProgress:
		return nil, ocellus.Errorf(ocellus.InUse, "The dataset %s is %s.", arn, d.Status)
	}
	return d, nil
}

// ListDatasetLabels pages a dataset's labels with their counts.
func (c *Control) ListDatasetLabels(ctx context.Context, account, arn, nextToken string, maxResults int) ([]ocellus.LabelStats, string, error) {
	d, err := c.readableDataset(ctx, account, arn)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeToken("labels:"+d.ARN, nextToken)
	if err != nil {
		return nil, "", err
	}
	if maxResults <= 0 {
		maxResults = 100
	}
	ls, err := c.store.LabelStats(ctx, d.ARN, after, maxResults+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ls) > maxResults {
		ls = ls[:maxResults]
		next = encodeToken("labels:"+d.ARN, ls[maxResults-1].Name)
	}
	return ls, next, nil
}

// UpdateDatasetEntries adds JSON lines to a dataset; a line whose
// source-ref is already in the dataset replaces that entry. Lines are
// checked first: when the update fails, nothing stored is lost.
func (c *Control) UpdateDatasetEntries(ctx context.Context, account, arn string, groundTruth []byte) error {
	d, err := c.dataset(ctx, account, arn)
	if err != nil {
		return err
	}
	if d.Status.InProgress() || d.Status == ocellus.DatasetCreateFailed {
		return ocellus.Errorf(ocellus.InUse, "The dataset %s is %s and cannot be updated now.", arn, d.Status)
	}
	d.Status, d.Updated = ocellus.DatasetUpdateInProgress, ocellus.Now(c.now)
	d.StatusMessage, d.StatusMessageCode = d.Status.Message()
	// The lines are stored with the status, and with the job where the
	// queue shares the database: an update interrupted by a crash runs
	// again after restart.
	return c.store.InTx(ctx, func(ctx context.Context) error {
		if err := c.store.BeginDatasetUpdate(ctx, d, groundTruth); err != nil {
			return err
		}
		return c.enqueueUpdate(ctx, d)
	})
}

// DistributeDatasetEntries moves a random 20% of a project's training
// entries to its empty test dataset. The shuffle is seeded from the
// training dataset's ARN so the split can be reproduced.
func (c *Control) DistributeDatasetEntries(ctx context.Context, account string, arns []string) error {
	if len(arns) != 2 {
		return ocellus.Errorf(ocellus.Invalid, "Datasets must name exactly two datasets: the training and the test dataset of one project.")
	}
	var train, test *ocellus.Dataset
	for _, arn := range arns {
		d, err := c.dataset(ctx, account, arn)
		if err != nil {
			return err
		}
		switch d.Type {
		case ocellus.DatasetTrain:
			train = d
		case ocellus.DatasetTest:
			test = d
		}
	}
	if train == nil || test == nil || train.ProjectARN != test.ProjectARN {
		return ocellus.Errorf(ocellus.Invalid, "Datasets must be the TRAIN and the TEST dataset of the same project.")
	}
	for _, d := range []*ocellus.Dataset{train, test} {
		if !d.Status.Usable() {
			return ocellus.Errorf(ocellus.NotReady, "The dataset %s is %s.", d.ARN, d.Status)
		}
	}
	if test.Stats.TotalEntries > 0 {
		return ocellus.Errorf(ocellus.Invalid, "The test dataset %s must be empty to receive distributed entries; it has %d.", test.ARN, test.Stats.TotalEntries)
	}
	var refs []string
	after := ""
	for {
		es, next, err := c.store.ListEntries(ctx, store.EntryFilter{DatasetARN: train.ARN, After: after, Limit: 1000})
		if err != nil {
			return err
		}
		for _, e := range es {
			refs = append(refs, e.SourceRef)
		}
		if next == "" {
			break
		}
		after = next
	}
	if len(refs) < 2 {
		return ocellus.Errorf(ocellus.Invalid, "The training dataset needs at least 2 entries to distribute; it has %d.", len(refs))
	}
	sort.Strings(refs)
	rng := rand.New(rand.NewSource(seedOf(train.ARN)))
	rng.Shuffle(len(refs), func(i, j int) { refs[i], refs[j] = refs[j], refs[i] })
	n := len(refs) / 5
	if n == 0 {
		n = 1
	}
	if err := c.store.MoveEntries(ctx, train.ARN, test.ARN, refs[:n]); err != nil {
		return err
	}
	for _, d := range []*ocellus.Dataset{train, test} {
		if err := c.finishDataset(ctx, d, ocellus.DatasetUpdateComplete, ocellus.StatusSuccess, "The dataset was successfully updated."); err != nil {
			return err
		}
	}
	return nil
}

// seedOf derives a stable shuffle seed from a string (FNV-1a).
func seedOf(s string) int64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return int64(h >> 1)
}

// finishDataset recomputes stats and saves the final status.
func (c *Control) finishDataset(ctx context.Context, d *ocellus.Dataset, st ocellus.DatasetStatus, code, msg string) error {
	stats, err := c.store.EntryStats(ctx, d.ARN)
	if err != nil {
		return err
	}
	d.Stats, d.Status, d.StatusMessageCode, d.StatusMessage, d.Updated = stats, st, code, msg, ocellus.Now(c.now)
	return c.store.UpdateDataset(ctx, d)
}

// importDataset is the import-dataset job: it fills a CREATE_IN_PROGRESS
// dataset from its source, from scratch (the entries of an interrupted run
// are cleared first), and stores the outcome.
func (c *Control) importDataset(ctx context.Context, arn string) error {
	d, err := c.store.Dataset(ctx, arn)
	if err != nil {
		if ocellus.KindOf(err) == ocellus.NotFound {
			return nil
		}
		return err
	}
	if d.Status != ocellus.DatasetCreateInProgress {
		return nil
	}
	c.hold(ctx, JobImport, HoldAfterLoad)
	err = c.importEntries(ctx, d)
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: the job runs again after restart
	}
	c.hold(ctx, JobImport, HoldBeforeSave)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var fail *importFailure
	switch {
	case err == nil:
		return c.finishDataset(ctx, d, ocellus.DatasetCreateComplete, ocellus.StatusSuccess, "The dataset was successfully created.")
	case errors.As(err, &fail):
		if cerr := c.store.ClearEntries(ctx, d.ARN); cerr != nil {
			c.log.Error("clear failed dataset", "dataset", d.ARN, "err", cerr)
		}
		return c.finishDataset(ctx, d, ocellus.DatasetCreateFailed, ocellus.StatusClientError, fail.message)
	default:
		c.log.Error("dataset import", "dataset", d.ARN, "err", err)
		_ = c.store.ClearEntries(ctx, d.ARN)
		return c.finishDataset(ctx, d, ocellus.DatasetCreateFailed, ocellus.StatusServiceError, "An internal error occurred while creating the dataset: "+ocellus.MessageOf(err))
	}
}

// importFailure is a problem with the user's data (CLIENT_ERROR).
type importFailure struct{ message string }

func (f *importFailure) Error() string { return f.message }

func (c *Control) importEntries(ctx context.Context, d *ocellus.Dataset) error {
	if err := c.store.ClearEntries(ctx, d.ARN); err != nil {
		return err
	}
	if d.Source.DatasetARN != "" {
		return c.copyEntries(ctx, d.Source.DatasetARN, d.ARN)
	}
	rc, info, err := c.blobs.Open(ctx, d.Account, d.Source.ManifestBucket, d.Source.ManifestKey, d.Source.ManifestVersion)
	if err != nil {
		if ocellus.KindOf(err) == ocellus.InvalidS3Object {
			return &importFailure{manifest.CodeManifestInaccessibleOrUnsupportedFormat + ": " + ocellus.MessageOf(err)}
		}
		return err
	}
	defer rc.Close()
	return c.validateInto(ctx, d, rc, info.Size, d.Type == ocellus.DatasetTrain)
}

// validateInto validates a manifest and stores its kept entries in batches.
func (c *Control) validateInto(ctx context.Context, d *ocellus.Dataset, r io.Reader, size int64, training bool) error {
	var batch []*ocellus.DatasetEntry
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := c.space.Check(0); err != nil {
			return err
		}
		err := c.store.PutEntries(ctx, d.ARN, batch)
		batch = batch[:0]
		return err
	}
	opts := manifest.Options{ParseOptions: parseOptionsFor(d.ARN), Training: training,
		Prober: &s3Prober{blobs: c.blobs, account: d.Account}, Size: size}
	sum, err := manifest.Validate(ctx, r, opts, func(e *manifest.Entry) error {
		if !e.Kept() {
			return nil
		}
		batch = append(batch, toDatasetEntry(e))
		if len(batch) >= entryBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if sum.Failed() {
		return &importFailure{sum.Failure.Code + ": " + sum.Failure.Message}
	}
	return nil
}

func toDatasetEntry(e *manifest.Entry) *ocellus.DatasetEntry {
	boxes := map[string]int{}
	for _, det := range e.Detections {
		for _, b := range det.Boxes {
			if b.Valid {
				boxes[b.Label]++
			}
		}
	}
	de := &ocellus.DatasetEntry{SourceRef: e.SourceRef, Line: string(e.JSONLine()), Labeled: e.Labeled(), HasErrors: e.HasErrors()}
	for _, l := range e.Labels() {
		de.Labels = append(de.Labels, ocellus.EntryLabel{Name: l, Boxes: boxes[l]})
	}
	return de
}

func (c *Control) copyEntries(ctx context.Context, fromARN, toARN string) error {
	after := ""
	for {
		es, next, err := c.store.ListEntries(ctx, store.EntryFilter{DatasetARN: fromARN, After: after, Limit: entryBatch})
		if err != nil {
			return err
		}
		// Labels are re-derived from the stored line. Errors found by
		// probing the images are not in the line's own content, so an
		// entry that had errors keeps its stored line (with its cl-errors).
		batch := make([]*ocellus.DatasetEntry, 0, len(es))
		for _, e := range es {
			pe := manifest.ParseLine([]byte(e.Line), parseOptionsFor(toARN))
			de := toDatasetEntry(pe)
			if e.HasErrors {
				de.Line, de.HasErrors = e.Line, true
			}
			batch = append(batch, de)
		}
		if err := c.store.PutEntries(ctx, toARN, batch); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// updateDataset is the update-dataset job: it validates the stored lines
// of an UPDATE_IN_PROGRESS dataset, applies them only if they all pass,
// stores the outcome and drops the lines.
func (c *Control) updateDataset(ctx context.Context, arn string) error {
	d, err := c.store.Dataset(ctx, arn)
	if err != nil {
		if ocellus.KindOf(err) == ocellus.NotFound {
			return nil
		}
		return err
	}
	if d.Status != ocellus.DatasetUpdateInProgress {
		return nil
	}
	lines, err := c.store.DatasetUpdateLines(ctx, arn)
	if ocellus.KindOf(err) == ocellus.NotFound {
		// Left by a release that kept the lines in memory only.
		return c.finishDataset(ctx, d, ocellus.DatasetUpdateFailed, ocellus.StatusServiceError,
			"The service restarted while the dataset was UPDATE_IN_PROGRESS and the update's lines were not kept; its entries are unchanged. Send the update again.")
	}
	if err != nil {
		return err
	}
	c.hold(ctx, JobUpdate, HoldAfterLoad)
	var entries []*ocellus.DatasetEntry
	opts := manifest.Options{ParseOptions: parseOptionsFor(d.ARN),
		Prober: &s3Prober{blobs: c.blobs, account: d.Account}, Size: int64(len(lines))}
	sum, err := manifest.Validate(ctx, bytes.NewReader(lines), opts, func(e *manifest.Entry) error {
		if e.Kept() {
			entries = append(entries, toDatasetEntry(e))
		}
		return nil
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	status, code, msg := ocellus.DatasetUpdateComplete, ocellus.StatusSuccess, "The dataset was successfully updated."
	switch {
	case err != nil:
		c.log.Error("dataset update", "dataset", d.ARN, "err", err)
		status, code, msg = ocellus.DatasetUpdateFailed, ocellus.StatusServiceError, "An internal error occurred while updating the dataset; its entries are unchanged."
	case sum.Failed():
		status, code, msg = ocellus.DatasetUpdateFailed, ocellus.StatusClientError, sum.Failure.Code+": "+sum.Failure.Message+" The dataset's entries are unchanged."
	default:
		// PutEntries replaces entries by source-ref in one transaction:
		// running it again after a crash gives the same entries.
		if err := c.store.PutEntries(ctx, d.ARN, entries); err != nil {
			c.log.Error("dataset update", "dataset", d.ARN, "err", err)
			status, code, msg = ocellus.DatasetUpdateFailed, ocellus.StatusServiceError, "An internal error occurred while updating the dataset; its entries are unchanged."
		}
	}
	c.hold(ctx, JobUpdate, HoldBeforeSave)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := c.finishDataset(ctx, d, status, code, msg); err != nil {
		return err
	}
	return c.store.EndDatasetUpdate(ctx, d.ARN)
}

// s3Prober checks images through S3 as the dataset's account, remembering
// each image's answer so a manifest that repeats images probes each once.
type s3Prober struct {
	blobs   *blob.Blobs
	account string
	mu      sync.Mutex
	seen    map[string]probeResult
}

type probeResult struct {
	info manifest.ImageInfo
	err  error
}

func (p *s3Prober) Probe(ctx context.Context, loc string) (manifest.ImageInfo, error) {
	p.mu.Lock()
	if r, ok := p.seen[loc]; ok {
		p.mu.Unlock()
		return r.info, r.err
	}
	p.mu.Unlock()
	info, err := p.probe(ctx, loc)
	if err == nil || errors.Is(err, manifest.ErrInvalidImage) {
		p.mu.Lock()
		if p.seen == nil {
			p.seen = map[string]probeResult{}
		}
		if len(p.seen) < 100_000 {
			p.seen[loc] = probeResult{info, err}
		}
		p.mu.Unlock()
	}
	return info, err
}

func (p *s3Prober) probe(ctx context.Context, loc string) (manifest.ImageInfo, error) {
	bucket, key, err := blob.ParseURI(loc)
	if err != nil {
		return manifest.ImageInfo{}, manifest.InvalidImage("%v", err)
	}
	rc, info, err := p.blobs.Open(ctx, p.account, bucket, key, "")
	if err != nil {
		if ocellus.KindOf(err) == ocellus.InvalidS3Object {
			return manifest.ImageInfo{}, manifest.InvalidImage("the image %s cannot be read from S3", loc)
		}
		return manifest.ImageInfo{}, err
	}
	defer rc.Close()
	return manifest.ProbeReader(rc, info.Size, false)
}

// Close stops hosted models and waits for them. Jobs are the queue's:
// close it first, so that no job runs on a closed control plane.
func (c *Control) Close() error {
	if k := c.cluster.Load(); k != nil {
		k.stop()
	}
	c.closing.Store(true)
	return errors.Join(c.pool.Close(), c.moderation.close())
}

// parseOptionsFor returns how to read a dataset's manifest lines: Lookout
// for Vision's rules for a Lookout for Vision dataset, Custom Labels'
// otherwise. The dataset's ARN says which service it belongs to.
func parseOptionsFor(datasetARN string) manifest.ParseOptions {
	if a, err := ocellus.ParseARN(datasetARN); err == nil && a.Service == ocellus.LookoutVision {
		return manifest.ParseOptions{Service: manifest.LookoutForVision}
	}
	return manifest.ParseOptions{Service: manifest.CustomLabels}
}
