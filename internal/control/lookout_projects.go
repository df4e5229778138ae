package control

import (
	"context"
	"strings"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// Lookout for Vision projects and tags.

// CreateLookoutProject creates a Lookout for Vision project.
func (l *Lookout) CreateLookoutProject(ctx context.Context, account, name string) (*ocellus.Project, error) {
	now := ocellus.Now(l.c.now)
	p := &ocellus.Project{ARN: ocellus.LookoutProjectARN(l.c.region, account, name), Account: account, Service: ocellus.LookoutVision,
		Name: name, Status: ocellus.ProjectCreated, Created: now}
	if err := l.c.store.CreateProject(ctx, p); err != nil {
		if ocellus.KindOf(err) == ocellus.AlreadyExists {
			return nil, lookoutErr(ocellus.AlreadyExists, ResourceProject, name, "A project named %s already exists.", name)
		}
		return nil, err
	}
	return p, nil
}

// LookoutProject returns the caller's project by name.
func (l *Lookout) LookoutProject(ctx context.Context, account, name string) (*ocellus.Project, error) {
	p, err := l.c.store.Project(ctx, ocellus.LookoutProjectARN(l.c.region, account, name))
	if ocellus.KindOf(err) == ocellus.NotFound || (err == nil && (p.Account != account || p.Service != ocellus.LookoutVision)) {
		return nil, lookoutErr(ocellus.NotFound, ResourceProject, name, "The project %s does not exist.", name)
	}
	return p, err
}

// ListLookoutProjects pages the caller's projects in creation order.
func (l *Lookout) ListLookoutProjects(ctx context.Context, account, nextToken string, maxResults int) ([]*ocellus.Project, string, error) {
	after, err := decodeToken("l4v-projects", nextToken)
	if err != nil {
		return nil, "", err
	}
	limit := pageLimit(maxResults)
	ps, err := l.c.store.ListProjects(ctx, store.ProjectFilter{Account: account, Service: ocellus.LookoutVision, After: after, Limit: limit + 1})
	if err != nil {
		return nil, "", err
	}
	ps, next := cutPage(ps, limit, "l4v-projects", projectARN)
	return ps, next, nil
}

// DeleteLookoutProject deletes a project that has no datasets and no
// models left.
func (l *Lookout) DeleteLookoutProject(ctx context.Context, account, name string) (string, error) {
	p, err := l.LookoutProject(ctx, account, name)
	if err != nil {
		return "", err
	}
	ds, err := l.c.store.Datasets(ctx, p.ARN)
	if err != nil {
		return "", err
	}
	if len(ds) > 0 {
		return "", lookoutErr(ocellus.InUse, ResourceProject, name, "The project %s still has %d dataset(s); delete them before the project.", name, len(ds))
	}
	ms, err := l.c.store.LookoutModels(ctx, p.ARN, 0, 1)
	if err != nil {
		return "", err
	}
	if len(ms) > 0 {
		return "", lookoutErr(ocellus.InUse, ResourceProject, name, "The project %s still has models; delete them before the project.", name)
	}
	if err := l.c.store.DeleteProject(ctx, p.ARN); err != nil {
		return "", err
	}
	if err := l.c.store.DeleteLookoutProject(ctx, p.ARN); err != nil {
		return "", err
	}
	return p.ARN, nil
}

// lookoutResource checks that arn names a project or model of the caller
// and returns the kind ("project" or "model").
func (l *Lookout) lookoutResource(ctx context.Context, account, arn string) error {
	a, err := ocellus.ParseARN(arn)
	if err != nil || a.Service != ocellus.LookoutVision {
		return ocellus.Errorf(ocellus.Invalid, "%s is not a Lookout for Vision project or model ARN.", arn)
	}
	if err := ocellus.CheckOwner(arn, account, l.c.region); err != nil {
		return err
	}
	segs := strings.Split(a.Resource, "/")
	switch {
	case len(segs) == 2 && segs[0] == "project":
		_, err := l.LookoutProject(ctx, account, segs[1])
		return err
	case len(segs) == 3 && segs[0] == "model":
		_, _, err := l.model(ctx, account, segs[1], segs[2])
		return err
	}
	return lookoutErr(ocellus.NotFound, ResourceProject, arn, "The resource %s does not exist: tags go on project and model ARNs.", arn)
}

// TagLookoutResource adds or overwrites tags on a project or model.
func (l *Lookout) TagLookoutResource(ctx context.Context, account, arn string, tags map[string]string) error {
	if err := l.lookoutResource(ctx, account, arn); err != nil {
		return err
	}
	if err := checkTags(tags); err != nil {
		return err
	}
	return l.c.store.SetTags(ctx, arn, tags, ocellus.MaxTagsPerResource)
}

// UntagLookoutResource removes tags.
func (l *Lookout) UntagLookoutResource(ctx context.Context, account, arn string, keys []string) error {
	if err := l.lookoutResource(ctx, account, arn); err != nil {
		return err
	}
	return l.c.store.RemoveTags(ctx, arn, keys)
}

// LookoutTags returns a project's or model's tags.
func (l *Lookout) LookoutTags(ctx context.Context, account, arn string) (map[string]string, error) {
	if err := l.lookoutResource(ctx, account, arn); err != nil {
		return nil, err
	}
	return l.c.store.Tags(ctx, arn)
}
