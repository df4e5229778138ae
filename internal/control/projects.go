package control

import (
	"context"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/policy"
	"github.com/ocellus/ocellus/internal/store"
)

// CreateProjectInput is a new Custom Labels project.
type CreateProjectInput struct {
	Name       string
	Feature    string // default CUSTOM_LABELS
	AutoUpdate string // ENABLED | DISABLED | ""
	Tags       map[string]string
}

// CreateProject creates a Custom Labels project in account.
func (c *Control) CreateProject(ctx context.Context, account string, in CreateProjectInput) (*ocellus.Project, error) {
	if in.Feature == "" {
		in.Feature = ocellus.FeatureCustomLabels
	}
	if in.AutoUpdate == "ENABLED" && in.Feature != ocellus.FeatureContentModeration {
		return nil, ocellus.Errorf(ocellus.Invalid, "AutoUpdate can be ENABLED only for projects with Feature CONTENT_MODERATION.")
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	if in.Feature == ocellus.FeatureContentModeration && in.AutoUpdate == "" {
		in.AutoUpdate = "DISABLED"
	}
	now := ocellus.Now(c.now)
	p := &ocellus.Project{
		ARN: ocellus.ProjectARN(c.region, account, in.Name, now), Account: account, Service: ocellus.Rekognition,
		Name: in.Name, Feature: in.Feature, AutoUpdate: in.AutoUpdate, Status: ocellus.ProjectCreated, Created: now,
	}
	if err := c.store.CreateProject(ctx, p); err != nil {
		if ocellus.KindOf(err) == ocellus.AlreadyExists {
			return nil, ocellus.Errorf(ocellus.InUse, "A project named %s already exists.", in.Name)
		}
		return nil, err
	}
	if len(in.Tags) > 0 {
		if err := c.store.SetTags(ctx, p.ARN, in.Tags, ocellus.MaxTagsPerResource); err != nil {
			// Keep CreateProject all-or-nothing.
			if derr := c.store.DeleteProject(ctx, p.ARN); derr != nil {
				c.log.Error("undo project after tag failure", "project", p.ARN, "err", derr)
			}
			return nil, err
		}
	}
	return p, nil
}

// DescribeProjectsInput filters and pages a project listing.
type DescribeProjectsInput struct {
	Names      []string
	Features   []string
	NextToken  string
	MaxResults int // default 100
}

// DescribeProjects lists account's Custom Labels projects.
func (c *Control) DescribeProjects(ctx context.Context, account string, in DescribeProjectsInput) ([]*ocellus.Project, string, error) {
	after, err := decodeToken("projects", in.NextToken)
	if err != nil {
		return nil, "", err
	}
	limit := pageLimit(in.MaxResults)
	ps, err := c.store.ListProjects(ctx, store.ProjectFilter{Account: account, Service: ocellus.Rekognition,
		Names: in.Names, Features: in.Features, After: after, Limit: limit + 1})
	if err != nil {
		return nil, "", err
	}
	ps, next := cutPage(ps, limit, "projects", projectARN)
	return ps, next, nil
}

func projectARN(p *ocellus.Project) string { return p.ARN }

// project loads a project the caller owns.
func (c *Control) project(ctx context.Context, account, arn string) (*ocellus.Project, error) {
	if err := ocellus.CheckOwner(arn, account, c.region); err != nil {
		return nil, err
	}
	p, err := c.store.Project(ctx, arn)
	if err != nil {
		return nil, err
	}
	if p.Account != account {
		return nil, ocellus.Errorf(ocellus.NotFound, "The project %s does not exist.", arn)
	}
	return p, nil
}

// DeleteProject deletes a project that has no model versions left.
func (c *Control) DeleteProject(ctx context.Context, account, arn string) (ocellus.ProjectStatus, error) {
	p, err := c.project(ctx, account, arn)
	if err != nil {
		return "", err
	}
	vs, err := c.store.Versions(ctx, p.ARN, nil)
	if err != nil {
		return "", err
	}
	if len(vs) > 0 {
		return "", ocellus.Errorf(ocellus.InUse, "The project %s has %d model versions; delete them first.", p.Name, len(vs))
	}
	if err := c.store.DeleteProject(ctx, p.ARN); err != nil {
		return "", err
	}
	return ocellus.ProjectDeleting, nil
}

// resource checks that arn names an existing resource of account that can
// carry tags.
func (c *Control) resource(ctx context.Context, account, arn string) error {
	if err := ocellus.CheckOwner(arn, account, c.region); err != nil {
		return err
	}
	var err error
	switch ocellus.ResourceKind(arn) {
	case "project":
		_, err = c.project(ctx, account, arn)
		return err
	case "dataset":
		_, err = c.dataset(ctx, account, arn)
		return err
	case "version":
		_, err = c.version(ctx, account, arn)
		return err
	}
	return ocellus.Errorf(ocellus.NotFound, "The resource %s does not exist.", arn)
}

// TagResource adds or overwrites tags.
func (c *Control) TagResource(ctx context.Context, account, arn string, tags map[string]string) error {
	if err := c.resource(ctx, account, arn); err != nil {
		return err
	}
	if err := checkTags(tags); err != nil {
		return err
	}
	return c.store.SetTags(ctx, arn, tags, ocellus.MaxTagsPerResource)
}

// UntagResource removes tags.
func (c *Control) UntagResource(ctx context.Context, account, arn string, keys []string) error {
	if err := c.resource(ctx, account, arn); err != nil {
		return err
	}
	return c.store.RemoveTags(ctx, arn, keys)
}

// ListTags returns a resource's tags.
func (c *Control) ListTags(ctx context.Context, account, arn string) (map[string]string, error) {
	if err := c.resource(ctx, account, arn); err != nil {
		return nil, err
	}
	return c.store.Tags(ctx, arn)
}

// PutProjectPolicy creates or updates a project policy and returns its new
// revision id.
func (c *Control) PutProjectPolicy(ctx context.Context, account, projectARN, name, revision, document string) (string, error) {
	p, err := c.project(ctx, account, projectARN)
	if err != nil {
		return "", err
	}
	if err := refuseModerationProject(p, "PutProjectPolicy"); err != nil {
		return "", err
	}
	if _, err := policy.Parse(document); err != nil {
		return "", err
	}
	now := ocellus.Now(c.now)
	pol := &ocellus.Policy{ProjectARN: p.ARN, Name: name, RevisionID: randomHex(16), Document: document, Created: now, Updated: now}
	if err := c.store.PutPolicy(ctx, pol, revision, ocellus.MaxPoliciesPerProject); err != nil {
		return "", err
	}
	return pol.RevisionID, nil
}

// DeleteProjectPolicy deletes a project policy.
func (c *Control) DeleteProjectPolicy(ctx context.Context, account, projectARN, name, revision string) error {
	p, err := c.project(ctx, account, projectARN)
	if err != nil {
		return err
	}
	if err := refuseModerationProject(p, "DeleteProjectPolicy"); err != nil {
		return err
	}
	return c.store.DeletePolicy(ctx, p.ARN, name, revision)
}

// ListProjectPolicies pages a project's policies (MaxResults default 5).
func (c *Control) ListProjectPolicies(ctx context.Context, account, projectARN, nextToken string, maxResults int) ([]*ocellus.Policy, string, error) {
	p, err := c.project(ctx, account, projectARN)
	if err != nil {
		return nil, "", err
	}
	if err := refuseModerationProject(p, "ListProjectPolicies"); err != nil {
		return nil, "", err
	}
	after, err := decodeToken("policies:"+p.ARN, nextToken)
	if err != nil {
		return nil, "", err
	}
	if maxResults <= 0 {
		maxResults = ocellus.MaxPoliciesPerProject
	}
	ps, err := c.store.ListPolicies(ctx, p.ARN, after, maxResults+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ps) > maxResults {
		ps = ps[:maxResults]
		next = encodeToken("policies:"+p.ARN, ps[maxResults-1].Name)
	}
	return ps, next, nil
}
