package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// fakeModel stands in for *vision.Model. A fake is right here: the real
// model lives in another package (internal/vision) and needs an ONNX
// backbone, while serve only needs something that takes time, can be held
// open on demand, and advances the injected clock as if it computed.
type fakeModel struct {
	gate    chan struct{} // nil: return at once; else block until closed
	entered chan struct{} // if set, signalled when a call holds its slot
	clock   *fakeClock    // if set, advanced by cost per call
	cost    time.Duration
	calls   atomic.Int64
	closed  atomic.Bool
}

var _ io.Closer = (*fakeModel)(nil)

func (m *fakeModel) Predict(ctx context.Context, img []byte) (string, error) {
	m.calls.Add(1)
	if m.entered != nil {
		m.entered <- struct{}{}
	}
	if m.gate != nil {
		<-m.gate
	}
	if m.clock != nil {
		m.clock.Advance(m.cost)
	}
	return "label", nil
}

func (m *fakeModel) Close() error { m.closed.Store(true); return nil }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder collects OnState notifications and lets a test wait for one.
type recorder struct {
	mu  sync.Mutex
	evs []string
	ch  chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1000)} }

func (r *recorder) on(id string, s Status) {
	r.mu.Lock()
	r.evs = append(r.evs, fmt.Sprintf("%s %s %d", id, s.State, s.Units))
	r.mu.Unlock()
	r.ch <- struct{}{}
}

// wait blocks until an event equal to want has been delivered.
func (r *recorder) wait(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		for _, e := range r.evs {
			if e == want {
				r.mu.Unlock()
				return
			}
		}
		got := append([]string(nil), r.evs...)
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("no event %q; got %q", want, got)
		}
	}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newPool returns a pool whose background scaler never fires during a test
// (tests call rescale themselves) and that is closed at cleanup.
func newPool(t *testing.T, cfg Config) (*Pool[*fakeModel], *recorder) {
	t.Helper()
	rec := newRecorder()
	cfg.ScaleInterval = time.Hour
	cfg.Logger = quiet()
	cfg.OnState = rec.on
	p := New[*fakeModel](cfg)
	t.Cleanup(func() { p.Close() })
	return p, rec
}

func loaderOf(m *fakeModel) Loader[*fakeModel] {
	return func(context.Context) (*fakeModel, error) { return m, nil }
}

func predict(p *Pool[*fakeModel], id string) error {
	return p.Do(context.Background(), id, func(ctx context.Context, m *fakeModel) error {
		_, err := m.Predict(ctx, nil)
		return err
	})
}

func start(t *testing.T, p *Pool[*fakeModel], rec *recorder, id string, minU, maxU int, m *fakeModel) {
	t.Helper()
	if err := p.Start(context.Background(), id, minU, maxU, loaderOf(m)); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, fmt.Sprintf("%s RUNNING %d", id, minU))
}

func kind(err error) ocellus.Kind {
	if err == nil {
		return -1
	}
	return ocellus.KindOf(err)
}

func TestCapacitySlots(t *testing.T) {
	const slots, extra = 3, 2
	p, rec := newPool(t, Config{SlotsPerUnit: slots, UnitTPS: -1, SlotWait: -1, Now: newClock().Now})
	m := &fakeModel{gate: make(chan struct{}), entered: make(chan struct{}, slots+extra)}
	start(t, p, rec, "v", 1, 1, m)

	// slots+extra concurrent slow requests on one unit: exactly slots are
	// admitted (they block in the model), exactly extra are rejected.
	errs := make(chan error, slots+extra)
	for range slots + extra {
		go func() { errs <- predict(p, "v") }()
	}
	for range extra {
		if err := <-errs; kind(err) != ocellus.CapacityExceeded {
			t.Fatalf("want CapacityExceeded, got %v", err)
		}
	}
	for range slots {
		<-m.entered
	}
	if s, _ := p.State("v"); s.InFlight != slots {
		t.Fatalf("in flight %d, want %d", s.InFlight, slots)
	}
	close(m.gate)
	for range slots {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if s, _ := p.State("v"); s.InFlight != 0 {
		t.Fatalf("in flight %d after all returned", s.InFlight)
	}
}

func TestSlotWaitHandsOver(t *testing.T) {
	p, rec := newPool(t, Config{SlotsPerUnit: 1, UnitTPS: -1, SlotWait: time.Minute, Now: newClock().Now})
	m := &fakeModel{gate: make(chan struct{}), entered: make(chan struct{}, 2)}
	start(t, p, rec, "v", 1, 1, m)
	first, second := make(chan error, 1), make(chan error, 1)
	go func() { first <- predict(p, "v") }()
	<-m.entered
	go func() { second <- predict(p, "v") }()
	pollState(t, p, "v", func(s Status) bool { return s.Waiting == 1 })
	close(m.gate) // first returns and hands its slot to the waiter
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatalf("queued request: %v", err)
	}
}

func TestSlotWaitTimesOut(t *testing.T) {
	p, rec := newPool(t, Config{SlotsPerUnit: 1, UnitTPS: -1, SlotWait: time.Millisecond, Now: newClock().Now})
	m := &fakeModel{gate: make(chan struct{}), entered: make(chan struct{}, 2)}
	start(t, p, rec, "v", 1, 1, m)
	first := make(chan error, 1)
	go func() { first <- predict(p, "v") }()
	<-m.entered
	if err := predict(p, "v"); kind(err) != ocellus.CapacityExceeded {
		t.Fatalf("want CapacityExceeded after the slot wait, got %v", err)
	}
	if s, _ := p.State("v"); s.Waiting != 0 {
		t.Fatalf("waiter left behind: %+v", s)
	}
	close(m.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

// pollState polls with a deadline: the state it waits for is reached by
// another goroutine with no event to wait on.
func pollState(t *testing.T, p *Pool[*fakeModel], id string, ok func(Status) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := p.State(id)
		if err == nil && ok(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state never reached: %+v %v", s, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTokenBucket(t *testing.T) {
	clk := newClock()
	p, rec := newPool(t, Config{SlotsPerUnit: 100, UnitTPS: 10, BurstPerUnit: 5, Now: clk.Now})
	start(t, p, rec, "v", 1, 1, &fakeModel{})

	burst := func(want int) {
		t.Helper()
		for i := range want {
			if err := predict(p, "v"); err != nil {
				t.Fatalf("request %d of %d: %v", i+1, want, err)
			}
		}
		if err := predict(p, "v"); kind(err) != ocellus.CapacityExceeded {
			t.Fatalf("request %d: want CapacityExceeded, got %v", want+1, err)
		}
	}
	burst(5)                            // a full bucket
	clk.Advance(100 * time.Millisecond) // 10/s * 0.1 s = 1 token
	burst(1)
	clk.Advance(250 * time.Millisecond) // 2.5 tokens
	burst(2)                            // half a token left over
	clk.Advance(50 * time.Millisecond)  // + 0.5
	burst(1)
	clk.Advance(time.Hour) // capped at the burst
	burst(5)
	clk.Advance(-time.Minute) // a clock stepping back refills nothing
	burst(0)
}

func TestScaleUpAndDown(t *testing.T) {
	clk := newClock()
	p, rec := newPool(t, Config{SlotsPerUnit: 100, UnitTPS: 10, BurstPerUnit: 5,
		ScaleUpAfter: 2, ScaleDownAfter: 2, Now: clk.Now})
	start(t, p, rec, "v", 1, 3, &fakeModel{})

	// interval sends n requests spread over one second, then rescales.
	interval := func(n int) (rejected int) {
		if n == 0 {
			clk.Advance(time.Second)
		}
		for range n {
			clk.Advance(time.Second / time.Duration(n))
			if err := predict(p, "v"); kind(err) == ocellus.CapacityExceeded {
				rejected++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		p.rescale()
		return rejected
	}
	units := func() int { s, _ := p.State("v"); return s.Units }
	steps := []struct {
		rps, units int
	}{
		{40, 1}, {40, 2}, // sustained overload: up after 2 hot intervals
		{40, 2}, {40, 3}, // and again
		{40, 3}, {40, 3}, {40, 3}, // never above Max
		{25, 3}, {25, 3}, // 25 rps on 30 TPS: 83% hot, but already at Max
		{12, 3},        // 40%, on 2 units 60%: neither hot nor cold, resets the streaks
		{8, 3}, {8, 2}, // 27%, 40% on 2 units: cold twice -> down
		{0, 2}, {0, 1}, // idle
		{0, 1}, {0, 1}, {0, 1}, // never below Min
	}
	for i, s := range steps {
		interval(s.rps)
		if got := units(); got != s.units {
			t.Fatalf("step %d (%d rps): %d units, want %d", i, s.rps, got, s.units)
		}
	}
	for _, n := range []int{1, 2, 3, 2, 1} {
		rec.wait(t, fmt.Sprintf("v RUNNING %d", n))
	}
}

func TestScaleUpOnSlotUtilisation(t *testing.T) {
	// No rejections at all: each request holds the single slot for 90 ms
	// of (fake) compute, so the slot is 90% busy at 10 rps.
	clk := newClock()
	p, rec := newPool(t, Config{SlotsPerUnit: 1, UnitTPS: -1, ScaleUpAfter: 1, Now: clk.Now})
	start(t, p, rec, "v", 1, 2, &fakeModel{clock: clk, cost: 90 * time.Millisecond})
	for range 10 {
		if err := predict(p, "v"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(10 * time.Millisecond)
	}
	p.rescale()
	if s, _ := p.State("v"); s.Units != 2 {
		t.Fatalf("units %d, want 2 at 90%% slot utilisation", s.Units)
	}
}

func TestNoAutoScaleWithoutMax(t *testing.T) {
	clk := newClock()
	p, rec := newPool(t, Config{SlotsPerUnit: 1, UnitTPS: 1, BurstPerUnit: 1, ScaleUpAfter: 1, Now: clk.Now})
	start(t, p, rec, "v", 2, 0, &fakeModel{}) // Max omitted = Min
	for range 5 {
		for range 10 {
			predict(p, "v")
		}
		clk.Advance(time.Second)
		p.rescale()
	}
	if s, _ := p.State("v"); s.Units != 2 || s.MaxUnits != 2 {
		t.Fatalf("%+v, want 2 units fixed", s)
	}
}

func TestStopDuringInFlight(t *testing.T) {
	p, rec := newPool(t, Config{SlotsPerUnit: 2, UnitTPS: -1, SlotWait: time.Minute, Now: newClock().Now})
	m := &fakeModel{gate: make(chan struct{}), entered: make(chan struct{}, 2)}
	start(t, p, rec, "v", 1, 1, m)
	inflight := make(chan error, 2)
	for range 2 {
		go func() { inflight <- predict(p, "v") }()
		<-m.entered
	}
	queued := make(chan error, 1)
	go func() { queued <- predict(p, "v") }()
	pollState(t, p, "v", func(s Status) bool { return s.Waiting == 1 })

	if err := p.Stop("v"); err != nil {
		t.Fatal(err)
	}
	if err := <-queued; kind(err) != ocellus.NotReady {
		t.Fatalf("queued request: want NotReady, got %v", err)
	}
	if err := predict(p, "v"); kind(err) != ocellus.NotReady {
		t.Fatalf("new request while stopping: want NotReady, got %v", err)
	}
	if s, err := p.State("v"); err != nil || s.State != Stopping || s.InFlight != 2 {
		t.Fatalf("%+v %v, want STOPPING with 2 in flight", s, err)
	}
	if err := p.Stop("v"); kind(err) != ocellus.InUse {
		t.Fatalf("second Stop: want InUse, got %v", err)
	}
	if err := p.Start(context.Background(), "v", 1, 1, loaderOf(m)); kind(err) != ocellus.InUse {
		t.Fatalf("Start while stopping: want InUse, got %v", err)
	}
	if m.closed.Load() {
		t.Fatal("model closed under in-flight requests")
	}
	close(m.gate)
	for range 2 {
		if err := <-inflight; err != nil {
			t.Fatalf("in-flight request: %v", err)
		}
	}
	rec.wait(t, "v STOPPED 0")
	if _, err := p.State("v"); kind(err) != ocellus.NotFound {
		t.Fatalf("State after stop: want NotFound, got %v", err)
	}
	if !m.closed.Load() {
		t.Fatal("model not closed")
	}
	if err := p.Stop("v"); kind(err) != ocellus.NotFound {
		t.Fatalf("Stop after stop: want NotFound, got %v", err)
	}
	start(t, p, rec, "v", 1, 1, &fakeModel{}) // the id is free again
}

func TestStartTwice(t *testing.T) {
	p, rec := newPool(t, Config{Now: newClock().Now})
	release := make(chan struct{})
	slow := func(ctx context.Context) (*fakeModel, error) { <-release; return &fakeModel{}, nil }
	if err := p.Start(context.Background(), "v", 1, 1, slow); err != nil {
		t.Fatal(err)
	}
	if s, _ := p.State("v"); s.State != Starting {
		t.Fatalf("%+v, want STARTING", s)
	}
	if err := predict(p, "v"); kind(err) != ocellus.NotReady {
		t.Fatalf("predict while starting: want NotReady, got %v", err)
	}
	if err := p.Start(context.Background(), "v", 1, 1, slow); kind(err) != ocellus.InUse {
		t.Fatalf("Start while starting: want InUse, got %v", err)
	}
	close(release)
	rec.wait(t, "v RUNNING 1")
	if err := p.Start(context.Background(), "v", 1, 1, slow); kind(err) != ocellus.InUse {
		t.Fatalf("Start while running: want InUse, got %v", err)
	}
}

func TestStartValidation(t *testing.T) {
	p, _ := newPool(t, Config{})
	for _, u := range [][2]int{{0, 0}, {-1, 2}, {3, 2}} {
		if err := p.Start(context.Background(), "v", u[0], u[1], loaderOf(&fakeModel{})); kind(err) != ocellus.Invalid {
			t.Errorf("units %v: want Invalid, got %v", u, err)
		}
	}
}

func TestLoaderFailure(t *testing.T) {
	p, rec := newPool(t, Config{Now: newClock().Now})
	bad := func(context.Context) (*fakeModel, error) { return nil, errors.New("artifact checksum mismatch") }
	if err := p.Start(context.Background(), "v", 1, 1, bad); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "v FAILED 1")
	s, err := p.State("v")
	if err != nil || s.State != Failed || s.Message != "artifact checksum mismatch" {
		t.Fatalf("%+v %v", s, err)
	}
	if err := predict(p, "v"); kind(err) != ocellus.NotReady {
		t.Fatalf("predict on FAILED: want NotReady, got %v", err)
	}
	// A panicking loader fails the version, not the server.
	boom := func(context.Context) (*fakeModel, error) { panic("corrupt head") }
	if err := p.Start(context.Background(), "v", 1, 1, boom); err != nil {
		t.Fatalf("restart of a FAILED version: %v", err)
	}
	pollState(t, p, "v", func(s Status) bool { return s.State == Failed && s.Message == "model loader panicked: corrupt head" })
	start(t, p, rec, "v", 1, 1, &fakeModel{}) // and it can start again
}

func TestStopWhileStarting(t *testing.T) {
	p, rec := newPool(t, Config{Now: newClock().Now})
	m := &fakeModel{}
	waitCancel := func(ctx context.Context) (*fakeModel, error) { <-ctx.Done(); return m, nil }
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Start(ctx, "v", 1, 1, waitCancel); err != nil {
		t.Fatal(err)
	}
	cancel() // the request that started it ending must not cancel the load
	if s, _ := p.State("v"); s.State != Starting {
		t.Fatalf("%+v, want STARTING", s)
	}
	if err := p.Stop("v"); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "v STOPPED 0")
	if !m.closed.Load() {
		t.Fatal("a model loaded after Stop was not closed")
	}
}

func TestCloseDrains(t *testing.T) {
	p := New[*fakeModel](Config{Logger: quiet(), UnitTPS: -1})
	m := &fakeModel{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	if err := p.Start(context.Background(), "v", 1, 1, loaderOf(m)); err != nil {
		t.Fatal(err)
	}
	pollState(t, p, "v", func(s Status) bool { return s.State == Running })
	done := make(chan error, 1)
	go func() { done <- predict(p, "v") }()
	<-m.entered
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	pollState(t, p, "v", func(s Status) bool { return s.State == Stopping })
	close(m.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-closed
	if !m.closed.Load() {
		t.Fatal("model not closed by Close")
	}
	if err := p.Start(context.Background(), "w", 1, 1, loaderOf(m)); kind(err) != ocellus.NotReady {
		t.Fatalf("Start after Close: %v", err)
	}
}

// TestConcurrent is for -race: many callers, a scaler, observers and a stop.
func TestConcurrent(t *testing.T) {
	p, rec := newPool(t, Config{SlotsPerUnit: 2, UnitTPS: 2000, SlotWait: time.Millisecond})
	var ok, rejected atomic.Int64
	start(t, p, rec, "v", 1, 4, &fakeModel{})
	var wg sync.WaitGroup
	const callers, each = 8, 300
	for range callers {
		wg.Go(func() {
			for range each {
				switch err := predict(p, "v"); kind(err) {
				case -1:
					ok.Add(1)
				case ocellus.CapacityExceeded:
					rejected.Add(1)
				default:
					t.Error(err)
				}
			}
		})
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				p.rescale()
				p.State("v")
			}
		}
	})
	wg.Wait()
	close(stop)
	bg.Wait()
	if ok.Load()+rejected.Load() != callers*each || ok.Load() == 0 {
		t.Fatalf("ok %d + rejected %d != %d", ok.Load(), rejected.Load(), callers*each)
	}
	if s, _ := p.State("v"); s.InFlight != 0 || s.Waiting != 0 || s.Units < 1 || s.Units > 4 {
		t.Fatalf("%+v", s)
	}
	if err := p.Stop("v"); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "v STOPPED 0")
}

func TestMaxTotalUnits(t *testing.T) {
	clk := newClock()
	p, rec := newPool(t, Config{SlotsPerUnit: 100, UnitTPS: 10, BurstPerUnit: 1, ScaleUpAfter: 1,
		MaxTotalUnits: 3, Now: clk.Now})
	start(t, p, rec, "a", 2, 3, &fakeModel{})
	if err := p.Start(context.Background(), "b", 2, 2, loaderOf(&fakeModel{})); kind(err) != ocellus.LimitExceeded {
		t.Fatalf("want LimitExceeded, got %v", err)
	}
	start(t, p, rec, "b", 1, 2, &fakeModel{}) // fits exactly: 3 of 3
	for range 3 {                             // both overloaded: neither may grow
		for range 50 {
			predict(p, "a")
			predict(p, "b")
		}
		clk.Advance(time.Second)
		p.rescale()
	}
	sa, _ := p.State("a")
	sb, _ := p.State("b")
	if sa.Units != 2 || sb.Units != 1 {
		t.Fatalf("units a=%d b=%d, want 2 and 1 under a cap of 3", sa.Units, sb.Units)
	}
}

// Units counts what running versions hold, not what failed or stopped
// ones held.
func TestUnits(t *testing.T) {
	p, rec := newPool(t, Config{})
	if n := p.Units(); n != 0 {
		t.Fatalf("empty pool: %d units", n)
	}
	start(t, p, rec, "a", 2, 4, &fakeModel{})
	start(t, p, rec, "b", 1, 0, &fakeModel{})
	if err := p.Start(context.Background(), "bad", 3, 0, func(context.Context) (*fakeModel, error) {
		return nil, errors.New("no artifact")
	}); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "bad FAILED 3")
	if n := p.Units(); n != 3 {
		t.Fatalf("a(2) + b(1) running, bad failed: %d units, want 3", n)
	}
	if err := p.Stop("a"); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "a STOPPED 0")
	if n := p.Units(); n != 1 {
		t.Fatalf("after stopping a: %d units, want 1", n)
	}
}

// TestResize: a node's share of a version's units changes with the leases
// it holds: growing admits more at once (and hands slots to waiters),
// shrinking admits fewer, auto-scaling stays off, and a stopping or absent
// version cannot be resized.
func TestResize(t *testing.T) {
	p, rec := newPool(t, Config{SlotsPerUnit: 1, UnitTPS: -1, SlotWait: time.Minute, ScaleUpAfter: 1, Now: newClock().Now})
	m := &fakeModel{gate: make(chan struct{}), entered: make(chan struct{}, 3)}
	start(t, p, rec, "v", 1, 3, m)
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- predict(p, "v") }()
	}
	<-m.entered // one slot: one runs, two wait
	if err := p.Resize("v", 3); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "v RUNNING 3")
	<-m.entered // the waiters got the new slots
	<-m.entered
	if s, _ := p.State("v"); s.Units != 3 || s.MinUnits != 3 || s.MaxUnits != 3 || s.InFlight != 3 {
		t.Fatalf("after growing: %+v", s)
	}
	close(m.gate)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Resize("v", 1); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "v RUNNING 1")
	for range 3 { // idle or hot, the scaler leaves a resized version alone
		predict(p, "v")
		p.rescale()
	}
	if s, _ := p.State("v"); s.Units != 1 || s.MaxUnits != 1 {
		t.Fatalf("after shrinking: %+v", s)
	}
	if kind(p.Resize("v", 0)) != ocellus.Invalid || kind(p.Resize("nope", 1)) != ocellus.NotFound {
		t.Fatal("Resize accepted 0 units or an absent id")
	}
	if err := p.Stop("v"); err != nil {
		t.Fatal(err)
	}
	if err := p.Resize("v", 2); err != nil && kind(err) != ocellus.InUse && kind(err) != ocellus.NotFound {
		t.Fatalf("resizing a stopping version: %v", err)
	} else if err == nil {
		t.Fatal("a stopping version was resized")
	}
}
