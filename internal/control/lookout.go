package control

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/serve"
	"github.com/ocellus/ocellus/internal/store"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// Lookout for Vision keeps its projects, tags, datasets and entries in the
// shared tables (a project has Service ocellus.LookoutVision). A dataset is
// keyed internally by the ARN the shared dataset code builds from the
// project ARN: arn:aws:lookoutvision:{region}:{account}:project/{name}/dataset/{train|test}/{epochMillis};
// the Lookout for Vision API never shows it, and a project has at most one
// dataset of each type, so the API finds it by project and type.
// Models, their artifacts, idempotency tokens and packaging jobs are
// Lookout-only state (store.LookoutStore).

// Model statuses (ModelStatus).
const (
	ModelTraining        = "TRAINING"
	ModelTrained         = "TRAINED"
	ModelTrainingFailed  = "TRAINING_FAILED"
	ModelStartingHosting = "STARTING_HOSTING"
	ModelHosted          = "HOSTED"
	ModelHostingFailed   = "HOSTING_FAILED"
	ModelStoppingHosting = "STOPPING_HOSTING"
	ModelDeleting        = "DELETING"
)

// Packaging job statuses (ModelPackagingJobStatus).
const (
	JobCreated   = "CREATED"
	JobRunning   = "RUNNING"
	JobSucceeded = "SUCCEEDED"
	JobFailed    = "FAILED"
)

// ModelStatusMessage is the StatusMessage of a model in state status when
// no more specific one was stored (a failure stores its reason). Lookout for
// Vision sends StatusMessage in every state, training included.
func ModelStatusMessage(status string) string {
	switch status {
	case ModelTraining:
		return "The model is being trained."
	case ModelTrained:
		return "Training completed successfully."
	case ModelTrainingFailed:
		return "The model could not be trained."
	case ModelStartingHosting:
		return "The model is being hosted."
	case ModelHosted:
		return "The model is running."
	case ModelHostingFailed:
		return "The model could not be hosted."
	case ModelStoppingHosting:
		return "The model is being stopped."
	case ModelDeleting:
		return "The model is being deleted."
	}
	return "The model is " + status + "."
}

// PackagingStatusMessage is the StatusMessage of a model packaging job in
// state status when no more specific one was stored.
func PackagingStatusMessage(status string) string {
	switch status {
	case JobCreated:
		return "The model packaging job was created."
	case JobRunning:
		return "The model is being packaged."
	case JobSucceeded:
		return "The model package was written to S3."
	case JobFailed:
		return "The model could not be packaged."
	}
	return "The model packaging job is " + status + "."
}

// Resource types of Lookout for Vision errors (ResourceType).
const (
	ResourceProject    = "PROJECT"
	ResourceDataset    = "DATASET"
	ResourceModel      = "MODEL"
	ResourcePackageJob = "MODEL_PACKAGE_JOB"
)

// ClientTokenTTL is how long an idempotency token stays active.
const ClientTokenTTL = 8 * time.Hour

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

	tokMu  sync.Mutex
	tokens map[string]*sync.Mutex // per account+token, so a retried request waits for the first

	// pool hosts HOSTED models with the same inference-unit admission,
	// auto-scaling and graceful stop as Custom Labels versions.
	pool *serve.Pool[*anomaly.Model]

	mu      sync.Mutex
	closing bool // Close is stopping the pool: keep the stored statuses
}

// NewLookout returns the Lookout for Vision use cases over c.
func NewLookout(c *Control, cfg LookoutConfig) *Lookout {
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.MaxTraining <= 0 {
		cfg.MaxTraining = 1
	}
	l := &Lookout{c: c, cfg: cfg, bb: cfg.Backbone, slot: make(chan struct{}, cfg.MaxTraining), tokens: map[string]*sync.Mutex{}}
	if l.bb == nil {
		l.bb = backbone.Builtin{}
	}
	c.lookout.Store(l) // Control runs the Lookout for Vision jobs through l
	// An anomaly model answers in tens to hundreds of milliseconds, several
	// times slower than a classifier: a request may wait longer for a slot
	// before it is turned away with a ThrottlingException.
	l.pool = serve.New[*anomaly.Model](serve.Config{Logger: c.log, Now: c.now, SlotWait: 2 * time.Second, OnState: l.hostingState})
	return l
}

// Region is the region resources are created in.
func (l *Lookout) Region() string { return l.c.region }

// Close stops hosting (waiting for requests in flight) without changing
// the stored statuses: a model HOSTED now is hosted again by
// Control.Recover after a restart.
func (l *Lookout) Close() error {
	l.mu.Lock()
	l.closing = true
	l.mu.Unlock()
	return l.pool.Close()
}

// lookoutErr is an error naming the Lookout for Vision resource involved,
// which the wire error shapes carry.
func lookoutErr(k ocellus.Kind, typ, id, format string, args ...any) *ocellus.Error {
	e := ocellus.Errorf(k, format, args...)
	e.ResourceType, e.ResourceID = typ, id
	return e
}

// ---- idempotency ----

// Idempotent runs fn once per client token: a token seen before (within
// ClientTokenTTL) with the same parameters returns the first answer
// without running fn; with other parameters, or for another operation, it
// is a Conflict that says why. params identifies the request (a hash of
// everything but the token). An empty token runs fn unguarded. Only
// successful answers are remembered, so a failed request can be retried
// with the same token.
func (l *Lookout) Idempotent(ctx context.Context, account, op, token, params string, fn func() ([]byte, error)) ([]byte, error) {
	if token == "" {
		return fn()
	}
	key := account + "\x00" + token
	l.tokMu.Lock()
	mu, ok := l.tokens[key]
	if !ok {
		mu = &sync.Mutex{}
		l.tokens[key] = mu
	}
	l.tokMu.Unlock()
	mu.Lock()
	defer func() {
		mu.Unlock()
		l.tokMu.Lock()
		if l.tokens[key] == mu {
			delete(l.tokens, key)
		}
		l.tokMu.Unlock()
	}()
	now := ocellus.Now(l.c.now)
	prev, err := l.c.store.ClientToken(ctx, account, token)
	switch {
	case err == nil && now.Sub(prev.Created) < ClientTokenTTL:
		if prev.Operation != op {
			return nil, ocellus.Errorf(ocellus.Conflict, "The client token %s was already used for %s; use a new token for %s.", token, prev.Operation, op)
		}
		if prev.ParamsHash != params {
			return nil, ocellus.Errorf(ocellus.Conflict, "The client token %s was already used for a %s request with different parameters in the last %s; use a new token or repeat the same parameters.", token, op, ClientTokenTTL)
		}
		return prev.Result, nil
	case err != nil && ocellus.KindOf(err) != ocellus.NotFound:
		return nil, err
	}
	out, err := fn()
	if err != nil {
		return nil, err
	}
	if err := l.c.store.PutClientToken(ctx, &store.ClientToken{Account: account, Token: token, Operation: op, ParamsHash: params, Result: out, Created: now}); err != nil {
		l.c.log.Error("save client token", "op", op, "err", err)
	}
	return out, nil
}

// ---- projects ----

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
	after, err := decodeLookoutToken("l4v-projects", nextToken)
	if err != nil {
		return nil, "", err
	}
	limit := pageLimit(maxResults)
	ps, err := l.c.store.ListProjects(ctx, store.ProjectFilter{Account: account, Service: ocellus.LookoutVision, After: after, Limit: limit + 1})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ps) > limit {
		ps = ps[:limit]
		next = encodeToken("l4v-projects", ps[limit-1].ARN)
	}
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

// pageLimit applies the default page size of the List operations.
func pageLimit(maxResults int) int {
	if maxResults <= 0 || maxResults > 100 {
		return 100
	}
	return maxResults
}

// decodeLookoutToken is decodeToken with Lookout for Vision's error: an
// unknown token is a ValidationException there.
func decodeLookoutToken(list, tok string) (string, error) {
	after, err := decodeToken(list, tok)
	if err != nil {
		return "", ocellus.Errorf(ocellus.Invalid, "The pagination token %q is invalid for this request.", tok)
	}
	return after, nil
}

// ---- tags ----

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

// ---- recovery ----

// recoverHosting (called by Control.Recover at start-up) hosts again the
// models that were hosted or being hosted (a model HOSTED before a restart
// is HOSTED after it), and finishes stops and deletions. Training and
// packaging are jobs: the queue and Control's sweep run them again.
func (l *Lookout) recoverHosting(ctx context.Context) error {
	ms, err := l.c.store.LookoutModelsByStatus(ctx, ModelStartingHosting, ModelHosted, ModelStoppingHosting, ModelDeleting)
	if err != nil {
		return err
	}
	for _, m := range ms {
		switch m.Status {
		case ModelStartingHosting, ModelHosted:
			l.c.log.Info("hosting model again", "model", m.ARN)
			if err := l.host(ctx, m); err != nil {
				return err
			}
		case ModelStoppingHosting:
			m.Status, m.Message = ModelTrained, "The model is trained and not hosted."
			if err := l.c.store.UpdateLookoutModel(ctx, m); err != nil {
				return err
			}
		case ModelDeleting:
			if err := l.c.store.DeleteLookoutModel(ctx, m.ProjectARN, m.Version); err != nil && ocellus.KindOf(err) != ocellus.NotFound {
				return err
			}
		}
	}
	return nil
}

// parseVersion reads a model version label ("1", "2", ...).
func parseVersion(project, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || strconv.Itoa(n) != v {
		return 0, lookoutErr(ocellus.NotFound, ResourceModel, v, "The model version %s of project %s does not exist.", v, project)
	}
	return n, nil
}
