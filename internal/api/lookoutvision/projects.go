package lookoutvision

import (
	"context"
	"strings"

	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/ocellus"
)

type empty struct{}

type tag struct {
	Key   string
	Value string
}

func tagMap(ts []tag) map[string]string {
	m := make(map[string]string, len(ts))
	for _, t := range ts {
		m[t.Key] = t.Value
	}
	return m
}

type projectMetadata struct {
	ProjectArn        string
	ProjectName       string
	CreationTimestamp awsproto.Time
}

func projectMetadataOf(p *ocellus.Project) projectMetadata {
	return projectMetadata{ProjectArn: p.ARN, ProjectName: p.Name, CreationTimestamp: awsproto.Time(p.Created)}
}

type createProjectInput struct {
	ProjectName string
	ClientToken string
}

type createProjectOutput struct {
	ProjectMetadata projectMetadata
}

func (a *API) createProject(ctx context.Context, id awsproto.Identity, in *createProjectInput) (*createProjectOutput, error) {
	p, err := a.l.CreateLookoutProject(ctx, id.Account, in.ProjectName)
	if err != nil {
		return nil, err
	}
	return &createProjectOutput{ProjectMetadata: projectMetadataOf(p)}, nil
}

type projectInput struct {
	ProjectName string
	ClientToken string
}

type datasetMetadata struct {
	DatasetType       string
	CreationTimestamp awsproto.Time
	Status            string
	StatusMessage     string // always sent, as AWS does: clients read it right after CreateDataset
}

type projectDescription struct {
	ProjectArn        string
	ProjectName       string
	CreationTimestamp awsproto.Time
	Datasets          []datasetMetadata
}

type describeProjectOutput struct {
	ProjectDescription projectDescription
}

func (a *API) describeProject(ctx context.Context, id awsproto.Identity, in *projectInput) (*describeProjectOutput, error) {
	p, err := a.l.LookoutProject(ctx, id.Account, in.ProjectName)
	if err != nil {
		return nil, err
	}
	ds, err := a.l.ProjectDatasets(ctx, p.ARN)
	if err != nil {
		return nil, err
	}
	out := &describeProjectOutput{ProjectDescription: projectDescription{ProjectArn: p.ARN, ProjectName: p.Name,
		CreationTimestamp: awsproto.Time(p.Created), Datasets: []datasetMetadata{}}}
	for _, d := range ds {
		out.ProjectDescription.Datasets = append(out.ProjectDescription.Datasets, datasetMetadataOf(d))
	}
	return out, nil
}

// datasetStatus translates the shared dataset status: a failed update
// leaves the entries as they were, which Lookout for Vision calls
// UPDATE_FAILED_ROLLBACK_COMPLETE.
func datasetStatus(s ocellus.DatasetStatus) string {
	if s == ocellus.DatasetUpdateFailed {
		return "UPDATE_FAILED_ROLLBACK_COMPLETE"
	}
	return string(s)
}

func datasetMetadataOf(d *ocellus.Dataset) datasetMetadata {
	msg, _ := d.Message()
	return datasetMetadata{DatasetType: strings.ToLower(string(d.Type)), CreationTimestamp: awsproto.Time(d.Created),
		Status: datasetStatus(d.Status), StatusMessage: msg}
}

type listProjectsInput struct {
	NextToken  string
	MaxResults int
}

type listProjectsOutput struct {
	Projects  []projectMetadata
	NextToken string `json:",omitempty"`
}

func (a *API) listProjects(ctx context.Context, id awsproto.Identity, in *listProjectsInput) (*listProjectsOutput, error) {
	ps, next, err := a.l.ListLookoutProjects(ctx, id.Account, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &listProjectsOutput{Projects: []projectMetadata{}, NextToken: next}
	for _, p := range ps {
		out.Projects = append(out.Projects, projectMetadataOf(p))
	}
	return out, nil
}

type deleteProjectOutput struct {
	ProjectArn string
}

func (a *API) deleteProject(ctx context.Context, id awsproto.Identity, in *projectInput) (*deleteProjectOutput, error) {
	arn, err := a.l.DeleteLookoutProject(ctx, id.Account, in.ProjectName)
	if err != nil {
		return nil, err
	}
	return &deleteProjectOutput{ProjectArn: arn}, nil
}

type tagResourceInput struct {
	ResourceArn string
	Tags        []tag
}

type untagResourceInput struct {
	ResourceArn string
	TagKeys     []string
}

type listTagsInput struct {
	ResourceArn string
}

type listTagsOutput struct {
	Tags []tag
}

func (a *API) tagResource(ctx context.Context, id awsproto.Identity, in *tagResourceInput) (*empty, error) {
	return &empty{}, a.l.TagLookoutResource(ctx, id.Account, in.ResourceArn, tagMap(in.Tags))
}

func (a *API) untagResource(ctx context.Context, id awsproto.Identity, in *untagResourceInput) (*empty, error) {
	return &empty{}, a.l.UntagLookoutResource(ctx, id.Account, in.ResourceArn, in.TagKeys)
}

func (a *API) listTagsForResource(ctx context.Context, id awsproto.Identity, in *listTagsInput) (*listTagsOutput, error) {
	m, err := a.l.LookoutTags(ctx, id.Account, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	out := &listTagsOutput{Tags: []tag{}}
	for _, k := range sortedKeys(m) {
		out.Tags = append(out.Tags, tag{Key: k, Value: m[k]})
	}
	return out, nil
}
