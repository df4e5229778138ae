// Package jobs runs Ocellus's long background work (training and copying
// models, importing and updating datasets, packaging models) as durable
// jobs on River
// (github.com/riverqueue/river), so that work survives a crash of the
// process: a job is stored before Enqueue returns, and a job that was
// running when the process died is run again from scratch when the queue is
// opened again.
//
// The queue lives in its own SQLite database (Open, with OpenSQLiteDB for
// the DSN and pool settings River needs) or, for scale-out, in PostgreSQL
// (OpenPostgres). The same handlers run on both.
//
// Handlers must be idempotent: a handler may run more than once for the same
// job (after a crash, or after a retryable error), always from the start.
// A handler's error is final unless it wraps ErrRetry; a final error, a panic,
// a timeout or exhausted attempts end the job and are reported once (at least
// once across crashes) to Config.OnFailed, so that the caller can mark its
// resource FAILED.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ocellus/ocellus/internal/pgtx"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// Handler does the work of one kind of job. payload is what Enqueue was
// given. It must be idempotent and restart from scratch: it runs again after
// a crash and after an error wrapping ErrRetry. ctx is cancelled when the
// job's timeout expires and when Close gives up waiting.
type Handler func(ctx context.Context, payload []byte) error

// ErrRetry marks a handler error as transient: the job is run again later,
// up to Config.MaxAttempts attempts in all. Any other error is final.
// Wrap it with Retry or fmt.Errorf("...: %w", jobs.ErrRetry).
var ErrRetry = errors.New("jobs: retry")

// ErrInterrupted is the error given to OnFailed for a job whose attempts were
// all spent by process crashes (the job was running each time the process
// died), as happens with work that itself kills the process.
var ErrInterrupted = errors.New("jobs: interrupted by process exit on every attempt")

// Retry returns err marked as transient (errors.Is(Retry(err), ErrRetry)).
func Retry(err error) error {
	return retryError{err}
}

type retryError struct{ err error }

func (e retryError) Error() string   { return e.err.Error() }
func (e retryError) Unwrap() []error { return []error{e.err, ErrRetry} }

// Defaults for the zero values of Config.
const (
	DefaultWorkers      = 2
	DefaultMaxAttempts  = 3
	DefaultJobTimeout   = time.Hour
	DefaultRetryDelay   = 10 * time.Second
	DefaultPollInterval = time.Second
)

// Config configures a Queue. Zero values mean the documented defaults.
type Config struct {
	// Handlers by job kind. Enqueue rejects other kinds. A kind is stored
	// with every job: keep kinds stable across releases.
	Handlers map[string]Handler

	// Workers is the number of jobs run at once by this process
	// (default DefaultWorkers).
	Workers int

	// MaxAttempts is how many times a job is run before it fails for good
	// (default DefaultMaxAttempts). Retryable errors and process crashes
	// while the job runs each spend an attempt; Close does not.
	MaxAttempts int

	// JobTimeout bounds one run of a job; the handler's ctx is cancelled
	// when it expires and the job fails. Default DefaultJobTimeout (River's
	// own default, one minute, would kill training). -1 means no timeout.
	JobTimeout time.Duration

	// Timeouts overrides JobTimeout per kind.
	Timeouts map[string]time.Duration

	// RetryDelay is the delay before the second attempt after a retryable
	// error; it doubles for each further attempt (default DefaultRetryDelay).
	RetryDelay time.Duration

	// PollInterval is how often the queue looks for jobs it was not told
	// about (retries, jobs enqueued by other processes on PostgreSQL);
	// jobs enqueued by this Queue start at once (default DefaultPollInterval).
	PollInterval time.Duration

	// OnFailed, if set, is called once a job has failed for good: final
	// error, panic, timeout, attempts exhausted. It is called before the
	// job's final state is stored, so a crash in between calls it again:
	// make it idempotent. Its ctx is not cancelled by Close but expires
	// after 30 s.
	OnFailed func(ctx context.Context, kind, key string, payload []byte, err error)

	// ID names this process to River. On PostgreSQL, when set, it must be
	// stable across restarts and unique among live processes: OpenPostgres
	// then re-runs at once the jobs a previous process with the same ID left
	// running. When empty, PostgreSQL relies on River's rescuer, which
	// re-runs a job left running only after its timeout plus one hour.
	// Ignored for the recovery on SQLite, where every running job is
	// orphaned at Open.
	ID string

	// Logger receives River's and the queue's logs (default: discarded).
	Logger *slog.Logger
}

// Queue is a running job queue. It is safe for concurrent use.
type Queue struct {
	client   riverClient
	exec     riverdriver.Executor // for tests
	handlers map[string]Handler
	onFail   func(ctx context.Context, kind, key string, payload []byte, err error)
	log      *slog.Logger
	closing  atomic.Bool
	// count is the number of jobs by (our kind, state), in the queue's
	// database.
	count func(ctx context.Context) (map[[2]string]int, error)
	// insertTx inserts in the PostgreSQL transaction a context carries
	// (internal/pgtx); nil on SQLite.
	insertTx func(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// riverClient is what Queue uses of *river.Client[TTx], which has one type
// per driver.
type riverClient interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
}

// Open migrates River's tables in db, makes every job left running by a
// previous process available again, and starts working until Close; ctx
// bounds only the opening. db must be a SQLite database dedicated to this
// queue and used by one process only: open it with OpenSQLiteDB, or see
// there for the settings it needs. The caller closes db after Close.
func Open(ctx context.Context, db *sql.DB, cfg Config) (*Queue, error) {
	// Every running job is an orphan: the database belongs to this process
	// (OpenSQLiteDB's exclusive lock makes sure), which has not started yet.
	q, err := open(ctx, riversqlite.New(db), cfg, func(*rivertype.JobRow) bool { return true })
	if err != nil {
		return nil, err
	}
	q.count = func(ctx context.Context) (map[[2]string]int, error) {
		r, err := db.QueryContext(ctx, sqliteCountSQL, riverKind)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return countRows(r)
	}
	return q, nil
}

// OpenPostgres is Open on PostgreSQL, for several processes sharing one
// queue. River's tables are created in the pool's search_path schema. River
// holds a few connections of its own (listener, leader, maintenance) besides
// one per running job: give the pool at least Workers+5 connections
// (pool_max_conns). See Config.ID for the recovery of jobs left running by a
// crashed process.
func OpenPostgres(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Queue, error) {
	var orphaned func(*rivertype.JobRow) bool
	if cfg.ID != "" {
		// The last client to attempt a running job runs it still, unless
		// that client was us: then we died with it.
		orphaned = func(j *rivertype.JobRow) bool {
			return len(j.AttemptedBy) > 0 && j.AttemptedBy[len(j.AttemptedBy)-1] == cfg.ID
		}
	}
	q, err := open[pgx.Tx](ctx, riverpgxv5.New(pool), cfg, orphaned)
	if err != nil {
		return nil, err
	}
	q.insertTx = q.client.(*river.Client[pgx.Tx]).InsertTx
	q.count = func(ctx context.Context) (map[[2]string]int, error) {
		r, err := pool.Query(ctx, postgresCountSQL, riverKind)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return countRows(r)
	}
	return q, nil
}

func open[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], cfg Config, orphaned func(*rivertype.JobRow) bool) (*Queue, error) {
	if len(cfg.Handlers) == 0 {
		return nil, errors.New("jobs: no handlers")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.JobTimeout = cmp.Or(cfg.JobTimeout, DefaultJobTimeout)
	cfg.Handlers = maps.Clone(cfg.Handlers) // the caller may reuse its map
	q := &Queue{handlers: cfg.Handlers, onFail: cfg.OnFailed, log: log, exec: driver.GetExecutor()}

	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("jobs: migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("jobs: migrate: %w", err)
	}

	// River's rescuer must not touch a job before its timeout has expired:
	// keep it an hour behind the longest timeout.
	w := &worker{q: q, handlers: cfg.Handlers, timeouts: map[string]time.Duration{}}
	longest := cfg.JobTimeout
	for kind := range cfg.Handlers {
		timeout := cmp.Or(cfg.Timeouts[kind], cfg.JobTimeout)
		w.timeouts[kind] = timeout
		longest = max(longest, timeout)
	}
	if longest < 0 {
		longest = 0 // no timeout: River never rescues such jobs anyway
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}

	if orphaned != nil {
		if err := q.rescue(ctx, driver.GetExecutor(), orphaned); err != nil {
			return nil, err
		}
	}

	client, err := river.NewClient(driver, &river.Config{
		ID:                   cfg.ID,
		Logger:               log,
		Workers:              workers,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cmp.Or(cfg.Workers, DefaultWorkers)}},
		MaxAttempts:          cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts),
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: longest + time.Hour,
		FetchPollInterval:    cmp.Or(cfg.PollInterval, DefaultPollInterval),
		// A fetch takes at most Workers jobs, and the next waits for the
		// cooldown: with few workers, River's 100 ms default caps
		// throughput at Workers*10 jobs/s.
		FetchCooldown: min(cmp.Or(cfg.PollInterval, DefaultPollInterval), fetchCooldown),
		RetryPolicy:   backoff(cmp.Or(cfg.RetryDelay, DefaultRetryDelay)),
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	// River stops the client when Start's context ends; the queue must live
	// until Close, not until the end of whatever call opened it.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("jobs: start: %w", err)
	}
	q.client = client
	return q, nil
}

// Enqueue stores a job of the given kind and returns once it is durable. A
// job whose (kind, key) is already waiting or running is not added again
// (Enqueue returns nil): enqueueing is idempotent. Once that job has ended
// (done or failed), the same key may be enqueued again.
//
// On PostgreSQL, when ctx carries a transaction (internal/pgtx, begun by
// the metadata store's InTx on the same database), the job is inserted in
// it: it exists, and runs, only once that transaction commits.
func (q *Queue) Enqueue(ctx context.Context, kind, key string, payload []byte) error {
	if q.handlers[kind] == nil {
		return fmt.Errorf("jobs: no handler for kind %q", kind)
	}
	insert := q.client.Insert
	if tx := pgtx.From(ctx); tx != nil && q.insertTx != nil {
		insert = func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
			return q.insertTx(ctx, tx, args, opts)
		}
	}
	_, err := insert(ctx, jobArgs{JobKind: kind, Key: key, Payload: payload}, &river.InsertOpts{
		UniqueOpts: river.UniqueOpts{
			ByArgs: true, // by the fields tagged unique: kind and key
			// Every state but the final ones (completed, cancelled,
			// discarded), so that a key can be run again once done.
			ByState: []rivertype.JobState{
				rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
				rivertype.JobStateRunning, rivertype.JobStateScheduled,
			},
		},
	})
	if err != nil {
		return fmt.Errorf("jobs: enqueue %s %q: %w", kind, key, err)
	}
	return nil
}

// A Count is the number of jobs of one kind in one of River's states
// (available, running, retryable, completed, discarded, ...).
type Count struct {
	Kind  string
	State string
	Jobs  int
}

// Counts is the number of jobs by kind and state, read from the queue's
// database: every node sharing a PostgreSQL queue sees the same numbers.
// Every kind this queue has a handler for appears in every state, with 0
// when it has no such job, in the order of kinds then states; a kind
// without a handler here (enqueued by another version) is listed too.
// Finished jobs count until River's cleaner deletes them (a day for
// completed jobs, a week for cancelled and discarded ones).
func (q *Queue) Counts(ctx context.Context) ([]Count, error) {
	n, err := q.count(ctx)
	if err != nil {
		return nil, fmt.Errorf("jobs: count: %w", err)
	}
	kinds := slices.Collect(maps.Keys(q.handlers))
	for k := range n {
		if !slices.Contains(kinds, k[0]) {
			kinds = append(kinds, k[0])
		}
	}
	slices.Sort(kinds)
	out := make([]Count, 0, len(kinds)*len(rivertype.JobStates()))
	for _, kind := range kinds {
		for _, st := range rivertype.JobStates() {
			out = append(out, Count{Kind: kind, State: string(st), Jobs: n[[2]string{kind, string(st)}]})
		}
	}
	return out, nil
}

// Counting by our kind needs the kind inside River's JSON arguments, which
// River's API cannot group by: listing every job through it cost 96 ms per
// 2,000 jobs on SQLite (holding the queue's only connection), one GROUP BY
// 5 ms (BenchmarkCounts). The JSON operator is each database's own; TestCounts
// runs both against River's real schema.
const (
	sqliteCountSQL   = `SELECT json_extract(args, '$.kind'), state, count(*) FROM river_job WHERE kind = ? GROUP BY 1, 2`
	postgresCountSQL = `SELECT args->>'kind', state, count(*) FROM river_job WHERE kind = $1 GROUP BY 1, 2`
)

// rows is what the counting query needs of *sql.Rows and pgx.Rows.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

func countRows(r rows) (map[[2]string]int, error) {
	n := map[[2]string]int{}
	for r.Next() {
		var kind, state string
		var c int
		if err := r.Scan(&kind, &state, &c); err != nil {
			return nil, err
		}
		n[[2]string{kind, state}] = c
	}
	return n, r.Err()
}

// fetchCooldown is the least time between two fetches of jobs.
const fetchCooldown = 5 * time.Millisecond

// shutdownGrace bounds how long Close waits for handlers to return once
// their contexts are cancelled, so that a handler ignoring its context
// cannot hang shutdown forever.
const shutdownGrace = 10 * time.Second

// Close stops taking jobs and waits for the running ones to finish until ctx
// is done; then it cancels their contexts and waits up to 10 s more for the
// handlers to return. Jobs interrupted this way are put back as they were,
// without spending an attempt, and run at the next Open. Close returns
// ctx.Err() when it had to cancel jobs.
func (q *Queue) Close(ctx context.Context) error {
	q.closing.Store(true)
	err := q.client.Stop(ctx)
	if err == nil {
		return nil
	}
	hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err2 := q.client.StopAndCancel(hard); err2 != nil {
		return fmt.Errorf("jobs: close: handlers still running %s after cancellation: %w", shutdownGrace, err2)
	}
	return err
}

// riverKind is River's kind for every job. Our kinds are data in the
// arguments, not Go types, which is what River's kinds are tied to; one
// worker dispatches on them.
const riverKind = "ocellus"

type jobArgs struct {
	JobKind string `json:"kind" river:"unique"`
	Key     string `json:"key" river:"unique"`
	Payload []byte `json:"payload,omitempty"`
}

func (jobArgs) Kind() string { return riverKind }

type worker struct {
	river.WorkerDefaults[jobArgs]
	q        *Queue
	handlers map[string]Handler
	timeouts map[string]time.Duration
}

// Timeout is per kind; 0 (unknown kind) means River's client-wide JobTimeout.
func (w *worker) Timeout(job *river.Job[jobArgs]) time.Duration { return w.timeouts[job.Args.JobKind] }

func (w *worker) Work(ctx context.Context, job *river.Job[jobArgs]) error {
	a := job.Args
	err := w.run(ctx, a)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && w.q.closing.Load():
		// Interrupted by Close, not failed: make it available again at
		// once, without spending an attempt, for the next Open.
		return river.JobSnooze(0)
	case errors.Is(err, ErrRetry) && job.Attempt < job.MaxAttempts:
		w.q.log.WarnContext(ctx, "jobs: retrying", "kind", a.JobKind, "key", a.Key, "attempt", job.Attempt, "error", err)
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("jobs: timed out after %s: %w", w.timeouts[a.JobKind], err)
	}
	w.q.failed(ctx, a, err)
	// JobCancel stops River from retrying whatever attempts are left.
	return river.JobCancel(err)
}

// run calls the handler, turning a panic into a final error: River would
// otherwise retry it, and a panic is a bug, not a transient condition.
func (w *worker) run(ctx context.Context, a jobArgs) (err error) {
	defer func() {
		if r := recover(); r != nil {
			w.q.log.ErrorContext(ctx, "jobs: handler panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("jobs: handler panicked: %v", r)
		}
	}()
	h := w.handlers[a.JobKind]
	if h == nil {
		// Stored by a release that had this kind.
		return fmt.Errorf("jobs: no handler for kind %q", a.JobKind)
	}
	return h(ctx, a.Payload)
}

func (q *Queue) failed(ctx context.Context, a jobArgs, err error) {
	q.log.ErrorContext(ctx, "jobs: failed", "kind", a.JobKind, "key", a.Key, "error", err)
	if q.onFail == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	q.onFail(ctx, a.JobKind, a.Key, a.Payload, err)
}

// backoff is River's retry policy: delay, 2*delay, 4*delay, ... after the
// first, second, third attempt. River's default (attempt^4 seconds) is
// tuned for many short jobs; ours are few and long.
type backoff time.Duration

func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	n := min(max(job.Attempt, 1), 20) // bounded shift
	return time.Now().Add(time.Duration(b) << (n - 1))
}
