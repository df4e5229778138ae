package rekognition

import (
	"cmp"
	"context"

	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
)

type outputConfig struct {
	S3Bucket    string `json:",omitempty"`
	S3KeyPrefix string `json:",omitempty"`
}

type asset struct {
	GroundTruthManifest *groundTruthManifest `json:",omitempty"`
}

type assets struct {
	Assets     []asset `json:",omitempty"`
	AutoCreate *bool   `json:",omitempty"`
}

type createProjectVersionInput struct {
	ProjectArn         string
	VersionName        string
	OutputConfig       outputConfig
	TrainingData       *assets
	TestingData        *assets
	Tags               map[string]string
	KmsKeyId           string
	VersionDescription string
	FeatureConfig      *featureConfig
}

type featureConfig struct {
	ContentModeration *contentModerationConfig `json:",omitempty"`
}

type contentModerationConfig struct {
	ConfidenceThreshold *float64 `json:",omitempty"`
}

type createProjectVersionOutput struct{ ProjectVersionArn string }

func locations(a *assets) []ocellus.S3Location {
	if a == nil {
		return nil
	}
	var out []ocellus.S3Location
	for _, as := range a.Assets {
		if as.GroundTruthManifest != nil && as.GroundTruthManifest.S3Object != nil {
			o := as.GroundTruthManifest.S3Object
			out = append(out, ocellus.S3Location{Bucket: o.Bucket, Key: o.Name, Version: o.Version})
		}
	}
	return out
}

func threshold(f *featureConfig) *float64 {
	if f == nil || f.ContentModeration == nil {
		return nil
	}
	return f.ContentModeration.ConfidenceThreshold
}

func (a *API) createProjectVersion(ctx context.Context, id awsproto.Identity, in *createProjectVersionInput) (*createProjectVersionOutput, error) {
	v, err := a.ctl.CreateProjectVersion(ctx, id.Account, control.CreateVersionInput{
		ProjectARN: in.ProjectArn, Name: in.VersionName, Description: in.VersionDescription,
		OutputBucket: in.OutputConfig.S3Bucket, OutputPrefix: in.OutputConfig.S3KeyPrefix, KmsKeyID: in.KmsKeyId, Tags: in.Tags,
		TrainingManifests: locations(in.TrainingData), TestingManifests: locations(in.TestingData),
		TestingAutoCreate:   in.TestingData != nil && in.TestingData.AutoCreate != nil && *in.TestingData.AutoCreate,
		FeatureConfig:       in.FeatureConfig != nil,
		ConfidenceThreshold: threshold(in.FeatureConfig),
	})
	if err != nil {
		return nil, err
	}
	return &createProjectVersionOutput{ProjectVersionArn: v.ARN}, nil
}

type describeProjectVersionsInput struct {
	ProjectArn   string
	VersionNames []string
	NextToken    string
	MaxResults   int
}

type evaluationResult struct {
	F1Score *float64             `json:",omitempty"`
	Summary *groundTruthManifest `json:",omitempty"` // {S3Object}
}

type dataResult struct {
	Input      *assets `json:",omitempty"`
	Output     *assets `json:",omitempty"`
	Validation *assets `json:",omitempty"`
}

type projectVersionDescription struct {
	ProjectVersionArn             string
	CreationTimestamp             awsproto.Time
	MinInferenceUnits             *int `json:",omitempty"`
	MaxInferenceUnits             *int `json:",omitempty"`
	Status                        string
	StatusMessage                 string         // always sent, as AWS does: clients read it while training
	BillableTrainingTimeInSeconds *int64         `json:",omitempty"`
	TrainingEndTimestamp          *awsproto.Time `json:",omitempty"`
	OutputConfig                  outputConfig
	TrainingDataResult            *dataResult          `json:",omitempty"`
	TestingDataResult             *dataResult          `json:",omitempty"`
	EvaluationResult              *evaluationResult    `json:",omitempty"`
	ManifestSummary               *groundTruthManifest `json:",omitempty"`
	KmsKeyId                      string               `json:",omitempty"`
	SourceProjectVersionArn       string               `json:",omitempty"`
	VersionDescription            string               `json:",omitempty"`
	Feature                       string
	FeatureConfig                 *featureConfig `json:",omitempty"`
	BaseModelVersion              string         `json:",omitempty"`
}

type describeProjectVersionsOutput struct {
	ProjectVersionDescriptions []projectVersionDescription
	NextToken                  string `json:",omitempty"`
}

func s3obj(l *ocellus.S3Location) *groundTruthManifest {
	if l == nil {
		return nil
	}
	return &groundTruthManifest{S3Object: &s3Object{Bucket: l.Bucket, Name: l.Key, Version: l.Version}}
}

func assetsOf(ls []ocellus.S3Location, autoCreate *bool) *assets {
	if len(ls) == 0 && autoCreate == nil {
		return nil
	}
	a := &assets{Assets: []asset{}, AutoCreate: autoCreate}
	for i := range ls {
		a.Assets = append(a.Assets, asset{GroundTruthManifest: s3obj(&ls[i])})
	}
	return a
}

func dataResultOf(r ocellus.DataResult, testing bool) *dataResult {
	var auto *bool
	if testing {
		b := r.AutoCreate
		auto = &b
	}
	return &dataResult{Input: assetsOf(r.Input, auto), Output: assetsOf(r.Output, nil), Validation: assetsOf(r.Validation, nil)}
}

func describeVersion(v *ocellus.ProjectVersion) projectVersionDescription {
	d := projectVersionDescription{
		ProjectVersionArn: v.ARN, CreationTimestamp: awsproto.Time(v.Created), Status: string(v.Status), StatusMessage: v.Message(),
		OutputConfig: outputConfig{S3Bucket: v.OutputBucket, S3KeyPrefix: v.OutputPrefix}, KmsKeyId: v.KmsKeyID,
		SourceProjectVersionArn: v.SourceVersionARN, VersionDescription: v.Description, Feature: cmp.Or(v.Feature, ocellus.FeatureCustomLabels),
		BaseModelVersion:     v.BaseModelVersion,
		TrainingEndTimestamp: awsproto.TimePtr(v.TrainingEnd), ManifestSummary: s3obj(v.ManifestSummary),
		TrainingDataResult: dataResultOf(v.Training, false), TestingDataResult: dataResultOf(v.Testing, true),
	}
	if v.Adapter() {
		d.FeatureConfig = &featureConfig{ContentModeration: &contentModerationConfig{ConfidenceThreshold: v.ConfidenceThreshold}}
	}
	if v.BillableSeconds > 0 {
		b := v.BillableSeconds
		d.BillableTrainingTimeInSeconds = &b
	}
	if v.MinUnits > 0 {
		mn, mx := v.MinUnits, v.MaxUnits
		d.MinInferenceUnits = &mn
		if mx > 0 {
			d.MaxInferenceUnits = &mx
		}
	}
	if v.F1 != nil || v.EvaluationResult != nil {
		d.EvaluationResult = &evaluationResult{F1Score: v.F1, Summary: s3obj(v.EvaluationResult)}
	}
	return d
}

func (a *API) describeProjectVersions(ctx context.Context, id awsproto.Identity, in *describeProjectVersionsInput) (*describeProjectVersionsOutput, error) {
	vs, next, err := a.ctl.DescribeProjectVersions(ctx, id.Account, in.ProjectArn, in.VersionNames, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &describeProjectVersionsOutput{ProjectVersionDescriptions: make([]projectVersionDescription, 0, len(vs)), NextToken: next}
	for _, v := range vs {
		out.ProjectVersionDescriptions = append(out.ProjectVersionDescriptions, describeVersion(v))
	}
	return out, nil
}

type versionArnInput struct{ ProjectVersionArn string }

type statusOutput struct{ Status string }

func (a *API) deleteProjectVersion(ctx context.Context, id awsproto.Identity, in *versionArnInput) (*statusOutput, error) {
	st, err := a.ctl.DeleteProjectVersion(ctx, id.Account, in.ProjectVersionArn)
	if err != nil {
		return nil, err
	}
	return &statusOutput{Status: string(st)}, nil
}

type copyProjectVersionInput struct {
	SourceProjectArn        string
	SourceProjectVersionArn string
	DestinationProjectArn   string
	VersionName             string
	OutputConfig            outputConfig
	Tags                    map[string]string
	KmsKeyId                string
}

func (a *API) copyProjectVersion(ctx context.Context, id awsproto.Identity, in *copyProjectVersionInput) (*createProjectVersionOutput, error) {
	v, err := a.ctl.CopyProjectVersion(ctx, id.Account, control.CopyVersionInput{
		SourceProjectARN: in.SourceProjectArn, SourceVersionARN: in.SourceProjectVersionArn, DestProjectARN: in.DestinationProjectArn,
		Name: in.VersionName, OutputBucket: in.OutputConfig.S3Bucket, OutputPrefix: in.OutputConfig.S3KeyPrefix, KmsKeyID: in.KmsKeyId, Tags: in.Tags})
	if err != nil {
		return nil, err
	}
	return &createProjectVersionOutput{ProjectVersionArn: v.ARN}, nil
}
