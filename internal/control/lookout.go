package control

import (
	"context"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/serve"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// Lookout for Vision keeps its projects, tags, datasets and entries in the
// shared tables (a project has Service ocellus.LookoutVision). A dataset is
// keyed internally by the ARN the shared dataset code builds from the
// project ARN: arn:aws:lookoutvision:{region}:{account}:project/{name}/dataset/{train|test}/{epochMillis};
// the Lookout for Vision API never shows it, and a project has at most one
// dataset of each type, so the API finds it by project and type.
// Models, idempotency tokens and packaging jobs are Lookout-only state
// (store.LookoutStore); a trained model's artifact is a sealed file of the
// artifact store both products share (Artifacts).

// Resource types of Lookout for Vision errors (ResourceType).
const (
	ResourceProject    = "PROJECT"
	ResourceDataset    = "DATASET"
	ResourceModel      = "MODEL"
	ResourcePackageJob = "MODEL_PACKAGE_JOB"
)

// LookoutConfig configures the Lookout for Vision use cases. Zero values
// are the documented defaults.
type LookoutConfig struct {
	// Backbone is the frozen network the anomaly engine extracts features
	// with; it stays the caller's to close. Nil: the built-in, weight-free
	// extractor (much less accurate).
	Backbone backbone.Backbone
	// Seed makes training reproducible (default 1).
	Seed int64
	// MaxTraining bounds concurrent training runs (default 1): training
	// uses every core, so running two at once only makes both slower.
	MaxTraining int
}

// Lookout holds the Lookout for Vision use cases on top of the shared
// control plane, with the state only they need: the backbone and the
// models loaded for hosting.
type Lookout struct {
	c    *Control
	cfg  LookoutConfig
	slot chan struct{} // training slots

	bb backbone.Backbone

	// pool hosts HOSTED models with the same inference-unit admission,
	// auto-scaling and graceful stop as Custom Labels versions.
	pool *serve.Pool[*anomaly.Model]
}

// NewLookout returns the Lookout for Vision use cases over c.
func NewLookout(c *Control, cfg LookoutConfig) *Lookout {
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.MaxTraining <= 0 {
		cfg.MaxTraining = 1
	}
	l := &Lookout{c: c, cfg: cfg, bb: cfg.Backbone, slot: make(chan struct{}, cfg.MaxTraining)}
	if l.bb == nil {
		l.bb = backbone.Builtin{}
	}
	c.lookout.Store(l) // Control runs the Lookout for Vision jobs through l
	// An anomaly model answers in tens to hundreds of milliseconds, several
	// times slower than a classifier: a request may wait longer for a slot
	// before it is turned away with a ThrottlingException.
	l.pool = serve.New[*anomaly.Model](c.hostingConfig(2*time.Second, ocellus.LookoutVision, l.hostingState))
	return l
}

// Region is the region resources are created in.
func (l *Lookout) Region() string { return l.c.region }

// Close stops hosting (waiting for requests in flight) without changing
// the stored statuses: a model HOSTED now is hosted again by
// Control.Recover after a restart.
func (l *Lookout) Close() error {
	if k := l.c.cluster.Load(); k != nil {
		k.stop()
	}
	l.c.closing.Store(true)
	return l.pool.Close()
}

// lookoutErr is an error naming the Lookout for Vision resource involved,
// which the wire error shapes carry.
func lookoutErr(k ocellus.Kind, typ, id, format string, args ...any) *ocellus.Error {
	e := ocellus.Errorf(k, format, args...)
	e.ResourceType, e.ResourceID = typ, id
	return e
}

// recoverHosting (called by Control.Recover at start-up) hosts again the
// models that were hosted or being hosted (a model HOSTED before a restart
// is HOSTED after it), and finishes stops and deletions. Training and
// packaging are jobs: the queue and Control's sweep run them again.
func (l *Lookout) recoverHosting(ctx context.Context) error {
	ms, err := l.c.store.LookoutModelsByStatus(ctx, ocellus.ModelStartingHosting, ocellus.ModelHosted, ocellus.ModelStoppingHosting, ocellus.ModelDeleting)
	if err != nil {
		return err
	}
	cluster := l.c.cluster.Load() != nil // the heartbeats place hosting and settle stops
	for _, m := range ms {
		switch {
		case cluster && m.Status != ocellus.ModelDeleting:
		case m.Status == ocellus.ModelStartingHosting, m.Status == ocellus.ModelHosted:
			l.c.log.Info("hosting model again", "model", m.ARN)
			if err := l.host(ctx, m); err != nil {
				return err
			}
		case m.Status == ocellus.ModelStoppingHosting:
			m.Status, m.StatusMessage = ocellus.ModelTrained, msgNotHosted
			if err := l.c.store.UpdateLookoutModel(ctx, m); err != nil {
				return err
			}
		case m.Status == ocellus.ModelDeleting:
			if err := l.c.store.DeleteLookoutModel(ctx, m.ProjectARN, m.Version); err != nil && ocellus.KindOf(err) != ocellus.NotFound {
				return err
			}
			if err := l.c.arts.Delete(ctx, m.Artifact); err != nil {
				return err
			}
		}
	}
	return nil
}
