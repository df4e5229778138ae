// Package serve hosts running model versions: it loads a model in the
// background (STARTING -> RUNNING | FAILED), admits inference requests only
// within the capacity bought by the version's inference units, rejects the
// rest at once with ocellus.CapacityExceeded (which the Rekognition front-end
// maps to ProvisionedThroughputExceededException), auto-scales the unit count
// between the version's minimum and maximum with load, and stops a version
// (STOPPING -> gone) only after its in-flight requests have finished.
//
// An inference unit is SlotsPerUnit concurrent inference slots plus a token
// bucket refilled at UnitTPS requests per second; docs/INFERENCE-UNITS.md
// explains how the defaults were measured.
//
// The package knows nothing about the vision engine or the API: a Pool is
// generic over the model type M and a Loader produces one, so the control
// plane can host a *vision.Model (or an anomaly model) without serve importing
// either.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// State is the hosting state of a model version. The values are the
// Rekognition ProjectVersionStatus strings so the control plane can store
// them as they are.
type State string

const (
	Starting State = "STARTING"
	Running  State = "RUNNING"
	Failed   State = "FAILED"
	Stopping State = "STOPPING"
	// Stopped is only ever delivered to Config.OnState: a stopped version is
	// no longer in the pool, and State reports ocellus.NotFound for it.
	Stopped State = "STOPPED"
)

// Status is a snapshot of one hosted version.
type Status struct {
	State    State
	Units    int    // current inference units (between MinUnits and MaxUnits)
	MinUnits int    // as started
	MaxUnits int    // as started; equal to MinUnits when auto-scaling is off
	InFlight int    // requests holding a slot now
	Waiting  int    // requests queued for a slot (bounded by Config.SlotWait)
	Message  string // why the version FAILED
}

// Loader loads a model artifact, which may take a while. ctx carries the
// values of the context given to Start but is cancelled only by Stop or
// Close, not when the StartProjectVersion request that began it returns.
type Loader[M any] func(ctx context.Context) (M, error)

// Defaults for the zero values of Config. DefaultUnitTPS and
// DefaultSlotsPerUnit come from docs/INFERENCE-UNITS.md: a MobileNetV2-int8
// classification model predicts a 640x480 JPEG in ~10.5 ms (p50) on one core
// of the reference 2-vCPU machine, ~90 img/s flat out; one unit promises a
// little over half of that so latency stays near the single-request figure
// and the machine keeps headroom for a second unit or training.
const (
	DefaultSlotsPerUnit   = 1
	DefaultUnitTPS        = 50.0
	DefaultSlotWait       = 100 * time.Millisecond
	DefaultScaleInterval  = 30 * time.Second
	DefaultScaleUpAfter   = 2
	DefaultScaleDownAfter = 4
)

// Config tunes a Pool. Every zero value means the documented default.
type Config struct {
	// SlotsPerUnit is how many requests one unit runs at the same time.
	// Default DefaultSlotsPerUnit.
	SlotsPerUnit int
	// UnitTPS is the sustained request rate one unit admits (token-bucket
	// refill rate). Default DefaultUnitTPS; negative disables the rate limit,
	// leaving only the slots.
	UnitTPS float64
	// BurstPerUnit is the token-bucket depth per unit: how many requests
	// above the sustained rate a unit absorbs at once. Default
	// ceil(UnitTPS/10), i.e. a tenth of a second of traffic, at least 1.
	BurstPerUnit int
	// SlotWait is how long a request that passed the rate limit may wait
	// for a free slot before being rejected. Default DefaultSlotWait;
	// negative means reject at once when every slot is busy.
	SlotWait time.Duration
	// ScaleInterval is how often utilisation is measured and units are
	// added or removed. Default DefaultScaleInterval.
	ScaleInterval time.Duration
	// ScaleUpAfter and ScaleDownAfter are how many consecutive hot
	// (respectively cold) intervals trigger adding (removing) one unit.
	// Scaling down waits longer than scaling up on purpose: a spike that
	// was rejected costs the caller, an idle unit costs only CPU.
	ScaleUpAfter   int
	ScaleDownAfter int
	// MaxTotalUnits caps the units of all hosted versions together, so
	// units stay backed by real cores: Start fails with
	// ocellus.LimitExceeded when the new version's MinUnits would not fit,
	// and auto-scaling stops at the cap. Zero means no cap.
	MaxTotalUnits int
	// Now is the clock used for rate limiting and utilisation; default
	// time.Now. Slot waits use real timers.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// OnState, if set, is called for every state change and unit-count
	// change, in order, from one goroutine that never holds a Pool lock;
	// the control plane uses it to persist RUNNING/FAILED/STOPPED. It must
	// not block for long: later notifications wait behind it.
	OnState func(id string, s Status)
}

func (c Config) withDefaults() Config {
	if c.SlotsPerUnit <= 0 {
		c.SlotsPerUnit = DefaultSlotsPerUnit
	}
	if c.UnitTPS == 0 {
		c.UnitTPS = DefaultUnitTPS
	}
	if c.BurstPerUnit <= 0 {
		c.BurstPerUnit = max(1, int(math.Ceil(c.UnitTPS/10)))
	}
	if c.SlotWait == 0 {
		c.SlotWait = DefaultSlotWait
	}
	if c.ScaleInterval <= 0 {
		c.ScaleInterval = DefaultScaleInterval
	}
	if c.ScaleUpAfter <= 0 {
		c.ScaleUpAfter = DefaultScaleUpAfter
	}
	if c.ScaleDownAfter <= 0 {
		c.ScaleDownAfter = DefaultScaleDownAfter
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Pool hosts model versions by id (the control plane uses the
// ProjectVersionArn). It is safe for concurrent use.
type Pool[M any] struct {
	cfg Config

	// One mutex guards every host: admission is a few arithmetic steps, so
	// a per-host lock would buy nothing measurable at inference rates.
	mu     sync.Mutex
	hosts  map[string]*host[M]
	closed bool
	events []event // OnState notifications not yet delivered, in order

	kick chan struct{} // wakes the notifier; capacity 1
	quit chan struct{} // closed by Close after every host is gone
	wg   sync.WaitGroup
}

type event struct {
	id string
	s  Status
}

// host is one hosted version. All fields are guarded by Pool.mu.
type host[M any] struct {
	id         string
	state      State
	msg        string
	min, max   int
	units      int
	model      M
	loaded     bool
	cancelLoad context.CancelFunc
	gone       chan struct{} // closed once removed from the pool

	// Admission.
	tokens   float64
	refilled time.Time
	inflight int
	waiters  []*waiter

	// Utilisation since the last scaling decision.
	windowStart time.Time
	lastChange  time.Time     // last change of inflight, for the busy integral
	busy        time.Duration // slot-time used: integral of inflight over time
	admitted    int
	rejected    int
	hot, cold   int // consecutive hot / cold intervals
}

// waiter is a request queued for a slot. The releaser hands its slot over
// directly (granted) so a freed slot cannot be stolen by a newcomer, which
// keeps the queue FIFO and the wait bounded.
type waiter struct {
	ch      chan struct{}
	granted bool
	failed  bool // the version is stopping
}

// New returns a Pool and starts its auto-scaler. Call Close to stop it.
func New[M any](cfg Config) *Pool[M] {
	p := &Pool[M]{
		cfg:   cfg.withDefaults(),
		hosts: make(map[string]*host[M]),
		kick:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
	}
	p.wg.Add(2)
	go p.notifier()
	go p.scaler()
	return p
}

// Start begins hosting id with minUnits units, auto-scaling up to maxUnits
// (0 means no auto-scaling: maxUnits = minUnits). It returns once the
// version is STARTING; load runs in the background and the version becomes
// RUNNING, or FAILED with the loader's error as its message. Starting an id
// that is starting, running or stopping fails with ocellus.InUse; a FAILED
// id may be started again.
func (p *Pool[M]) Start(ctx context.Context, id string, minUnits, maxUnits int, load Loader[M]) error {
	if maxUnits == 0 {
		maxUnits = minUnits
	}
	if minUnits < 1 {
		return ocellus.Errorf(ocellus.Invalid, "MinInferenceUnits must be at least 1.")
	}
	if maxUnits < minUnits {
		return ocellus.Errorf(ocellus.Invalid, "MaxInferenceUnits (%d) must not be less than MinInferenceUnits (%d).", maxUnits, minUnits)
	}
	if load == nil {
		return errors.New("serve: nil loader")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ocellus.Errorf(ocellus.NotReady, "The inference service is shutting down.")
	}
	if h := p.hosts[id]; h != nil && h.state != Failed {
		return ocellus.Errorf(ocellus.InUse, "The model version %s is %s.", id, h.state)
	}
	if limit := p.cfg.MaxTotalUnits; limit > 0 && p.totalUnitsLocked()+minUnits > limit {
		return ocellus.Errorf(ocellus.LimitExceeded,
			"Starting %d inference unit(s) would exceed this server's %d (%d in use).", minUnits, limit, p.totalUnitsLocked())
	}
	// The loader outlives the request that started it, so drop the
	// caller's cancellation but keep its values (request id, logger).
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h := &host[M]{id: id, state: Starting, min: minUnits, max: maxUnits, units: minUnits,
		cancelLoad: cancel, gone: make(chan struct{})}
	p.hosts[id] = h
	p.notifyLocked(h)
	p.wg.Add(1)
	go p.load(lctx, h, load)
	return nil
}

// Units is the number of inference units the pool's versions hold now
// (starting, running and stopping ones; failed versions hold none).
func (p *Pool[M]) Units() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.totalUnitsLocked()
}

// totalUnitsLocked counts the units held by every version in the pool,
// except failed ones: starting and stopping versions still hold their cores.
func (p *Pool[M]) totalUnitsLocked() int {
	n := 0
	for _, h := range p.hosts {
		if h.state != Failed {
			n += h.units
		}
	}
	return n
}

func (p *Pool[M]) load(ctx context.Context, h *host[M], load Loader[M]) {
	defer p.wg.Done()
	defer h.cancelLoad()
	start := time.Now()
	m, err := safeLoad(ctx, load)
	p.mu.Lock()
	defer p.mu.Unlock()
	if h.state == Stopping { // stopped while loading
		if err == nil {
			h.model, h.loaded = m, true
		}
		p.finishLocked(h)
		return
	}
	if err != nil {
		h.state, h.msg = Failed, err.Error()
		p.cfg.Logger.Warn("serve: model failed to load", "id", h.id, "err", err)
		p.notifyLocked(h)
		return
	}
	now := p.cfg.Now()
	h.model, h.loaded, h.state = m, true, Running
	h.tokens, h.refilled = float64(p.burst(h)), now
	h.windowStart, h.lastChange = now, now
	p.cfg.Logger.Info("serve: model running", "id", h.id, "units", h.units, "load_time", time.Since(start))
	p.notifyLocked(h)
}

// safeLoad turns a panicking loader into a FAILED version instead of a
// crashed server.
func safeLoad[M any](ctx context.Context, load Loader[M]) (m M, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("model loader panicked: %v", r)
		}
	}()
	return load(ctx)
}

// Stop stops hosting id: it becomes STOPPING at once, new requests get
// ocellus.NotReady, requests already holding a slot finish, then the model
// is closed (if it implements io.Closer) and the id leaves the pool
// (Config.OnState sees Stopped). A version still STARTING has its loader's
// context cancelled. Stopping an unknown id is ocellus.NotFound; stopping one
// already STOPPING is ocellus.InUse.
func (p *Pool[M]) Stop(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.hosts[id]
	if h == nil {
		return ocellus.Errorf(ocellus.NotFound, "The model version %s is not running.", id)
	}
	switch h.state {
	case Stopping:
		return ocellus.Errorf(ocellus.InUse, "The model version %s is already stopping.", id)
	case Failed:
		h.state = Stopping
		p.finishLocked(h)
	case Starting:
		h.state = Stopping
		h.cancelLoad() // load sees Stopping when the loader returns
		p.notifyLocked(h)
	case Running:
		h.state = Stopping
		for _, w := range h.waiters {
			w.failed = true
			close(w.ch)
		}
		h.waiters = nil
		p.notifyLocked(h)
		if h.inflight == 0 {
			p.finishLocked(h)
		}
	}
	return nil
}

// finishLocked closes a stopping host's model off the lock and then removes
// it, so the id stays STOPPING (and Start says InUse) until it is really gone.
func (p *Pool[M]) finishLocked(h *host[M]) {
	var c io.Closer
	if h.loaded {
		c, _ = any(h.model).(io.Closer)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if c != nil {
			if err := c.Close(); err != nil {
				p.cfg.Logger.Warn("serve: closing model", "id", h.id, "err", err)
			}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.hosts[h.id] == h {
			delete(p.hosts, h.id)
		}
		var zero M
		h.model = zero
		close(h.gone)
		p.events = append(p.events, event{h.id, Status{State: Stopped, MinUnits: h.min, MaxUnits: h.max}})
		p.kickLocked()
	}()
}

// State reports the hosting status of id, ocellus.NotFound if it is not in
// the pool (never started, or stopped).
func (p *Pool[M]) State(id string) (Status, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.hosts[id]
	if h == nil {
		return Status{}, ocellus.Errorf(ocellus.NotFound, "The model version %s is not running.", id)
	}
	return h.status(), nil
}

func (h *host[M]) status() Status {
	return Status{State: h.state, Units: h.units, MinUnits: h.min, MaxUnits: h.max,
		InFlight: h.inflight, Waiting: len(h.waiters), Message: h.msg}
}

// Do runs fn with the model of id inside one inference slot. It fails with
// ocellus.NotReady unless id is RUNNING, and with ocellus.CapacityExceeded
// when the units' rate is used up or no slot frees within Config.SlotWait.
// fn's error is returned as is. Typical use:
//
//	var labels []vision.Label
//	err := pool.Do(ctx, arn, func(ctx context.Context, m *vision.Model) (err error) {
//		labels, err = m.PredictBytes(ctx, img, opts)
//		return err
//	})
func (p *Pool[M]) Do(ctx context.Context, id string, fn func(context.Context, M) error) error {
	m, h, err := p.acquire(ctx, id)
	if err != nil {
		return err
	}
	defer p.release(h) // also on panic, so a slot is never leaked
	return fn(ctx, m)
}

func (p *Pool[M]) acquire(ctx context.Context, id string) (M, *host[M], error) {
	var zero M
	p.mu.Lock()
	h := p.hosts[id]
	if h == nil || h.state != Running {
		p.mu.Unlock()
		return zero, nil, ocellus.Errorf(ocellus.NotReady, "The model version %s is not running.", id)
	}
	now := p.cfg.Now()
	p.refillLocked(h, now)
	if p.cfg.UnitTPS > 0 && h.tokens < 1 {
		h.rejected++
		err := ocellus.Errorf(ocellus.CapacityExceeded,
			"The request rate exceeds the %d inference unit(s) of model version %s.", h.units, id)
		p.mu.Unlock()
		return zero, nil, err
	}
	if h.inflight < p.slots(h) && len(h.waiters) == 0 {
		h.tokens--
		h.account(now)
		h.inflight++
		h.admitted++
		m := h.model
		p.mu.Unlock()
		return m, h, nil
	}
	if p.cfg.SlotWait < 0 {
		h.rejected++
		err := busyErr(h)
		p.mu.Unlock()
		return zero, nil, err
	}
	// Reserve the token now so waiters cannot overrun the rate; it is
	// refunded if the wait fails.
	h.tokens--
	w := &waiter{ch: make(chan struct{})}
	h.waiters = append(h.waiters, w)
	p.mu.Unlock()

	t := time.NewTimer(p.cfg.SlotWait)
	var ctxErr error
	select {
	case <-w.ch:
	case <-t.C:
	case <-ctx.Done():
		ctxErr = ctx.Err()
	}
	t.Stop()

	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case w.granted: // won the race against the timer: the slot is ours
		h.admitted++
		return h.model, h, nil
	case w.failed:
		return zero, nil, ocellus.Errorf(ocellus.NotReady, "The model version %s is stopping.", id)
	}
	for i, x := range h.waiters {
		if x == w {
			h.waiters = append(h.waiters[:i], h.waiters[i+1:]...)
			break
		}
	}
	h.tokens = min(h.tokens+1, float64(p.burst(h)))
	if ctxErr != nil {
		return zero, nil, ctxErr
	}
	h.rejected++
	return zero, nil, busyErr(h)
}

// busyErr reads h.units: call it with Pool.mu held.
func busyErr[M any](h *host[M]) error {
	return ocellus.Errorf(ocellus.CapacityExceeded,
		"All inference slots of the %d inference unit(s) of model version %s are busy.", h.units, h.id)
}

func (p *Pool[M]) release(h *host[M]) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h.state == Running && len(h.waiters) > 0 && h.inflight <= p.slots(h) {
		// Hand the slot over: inflight is unchanged, so is the busy integral.
		w := h.waiters[0]
		h.waiters = h.waiters[1:]
		w.granted = true
		close(w.ch)
		return
	}
	h.account(p.cfg.Now())
	h.inflight--
	if h.state == Stopping && h.inflight == 0 {
		p.finishLocked(h)
	}
}

// grantLocked hands newly available slots (after scaling up) to waiters.
func (p *Pool[M]) grantLocked(h *host[M], now time.Time) {
	for len(h.waiters) > 0 && h.inflight < p.slots(h) {
		w := h.waiters[0]
		h.waiters = h.waiters[1:]
		h.account(now)
		h.inflight++
		w.granted = true
		close(w.ch)
	}
}

func (p *Pool[M]) slots(h *host[M]) int { return h.units * p.cfg.SlotsPerUnit }
func (p *Pool[M]) burst(h *host[M]) int { return h.units * p.cfg.BurstPerUnit }

func (p *Pool[M]) refillLocked(h *host[M], now time.Time) {
	if p.cfg.UnitTPS <= 0 {
		return
	}
	if dt := now.Sub(h.refilled); dt > 0 { // a clock stepping back refills nothing
		h.tokens = min(h.tokens+dt.Seconds()*p.cfg.UnitTPS*float64(h.units), float64(p.burst(h)))
		h.refilled = now
	}
}

// account adds the slot-time used since the last change of inflight.
func (h *host[M]) account(now time.Time) {
	if dt := now.Sub(h.lastChange); dt > 0 {
		h.busy += time.Duration(h.inflight) * dt
	}
	h.lastChange = now
}

// Close stops every hosted version, waits for in-flight requests to finish
// and models to close, and stops the auto-scaler. Later calls to Start fail.
func (p *Pool[M]) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var gone []chan struct{}
	ids := make([]string, 0, len(p.hosts))
	for id, h := range p.hosts {
		ids = append(ids, id)
		gone = append(gone, h.gone)
	}
	p.mu.Unlock()
	for _, id := range ids {
		_ = p.Stop(id) // InUse for one already stopping is fine
	}
	for _, g := range gone {
		<-g
	}
	close(p.quit)
	p.wg.Wait()
	return nil
}

func (p *Pool[M]) notifyLocked(h *host[M]) {
	if p.cfg.OnState == nil {
		return
	}
	p.events = append(p.events, event{h.id, h.status()})
	p.kickLocked()
}

func (p *Pool[M]) kickLocked() {
	if p.cfg.OnState == nil {
		p.events = nil
		return
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// notifier delivers OnState events in the order they happened, off the
// lock, so a slow callback never stalls admission.
func (p *Pool[M]) notifier() {
	defer p.wg.Done()
	for {
		select {
		case <-p.kick:
		case <-p.quit:
			p.deliver()
			return
		}
		p.deliver()
	}
}

func (p *Pool[M]) deliver() {
	for {
		p.mu.Lock()
		evs := p.events
		p.events = nil
		p.mu.Unlock()
		if len(evs) == 0 {
			return
		}
		for _, e := range evs {
			p.cfg.OnState(e.id, e.s)
		}
	}
}

// IDs lists the ids in the pool (in any state), in no particular order.
func (p *Pool[M]) IDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.hosts))
	for id := range p.hosts {
		ids = append(ids, id)
	}
	return ids
}
