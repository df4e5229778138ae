package rekognition

import (
	"context"

	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
)

type s3Object struct {
	Bucket  string `json:",omitempty"`
	Name    string `json:",omitempty"`
	Version string `json:",omitempty"`
}

type groundTruthManifest struct {
	S3Object *s3Object `json:",omitempty"`
}

type datasetSource struct {
	GroundTruthManifest *groundTruthManifest
	DatasetArn          string
}

type createDatasetInput struct {
	DatasetSource *datasetSource
	DatasetType   string
	ProjectArn    string
	Tags          map[string]string
}

type createDatasetOutput struct{ DatasetArn string }

func (a *API) createDataset(ctx context.Context, id awsproto.Identity, in *createDatasetInput) (*createDatasetOutput, error) {
	var src ocellus.DatasetSource
	if s := in.DatasetSource; s != nil {
		if s.GroundTruthManifest != nil {
			if o := s.GroundTruthManifest.S3Object; o != nil {
				src.ManifestBucket, src.ManifestKey, src.ManifestVersion = o.Bucket, o.Name, o.Version
			} else {
				return nil, ocellus.Errorf(ocellus.Invalid, "DatasetSource.GroundTruthManifest needs an S3Object.")
			}
		}
		src.DatasetARN = s.DatasetArn
	}
	d, err := a.ctl.CreateDataset(ctx, id.Account, control.CreateDatasetInput{
		ProjectARN: in.ProjectArn, Type: ocellus.DatasetType(in.DatasetType), Source: src, Tags: in.Tags})
	if err != nil {
		return nil, err
	}
	return &createDatasetOutput{DatasetArn: d.ARN}, nil
}

type datasetArnInput struct{ DatasetArn string }

type datasetStats struct {
	LabeledEntries int
	TotalEntries   int
	TotalLabels    int
	ErrorEntries   int
}

type datasetDescription struct {
	CreationTimestamp    awsproto.Time
	LastUpdatedTimestamp awsproto.Time
	Status               string
	StatusMessage        string // always sent, as AWS does: clients read it while work runs
	StatusMessageCode    string
	DatasetStats         datasetStats
}

type describeDatasetOutput struct{ DatasetDescription datasetDescription }

func (a *API) describeDataset(ctx context.Context, id awsproto.Identity, in *datasetArnInput) (*describeDatasetOutput, error) {
	d, err := a.ctl.DescribeDataset(ctx, id.Account, in.DatasetArn)
	if err != nil {
		return nil, err
	}
	msg, code := d.Message()
	return &describeDatasetOutput{DatasetDescription: datasetDescription{
		CreationTimestamp: awsproto.Time(d.Created), LastUpdatedTimestamp: awsproto.Time(d.Updated),
		Status: string(d.Status), StatusMessage: msg, StatusMessageCode: code,
		DatasetStats: datasetStats(d.Stats),
	}}, nil
}

func (a *API) deleteDataset(ctx context.Context, id awsproto.Identity, in *datasetArnInput) (*empty, error) {
	return &empty{}, a.ctl.DeleteDataset(ctx, id.Account, in.DatasetArn)
}

type listDatasetEntriesInput struct {
	DatasetArn        string
	ContainsLabels    []string
	Labeled           *bool
	SourceRefContains string
	HasErrors         *bool
	NextToken         string
	MaxResults        int
}

type listDatasetEntriesOutput struct {
	DatasetEntries []string
	NextToken      string `json:",omitempty"`
}

func (a *API) listDatasetEntries(ctx context.Context, id awsproto.Identity, in *listDatasetEntriesInput) (*listDatasetEntriesOutput, error) {
	es, next, err := a.ctl.ListDatasetEntries(ctx, id.Account, control.ListEntriesInput{DatasetARN: in.DatasetArn,
		ContainsLabels: in.ContainsLabels, Labeled: in.Labeled, HasErrors: in.HasErrors, SourceRefContains: in.SourceRefContains,
		NextToken: in.NextToken, MaxResults: in.MaxResults})
	if err != nil {
		return nil, err
	}
	out := &listDatasetEntriesOutput{DatasetEntries: make([]string, 0, len(es)), NextToken: next}
	for _, e := range es {
		out.DatasetEntries = append(out.DatasetEntries, e.Line)
	}
	return out, nil
}

type listDatasetLabelsInput struct {
	DatasetArn string
	NextToken  string
	MaxResults int
}

type labelStats struct {
	EntryCount       int
	BoundingBoxCount int
}

type datasetLabelDescription struct {
	LabelName  string
	LabelStats labelStats
}

type listDatasetLabelsOutput struct {
	DatasetLabelDescriptions []datasetLabelDescription
	NextToken                string `json:",omitempty"`
}

func (a *API) listDatasetLabels(ctx context.Context, id awsproto.Identity, in *listDatasetLabelsInput) (*listDatasetLabelsOutput, error) {
	ls, next, err := a.ctl.ListDatasetLabels(ctx, id.Account, in.DatasetArn, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &listDatasetLabelsOutput{DatasetLabelDescriptions: make([]datasetLabelDescription, 0, len(ls)), NextToken: next}
	for _, l := range ls {
		out.DatasetLabelDescriptions = append(out.DatasetLabelDescriptions, datasetLabelDescription{
			LabelName: l.Name, LabelStats: labelStats{EntryCount: l.EntryCount, BoundingBoxCount: l.BoundingBoxCount}})
	}
	return out, nil
}

type updateDatasetEntriesInput struct {
	DatasetArn string
	Changes    struct {
		GroundTruth []byte // base64 on the wire
	}
}

func (a *API) updateDatasetEntries(ctx context.Context, id awsproto.Identity, in *updateDatasetEntriesInput) (*empty, error) {
	return &empty{}, a.ctl.UpdateDatasetEntries(ctx, id.Account, in.DatasetArn, in.Changes.GroundTruth)
}

type distributeInput struct {
	Datasets []struct{ Arn string }
}

func (a *API) distributeDatasetEntries(ctx context.Context, id awsproto.Identity, in *distributeInput) (*empty, error) {
	arns := make([]string, 0, len(in.Datasets))
	for _, d := range in.Datasets {
		arns = append(arns, d.Arn)
	}
	return &empty{}, a.ctl.DistributeDatasetEntries(ctx, id.Account, arns)
}

func datasetMetadataOf(ds []*ocellus.Dataset) []datasetMetadata {
	out := make([]datasetMetadata, 0, len(ds))
	for _, d := range ds {
		msg, code := d.Message()
		out = append(out, datasetMetadata{CreationTimestamp: awsproto.TimePtr(d.Created), DatasetType: string(d.Type),
			DatasetArn: d.ARN, Status: string(d.Status), StatusMessage: msg, StatusMessageCode: code})
	}
	return out
}
