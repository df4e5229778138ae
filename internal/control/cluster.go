package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/serve"
	"github.com/ocellus/ocellus/internal/store"
)

// Hosting across nodes. When several nodes share one database, the
// inference units of a started Custom Labels version or Lookout for Vision
// model are leases in the store (store.HostingStore), one per unit. Every
// node runs a heartbeat that registers it (with the URL it answers
// forwarded requests on), renews its leases, claims its fair share of the
// units of every started model (free ones, and those whose node stopped
// renewing them), and sizes its local hosting pools to the leases it holds.
// A node asked to run a model it does not host forwards the request to one
// that does (forward.go). The stored status (RUNNING, HOSTED) is the
// model's, not a node's: a node dying changes only who holds its units.

// Defaults of ClusterConfig.
const (
	DefaultHeartbeat = 2 * time.Second
	DefaultLeaseTTL  = 10 * time.Second
)

// ClusterConfig turns on hosting across nodes.
type ClusterConfig struct {
	// Node is this node's id (--node-id); URL is where the others reach
	// its internal endpoint (ClusterPath).
	Node, URL string
	// Secret authenticates forwarded requests in both directions
	// (--cluster-secret); required.
	Secret string
	// Heartbeat is how often leases are renewed and placement is checked;
	// LeaseTTL how long a lease lasts without renewal, so a dead node's
	// units move within about LeaseTTL+Heartbeat. Defaults
	// DefaultHeartbeat and DefaultLeaseTTL.
	Heartbeat, LeaseTTL time.Duration
	// Client sends forwarded requests; default a client with a 60 s timeout.
	Client *http.Client
}

// cluster is the hosting placement of one node.
type cluster struct {
	c        *Control
	cfg      ClusterConfig
	products []*hostedProduct

	kick chan struct{}
	quit chan struct{}
	done chan struct{}

	mu     sync.Mutex
	leases []store.Lease         // as read by the last heartbeat (or refresh)
	nodes  map[string]store.Node // likewise
	down   map[string]time.Time  // nodes a forwarded call could not reach, skipped until then
	rr     atomic.Uint64         // round-robin over holders
	closed atomic.Bool
}

// hostedProduct is what placement needs of one product's hosting: which
// models are started (and with how many units), which are stopping, how to
// load one into the local pool, and the pool itself.
type hostedProduct struct {
	name string
	// started lists the models to host (being started or running), with
	// their units.
	started func(ctx context.Context) (map[string]int, error)
	// stopping lists the models whose stop is under way.
	stopping func(ctx context.Context) ([]string, error)
	// phase tells where a model's stored status is.
	phase func(ctx context.Context, arn string) (phase, error)
	// host loads the model into the local pool with units units.
	host func(ctx context.Context, arn string, units int) error
	// save records a pool state change as the stored status (the
	// single-node hostingState).
	save func(arn string, st serve.Status)
	pool interface {
		Stop(id string) error
		Resize(id string, units int) error
		State(id string) (serve.Status, error)
		IDs() []string
	}
}

type phase int

const (
	phaseOther phase = iota
	phaseStarting
	phaseRunning
	phaseStopping
)

// StartCluster turns on hosting across nodes: call it once, before
// Recover, on every node of a shared database. Hosting then follows the
// leases; Close releases this node's leases so that the others take its
// units at their next heartbeat.
func (c *Control) StartCluster(cfg ClusterConfig) error {
	if cfg.Node == "" || cfg.URL == "" || cfg.Secret == "" {
		return errors.New("cluster: a node id, an internal URL and a cluster secret are required")
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.LeaseTTL < 2*cfg.Heartbeat {
		return fmt.Errorf("cluster: the lease time (%s) must be at least two heartbeats (%s)", cfg.LeaseTTL, cfg.Heartbeat)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 60 * time.Second}
	}
	k := &cluster{c: c, cfg: cfg, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		nodes: map[string]store.Node{}, down: map[string]time.Time{}}
	k.products = append(k.products, c.versionHosting())
	if l := c.lookout.Load(); l != nil {
		k.products = append(k.products, l.modelHosting())
	}
	if !c.cluster.CompareAndSwap(nil, k) {
		return errors.New("cluster: already started")
	}
	// The first round runs now, so that this node is registered and holds
	// its share before it answers requests.
	k.heartbeat(context.Background())
	go k.loop()
	return nil
}

func (k *cluster) loop() {
	defer close(k.done)
	t := time.NewTicker(k.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-k.quit:
			return
		case <-t.C:
		case <-k.kick:
		}
		k.heartbeat(context.Background())
	}
}

// poke asks for a heartbeat now (a model was started or stopped here).
func (k *cluster) poke() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

// stop ends the heartbeat and gives up this node's leases and node row
// (the pools are stopped by Close afterwards, without saving statuses).
func (k *cluster) stop() {
	if !k.closed.CompareAndSwap(false, true) {
		return
	}
	close(k.quit)
	<-k.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := k.c.store.ReleaseLeases(ctx, k.cfg.Node, ""); err != nil {
		k.c.log.Warn("cluster: release leases", "err", err)
	}
	if err := k.c.store.DeleteNode(ctx, k.cfg.Node); err != nil {
		k.c.log.Warn("cluster: remove node", "err", err)
	}
}

// heartbeat is one round: register, renew, then place every product.
// Errors are logged; the next round tries again (leases last several
// rounds).
func (k *cluster) heartbeat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, k.cfg.LeaseTTL/2)
	defer cancel()
	now := k.c.now()
	expires := now.Add(k.cfg.LeaseTTL)
	if err := k.c.store.PutNode(ctx, store.Node{ID: k.cfg.Node, URL: k.cfg.URL, Expires: expires}); err != nil {
		k.c.log.Warn("cluster: heartbeat", "err", err)
		return
	}
	if _, err := k.c.store.RenewLeases(ctx, k.cfg.Node, expires); err != nil {
		k.c.log.Warn("cluster: renew leases", "err", err)
		return
	}
	if err := k.refresh(ctx); err != nil {
		k.c.log.Warn("cluster: read leases", "err", err)
		return
	}
	for _, p := range k.products {
		if err := k.place(ctx, p, now, expires); err != nil {
			k.c.log.Warn("cluster: placement", "product", p.name, "err", err)
		}
	}
	if err := k.refresh(ctx); err != nil {
		k.c.log.Warn("cluster: read leases", "err", err)
	}
}

// refresh reads the leases and nodes into the snapshot forwarding uses.
func (k *cluster) refresh(ctx context.Context) error {
	ls, err := k.c.store.Leases(ctx)
	if err != nil {
		return err
	}
	ns, err := k.c.store.Nodes(ctx)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.leases = ls
	k.nodes = map[string]store.Node{}
	for _, n := range ns {
		k.nodes[n.ID] = n
	}
	return nil
}

// liveNodes counts the nodes whose row has not expired (this one included).
func (k *cluster) liveNodes(now time.Time) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, x := range k.nodes {
		if x.Expires.After(now) {
			n++
		}
	}
	return max(n, 1)
}

// place claims this node's share of each started model's units, hosts
// the model locally with the units it holds (stopping it when it holds
// none), lets go of models no longer started, and settles stops that no
// node holds units for any more.
func (k *cluster) place(ctx context.Context, p *hostedProduct, now, expires time.Time) error {
	started, err := p.started(ctx)
	if err != nil {
		return err
	}
	k.mu.Lock()
	byARN := map[string][]store.Lease{} // this product's leases
	for _, l := range k.leases {
		if p.owns(l.ARN) {
			byARN[l.ARN] = append(byARN[l.ARN], l)
		}
	}
	k.mu.Unlock()
	live := k.liveNodes(now)
	me := k.cfg.Node
	for arn, units := range started {
		held := map[int]store.Lease{}
		mine := 0
		for _, l := range byARN[arn] {
			if l.Unit >= units { // more leases than units: let ours go
				if l.Node == me {
					if err := k.c.store.ReleaseLeases(ctx, me, arn); err != nil {
						return err
					}
				}
				continue
			}
			if l.Live(now) {
				held[l.Unit] = l
				if l.Node == me {
					mine++
				}
			}
		}
		// A fair share: with n live nodes each takes at most
		// ceil(units/n), so units spread out and, once a node is gone, the
		// survivors' shares grow to cover its units.
		share := (units + live - 1) / live
		for u := 0; u < units && mine < share; u++ {
			if _, ok := held[u]; ok {
				continue
			}
			ok, err := k.c.store.ClaimLease(ctx, store.Lease{ARN: arn, Unit: u, Node: me, Expires: expires}, now)
			if err != nil {
				return err
			}
			if ok {
				mine++
				k.c.log.Info("cluster: took an inference unit", "model", arn, "unit", u, "node", me)
			}
		}
		if err := k.hostLocally(ctx, p, arn, mine); err != nil {
			k.c.log.Warn("cluster: host", "model", arn, "err", err)
		}
	}
	// Models hosted here that are no longer started (stopped, deleted):
	// stop them; their Stopped event releases the leases.
	for _, id := range p.pool.IDs() {
		if _, ok := started[id]; !ok {
			if err := p.pool.Stop(id); err != nil && ocellus.KindOf(err) != ocellus.InUse && ocellus.KindOf(err) != ocellus.NotFound {
				k.c.log.Warn("cluster: stop", "model", id, "err", err)
			}
		}
	}
	for arn, ls := range byARN {
		if _, ok := started[arn]; ok {
			continue
		}
		for _, l := range ls {
			if l.Node == me {
				if _, err := p.pool.State(arn); err != nil { // not (or no longer) in the pool
					if err := k.c.store.ReleaseLeases(ctx, me, arn); err != nil {
						return err
					}
				}
				break
			}
		}
	}
	stopping, err := p.stopping(ctx)
	if err != nil {
		return err
	}
	for _, arn := range stopping {
		k.settle(ctx, p, arn, now)
	}
	return nil
}

// hostLocally makes the local pool host arn with units units (none: not
// at all).
func (k *cluster) hostLocally(ctx context.Context, p *hostedProduct, arn string, units int) error {
	st, err := p.pool.State(arn)
	inPool := err == nil
	switch {
	case units == 0 && inPool && st.State != serve.Stopping:
		return p.pool.Stop(arn)
	case units == 0:
		return nil
	case !inPool || st.State == serve.Failed:
		return p.host(ctx, arn, units)
	case st.State == serve.Stopping:
		return nil // started again while its stop finishes: the next round hosts it
	case st.Units != units:
		return p.pool.Resize(arn, units)
	}
	return nil
}

// settle ends a stop once no node holds a live unit of the model: the
// stored status becomes STOPPED (TRAINED) and the leases left by dead
// nodes are removed.
func (k *cluster) settle(ctx context.Context, p *hostedProduct, arn string, now time.Time) {
	if _, err := p.pool.State(arn); err == nil {
		return // still stopping here: its Stopped event settles
	}
	ls, err := k.c.store.Leases(ctx)
	if err != nil {
		k.c.log.Warn("cluster: read leases", "err", err)
		return
	}
	for _, l := range ls {
		if l.ARN == arn && l.Live(now) && l.Node != k.cfg.Node {
			return // another node still holds a unit
		}
	}
	if err := k.c.store.DeleteLeases(ctx, arn); err != nil {
		k.c.log.Warn("cluster: delete leases", "model", arn, "err", err)
		return
	}
	if ph, err := p.phase(ctx, arn); err == nil && ph == phaseStopping {
		p.save(arn, serve.Status{State: serve.Stopped})
	}
}

// onState records a local pool's state change. The stored status is the
// model's across nodes: RUNNING (HOSTED) and FAILED only end a start, and
// a local stop only releases this node's leases, ending the model's stop
// when no node holds any.
func (k *cluster) onState(p *hostedProduct, arn string, st serve.Status) {
	ctx := context.Background()
	switch st.State {
	case serve.Running, serve.Failed:
		if ph, err := p.phase(ctx, arn); err == nil && ph == phaseStarting {
			p.save(arn, st)
		} else if st.State == serve.Failed {
			k.c.log.Warn("cluster: model failed to load on this node", "model", arn, "node", k.cfg.Node, "err", st.Message)
		}
	case serve.Stopped:
		if err := k.c.store.ReleaseLeases(ctx, k.cfg.Node, arn); err != nil {
			k.c.log.Warn("cluster: release leases", "model", arn, "err", err)
		}
		if ph, err := p.phase(ctx, arn); err == nil && ph == phaseStopping {
			k.settle(ctx, p, arn, k.c.now())
		}
	}
}

// holders lists the nodes (other than this one) holding live units of
// arn, one entry per unit, with their URLs, skipping nodes that recently
// could not be reached.
func (k *cluster) holders(arn string, now time.Time) []store.Node {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []store.Node
	for _, l := range k.leases {
		if l.ARN != arn || l.Node == k.cfg.Node || !l.Live(now) {
			continue
		}
		n, ok := k.nodes[l.Node]
		if !ok || !n.Expires.After(now) || k.down[l.Node].After(now) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// units counts the live units of arn on every node.
func (k *cluster) units(arn string, now time.Time) (units, nodes int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var seen []string
	for _, l := range k.leases {
		if l.ARN == arn && l.Live(now) {
			units++
			if !slices.Contains(seen, l.Node) {
				seen = append(seen, l.Node)
			}
		}
	}
	return units, len(seen)
}

func (k *cluster) markDown(node string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.down[node] = k.c.now().Add(k.cfg.LeaseTTL)
}

// versionHosting is placement's view of Custom Labels hosting.
func (c *Control) versionHosting() *hostedProduct {
	return &hostedProduct{
		name: ocellus.Rekognition,
		started: func(ctx context.Context) (map[string]int, error) {
			vs, err := c.store.VersionsInState(ctx, ocellus.VersionStarting, ocellus.VersionRunning)
			if err != nil {
				return nil, err
			}
			out := map[string]int{}
			for _, v := range vs {
				out[v.ARN] = max(v.MinUnits, 1)
			}
			return out, nil
		},
		stopping: func(ctx context.Context) ([]string, error) {
			vs, err := c.store.VersionsInState(ctx, ocellus.VersionStopping)
			var arns []string
			for _, v := range vs {
				arns = append(arns, v.ARN)
			}
			return arns, err
		},
		phase: func(ctx context.Context, arn string) (phase, error) {
			v, err := c.store.Version(ctx, arn)
			if err != nil {
				return phaseOther, err
			}
			switch v.Status {
			case ocellus.VersionStarting:
				return phaseStarting, nil
			case ocellus.VersionRunning:
				return phaseRunning, nil
			case ocellus.VersionStopping:
				return phaseStopping, nil
			}
			return phaseOther, nil
		},
		host: func(ctx context.Context, arn string, units int) error {
			v, err := c.store.Version(ctx, arn)
			if err != nil {
				return err
			}
			return c.hostUnits(ctx, v, units, units)
		},
		save: c.hostingState,
		pool: c.pool,
	}
}

// modelHosting is placement's view of Lookout for Vision hosting.
func (l *Lookout) modelHosting() *hostedProduct {
	return &hostedProduct{
		name: ocellus.LookoutVision,
		started: func(ctx context.Context) (map[string]int, error) {
			ms, err := l.c.store.LookoutModelsByStatus(ctx, ocellus.ModelStartingHosting, ocellus.ModelHosted)
			if err != nil {
				return nil, err
			}
			out := map[string]int{}
			for _, m := range ms {
				out[m.ARN] = max(m.MinUnits, 1)
			}
			return out, nil
		},
		stopping: func(ctx context.Context) ([]string, error) {
			ms, err := l.c.store.LookoutModelsByStatus(ctx, ocellus.ModelStoppingHosting)
			var arns []string
			for _, m := range ms {
				arns = append(arns, m.ARN)
			}
			return arns, err
		},
		phase: func(ctx context.Context, arn string) (phase, error) {
			m, err := l.modelByARN(ctx, arn)
			if err != nil {
				return phaseOther, err
			}
			switch m.Status {
			case ocellus.ModelStartingHosting:
				return phaseStarting, nil
			case ocellus.ModelHosted:
				return phaseRunning, nil
			case ocellus.ModelStoppingHosting:
				return phaseStopping, nil
			}
			return phaseOther, nil
		},
		host: func(ctx context.Context, arn string, units int) error {
			m, err := l.modelByARN(ctx, arn)
			if err != nil {
				return err
			}
			return l.load(ctx, m, units)
		},
		save: l.hostingState,
		pool: l.pool,
	}
}

// owns reports whether arn is one of the product's models (by the service
// the ARN names).
func (p *hostedProduct) owns(arn string) bool {
	a, err := ocellus.ParseARN(arn)
	return err == nil && a.Service == p.name
}

// product returns placement's view of the product named name.
func (k *cluster) product(name string) *hostedProduct {
	for _, p := range k.products {
		if p.name == name {
			return p
		}
	}
	return nil
}
