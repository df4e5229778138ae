package control

import (
	"context"
	"strconv"
	"strings"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// Lookout for Vision models: create, describe, list, delete, and finding a
// model by project and version label or by ARN.

// CreateModelInput describes a new model.
type CreateModelInput struct {
	Project      string
	Description  string
	OutputBucket string
	OutputPrefix string
	KmsKeyID     string
	Tags         map[string]string
}

// model loads a project's model by version label ("latest" = the newest).
func (l *Lookout) model(ctx context.Context, account, project, version string) (*ocellus.Project, *ocellus.Model, error) {
	p, err := l.LookoutProject(ctx, account, project)
	if err != nil {
		return nil, nil, err
	}
	var m *ocellus.Model
	if version == "latest" {
		ms, err := l.c.store.LookoutModels(ctx, p.ARN, 0, 0)
		if err != nil {
			return nil, nil, err
		}
		if len(ms) == 0 {
			return nil, nil, lookoutErr(ocellus.NotFound, ResourceModel, project, "The project %s has no models.", project)
		}
		m = ms[len(ms)-1]
	} else {
		v, err := parseVersion(project, version)
		if err != nil {
			return nil, nil, err
		}
		m, err = l.c.store.LookoutModel(ctx, p.ARN, v)
		if ocellus.KindOf(err) == ocellus.NotFound {
			return nil, nil, lookoutErr(ocellus.NotFound, ResourceModel, version, "The model version %s of project %s does not exist.", version, project)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return p, m, nil
}

// CreateLookoutModel checks the datasets against Lookout for Vision's rules,
// saves a new model version in TRAINING and enqueues its training job.
func (l *Lookout) CreateLookoutModel(ctx context.Context, account string, in CreateModelInput) (*ocellus.Model, error) {
	p, err := l.LookoutProject(ctx, account, in.Project)
	if err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	if _, err := l.c.resolveKey(in.KmsKeyID); err != nil {
		return nil, err
	}
	ts, err := l.collect(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := l.checkImageSizes(ctx, account, ts); err != nil {
		return nil, err
	}
	now := ocellus.Now(l.c.now)
	m := &ocellus.Model{ProjectARN: p.ARN, Account: account, Description: in.Description, Status: ocellus.ModelTraining,
		StatusMessage: ocellus.ModelTraining.Message(), Created: now, OutputBucket: in.OutputBucket, OutputPrefix: in.OutputPrefix, KmsKeyID: in.KmsKeyID}
	// The model, its tags and its training job are stored together
	// (store.Store.InTx). Where they cannot be (SQLite), a crash before the
	// job is stored leaves the model TRAINING: the sweep at start-up
	// enqueues it then.
	err = l.c.store.InTx(ctx, func(ctx context.Context) error {
		if err := l.c.store.CreateLookoutModel(ctx, m, func(v int) string { return ocellus.LookoutModelARN(l.c.region, account, p.Name, v) }); err != nil {
			return err
		}
		if len(in.Tags) > 0 {
			if err := l.c.store.SetTags(ctx, m.ARN, in.Tags, ocellus.MaxTagsPerResource); err != nil {
				if derr := l.c.store.DeleteLookoutModel(ctx, p.ARN, m.Version); derr != nil {
					l.c.log.Error("undo model after tag failure", "model", m.ARN, "err", derr)
				}
				return err
			}
		}
		return l.c.enqueueLookoutTraining(ctx, m)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DescribeLookoutModel returns a model.
func (l *Lookout) DescribeLookoutModel(ctx context.Context, account, project, version string) (*ocellus.Model, error) {
	_, m, err := l.model(ctx, account, project, version)
	return m, err
}

// ListLookoutModels pages a project's models by version.
func (l *Lookout) ListLookoutModels(ctx context.Context, account, project, nextToken string, maxResults int) ([]*ocellus.Model, string, error) {
	p, err := l.LookoutProject(ctx, account, project)
	if err != nil {
		return nil, "", err
	}
	list := "l4v-models:" + p.ARN
	after, err := decodeToken(list, nextToken)
	if err != nil {
		return nil, "", err
	}
	av := 0
	if after != "" {
		if av, err = strconv.Atoi(after); err != nil {
			return nil, "", invalidToken(nextToken)
		}
	}
	limit := pageLimit(maxResults)
	ms, err := l.c.store.LookoutModels(ctx, p.ARN, av, limit+1)
	if err != nil {
		return nil, "", err
	}
	ms, next := cutPage(ms, limit, list, func(m *ocellus.Model) string { return strconv.Itoa(m.Version) })
	return ms, next, nil
}

// DeleteLookoutModel deletes a model that is not hosted, being hosted or
// training.
func (l *Lookout) DeleteLookoutModel(ctx context.Context, account, project, version string) (string, error) {
	p, m, err := l.model(ctx, account, project, version)
	if err != nil {
		return "", err
	}
	switch m.Status {
	case ocellus.ModelHosted, ocellus.ModelStartingHosting, ocellus.ModelStoppingHosting:
		return "", lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is %s; stop it before deleting it.", m.ARN, m.Status)
	case ocellus.ModelTraining:
		return "", lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is still training; delete it once training has finished.", m.ARN)
	}
	js, err := l.c.store.PackagingJobsByStatus(ctx, ocellus.PackagingCreated, ocellus.PackagingRunning)
	if err != nil {
		return "", err
	}
	for _, j := range js {
		if j.ProjectARN == p.ARN && j.ModelVersion == m.Version {
			return "", lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model packaging job %s is packaging model %s; wait for it to finish.", j.Name, m.ARN)
		}
	}
	if err := l.c.store.DeleteLookoutModel(ctx, p.ARN, m.Version); err != nil {
		return "", err
	}
	if err := l.c.arts.Delete(ctx, m.Artifact); err != nil {
		l.c.log.Error("remove model artifact", "model", m.ARN, "err", err)
	}
	return m.ARN, nil
}

// modelByARN loads a model from its ARN (model/{project}/{version}).
func (l *Lookout) modelByARN(ctx context.Context, arn string) (*ocellus.Model, error) {
	a, err := ocellus.ParseARN(arn)
	if err != nil {
		return nil, err
	}
	segs := strings.Split(a.Resource, "/")
	if len(segs) != 3 || segs[0] != "model" {
		return nil, ocellus.Errorf(ocellus.NotFound, "%s is not a model ARN.", arn)
	}
	v, err := strconv.Atoi(segs[2])
	if err != nil {
		return nil, ocellus.Errorf(ocellus.NotFound, "%s is not a model ARN.", arn)
	}
	return l.c.store.LookoutModel(ctx, ocellus.LookoutProjectARN(a.Region, a.Account, segs[1]), v)
}

// parseVersion reads a model version label ("1", "2", ...).
func parseVersion(project, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || strconv.Itoa(n) != v {
		return 0, lookoutErr(ocellus.NotFound, ResourceModel, v, "The model version %s of project %s does not exist.", v, project)
	}
	return n, nil
}
