package control

import (
	"context"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/serve"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
)

// Hosting Lookout for Vision models: StartModel, StopModel and the pool's
// state changes saved as model statuses.

// msgNotHosted is the status message of a model back in TRAINED after
// hosting stopped.
const msgNotHosted = "The model is trained and not hosted."

// StartLookoutModel starts hosting a trained model: STARTING_HOSTING now,
// HOSTED once it is loaded (HOSTING_FAILED if it cannot be).
func (l *Lookout) StartLookoutModel(ctx context.Context, account, project, version string, minUnits, maxUnits int) (ocellus.ModelStatus, error) {
	_, m, err := l.model(ctx, account, project, version)
	if err != nil {
		return "", err
	}
	if maxUnits != 0 && maxUnits < minUnits {
		return "", ocellus.Errorf(ocellus.Invalid, "MaxInferenceUnits (%d) must not be less than MinInferenceUnits (%d).", maxUnits, minUnits)
	}
	switch {
	case m.Status.CanBecome(ocellus.ModelStartingHosting):
	case m.Status.Hosting():
		return "", lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is already %s.", m.ARN, m.Status)
	default:
		return "", lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is %s; only a TRAINED model can be started.", m.ARN, m.Status)
	}
	if maxUnits == 0 {
		maxUnits = minUnits
	}
	prev := *m
	m.MinUnits, m.MaxUnits = minUnits, maxUnits
	if err := l.host(ctx, m); err != nil {
		if uerr := l.c.store.UpdateLookoutModel(context.WithoutCancel(ctx), &prev); uerr != nil {
			l.c.log.Error("restore model status", "model", m.ARN, "err", uerr)
		}
		if ocellus.KindOf(err) == ocellus.LimitExceeded {
			return "", lookoutErr(ocellus.QuotaExceeded, ResourceModel, m.ARN, "%s", ocellus.MessageOf(err))
		}
		return "", err
	}
	return ocellus.ModelStartingHosting, nil
}

// host saves m as STARTING_HOSTING and starts loading it into the pool;
// hostingState records the outcome.
// On several nodes, the heartbeats place its units instead.
func (l *Lookout) host(ctx context.Context, m *ocellus.Model) error {
	m.Status, m.StatusMessage = ocellus.ModelStartingHosting, ocellus.ModelStartingHosting.Message()
	if err := l.c.store.UpdateLookoutModel(ctx, m); err != nil {
		return err
	}
	if k := l.c.cluster.Load(); k != nil {
		k.poke()
		return nil
	}
	return l.loadUnits(ctx, m, m.MinUnits, m.MaxUnits)
}

// load loads m into the pool with a node's share of its units.
func (l *Lookout) load(ctx context.Context, m *ocellus.Model, units int) error {
	return l.loadUnits(ctx, m, units, units)
}

func (l *Lookout) loadUnits(ctx context.Context, m *ocellus.Model, minUnits, maxUnits int) error {
	rel := m.Artifact
	return l.pool.Start(ctx, m.ARN, minUnits, maxUnits, func(ctx context.Context) (*anomaly.Model, error) {
		data, err := l.c.arts.Get(ctx, rel)
		if err != nil {
			return nil, err
		}
		return anomaly.Load(data, l.bb, anomaly.LoadConfig{})
	})
}

// hostingState saves the pool's state changes as model statuses, so
// DescribeModel sees HOSTED, HOSTING_FAILED and, after a stop, TRAINED.
func (l *Lookout) hostingState(arn string, st serve.Status) {
	ctx := context.Background()
	var status ocellus.ModelStatus
	var msg string
	switch st.State {
	case serve.Running:
		status, msg = ocellus.ModelHosted, ocellus.ModelHosted.Message()
	case serve.Failed:
		status, msg = ocellus.ModelHostingFailed, "The model could not be hosted: "+st.Message
	case serve.Stopped:
		status, msg = ocellus.ModelTrained, msgNotHosted
	default:
		return // STARTING_HOSTING and STOPPING_HOSTING are written by Start and Stop
	}
	m, err := l.modelByARN(ctx, arn)
	if err != nil {
		return // deleted meanwhile
	}
	m.Status, m.StatusMessage = status, msg
	if err := l.c.store.UpdateLookoutModel(ctx, m); err != nil {
		l.c.log.Error("save hosting state", "model", arn, "err", err)
	}
}

// StopLookoutModel stops hosting a model: STOPPING_HOSTING now (requests in
// flight finish), TRAINED once it is unloaded.
func (l *Lookout) StopLookoutModel(ctx context.Context, account, project, version string) (ocellus.ModelStatus, error) {
	_, m, err := l.model(ctx, account, project, version)
	if err != nil {
		return "", err
	}
	if !m.Status.CanBecome(ocellus.ModelStoppingHosting) {
		return "", lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is %s; only a HOSTED model can be stopped.", m.ARN, m.Status)
	}
	m.Status, m.StatusMessage = ocellus.ModelStoppingHosting, ocellus.ModelStoppingHosting.Message()
	if err := l.c.store.UpdateLookoutModel(ctx, m); err != nil {
		return "", err
	}
	if k := l.c.cluster.Load(); k != nil {
		// As StopProjectVersion: the last node to let go records TRAINED.
		if err := l.pool.Stop(m.ARN); err != nil && ocellus.KindOf(err) != ocellus.NotFound && ocellus.KindOf(err) != ocellus.InUse {
			return "", err
		}
		k.poke()
		return ocellus.ModelStoppingHosting, nil
	}
	if err := l.pool.Stop(m.ARN); err != nil {
		if ocellus.KindOf(err) != ocellus.NotFound {
			return "", err
		}
		// Not in the pool: nothing to unload.
		m.Status, m.StatusMessage = ocellus.ModelTrained, msgNotHosted
		if err := l.c.store.UpdateLookoutModel(ctx, m); err != nil {
			return "", err
		}
	}
	return ocellus.ModelStoppingHosting, nil
}
