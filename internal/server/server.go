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

	"github.com/jackc/pgx/v5/pgxpool"

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
	"github.com/ocellus/ocellus/internal/store/postgres"
	"github.com/ocellus/ocellus/internal/store/sqlite"
)

// Config configures a Server. Zero values are the documented defaults.
type Config struct {
	DataDir  string            // default "./data"
	Region   string            // default "us-east-1"
	Accounts []ocellus.Account // default: DefaultAccount
	Database string            // "" = SQLite file <DataDir>/ocellus.db; postgres:// URL = PostgreSQL for metadata and jobs
	// S3Endpoint is an external S3 (http(s)://host:port, path-style):
	// users' manifests, images and training output are read and written
	// there with the service credentials S3AccessKeyID/S3SecretAccessKey,
	// each account only in its Account.S3Buckets; trained models go to
	// ArtifactBucket (required with it); Ocellus serves no S3 itself.
	// "" = the embedded S3 endpoint, artifacts in the data dir.
	S3Endpoint                       string
	S3AccessKeyID, S3SecretAccessKey string
	S3Region                         string // default Region
	ArtifactBucket                   string
	// Backbone is an ONNX backbone file; "" or "builtin" selects the
	// built-in, weight-free extractor (lower accuracy).
	Backbone string
	// DetectionBackbone is the ONNX file detection models are trained on
	// (e.g. yolox_nano.onnx, whose features are trained for boxes); ""
	// uses Backbone at the detection input size.
	DetectionBackbone string
	// Keyring is a JSON file of keys that KmsKeyId can name; "" allows
	// only the service-managed key. An entry with KeyId "ocellus-managed"
	// is the service-managed key itself.
	Keyring string
	// ServiceKey is the service-managed key, base64 of 32 bytes
	// (OCELLUS_SERVICE_KEY). "": the Keyring file's entry, else a key made
	// in the data dir, which a PostgreSQL Database refuses: every node of
	// a shared database must seal and open with the same key.
	ServiceKey string
	// ModerationDir is the backbone directory holding the content
	// moderation base model (`ocellus backbone pull nsfwjs-mobilenet_v2`);
	// "": DetectModerationLabels answers how to install it.
	ModerationDir string
	// NodeID names this node in the metrics (and, with scale-out, in job
	// and hosting leases). Default: the host name.
	NodeID string
	// ClusterSecret authenticates the requests nodes of one database
	// forward to each other (--cluster-secret); a PostgreSQL Database
	// requires it. ClusterURL is where the other nodes reach this one
	// (http://host:port; --cluster-url, by default the listen address).
	ClusterSecret, ClusterURL string
	// Heartbeat and LeaseTTL tune hosting across nodes (zero: control's
	// DefaultHeartbeat and DefaultLeaseTTL).
	Heartbeat, LeaseTTL time.Duration
	Logger              *slog.Logger     // default: discard
	Now                 func() time.Time // default: time.Now
	// Hold is a test hook (see control.Config.Hold and FileHold); nil in
	// production.
	Hold func(ctx context.Context, kind, point string)
}

// DefaultAccount is used when no accounts file is given. Being the only
// account, it may use every bucket of an external S3.
var DefaultAccount = ocellus.Account{ID: "000000000000", AccessKeyID: "test", SecretAccessKey: "test", S3Buckets: []string{"*"}}

// Server is a running Ocellus instance (without its listener).
type Server struct {
	cfg   Config
	log   *slog.Logger
	store store.Store
	// pg is the PostgreSQL pool of --database postgres://, shared by the
	// metadata store and the job queue; nil on SQLite.
	pg  *pgxpool.Pool
	rek http.Handler
	l4v http.Handler
	s3  http.Handler
	// console is the web console under console.Prefix.
	console http.Handler
	// cluster answers the requests other nodes forward (control.ClusterPath).
	cluster http.Handler
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
	if cfg.S3Region == "" {
		cfg.S3Region = cfg.Region
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
	kr, err := keyring.OpenWith(keyring.Options{DataDir: dir, File: cfg.Keyring, ServiceKey: cfg.ServiceKey, Shared: isPostgres(cfg.Database)})
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	artifactBucket, err := s.externalS3()
	if err != nil {
		return nil, err
	}
	arts := control.NewArtifacts(dir, kr, s.space)
	if artifactBucket != nil {
		arts = arts.InBucket(artifactBucket)
	}

	switch {
	case cfg.Database == "":
		st, err := sqlite.OpenWith(ctx, filepath.Join(dir, "ocellus.db"), sqlite.Options{MoveArtifact: arts.SealLegacy})
		if err != nil {
			return nil, err
		}
		s.store = st
	case isPostgres(cfg.Database):
		if cfg.ClusterSecret == "" {
			return nil, errors.New("--database postgres:// needs --cluster-secret (or OCELLUS_CLUSTER_SECRET), the same on every node: nodes forward inference requests to each other with it")
		}
		if cfg.ClusterURL == "" {
			return nil, errors.New("--database postgres:// needs --cluster-url, where the other nodes reach this one")
		}
		if err := s.openPostgres(ctx); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("--database %q: expected empty (SQLite in the data dir) or a postgres:// URL", cfg.Database)
	}
	s.close = append(s.close, s.store.Close)

	if err := s.openS3(verifier, kr, artifactBucket); err != nil {
		s.Close()
		return nil, err
	}
	blobs := s.blobs()
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
	ctl := control.New(s.store, blobs, control.Config{Region: cfg.Region, Now: cfg.Now, Logger: cfg.Logger, DataDir: dir, Backbone: bb, DetectionBackbone: detector, Keyring: kr, Space: s.space, Artifacts: arts, Hold: cfg.Hold, ModerationDir: cfg.ModerationDir})
	s.close = append(s.close, ctl.Close)
	l4v := control.NewLookout(ctl, control.LookoutConfig{Backbone: bb})
	s.close = append(s.close, l4v.Close)
	s.cluster = http.HandlerFunc(ctl.ServeCluster)
	if isPostgres(cfg.Database) {
		// Hosting follows the leases in the shared database, placed before
		// the queue starts and this node answers.
		err := ctl.StartCluster(control.ClusterConfig{Node: cfg.NodeID, URL: cfg.ClusterURL, Secret: cfg.ClusterSecret,
			Heartbeat: cfg.Heartbeat, LeaseTTL: cfg.LeaseTTL})
		if err != nil {
			s.Close()
			return nil, err
		}
	}
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

// blobs is how the control plane reaches S3 as an account: the embedded
// endpoint in-process, signed with the account's own keys (its bucket
// owners decide), or the external S3 with the service credentials, each
// account kept to its S3Buckets.
func (s *Server) blobs() *blob.Blobs {
	accounts := map[string]ocellus.Account{}
	for _, a := range s.cfg.Accounts {
		accounts[a.ID] = a
	}
	if s.cfg.S3Endpoint != "" {
		return blob.New(blob.Config{Endpoint: s.cfg.S3Endpoint, Region: s.cfg.S3Region,
			Credentials: func(account string) (string, string, bool) {
				_, ok := accounts[account]
				return s.cfg.S3AccessKeyID, s.cfg.S3SecretAccessKey, ok
			},
			Allow: func(account, bucket, key string) bool { return accounts[account].MayUseS3(bucket, key) }})
	}
	// The control plane's own S3 requests are not the caller's: they must
	// not name the operation or error code the metrics count.
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.s3.ServeHTTP(w, r.WithContext(awsproto.WithoutOutcome(r.Context())))
	})
	return blob.New(blob.Config{Handler: inner, Region: s.cfg.Region, Credentials: func(account string) (string, string, bool) {
		a, ok := accounts[account]
		return a.AccessKeyID, a.SecretAccessKey, ok
	}})
}

// LoadAccounts reads an accounts file: a JSON list of
// {"AccountId","AccessKeyId","SecretAccessKey"}, each with an optional
// "S3Buckets" list of what the account may use in an external S3 (see
// ocellus.Account.S3Buckets; files without it stay valid).
func LoadAccounts(path string) ([]ocellus.Account, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("accounts file: %w", err)
	}
	var raw []struct {
		AccountId, AccessKeyId, SecretAccessKey string
		S3Buckets                               []string
	}
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
		for _, e := range a.S3Buckets {
			if why := ocellus.ValidS3BucketsEntry(e); why != "" {
				return nil, fmt.Errorf("accounts file %s, entry %d: S3Buckets entry %q %s (a bucket, a bucket prefix ending in '*', or bucket/key-prefix)", path, i+1, e, why)
			}
		}
		seen[a.AccessKeyId] = true
		out = append(out, ocellus.Account{ID: a.AccountId, AccessKeyID: a.AccessKeyId, SecretAccessKey: a.SecretAccessKey, S3Buckets: a.S3Buckets})
	}
	return out, nil
}

// isPostgres tells a PostgreSQL --database URL: a database several nodes
// may share.
func isPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// queueWorkers is how many jobs a node runs at once. Imports must not wait
// long behind trainings: more workers than cores; Lookout for Vision
// training keeps its own limit (MaxTraining).
const queueWorkers = 4

// openPostgres opens the pool of cfg.Database and the metadata store on
// it. The pool holds the queue's connections too (River: one per running
// job plus five of its own, see jobs.OpenPostgres) besides the store's
// four, unless the URL sets pool_max_conns higher.
func (s *Server) openPostgres(ctx context.Context) error {
	pc, err := pgxpool.ParseConfig(s.cfg.Database)
	if err != nil {
		// pgx's message can quote the URL, password included.
		return errors.New("--database: not a valid PostgreSQL URL (postgres://user:password@host:port/dbname?sslmode=...)")
	}
	pc.MaxConns = max(pc.MaxConns, queueWorkers+5+4)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("--database: %w", err)
	}
	st, err := postgres.New(ctx, pool)
	if err != nil {
		pool.Close()
		return fmt.Errorf("--database %s:%d/%s: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database, err)
	}
	s.pg, s.store = pool, st
	s.close = append(s.close, func() error { pool.Close(); return nil })
	return nil
}

// openQueue starts the durable job queue (River on PostgreSQL with
// --database postgres://, else on its own SQLite file in the data dir) and
// hands it the control plane's jobs: every long piece of work (training,
// copying, dataset imports and updates, Lookout for Vision training and
// packaging) survives a kill -9.
func (s *Server) openQueue(ctx context.Context, ctl *control.Control) (*jobs.Queue, error) {
	handlers := map[string]jobs.Handler{}
	for kind, h := range ctl.JobHandlers() {
		handlers[kind] = jobs.Handler(h)
	}
	cfg := jobs.Config{Handlers: handlers, Logger: s.log, Workers: queueWorkers,
		OnFailed: func(_ context.Context, kind, key string, payload []byte, err error) {
			ctl.JobFailed(kind, key, payload, err)
		}}
	var q *jobs.Queue
	if s.pg != nil {
		// The queue's name for this process: stable across restarts
		// (so that a restarted node re-runs at once the jobs it left
		// running) and distinct between processes: the node ID (the host
		// name by default) and the data dir, which each process has of
		// its own.
		dir, _ := filepath.Abs(s.cfg.DataDir)
		cfg.ID = s.cfg.NodeID + ":" + dir
		var err error
		if q, err = jobs.OpenPostgres(ctx, s.pg, cfg); err != nil {
			return nil, fmt.Errorf("job queue: %w", err)
		}
	} else {
		db, err := jobs.OpenSQLiteDB(filepath.Join(s.cfg.DataDir, "jobs.db"))
		if err != nil {
			return nil, err
		}
		s.close = append(s.close, db.Close)
		q, err = jobs.Open(ctx, db, cfg)
		if err != nil {
			return nil, fmt.Errorf("job queue: %w", err)
		}
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
