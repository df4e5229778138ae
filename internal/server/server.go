// Package server wires the service together: one listener serving
// Rekognition (awsJson1.1), Lookout for Vision (restJson1 under
// /2020-11-20/) and the embedded S3 endpoint (path-style), routed by the
// SigV4 credential scope and the request's shape.
package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/blob"
	"github.com/ocellus/ocellus/internal/jobs"
	"github.com/ocellus/ocellus/internal/keyring"
	"github.com/ocellus/ocellus/internal/vision/backbone"

	"github.com/ocellus/ocellus/internal/api/lookoutvision"
	"github.com/ocellus/ocellus/internal/api/rekognition"
	"github.com/ocellus/ocellus/internal/console"
	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/expect"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/sigv4"
	"github.com/ocellus/ocellus/internal/space"
	"github.com/ocellus/ocellus/internal/store"
	"github.com/ocellus/ocellus/internal/store/sqlite"
)

// Config configures a Server. Zero values are the documented defaults.
type Config struct {
	DataDir    string            // default "./data"
	Region     string            // default "us-east-1"
	Accounts   []ocellus.Account // default: DefaultAccount
	Database   string            // "" = SQLite file <DataDir>/ocellus.db
	S3Endpoint string            // "" = the embedded S3 endpoint
	// Backbone is an ONNX backbone file; "" or "builtin" selects the
	// built-in, weight-free extractor (lower accuracy).
	Backbone string
	// DetectionBackbone is the ONNX file detection models are trained on
	// (e.g. yolox_nano.onnx, whose features are trained for boxes); ""
	// uses Backbone at the detection input size.
	DetectionBackbone string
	// Keyring is a JSON file of keys that KmsKeyId can name; "" allows
	// only the service-managed key.
	Keyring string
	// NodeID names this node in the metrics (and, with scale-out, in job
	// and hosting leases). Default: the host name.
	NodeID string
	Logger *slog.Logger     // default: discard
	Now    func() time.Time // default: time.Now
	// Hold is a test hook (see control.Config.Hold and FileHold); nil in
	// production.
	Hold func(ctx context.Context, kind, point string)
}

// DefaultAccount is used when no accounts file is given.
var DefaultAccount = ocellus.Account{ID: "000000000000", AccessKeyID: "test", SecretAccessKey: "test"}

// Server is a running Ocellus instance (without its listener).
type Server struct {
	cfg   Config
	log   *slog.Logger
	store store.Store
	rek   http.Handler
	l4v   http.Handler
	s3    http.Handler
	// console is the web console under console.Prefix.
	console http.Handler
	close   []func() error
	space   *space.Guard
	// started is when Open began, for the health endpoint.
	started time.Time
	routes  []route // see routeTable
	metrics *metrics
	// s3Ready checks that the S3 endpoint in use could serve a request
	// (for the readiness check).
	s3Ready func(context.Context) error
}

// Open prepares the data directory, the store and the front-ends.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = "./data"
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if len(cfg.Accounts) == 0 {
		cfg.Accounts = []ocellus.Account{DefaultAccount}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NodeID == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("node id: no --node-id and no host name: %w", err)
		}
		cfg.NodeID = host
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cfg.DataDir = dir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, started: cfg.Now()}
	// Writes stop while the data volume is within its reserve, so that
	// deletions can always run (see internal/space).
	if s.space, err = space.New(dir); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	keys := map[string]sigv4.Credential{}
	for _, a := range cfg.Accounts {
		keys[a.AccessKeyID] = sigv4.Credential{AccountID: a.ID, AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey}
	}
	verifier := &sigv4.Verifier{Now: cfg.Now, Lookup: func(id string) (sigv4.Credential, bool) {
		c, ok := keys[id]
		return c, ok
	}}

	// One keyring seals model artifacts and S3 objects (SSE-S3, SSE-KMS).
	// It is opened first: opening a database of an older Ocellus seals the
	// Lookout for Vision artifacts it kept unsealed into the artifact store.
	kr, err := keyring.Open(dir, cfg.Keyring)
	if err != nil {
		return nil, fmt.Errorf("--keyring: %w", err)
	}
	arts := control.NewArtifacts(dir, kr, s.space)

	switch {
	case cfg.Database == "":
		st, err := sqlite.OpenWith(ctx, filepath.Join(dir, "ocellus.db"), sqlite.Options{MoveArtifact: arts.SealLegacy})
		if err != nil {
			return nil, err
		}
		s.store = st
	case strings.HasPrefix(cfg.Database, "postgres://"), strings.HasPrefix(cfg.Database, "postgresql://"):
		return nil, errors.New("--database: PostgreSQL arrives with the scale-out work; this build stores metadata in SQLite (leave --database empty)")
	default:
		return nil, fmt.Errorf("--database %q: expected empty (SQLite in the data dir) or a postgres:// URL", cfg.Database)
	}
	s.close = append(s.close, s.store.Close)

	if err := s.openS3(verifier, kr); err != nil {
		s.Close()
		return nil, err
	}
	// The control plane's own S3 requests are not the caller's: they must
	// not name the operation or error code the metrics count.
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.s3.ServeHTTP(w, r.WithContext(awsproto.WithoutOutcome(r.Context())))
	})
	blobs := blob.New(blob.Config{Handler: inner, Region: cfg.Region, Credentials: func(account string) (string, string, bool) {
		for _, a := range cfg.Accounts {
			if a.ID == account {
				return a.AccessKeyID, a.SecretAccessKey, true
			}
		}
		return "", "", false
	}})
	var bb backbone.Backbone = backbone.Builtin{}
	var detector backbone.Backbone
	if cfg.Backbone != "" && cfg.Backbone != "builtin" {
		ort, err := backbone.OpenORT(cfg.Backbone, backbone.ORTConfig{})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("--backbone %s: %w", cfg.Backbone, err)
		}
		s.close = append(s.close, ort.Close)
		bb = ort
	}
	if p := cmp.Or(cfg.DetectionBackbone, cfg.Backbone); p != "" && p != "builtin" {
		det, err := backbone.OpenORT(p, backbone.ORTConfig{Detection: true})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("detection backbone %s: %w", p, err)
		}
		s.close = append(s.close, det.Close)
		detector = det
	}
	ctl := control.New(s.store, blobs, control.Config{Region: cfg.Region, Now: cfg.Now, Logger: cfg.Logger, DataDir: dir, Backbone: bb, DetectionBackbone: detector, Keyring: kr, Space: s.space, Artifacts: arts, Hold: cfg.Hold})
	s.close = append(s.close, ctl.Close)
	l4v := control.NewLookout(ctl, control.LookoutConfig{Backbone: bb})
	s.close = append(s.close, l4v.Close)
	// The queue starts working at once (a job a crash interrupted runs
	// again): both control planes must be ready for its jobs. It is closed
	// before them (s.close runs backwards).
	q, err := s.openQueue(ctx, ctl)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.metrics = newMetrics(state{node: cfg.NodeID, jobs: q.Counts, units: ctl.HostedUnits}, s.log)
	s.rek = rekognition.New(ctl, verifier, rekognition.Config{Region: cfg.Region, Logger: cfg.Logger, Space: s.space})
	s.l4v = lookoutvision.New(l4v, verifier, lookoutvision.Config{Region: cfg.Region, Logger: cfg.Logger, Space: s.space})
	s.console = console.New(ctl, l4v, console.Config{Accounts: cfg.Accounts, Now: cfg.Now, Logger: cfg.Logger})
	s.routes = s.routeTable()
	if err := ctl.Recover(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("recover in-progress work: %w", err)
	}
	return s, nil
}

// ServeHTTP serves r with the first row of the routing table (routeTable)
// that matches it. This is the one place AWS requests are counted and
// timed: the front-end fills the request's awsproto.Outcome with the
// operation it routed to and the error code it answered.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, service := s.routeFor(r)
	if rt.service == "" {
		rt.serve(w, r, service)
		return
	}
	start := time.Now()
	ctx, o := awsproto.WithOutcome(r.Context())
	rt.serve(w, r.WithContext(ctx), service)
	s.metrics.observe(rt.service, o.Op, o.Code, time.Since(start))
}

// Serve accepts connections on ln until ctx is done, then shuts down.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(expect.Listener(ln)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	}
}

// Close releases the store and the S3 endpoint.
func (s *Server) Close() error {
	var errs []error
	for i := len(s.close) - 1; i >= 0; i-- {
		errs = append(errs, s.close[i]())
	}
	s.close = nil
	return errors.Join(errs...)
}

// LoadAccounts reads an accounts file: a JSON list of
// {"AccountId","AccessKeyId","SecretAccessKey"}.
func LoadAccounts(path string) ([]ocellus.Account, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("accounts file: %w", err)
	}
	var raw []struct{ AccountId, AccessKeyId, SecretAccessKey string }
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("accounts file %s: %w", path, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("accounts file %s lists no accounts", path)
	}
	seen := map[string]bool{}
	var out []ocellus.Account
	for i, a := range raw {
		if !ocellus.ValidAccountID(a.AccountId) {
			return nil, fmt.Errorf("accounts file %s, entry %d: AccountId %q must be 12 digits", path, i+1, a.AccountId)
		}
		if a.AccessKeyId == "" || a.SecretAccessKey == "" {
			return nil, fmt.Errorf("accounts file %s, entry %d: AccessKeyId and SecretAccessKey are required", path, i+1)
		}
		if seen[a.AccessKeyId] {
			return nil, fmt.Errorf("accounts file %s: access key %s appears twice", path, a.AccessKeyId)
		}
		seen[a.AccessKeyId] = true
		out = append(out, ocellus.Account{ID: a.AccountId, AccessKeyID: a.AccessKeyId, SecretAccessKey: a.SecretAccessKey})
	}
	return out, nil
}

// openQueue starts the durable job queue (River on its own SQLite file) and
// hands it the control plane's jobs: every long piece of work (training,
// copying, dataset imports and updates, Lookout for Vision training and
// packaging) survives a kill -9.
func (s *Server) openQueue(ctx context.Context, ctl *control.Control) (*jobs.Queue, error) {
	db, err := jobs.OpenSQLiteDB(filepath.Join(s.cfg.DataDir, "jobs.db"))
	if err != nil {
		return nil, err
	}
	s.close = append(s.close, db.Close)
	handlers := map[string]jobs.Handler{}
	for kind, h := range ctl.JobHandlers() {
		handlers[kind] = jobs.Handler(h)
	}
	// Imports must not wait long behind trainings: more workers than
	// cores; Lookout for Vision training keeps its own limit (MaxTraining).
	q, err := jobs.Open(ctx, db, jobs.Config{Handlers: handlers, Logger: s.log, Workers: 4,
		OnFailed: func(_ context.Context, kind, key string, payload []byte, err error) {
			ctl.JobFailed(kind, key, payload, err)
		}})
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	s.close = append(s.close, func() error {
		// An interrupted job runs again from scratch at the next start:
		// waiting long for a training to end would only delay the
		// shutdown. Jobs get a moment to finish, then are cancelled and
		// put back without spending an attempt.
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := q.Close(cctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return nil
	})
	ctl.UseQueue(q)
	return q, nil
}
