package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/vision"
	"github.com/ocellus/ocellus/internal/vision/eval"
)

// Custom Labels training: the job that trains a model version and writes
// the files AWS writes to its output location.

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

func (c *Control) train(ctx context.Context, v *ocellus.ProjectVersion) error {
	if v.Adapter() {
		return c.trainAdapter(ctx, v)
	}
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
	rel, err := c.saveArtifact(ctx, v, model)
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

// outputFiles gives the key of each of a version's output files, named as
// AWS names them ("<kind>-<project>-<version>-<created>.json" under its
// OutputConfig prefix), and a put that writes one there as the version's
// account (with its KmsKeyId), a bucket it cannot write being
// ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET.
func (c *Control) outputFiles(ctx context.Context, v *ocellus.ProjectVersion) (name func(kind string) string, put func(key string, body []byte) (*ocellus.S3Location, error), err error) {
	p, err := c.store.Project(ctx, v.ProjectARN)
	if err != nil {
		return nil, nil, err
	}
	stamp := v.Created.UTC().Format("2006-01-02T15.04.05")
	prefix := v.OutputPrefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	name = func(kind string) string { return prefix + kind + "-" + p.Name + "-" + v.Name + "-" + stamp + ".json" }
	put = func(key string, body []byte) (*ocellus.S3Location, error) {
		if err := c.putOutput(ctx, v, key, body); err != nil {
			if ocellus.KindOf(err) == ocellus.InvalidS3Object {
				return nil, ocellus.Errorf(ocellus.Invalid, "ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET: cannot write s3://%s/%s: %s", v.OutputBucket, key, ocellus.MessageOf(err))
			}
			return nil, err
		}
		return &ocellus.S3Location{Bucket: v.OutputBucket, Key: key}, nil
	}
	return name, put, nil
}

// writeTrainingOutput writes the files AWS writes to OutputConfig; without
// an evaluation summary (training failed on its data) the others only.
func (c *Control) writeTrainingOutput(ctx context.Context, v *ocellus.ProjectVersion, summary *eval.Summary, trainSet, testSet exampleSet) error {
	name, put, err := c.outputFiles(ctx, v)
	if err != nil {
		return err
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
