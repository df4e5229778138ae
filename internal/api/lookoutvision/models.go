package lookoutvision

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
)

type s3Location struct {
	Bucket string
	Prefix string `json:",omitempty"`
}

type outputConfig struct {
	S3Location s3Location
}

type performance struct {
	F1Score   float64
	Recall    float64
	Precision float64
}

type outputS3Object struct {
	Bucket string
	Key    string
}

type modelMetadata struct {
	CreationTimestamp awsproto.Time
	ModelVersion      string
	ModelArn          string
	Description       string `json:",omitempty"`
	Status            string
	StatusMessage     string       // always sent, as AWS does: clients read it while work runs
	Performance       *performance `json:",omitempty"`
}

type modelDescription struct {
	ModelVersion           string
	ModelArn               string
	CreationTimestamp      awsproto.Time
	Description            string `json:",omitempty"`
	Status                 string
	StatusMessage          string          // always sent, as AWS does: clients read it while work runs
	Performance            *performance    `json:",omitempty"`
	OutputConfig           *outputConfig   `json:",omitempty"`
	EvaluationManifest     *outputS3Object `json:",omitempty"`
	EvaluationResult       *outputS3Object `json:",omitempty"`
	EvaluationEndTimestamp *awsproto.Time  `json:",omitempty"`
	KmsKeyId               string          `json:",omitempty"`
	MinInferenceUnits      int             `json:",omitempty"`
	MaxInferenceUnits      int             `json:",omitempty"`
}

func perfOf(m *ocellus.Model) *performance {
	if !m.HasPerformance {
		return nil
	}
	return &performance{F1Score: m.F1, Recall: m.Recall, Precision: m.Precision}
}

func modelMetadataOf(m *ocellus.Model) modelMetadata {
	return modelMetadata{CreationTimestamp: awsproto.Time(m.Created), ModelVersion: strconv.Itoa(m.Version), ModelArn: m.ARN,
		Description: m.Description, Status: string(m.Status), StatusMessage: m.Message(), Performance: perfOf(m)}
}

func modelDescriptionOf(m *ocellus.Model) modelDescription {
	d := modelDescription{ModelVersion: strconv.Itoa(m.Version), ModelArn: m.ARN, CreationTimestamp: awsproto.Time(m.Created),
		Description: m.Description, Status: string(m.Status), StatusMessage: m.Message(), Performance: perfOf(m), KmsKeyId: m.KmsKeyID,
		EvaluationEndTimestamp: awsproto.TimePtr(m.EvaluationEnd)}
	if m.Status.Hosting() {
		d.MinInferenceUnits, d.MaxInferenceUnits = m.MinUnits, m.MaxUnits
	}
	if m.OutputBucket != "" {
		d.OutputConfig = &outputConfig{S3Location: s3Location{Bucket: m.OutputBucket, Prefix: m.OutputPrefix}}
	}
	if m.EvaluationManifest != "" {
		d.EvaluationManifest = &outputS3Object{Bucket: m.OutputBucket, Key: m.EvaluationManifest}
	}
	if m.EvaluationResult != "" {
		d.EvaluationResult = &outputS3Object{Bucket: m.OutputBucket, Key: m.EvaluationResult}
	}
	return d
}

type createModelInput struct {
	ProjectName  string
	Description  string
	ClientToken  string
	OutputConfig outputConfig
	KmsKeyId     string
	Tags         []tag
}

type createModelOutput struct {
	ModelMetadata modelMetadata
}

func (a *API) createModel(ctx context.Context, id awsproto.Identity, in *createModelInput) (*createModelOutput, error) {
	m, err := a.l.CreateLookoutModel(ctx, id.Account, control.CreateModelInput{Project: in.ProjectName, Description: in.Description,
		OutputBucket: in.OutputConfig.S3Location.Bucket, OutputPrefix: in.OutputConfig.S3Location.Prefix, KmsKeyID: in.KmsKeyId, Tags: tagMap(in.Tags)})
	if err != nil {
		return nil, err
	}
	return &createModelOutput{ModelMetadata: modelMetadataOf(m)}, nil
}

type modelInput struct {
	ProjectName  string
	ModelVersion string
	ClientToken  string
}

type describeModelOutput struct {
	ModelDescription modelDescription
}

func (a *API) describeModel(ctx context.Context, id awsproto.Identity, in *modelInput) (*describeModelOutput, error) {
	m, err := a.l.DescribeLookoutModel(ctx, id.Account, in.ProjectName, in.ModelVersion)
	if err != nil {
		return nil, err
	}
	return &describeModelOutput{ModelDescription: modelDescriptionOf(m)}, nil
}

type listModelsInput struct {
	ProjectName string
	NextToken   string
	MaxResults  int
}

type listModelsOutput struct {
	Models    []modelMetadata
	NextToken string `json:",omitempty"`
}

func (a *API) listModels(ctx context.Context, id awsproto.Identity, in *listModelsInput) (*listModelsOutput, error) {
	ms, next, err := a.l.ListLookoutModels(ctx, id.Account, in.ProjectName, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &listModelsOutput{Models: []modelMetadata{}, NextToken: next}
	for _, m := range ms {
		out.Models = append(out.Models, modelMetadataOf(m))
	}
	return out, nil
}

type deleteModelOutput struct {
	ModelArn string
}

func (a *API) deleteModel(ctx context.Context, id awsproto.Identity, in *modelInput) (*deleteModelOutput, error) {
	arn, err := a.l.DeleteLookoutModel(ctx, id.Account, in.ProjectName, in.ModelVersion)
	if err != nil {
		return nil, err
	}
	return &deleteModelOutput{ModelArn: arn}, nil
}

type startModelInput struct {
	ProjectName       string
	ModelVersion      string
	MinInferenceUnits int
	MaxInferenceUnits int
	ClientToken       string
}

func (a *API) startModel(ctx context.Context, id awsproto.Identity, in *startModelInput) (*statusOutput, error) {
	st, err := a.l.StartLookoutModel(ctx, id.Account, in.ProjectName, in.ModelVersion, in.MinInferenceUnits, in.MaxInferenceUnits)
	if err != nil {
		return nil, err
	}
	return &statusOutput{Status: string(st)}, nil
}

func (a *API) stopModel(ctx context.Context, id awsproto.Identity, in *modelInput) (*statusOutput, error) {
	st, err := a.l.StopLookoutModel(ctx, id.Account, in.ProjectName, in.ModelVersion)
	if err != nil {
		return nil, err
	}
	return &statusOutput{Status: string(st)}, nil
}

type detectAnomaliesInput struct {
	ProjectName  string
	ModelVersion string
	Body         []byte
	ContentType  string
}

type pixelAnomaly struct {
	TotalPercentageArea float64
	Color               string
}

type anomalyOut struct {
	Name         string
	PixelAnomaly pixelAnomaly
}

type imageSource struct {
	Type string
}

type detectAnomalyResult struct {
	Source      imageSource
	IsAnomalous bool
	Confidence  float64
	Anomalies   []anomalyOut `json:",omitempty"`
	AnomalyMask []byte       `json:",omitempty"`
}

type detectAnomaliesOutput struct {
	DetectAnomalyResult detectAnomalyResult
}

func (a *API) detectAnomalies(ctx context.Context, id awsproto.Identity, in *detectAnomaliesInput) (*detectAnomaliesOutput, error) {
	d, err := a.l.DetectAnomalies(ctx, id.Account, in.ProjectName, in.ModelVersion, in.ContentType, in.Body)
	if err != nil {
		return nil, err
	}
	r := detectAnomalyResult{Source: imageSource{Type: "direct"}, IsAnomalous: d.IsAnomalous, Confidence: d.Confidence, AnomalyMask: d.Mask}
	for _, an := range d.Anomalies {
		r.Anomalies = append(r.Anomalies, anomalyOut{Name: an.Name, PixelAnomaly: pixelAnomaly{TotalPercentageArea: an.TotalPercentageArea, Color: an.Color}})
	}
	return &detectAnomaliesOutput{DetectAnomalyResult: r}, nil
}

// ---- model packaging jobs ----

type startPackagingInput struct {
	ProjectName   string
	ModelVersion  string
	JobName       string
	Configuration control.PackagingConfig
	Description   string
	ClientToken   string
}

type startPackagingOutput struct {
	JobName string
}

func (a *API) startModelPackagingJob(ctx context.Context, id awsproto.Identity, in *startPackagingInput) (*startPackagingOutput, error) {
	j, err := a.l.StartModelPackagingJob(ctx, id.Account, control.StartPackagingInput{Project: in.ProjectName, Version: in.ModelVersion,
		JobName: in.JobName, Description: in.Description, Config: in.Configuration})
	if err != nil {
		return nil, err
	}
	return &startPackagingOutput{JobName: j.Name}, nil
}

type packagingJobInput struct {
	ProjectName string
	JobName     string
}

type greengrassOutput struct {
	ComponentVersionArn string `json:",omitempty"`
	ComponentName       string `json:",omitempty"`
	ComponentVersion    string `json:",omitempty"`
}

type packagingOutputDetails struct {
	Greengrass greengrassOutput
}

type packagingDescription struct {
	JobName                      string
	ProjectName                  string
	ModelVersion                 string
	ModelPackagingConfiguration  json.RawMessage
	ModelPackagingJobDescription string `json:",omitempty"`
	ModelPackagingMethod         string
	ModelPackagingOutputDetails  *packagingOutputDetails `json:",omitempty"`
	Status                       string
	StatusMessage                string // always sent, as AWS does
	CreationTimestamp            awsproto.Time
	LastUpdatedTimestamp         awsproto.Time
}

type describePackagingOutput struct {
	ModelPackagingDescription packagingDescription
}

func (a *API) describeModelPackagingJob(ctx context.Context, id awsproto.Identity, in *packagingJobInput) (*describePackagingOutput, error) {
	j, err := a.l.DescribeModelPackagingJob(ctx, id.Account, in.ProjectName, in.JobName)
	if err != nil {
		return nil, err
	}
	d := packagingDescription{JobName: j.Name, ProjectName: in.ProjectName, ModelVersion: strconv.Itoa(j.ModelVersion),
		ModelPackagingConfiguration: json.RawMessage(j.Config), ModelPackagingJobDescription: j.Description, ModelPackagingMethod: j.Method,
		Status: string(j.Status), StatusMessage: j.Message(), CreationTimestamp: awsproto.Time(j.Created), LastUpdatedTimestamp: awsproto.Time(j.Updated)}
	if len(j.Output) > 0 {
		var out control.PackagingOutput
		if err := json.Unmarshal(j.Output, &out); err != nil {
			return nil, err
		}
		d.ModelPackagingOutputDetails = &packagingOutputDetails{Greengrass: greengrassOutput{ComponentVersionArn: out.ComponentVersionArn,
			ComponentName: out.ComponentName, ComponentVersion: out.ComponentVersion}}
	}
	return &describePackagingOutput{ModelPackagingDescription: d}, nil
}

type listPackagingInput struct {
	ProjectName string
	NextToken   string
	MaxResults  int
}

type packagingJobMetadata struct {
	JobName                      string
	ProjectName                  string
	ModelVersion                 string
	ModelPackagingJobDescription string `json:",omitempty"`
	ModelPackagingMethod         string
	Status                       string
	StatusMessage                string // always sent, as AWS does
	CreationTimestamp            awsproto.Time
	LastUpdatedTimestamp         awsproto.Time
}

type listPackagingOutput struct {
	ModelPackagingJobs []packagingJobMetadata
	NextToken          string `json:",omitempty"`
}

func (a *API) listModelPackagingJobs(ctx context.Context, id awsproto.Identity, in *listPackagingInput) (*listPackagingOutput, error) {
	js, next, err := a.l.ListModelPackagingJobs(ctx, id.Account, in.ProjectName, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &listPackagingOutput{ModelPackagingJobs: []packagingJobMetadata{}, NextToken: next}
	for _, j := range js {
		out.ModelPackagingJobs = append(out.ModelPackagingJobs, packagingJobMetadata{JobName: j.Name, ProjectName: in.ProjectName,
			ModelVersion: strconv.Itoa(j.ModelVersion), ModelPackagingJobDescription: j.Description, ModelPackagingMethod: j.Method,
			Status: string(j.Status), StatusMessage: j.Message(), CreationTimestamp: awsproto.Time(j.Created), LastUpdatedTimestamp: awsproto.Time(j.Updated)})
	}
	return out, nil
}
