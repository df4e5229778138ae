package control

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/ocellus/ocellus/internal/ocellus"
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
	// FeatureConfig is set when the request has one (content moderation
	// only), ConfidenceThreshold when it gives
	// ContentModeration.ConfidenceThreshold.
	FeatureConfig       bool
	ConfidenceThreshold *float64
}

// CreateProjectVersion records a version as TRAINING_IN_PROGRESS and queues
// its training.
func (c *Control) CreateProjectVersion(ctx context.Context, account string, in CreateVersionInput) (*ocellus.ProjectVersion, error) {
	p, err := c.project(ctx, account, in.ProjectARN)
	if err != nil {
		return nil, err
	}
	if p.Feature == ocellus.FeatureContentModeration {
		return c.createAdapter(ctx, account, p, in)
	}
	if in.FeatureConfig {
		return nil, ocellus.Errorf(ocellus.Invalid, "FeatureConfig applies only to projects with Feature CONTENT_MODERATION; %s is a CUSTOM_LABELS project.", p.ARN)
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
	return c.recordVersion(ctx, p, v, in.Tags)
}

// recordVersion stores a new version TRAINING_IN_PROGRESS with its tags
// and enqueues its training.
func (c *Control) recordVersion(ctx context.Context, p *ocellus.Project, v *ocellus.ProjectVersion, tags map[string]string) (*ocellus.ProjectVersion, error) {
	now := ocellus.Now(c.now)
	v.Created, v.ARN = now, ocellus.VersionARN(p, v.Name, now)
	if err := c.createVersion(ctx, v, p.Name, tags, JobTrain); err != nil {
		return nil, err
	}
	return v, nil
}

// createVersion stores v with its tags and enqueues the job of kind that
// works on it, together (store.Store.InTx): a version never stays in
// progress without its job, nor a job runs for a version that was not
// stored.
func (c *Control) createVersion(ctx context.Context, v *ocellus.ProjectVersion, project string, tags map[string]string, kind string) error {
	return c.store.InTx(ctx, func(ctx context.Context) error {
		if err := c.store.CreateVersion(ctx, v); err != nil {
			if ocellus.KindOf(err) == ocellus.AlreadyExists {
				return ocellus.Errorf(ocellus.InUse, "A model version named %s already exists in project %s.", v.Name, project)
			}
			return err
		}
		if len(tags) > 0 {
			if err := c.store.SetTags(ctx, v.ARN, tags, ocellus.MaxTagsPerResource); err != nil {
				return err
			}
		}
		return c.enqueueVersion(ctx, kind, v.ARN)
	})
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
		if err := c.arts.Delete(ctx, v.Artifact); err != nil {
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

// VersionEvaluation reads a trained version's evaluation summary (the
// EvaluationResultSummary file of its output bucket) as account: the
// per-label precision, recall, F1 and assumed threshold, and the confusion
// matrix of a classification model. A version without an evaluation is
// NotReady.
func (c *Control) VersionEvaluation(ctx context.Context, account, arn string) (*eval.Summary, error) {
	v, err := c.version(ctx, account, arn)
	if err != nil {
		return nil, err
	}
	if v.EvaluationResult == nil {
		return nil, ocellus.Errorf(ocellus.NotReady, "The model version %s has no evaluation (it is %s).", arn, v.Status)
	}
	body, _, err := c.blobs.ReadAll(ctx, account, v.EvaluationResult.Bucket, v.EvaluationResult.Key, "", maxSummaryBytes)
	if err != nil {
		return nil, err
	}
	var s eval.Summary
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, ocellus.Errorf(ocellus.Invalid, "The evaluation summary s3://%s/%s cannot be read: %v", v.EvaluationResult.Bucket, v.EvaluationResult.Key, err)
	}
	return &s, nil
}
