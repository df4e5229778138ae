package rekognition

import (
	"context"

	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
)

type createProjectInput struct {
	ProjectName string
	Feature     string
	AutoUpdate  string
	Tags        map[string]string
}

type createProjectOutput struct {
	ProjectArn string
}

func (a *API) createProject(ctx context.Context, id awsproto.Identity, in *createProjectInput) (*createProjectOutput, error) {
	p, err := a.ctl.CreateProject(ctx, id.Account, control.CreateProjectInput{
		Name: in.ProjectName, Feature: in.Feature, AutoUpdate: in.AutoUpdate, Tags: in.Tags})
	if err != nil {
		return nil, err
	}
	return &createProjectOutput{ProjectArn: p.ARN}, nil
}

type describeProjectsInput struct {
	NextToken    string
	MaxResults   int
	ProjectNames []string
	Features     []string
}

type datasetMetadata struct {
	CreationTimestamp *awsproto.Time `json:",omitempty"`
	DatasetType       string         `json:",omitempty"`
	DatasetArn        string         `json:",omitempty"`
	Status            string         `json:",omitempty"`
	StatusMessage     string         // always sent, as AWS does: clients read it while work runs
	StatusMessageCode string
}

type projectDescription struct {
	ProjectArn        string
	CreationTimestamp awsproto.Time
	Status            string
	Datasets          []datasetMetadata
	Feature           string `json:",omitempty"`
	AutoUpdate        string `json:",omitempty"`
}

type describeProjectsOutput struct {
	ProjectDescriptions []projectDescription
	NextToken           string `json:",omitempty"`
}

func (a *API) describeProjects(ctx context.Context, id awsproto.Identity, in *describeProjectsInput) (*describeProjectsOutput, error) {
	features := in.Features
	if len(features) == 0 {
		// AWS: without Features, only CUSTOM_LABELS projects are listed.
		features = []string{ocellus.FeatureCustomLabels}
	}
	ps, next, err := a.ctl.DescribeProjects(ctx, id.Account, control.DescribeProjectsInput{
		Names: in.ProjectNames, Features: features, NextToken: in.NextToken, MaxResults: in.MaxResults})
	if err != nil {
		return nil, err
	}
	out := &describeProjectsOutput{ProjectDescriptions: []projectDescription{}, NextToken: next}
	arns := make([]string, len(ps))
	for i, p := range ps {
		arns[i] = p.ARN
	}
	datasets, err := a.ctl.ProjectDatasets(ctx, arns)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		ds := datasets[p.ARN]
		out.ProjectDescriptions = append(out.ProjectDescriptions, projectDescription{
			ProjectArn: p.ARN, CreationTimestamp: awsproto.Time(p.Created), Status: string(p.Status),
			Datasets: datasetMetadataOf(ds), Feature: p.Feature, AutoUpdate: p.AutoUpdate,
		})
	}
	return out, nil
}

type deleteProjectInput struct{ ProjectArn string }

type deleteProjectOutput struct{ Status string }

func (a *API) deleteProject(ctx context.Context, id awsproto.Identity, in *deleteProjectInput) (*deleteProjectOutput, error) {
	st, err := a.ctl.DeleteProject(ctx, id.Account, in.ProjectArn)
	if err != nil {
		return nil, err
	}
	return &deleteProjectOutput{Status: string(st)}, nil
}

type tagResourceInput struct {
	ResourceArn string
	Tags        map[string]string
}

type untagResourceInput struct {
	ResourceArn string
	TagKeys     []string
}

type listTagsInput struct{ ResourceArn string }

type listTagsOutput struct{ Tags map[string]string }

type empty struct{}

func (a *API) tagResource(ctx context.Context, id awsproto.Identity, in *tagResourceInput) (*empty, error) {
	return &empty{}, a.ctl.TagResource(ctx, id.Account, in.ResourceArn, in.Tags)
}

func (a *API) untagResource(ctx context.Context, id awsproto.Identity, in *untagResourceInput) (*empty, error) {
	return &empty{}, a.ctl.UntagResource(ctx, id.Account, in.ResourceArn, in.TagKeys)
}

func (a *API) listTagsForResource(ctx context.Context, id awsproto.Identity, in *listTagsInput) (*listTagsOutput, error) {
	tags, err := a.ctl.ListTags(ctx, id.Account, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return &listTagsOutput{Tags: tags}, nil
}

type putProjectPolicyInput struct {
	ProjectArn       string
	PolicyName       string
	PolicyRevisionId string
	PolicyDocument   string
}

type putProjectPolicyOutput struct{ PolicyRevisionId string }

func (a *API) putProjectPolicy(ctx context.Context, id awsproto.Identity, in *putProjectPolicyInput) (*putProjectPolicyOutput, error) {
	rev, err := a.ctl.PutProjectPolicy(ctx, id.Account, in.ProjectArn, in.PolicyName, in.PolicyRevisionId, in.PolicyDocument)
	if err != nil {
		return nil, err
	}
	return &putProjectPolicyOutput{PolicyRevisionId: rev}, nil
}

type deleteProjectPolicyInput struct {
	ProjectArn       string
	PolicyName       string
	PolicyRevisionId string
}

func (a *API) deleteProjectPolicy(ctx context.Context, id awsproto.Identity, in *deleteProjectPolicyInput) (*empty, error) {
	return &empty{}, a.ctl.DeleteProjectPolicy(ctx, id.Account, in.ProjectArn, in.PolicyName, in.PolicyRevisionId)
}

type listProjectPoliciesInput struct {
	ProjectArn string
	NextToken  string
	MaxResults int
}

type projectPolicy struct {
	ProjectArn           string
	PolicyName           string
	PolicyRevisionId     string
	PolicyDocument       string
	CreationTimestamp    awsproto.Time
	LastUpdatedTimestamp awsproto.Time
}

type listProjectPoliciesOutput struct {
	ProjectPolicies []projectPolicy
	NextToken       string `json:",omitempty"`
}

func (a *API) listProjectPolicies(ctx context.Context, id awsproto.Identity, in *listProjectPoliciesInput) (*listProjectPoliciesOutput, error) {
	ps, next, err := a.ctl.ListProjectPolicies(ctx, id.Account, in.ProjectArn, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &listProjectPoliciesOutput{ProjectPolicies: []projectPolicy{}, NextToken: next}
	for _, p := range ps {
		out.ProjectPolicies = append(out.ProjectPolicies, projectPolicy{
			ProjectArn: p.ProjectARN, PolicyName: p.Name, PolicyRevisionId: p.RevisionID, PolicyDocument: p.Document,
			CreationTimestamp: awsproto.Time(p.Created), LastUpdatedTimestamp: awsproto.Time(p.Updated)})
	}
	return out, nil
}
