package lookoutvision

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
)

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

type s3Object struct {
	Bucket    string
	Key       string
	VersionId string `json:",omitempty"`
}

type createDatasetInput struct {
	ProjectName   string
	DatasetType   string
	DatasetSource *struct {
		GroundTruthManifest *struct {
			S3Object *s3Object
		}
	}
	ClientToken string
}

type createDatasetOutput struct {
	DatasetMetadata datasetMetadata
}

func (a *API) createDataset(ctx context.Context, id awsproto.Identity, in *createDatasetInput) (*createDatasetOutput, error) {
	t, err := control.DatasetTypeOf(in.DatasetType)
	if err != nil {
		return nil, err
	}
	var src ocellus.DatasetSource
	if in.DatasetSource != nil {
		gt := in.DatasetSource.GroundTruthManifest
		if gt == nil || gt.S3Object == nil {
			return nil, ocellus.Errorf(ocellus.Invalid, "DatasetSource needs GroundTruthManifest.S3Object {Bucket, Key}; omit DatasetSource for an empty dataset.")
		}
		src = ocellus.DatasetSource{ManifestBucket: gt.S3Object.Bucket, ManifestKey: gt.S3Object.Key, ManifestVersion: gt.S3Object.VersionId}
	}
	d, err := a.l.CreateLookoutDataset(ctx, id.Account, in.ProjectName, t, src)
	if err != nil {
		return nil, err
	}
	return &createDatasetOutput{DatasetMetadata: datasetMetadataOf(d)}, nil
}

type datasetInput struct {
	ProjectName string
	DatasetType string
	ClientToken string
}

type imageStats struct {
	Total   int
	Labeled int
	Normal  int
	Anomaly int
}

type datasetDescription struct {
	ProjectName          string
	DatasetType          string
	CreationTimestamp    awsproto.Time
	LastUpdatedTimestamp awsproto.Time
	Status               string
	StatusMessage        string // always sent, as AWS does: clients read it while work runs
	ImageStats           imageStats
}

type describeDatasetOutput struct {
	DatasetDescription datasetDescription
}

func (a *API) describeDataset(ctx context.Context, id awsproto.Identity, in *datasetInput) (*describeDatasetOutput, error) {
	t, err := control.DatasetTypeOf(in.DatasetType)
	if err != nil {
		return nil, err
	}
	d, err := a.l.DescribeLookoutDataset(ctx, id.Account, in.ProjectName, t)
	if err != nil {
		return nil, err
	}
	msg, _ := d.Message()
	return &describeDatasetOutput{DatasetDescription: datasetDescription{
		ProjectName: d.ProjectName, DatasetType: strings.ToLower(string(d.Type)), CreationTimestamp: awsproto.Time(d.Created),
		LastUpdatedTimestamp: awsproto.Time(d.Updated), Status: datasetStatus(d.Status), StatusMessage: msg,
		ImageStats: imageStats{Total: d.Stats.TotalEntries, Labeled: d.Stats.LabeledEntries, Normal: d.Normal, Anomaly: d.Anomaly},
	}}, nil
}

func (a *API) deleteDataset(ctx context.Context, id awsproto.Identity, in *datasetInput) (*empty, error) {
	t, err := control.DatasetTypeOf(in.DatasetType)
	if err != nil {
		return nil, err
	}
	return &empty{}, a.l.DeleteLookoutDataset(ctx, id.Account, in.ProjectName, t)
}

type listDatasetEntriesInput struct {
	ProjectName        string
	DatasetType        string
	Labeled            *bool
	AnomalyClass       string
	BeforeCreationDate *awsproto.Time
	AfterCreationDate  *awsproto.Time
	NextToken          string
	MaxResults         int
	SourceRefContains  string
}

type listDatasetEntriesOutput struct {
	DatasetEntries []string
	NextToken      string `json:",omitempty"`
}

func (a *API) listDatasetEntries(ctx context.Context, id awsproto.Identity, in *listDatasetEntriesInput) (*listDatasetEntriesOutput, error) {
	t, err := control.DatasetTypeOf(in.DatasetType)
	if err != nil {
		return nil, err
	}
	f := control.ListLookoutEntriesInput{Labeled: in.Labeled, AnomalyClass: in.AnomalyClass, SourceRefContains: in.SourceRefContains,
		NextToken: in.NextToken, MaxResults: in.MaxResults}
	if in.BeforeCreationDate != nil {
		f.Before = time.Time(*in.BeforeCreationDate)
	}
	if in.AfterCreationDate != nil {
		f.After = time.Time(*in.AfterCreationDate)
	}
	es, next, err := a.l.ListLookoutEntries(ctx, id.Account, in.ProjectName, t, f)
	if err != nil {
		return nil, err
	}
	if es == nil {
		es = []string{}
	}
	return &listDatasetEntriesOutput{DatasetEntries: es, NextToken: next}, nil
}

type updateDatasetEntriesInput struct {
	ProjectName string
	DatasetType string
	Changes     []byte
	ClientToken string
}

type statusOutput struct {
	Status string
}

func (a *API) updateDatasetEntries(ctx context.Context, id awsproto.Identity, in *updateDatasetEntriesInput) (*statusOutput, error) {
	t, err := control.DatasetTypeOf(in.DatasetType)
	if err != nil {
		return nil, err
	}
	st, err := a.l.UpdateLookoutEntries(ctx, id.Account, in.ProjectName, t, in.Changes)
	if err != nil {
		return nil, err
	}
	return &statusOutput{Status: datasetStatus(st)}, nil
}
