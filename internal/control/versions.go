package control

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocellus/ocellus/internal/blob"
	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
	"github.com/ocellus/ocellus/internal/vision"
	"github.com/ocellus/ocellus/internal/vision/eval"
)

// CreateVersionInput is a new model version to train.
type CreateVersionInput struct {
	ProjectARN   string
	Name         string
	Description  string
	OutputBucket string
	OutputPrefix string
	KmsKeyID     string
	Tags         map[string]string
	// Training/Testing manifests, used only when the project has no
	// datasets. TestingAutoCreate splits 20% of training off for testing.
	TrainingManifests []ocellus.S3Location
	TestingManifests  []ocellus.S3Location
	TestingAutoCreate bool
	// FeatureConfig given (content moderation): refused until supported.
	FeatureConfig bool
}

// CreateProjectVersion records a version as TRAINING_IN_PROGRESS and queues
// its training.
func (c *Control) CreateProjectVersion(ctx context.Context, account string, in CreateVersionInput) (*ocellus.ProjectVersion, error) {
	p, err := c.project(ctx, account, in.ProjectARN)
	if err != nil {
		return nil, err
	}
	if p.Feature == ocellus.FeatureContentModeration || in.FeatureConfig {
		return nil, ocellus.Errorf(ocellus.Invalid, "Content moderation adapters (Feature CONTENT_MODERATION, FeatureConfig) are not supported by Ocellus yet; use a CUSTOM_LABELS project.")
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	if in.OutputBucket == "" {
		return nil, ocellus.Errorf(ocellus.Invalid, "OutputConfig.S3Bucket is required.")
	}
	if _, err := c.resolveKey(in.KmsKeyID); err != nil {
		return nil, err
	}
	datasets, err := c.store.Datasets(ctx, p.ARN)
	if err != nil {
		return nil, err
	}
	v := &ocellus.ProjectVersion{ProjectARN: p.ARN, Account: account, Name: in.Name, Description: in.Description,
		Status: ocellus.VersionTrainingInProgress, StatusMessage: ocellus.VersionTrainingInProgress.Message(),
		OutputBucket: in.OutputBucket, OutputPrefix: in.OutputPrefix, KmsKeyID: in.KmsKeyID}
	switch {
	case len(in.TestingManifests) > 0 || in.TestingAutoCreate:
		if len(in.TrainingManifests) == 0 {
			return nil, ocellus.Errorf(ocellus.Invalid, "TestingData requires TrainingData.")
		}
	}
	if len(datasets) > 0 {
		if len(in.TrainingManifests) > 0 {
			return nil, ocellus.Errorf(ocellus.Invalid, "The project has datasets: TrainingData and TestingData can be given only for projects without datasets.")
		}
		var train *ocellus.Dataset
		for _, d := range datasets {
			if !d.Status.Usable() {
				return nil, ocellus.Errorf(ocellus.InUse, "The dataset %s is %s; training needs it complete.", d.ARN, d.Status)
			}
			if d.Type == ocellus.DatasetTrain {
				train = d
			}
		}
		if train == nil {
			return nil, ocellus.Errorf(ocellus.Invalid, "The project has no TRAIN dataset.")
		}
	} else {
		if len(in.TrainingManifests) == 0 {
			return nil, ocellus.Errorf(ocellus.Invalid, "The project has no datasets: give TrainingData (and TestingData) manifests, or create datasets first.")
		}
		if len(in.TestingManifests) == 0 && !in.TestingAutoCreate {
			return nil, ocellus.Errorf(ocellus.Invalid, "TestingData is required: give test manifests or set TestingData.AutoCreate.")
		}
		for _, m := range append(append([]ocellus.S3Location{}, in.TrainingManifests...), in.TestingManifests...) {
			if _, err := c.blobs.Head(ctx, account, m.Bucket, m.Key, m.Version); err != nil {
				return nil, err
			}
		}
		v.Training.Input, v.Testing.Input, v.Testing.AutoCreate = in.TrainingManifests, in.TestingManifests, in.TestingAutoCreate
	}
	now := ocellus.Now(c.now)
	v.Created, v.ARN = now, ocellus.VersionARN(p, in.Name, now)
	if err := c.store.CreateVersion(ctx, v); err != nil {
		if ocellus.KindOf(err) == ocellus.AlreadyExists {
			return nil, ocellus.Errorf(ocellus.InUse, "A model version named %s already exists in project %s.", in.Name, p.Name)
		}
		return nil, err
	}
	if len(in.Tags) > 0 {
		if err := c.store.SetTags(ctx, v.ARN, in.Tags, ocellus.MaxTagsPerResource); err != nil {
			return nil, err
		}
	}
	if err := c.enqueueVersion(ctx, JobTrain, v.ARN); err != nil {
		return nil, err
	}
	return v, nil
}

// version loads a version the caller owns.
func (c *Control) version(ctx context.Context, account, arn string) (*ocellus.ProjectVersion, error) {
	if err := ocellus.CheckOwner(arn, account, c.region); err != nil {
		return nil, err
	}
	v, err := c.store.Version(ctx, arn)
	if err != nil {
		return nil, err
	}
	if v.Account != account {
		return nil, ocellus.Errorf(ocellus.NotFound, "The model version %s does not exist.", arn)
	}
	return v, nil
}

// DescribeProjectVersions lists a project's versions newest first.
func (c *Control) DescribeProjectVersions(ctx context.Context, account, projectARN string, names []string, nextToken string, maxResults int) ([]*ocellus.ProjectVersion, string, error) {
	p, err := c.project(ctx, account, projectARN)
	if err != nil {
		return nil, "", err
	}
	offStr, err := decodeToken("versions:"+p.ARN, nextToken)
	if err != nil {
		return nil, "", err
	}
	off := 0
	if offStr != "" {
		if off, err = strconv.Atoi(offStr); err != nil || off < 0 {
			return nil, "", ocellus.Errorf(ocellus.InvalidPaginationToken, "The pagination token is invalid.")
		}
	}
	vs, err := c.store.Versions(ctx, p.ARN, names)
	if err != nil {
		return nil, "", err
	}
	if maxResults <= 0 {
		maxResults = 100
	}
	if off > len(vs) {
		off = len(vs)
	}
	vs = vs[off:]
	next := ""
	if len(vs) > maxResults {
		vs = vs[:maxResults]
		next = encodeToken("versions:"+p.ARN, strconv.Itoa(off+maxResults))
	}
	return vs, next, nil
}

// DeleteProjectVersion deletes a version that is neither training nor
// hosted, with its artifact.
func (c *Control) DeleteProjectVersion(ctx context.Context, account, arn string) (ocellus.VersionStatus, error) {
	v, err := c.version(ctx, account, arn)
	if err != nil {
		return "", err
	}
	switch v.Status {
	case ocellus.VersionTrainingInProgress, ocellus.VersionRunning, ocellus.VersionStarting, ocellus.VersionStopping, ocellus.VersionCopyingInProgress:
		return "", ocellus.Errorf(ocellus.InUse, "The model version %s is %s and cannot be deleted now.", arn, v.Status)
	}
	if err := c.store.DeleteVersion(ctx, arn); err != nil {
		return "", err
	}
	if v.Artifact != "" && !c.artifactShared(ctx, v) {
		if err := os.Remove(filepath.Join(c.dataDir, v.Artifact)); err != nil && !os.IsNotExist(err) {
			c.log.Error("remove model artifact", "version", arn, "err", err)
		}
	}
	return ocellus.VersionDeleting, nil
}

// artifactShared reports whether another version (a copy) uses v's artifact.
func (c *Control) artifactShared(ctx context.Context, v *ocellus.ProjectVersion) bool {
	vs, err := c.store.VersionsInState(ctx, ocellus.VersionTrainingCompleted, ocellus.VersionCopyingCompleted, ocellus.VersionRunning,
		ocellus.VersionStopped, ocellus.VersionStarting, ocellus.VersionFailed, ocellus.VersionStopping, ocellus.VersionCopyingInProgress)
	if err != nil {
		return true // keep the file when unsure
	}
	for _, o := range vs {
		if o.ARN != v.ARN && o.Artifact == v.Artifact {
			return true
		}
	}
	return false
}

// trainVersion runs one training job. It is idempotent: a version no
// longer TRAINING_IN_PROGRESS is left alone, and a rerun after a crash
// starts from scratch with the same seed.
func (c *Control) trainVersion(ctx context.Context, arn string) error {
	v, err := c.store.Version(ctx, arn)
	if err != nil {
		if ocellus.KindOf(err) == ocellus.NotFound {
			return nil
		}
		return err
	}
	if v.Status != ocellus.VersionTrainingInProgress {
		return nil
	}
	c.hold(ctx, JobTrain, HoldAfterLoad)
	start := time.Now()
	err = c.train(ctx, v)
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: the job runs again after restart
	}
	c.hold(ctx, JobTrain, HoldBeforeSave)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		v.Status, v.StatusMessage = ocellus.VersionTrainingFailed, versionFailure(err)
		c.log.Info("training failed", "version", arn, "err", err)
	} else {
		v.Status, v.StatusMessage = ocellus.VersionTrainingCompleted, "The model is ready to run."
	}
	v.TrainingEnd = ocellus.Now(c.now)
	v.BillableSeconds = int64(time.Since(start).Round(time.Second) / time.Second)
	if v.BillableSeconds == 0 {
		v.BillableSeconds = 1
	}
	return c.store.UpdateVersion(context.WithoutCancel(ctx), v)
}

func versionFailure(err error) string {
	if k := ocellus.KindOf(err); k != ocellus.Internal {
		return ocellus.MessageOf(err)
	}
	return "Training failed: " + err.Error()
}

// examples turns dataset entries or manifest lines into training examples,
// reading images from S3 as the version's account.
type exampleSet struct {
	examples []vision.Example
	used     []*manifest.Entry // the entry of each example
	all      []*manifest.Entry // every entry read, for the validation manifest
	sum      manifest.Summary
	rejected map[*manifest.Entry]bool // images that cannot be read or decoded
}

// rejectShare is the share of the set's examples that may still fail to
// decode before more than 20% of its lines are invalid.
func (s *exampleSet) rejectShare() float64 {
	if len(s.examples) == 0 {
		return 0
	}
	return (vision.MaxRejectedShare*float64(s.sum.TotalLines) - float64(s.sum.InvalidLines)) / float64(len(s.examples))
}

// groundTruth is the manifest lines used, for the ground-truth output file.
func (s *exampleSet) groundTruth() []byte {
	var lines [][]byte
	for _, e := range s.used {
		if !s.rejected[e] {
			lines = append(lines, e.JSONLine())
		}
	}
	return bytes.Join(lines, []byte("\n"))
}

// validation is the validation manifest: every line with its errors.
func (s *exampleSet) validation() []byte {
	lines := make([][]byte, len(s.all))
	for i, e := range s.all {
		lines[i] = e.ValidationLine()
	}
	return bytes.Join(lines, []byte("\n"))
}

// rejectImage records that an entry's image cannot be decoded: the line
// becomes invalid with ERROR_INVALID_IMAGE, as AWS reports an image it
// cannot read during training, and its example is not used.
func (s *exampleSet) rejectImage(e *manifest.Entry, reason error) {
	if s.rejected[e] {
		return
	}
	if s.rejected == nil {
		s.rejected = map[*manifest.Entry]bool{}
	}
	s.rejected[e] = true
	msg := manifest.Message(manifest.CodeInvalidImage)
	if reason != nil {
		msg += " " + decodeReason(reason)
	}
	e.Issues = append(e.Issues, manifest.Issue{Code: manifest.CodeInvalidImage, Message: msg, Scope: manifest.ScopeLine})
	s.sum.ValidLines--
	s.sum.InvalidLines++
	if e.Line > 0 {
		s.sum.ErrorLineIndices = append(s.sum.ErrorLineIndices, e.Line)
		sort.Ints(s.sum.ErrorLineIndices)
	}
}

// tooManyInvalid reports whether more than AWS's 20% of the set's lines
// are invalid, and then marks the set's summary as failed.
func (s *exampleSet) tooManyInvalid() bool {
	if s.sum.TotalLines == 0 || float64(s.sum.InvalidLines) <= vision.MaxRejectedShare*float64(s.sum.TotalLines) {
		return false
	}
	s.sum.Errors = append(s.sum.Errors, manifest.Issue{Code: manifest.CodeTooManyInvalidRowsInManifest, Message: manifest.Message(manifest.CodeTooManyInvalidRowsInManifest)})
	s.sum.Failure = &s.sum.Errors[len(s.sum.Errors)-1]
	return true
}

func (c *Control) train(ctx context.Context, v *ocellus.ProjectVersion) error {
	var trainSet, testSet exampleSet
	datasets, err := c.store.Datasets(ctx, v.ProjectARN)
	if err != nil {
		return err
	}
	if len(datasets) > 0 {
		for _, d := range datasets {
			set, err := c.datasetExamples(ctx, v.Account, d.ARN)
			if err != nil {
				return err
			}
			if d.Type == ocellus.DatasetTrain {
				trainSet = set
			} else {
				testSet = set
			}
		}
	} else {
		if trainSet, err = c.manifestExamples(ctx, v.Account, v.Training.Input); err != nil {
			return err
		}
		if testSet, err = c.manifestExamples(ctx, v.Account, v.Testing.Input); err != nil {
			return err
		}
	}
	if len(trainSet.examples) == 0 {
		return ocellus.Errorf(ocellus.Invalid, "The training dataset has no usable labeled images.")
	}
	if c.backbone == nil {
		return fmt.Errorf("no backbone configured")
	}
	bb := c.backbone
	if hasObjects(trainSet.examples) {
		bb = c.detector
	}
	// Images that cannot be decoded are invalid lines, left out; over 20%
	// of a dataset's lines invalid fails the training. The limit counts
	// the lines found invalid before (on import, or gone from S3), so
	// vision.Train is given the larger of the two sets' allowances and the
	// counts are checked here again.
	limit := max(trainSet.rejectShare(), testSet.rejectShare())
	if limit <= 0 {
		limit = -1 // no image may fail
	}
	model, ev, err := vision.Train(ctx, vision.TrainConfig{Backbone: bb, Train: trainSet.examples, Test: testSet.examples,
		Seed: uint64(seedOf(v.ARN)), Logger: c.log, RejectLimit: limit})
	var rejected []vision.Rejected
	var tooMany *vision.TooManyRejectedError
	switch {
	case errors.As(err, &tooMany):
		rejected = tooMany.Rejected
	case err != nil:
		return err
	default:
		rejected = ev.Rejected
	}
	for _, r := range rejected {
		set := &trainSet
		if r.Test {
			set = &testSet
		}
		c.log.Info("image left out of training", "version", v.ARN, "image", set.used[r.Index].SourceRef, "err", r.Err)
		set.rejectImage(set.used[r.Index], r.Err)
	}
	for _, f := range []struct {
		set  *exampleSet
		name string
	}{{&trainSet, "training"}, {&testSet, "testing"}} {
		if !f.set.tooManyInvalid() {
			continue
		}
		if err := c.writeTrainingOutput(ctx, v, nil, trainSet, testSet); err != nil {
			return err
		}
		return ocellus.Errorf(ocellus.Invalid, "%s: %s The %s dataset has %d invalid of %d lines (%d images cannot be decoded: %s); at most 20%% may be invalid.",
			manifest.CodeTooManyInvalidRowsInManifest, manifest.Message(manifest.CodeTooManyInvalidRowsInManifest), f.name,
			f.set.sum.InvalidLines, f.set.sum.TotalLines, countRejected(rejected, f.set == &testSet), firstRejected(f.set))
	}
	if err != nil {
		return err // vision failed for a reason the counts do not show
	}
	rel, err := c.saveArtifact(v, model)
	if err != nil {
		return err
	}
	v.Artifact, v.Kind = rel, string(model.Kind)
	summary := ev.Summary(v.ARN, model.Kind)
	f1 := summary.AggregatedEvaluationResults.Metrics.F1Score
	v.F1 = &f1
	return c.writeTrainingOutput(ctx, v, summary, trainSet, testSet)
}

// putOutput writes one OutputConfig file of v: with SSE-KMS under the
// version's KmsKeyId when it has one, as AWS does.
func (c *Control) putOutput(ctx context.Context, v *ocellus.ProjectVersion, key string, body []byte) error {
	if v.KmsKeyID != "" {
		return c.blobs.PutKMS(ctx, v.Account, v.OutputBucket, key, "application/json", v.KmsKeyID, bytes.NewReader(body))
	}
	return c.blobs.Put(ctx, v.Account, v.OutputBucket, key, "application/json", bytes.NewReader(body))
}

// writeTrainingOutput writes the files AWS writes to OutputConfig; without
// an evaluation summary (training failed on its data) the others only.
func (c *Control) writeTrainingOutput(ctx context.Context, v *ocellus.ProjectVersion, summary *eval.Summary, trainSet, testSet exampleSet) error {
	p, err := c.store.Project(ctx, v.ProjectARN)
	if err != nil {
		return err
	}
	stamp := v.Created.UTC().Format("2006-01-02T15.04.05")
	prefix := v.OutputPrefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	name := func(kind string) string { return prefix + kind + "-" + p.Name + "-" + v.Name + "-" + stamp + ".json" }
	put := func(key string, body []byte) (*ocellus.S3Location, error) {
		if err := c.putOutput(ctx, v, key, body); err != nil {
			if ocellus.KindOf(err) == ocellus.InvalidS3Object {
				return nil, ocellus.Errorf(ocellus.Invalid, "ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET: cannot write s3://%s/%s: %s", v.OutputBucket, key, ocellus.MessageOf(err))
			}
			return nil, err
		}
		return &ocellus.S3Location{Bucket: v.OutputBucket, Key: key}, nil
	}
	if summary != nil {
		evalJSON, err := json.MarshalIndent(summary, "", "  ")
		if err != nil {
			return err
		}
		if v.EvaluationResult, err = put(name("EvaluationResultSummary"), evalJSON); err != nil {
			return err
		}
	}
	ms, err := manifest.MarshalManifestSummary(&trainSet.sum, &testSet.sum, nil)
	if err != nil {
		return err
	}
	if v.ManifestSummary, err = put(name("ManifestSummary"), ms); err != nil {
		return err
	}
	for _, f := range []struct {
		set    exampleSet
		result *ocellus.DataResult
		gt, mv string
	}{{trainSet, &v.Training, "TrainingGroundTruth", "TrainingManifestWithValidation"}, {testSet, &v.Testing, "TestingGroundTruth", "TestingManifestWithValidation"}} {
		gt, err := put(name(f.gt), f.set.groundTruth())
		if err != nil {
			return err
		}
		mv, err := put(name(f.mv), f.set.validation())
		if err != nil {
			return err
		}
		f.result.Output, f.result.Validation = []ocellus.S3Location{*gt}, []ocellus.S3Location{*mv}
	}
	return nil
}

func hasObjects(ex []vision.Example) bool {
	for _, e := range ex {
		if len(e.Objects) > 0 {
			return true
		}
	}
	return false
}

func hashName(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}

// datasetExamples reads a stored dataset's usable entries.
func (c *Control) datasetExamples(ctx context.Context, account, datasetARN string) (exampleSet, error) {
	var set exampleSet
	var entries []*manifest.Entry
	after := ""
	for {
		es, next, err := c.store.ListEntries(ctx, store.EntryFilter{DatasetARN: datasetARN, After: after, Limit: 1000})
		if err != nil {
			return set, err
		}
		for _, e := range es {
			pe := manifest.ParseLine([]byte(e.Line), manifest.ParseOptions{Service: manifest.CustomLabels})
			pe.Line = len(entries) + 1 // its line in the validation manifest
			entries = append(entries, pe)
		}
		if next == "" {
			break
		}
		after = next
	}
	return c.examplesOf(ctx, account, entries)
}

// manifestExamples reads TrainingData/TestingData manifests from S3.
func (c *Control) manifestExamples(ctx context.Context, account string, locs []ocellus.S3Location) (exampleSet, error) {
	var entries []*manifest.Entry
	for _, l := range locs {
		rc, info, err := c.blobs.Open(ctx, account, l.Bucket, l.Key, l.Version)
		if err != nil {
			return exampleSet{}, err
		}
		sum, err := manifest.Validate(ctx, rc, manifest.Options{ParseOptions: manifest.ParseOptions{Service: manifest.CustomLabels},
			Prober: &s3Prober{blobs: c.blobs, account: account}, Size: info.Size}, func(e *manifest.Entry) error {
			if e.Kept() {
				entries = append(entries, e)
			}
			return nil
		})
		rc.Close()
		if err != nil {
			return exampleSet{}, err
		}
		if sum.Failed() {
			return exampleSet{}, ocellus.Errorf(ocellus.Invalid, "The manifest s3://%s/%s is invalid: %s: %s", l.Bucket, l.Key, sum.Failure.Code, sum.Failure.Message)
		}
	}
	return c.examplesOf(ctx, account, entries)
}

// examplesOf fetches the images of the usable entries, 8 at a time.
func (c *Control) examplesOf(ctx context.Context, account string, entries []*manifest.Entry) (exampleSet, error) {
	set := exampleSet{sum: manifest.Summary{UseCase: manifest.UseCaseNotDetermined}, all: entries}
	var usable []*manifest.Entry
	for _, e := range entries {
		set.sum.TotalLines++
		if e.Invalid() || !e.Labeled() {
			if e.Invalid() {
				set.sum.InvalidLines++
				if e.Line > 0 {
					set.sum.ErrorLineIndices = append(set.sum.ErrorLineIndices, e.Line)
				}
			} else {
				set.sum.IgnoredLines++
			}
			continue
		}
		set.sum.ValidLines++
		if e.UseCase != "" && e.UseCase != manifest.UseCaseNotDetermined {
			set.sum.UseCase = e.UseCase
		}
		usable = append(usable, e)
	}
	set.examples = make([]vision.Example, len(usable))
	errs := make([]error, len(usable))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, e := range usable {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, e *manifest.Entry) {
			defer wg.Done()
			defer func() { <-sem }()
			set.examples[i], errs[i] = c.example(ctx, account, e)
		}(i, e)
	}
	wg.Wait()
	// An image that is gone from S3 is an invalid line, as one that
	// cannot be decoded (vision.Train finds those).
	kept := set.examples[:0]
	for i, err := range errs {
		switch {
		case err == nil:
			kept = append(kept, set.examples[i])
			set.used = append(set.used, usable[i])
		case ocellus.KindOf(err) == ocellus.InvalidS3Object:
			set.rejectImage(usable[i], fmt.Errorf("%s cannot be read: %s", usable[i].SourceRef, ocellus.MessageOf(err)))
		default:
			return set, err
		}
	}
	set.examples = kept
	return set, nil
}

func countRejected(rs []vision.Rejected, test bool) int {
	n := 0
	for _, r := range rs {
		if r.Test == test {
			n++
		}
	}
	return n
}

// firstRejected names the set's first line with ERROR_INVALID_IMAGE.
func firstRejected(s *exampleSet) string {
	for _, e := range s.all {
		for _, is := range e.Issues {
			if is.Code == manifest.CodeInvalidImage {
				return "first " + e.SourceRef + ": " + is.Message
			}
		}
	}
	return "none"
}

func (c *Control) example(ctx context.Context, account string, e *manifest.Entry) (vision.Example, error) {
	bucket, key, err := blob.ParseURI(e.Image)
	if err != nil {
		return vision.Example{}, ocellus.Errorf(ocellus.Invalid, "The image %s is not an S3 object.", e.SourceRef)
	}
	// The manifest's validation refused larger images; this one grew since.
	data, _, err := c.blobs.ReadAll(ctx, account, bucket, key, "", manifest.MaxImageBytes)
	var tl *blob.TooLargeError
	if errors.As(err, &tl) {
		return vision.Example{}, ocellus.Errorf(ocellus.Invalid, "The image %s is larger than the maximum of %d bytes.", e.SourceRef, manifest.MaxImageBytes)
	}
	if err != nil {
		return vision.Example{}, err
	}
	ex := vision.Example{Data: data}
	for _, cl := range e.Classes {
		ex.Labels = append(ex.Labels, cl.Name)
	}
	for _, d := range e.Detections {
		if d.ImageWidth <= 0 || d.ImageHeight <= 0 {
			continue
		}
		w, h := float64(d.ImageWidth), float64(d.ImageHeight)
		for _, b := range d.Boxes {
			if b.Valid {
				ex.Objects = append(ex.Objects, vision.Object{Label: b.Label, Box: vision.Box{Left: b.Left / w, Top: b.Top / h, Width: b.Width / w, Height: b.Height / h}})
			}
		}
	}
	return ex, nil
}
