package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
)

// fast makes retries and polling quick enough for tests.
func fast(cfg Config) Config {
	cfg.RetryDelay = 10 * time.Millisecond
	cfg.PollInterval = 50 * time.Millisecond
	return cfg
}

// forEach runs f once per backend, as subtests.
func forEach(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// receive waits for one value from ch, failing the test after 15 s.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// waitFor polls cond until it holds, failing after 15 s. For conditions
// that have no event to wait on, such as a state River stores after the
// handler has returned.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jobRows returns River's rows for (kind, key), oldest first.
func jobRows(t *testing.T, q *Queue, kind, key string) []*rivertype.JobRow {
	t.Helper()
	rows, err := q.exec.JobGetByKindMany(context.Background(), &riverdriver.JobGetByKindManyParams{Kind: []string{riverKind}})
	if err != nil {
		t.Fatal(err)
	}
	var out []*rivertype.JobRow
	for _, r := range rows {
		var a jobArgs
		if err := json.Unmarshal(r.EncodedArgs, &a); err != nil {
			t.Fatal(err)
		}
		if a.JobKind == kind && a.Key == key {
			out = append(out, r)
		}
	}
	return out
}

func lastState(t *testing.T, q *Queue, kind, key string) rivertype.JobState {
	rows := jobRows(t, q, kind, key)
	if len(rows) == 0 {
		return ""
	}
	return rows[len(rows)-1].State
}

type failure struct {
	kind, key, payload string
	err                error
}

// failures records OnFailed calls.
type failures struct {
	mu   sync.Mutex
	list []failure
	ch   chan failure
}

func newFailures() *failures { return &failures{ch: make(chan failure, 100)} }

func (f *failures) on(_ context.Context, kind, key string, payload []byte, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	x := failure{kind, key, string(payload), err}
	f.list = append(f.list, x)
	f.ch <- x
}

func (f *failures) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.list)
}

func TestRunsOnceWithPayload(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		got := make(chan string, 10)
		var calls sync.Map
		q, closeQ := b.open(t, b.store(t), fast(Config{Handlers: map[string]Handler{
			"train": func(ctx context.Context, p []byte) error {
				n, _ := calls.LoadOrStore(string(p), new(int))
				*n.(*int)++
				got <- string(p)
				return nil
			},
		}}))
		ctx := context.Background()
		for i := range 5 {
			if err := q.Enqueue(ctx, "train", fmt.Sprint("m", i), []byte(fmt.Sprint("payload ", i))); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		for range 5 {
			seen[receive(t, got, "handler")] = true
		}
		for i := range 5 {
			if !seen[fmt.Sprint("payload ", i)] {
				t.Errorf("payload %d not seen: %v", i, seen)
			}
		}
		waitFor(t, "completed", func() bool { return lastState(t, q, "train", "m4") == rivertype.JobStateCompleted })
		if err := q.Enqueue(ctx, "nope", "x", nil); err == nil {
			t.Error("enqueue of a kind with no handler succeeded")
		}
		closeQ()
		calls.Range(func(k, v any) bool {
			if n := *v.(*int); n != 1 {
				t.Errorf("%s ran %d times", k, n)
			}
			return true
		})
	})
}

func TestUniquePerKindAndKey(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		release := make(chan struct{})
		started := make(chan string, 10)
		var mu sync.Mutex
		runs := map[string]int{}
		h := func(kind string) Handler {
			return func(ctx context.Context, p []byte) error {
				mu.Lock()
				runs[kind+"/"+string(p)]++
				mu.Unlock()
				started <- kind + "/" + string(p)
				<-release
				return nil
			}
		}
		q, _ := b.open(t, b.store(t), fast(Config{Workers: 1, Handlers: map[string]Handler{"train": h("train"), "copy": h("copy")}}))
		ctx := context.Background()
		enqueue := func(kind, key, payload string) {
			t.Helper()
			if err := q.Enqueue(ctx, kind, key, []byte(payload)); err != nil {
				t.Fatal(err)
			}
		}
		enqueue("train", "a", "a1")
		// With one worker, a1 runs while the others wait: duplicates of
		// both a running and a waiting job are dropped.
		if s := receive(t, started, "a1"); s != "train/a1" {
			t.Fatalf("started %s", s)
		}
		enqueue("train", "a", "a2") // running: dropped
		enqueue("train", "b", "b1")
		enqueue("train", "b", "b2") // waiting: dropped
		enqueue("copy", "a", "ca1") // another kind, same key: kept
		close(release)
		for range 2 {
			receive(t, started, "b1 and ca1")
		}
		for _, k := range []struct{ kind, key string }{{"train", "a"}, {"train", "b"}, {"copy", "a"}} {
			waitFor(t, k.kind+"/"+k.key+" completed", func() bool { return lastState(t, q, k.kind, k.key) == rivertype.JobStateCompleted })
		}
		// Once done, the key may be used again.
		enqueue("train", "a", "a3")
		receive(t, started, "a3")
		waitFor(t, "a3 completed", func() bool {
			return len(jobRows(t, q, "train", "a")) == 2 && lastState(t, q, "train", "a") == rivertype.JobStateCompleted
		})
		mu.Lock()
		defer mu.Unlock()
		want := map[string]int{"train/a1": 1, "train/b1": 1, "copy/ca1": 1, "train/a3": 1}
		if fmt.Sprint(runs) != fmt.Sprint(want) {
			t.Errorf("runs %v, want %v", runs, want)
		}
	})
}

func TestFailures(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		var mu sync.Mutex
		runs := map[string]int{}
		count := func(k string) {
			mu.Lock()
			runs[k]++
			mu.Unlock()
		}
		boom := errors.New("boom")
		f := newFailures()
		q, closeQ := b.open(t, b.store(t), fast(Config{
			OnFailed: f.on,
			Timeouts: map[string]time.Duration{"slow": 200 * time.Millisecond},
			Handlers: map[string]Handler{
				"final": func(ctx context.Context, p []byte) error { count("final"); return fmt.Errorf("bad input: %w", boom) },
				"retry": func(ctx context.Context, p []byte) error { count("retry"); return Retry(boom) },
				"flaky": func(ctx context.Context, p []byte) error {
					count("flaky")
					mu.Lock()
					defer mu.Unlock()
					if runs["flaky"] < 3 {
						return fmt.Errorf("unavailable: %w", ErrRetry)
					}
					return nil
				},
				"panic": func(ctx context.Context, p []byte) error { count("panic"); panic("bug") },
				"slow": func(ctx context.Context, p []byte) error {
					count("slow")
					<-ctx.Done()
					return ctx.Err()
				},
			}}))
		ctx := context.Background()
		for _, kind := range []string{"final", "retry", "flaky", "panic", "slow"} {
			if err := q.Enqueue(ctx, kind, "k", []byte("p-"+kind)); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string]failure{}
		for range 4 {
			x := receive(t, f.ch, "OnFailed")
			got[x.kind] = x
		}
		waitFor(t, "flaky completed", func() bool { return lastState(t, q, "flaky", "k") == rivertype.JobStateCompleted })
		for _, kind := range []string{"final", "retry", "panic", "slow"} {
			waitFor(t, kind+" finalized", func() bool { return lastState(t, q, kind, "k") == rivertype.JobStateCancelled })
		}
		closeQ()

		if x := got["final"]; !errors.Is(x.err, boom) || errors.Is(x.err, ErrRetry) || x.key != "k" || x.payload != "p-final" {
			t.Errorf("final: %+v", x)
		}
		if x := got["retry"]; !errors.Is(x.err, boom) || !errors.Is(x.err, ErrRetry) {
			t.Errorf("retry: %+v", x)
		}
		if x := got["panic"]; x.err == nil {
			t.Errorf("panic: %+v", x)
		}
		if x := got["slow"]; !errors.Is(x.err, context.DeadlineExceeded) {
			t.Errorf("slow: %+v", x)
		}
		if _, ok := got["flaky"]; ok || f.count() != 4 {
			t.Errorf("failures: %+v", f.list)
		}
		want := map[string]int{"final": 1, "retry": DefaultMaxAttempts, "flaky": 3, "panic": 1, "slow": 1}
		if fmt.Sprint(runs) != fmt.Sprint(want) {
			t.Errorf("runs %v, want %v", runs, want)
		}
	})
}

func TestCloseWaitsForRunningJobs(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		started, release := make(chan struct{}), make(chan struct{})
		finished := make(chan error, 1)
		q, _ := b.open(t, b.store(t), fast(Config{Handlers: map[string]Handler{
			"train": func(ctx context.Context, p []byte) error {
				close(started)
				<-release
				finished <- ctx.Err()
				return nil
			},
		}}))
		if err := q.Enqueue(context.Background(), "train", "m", nil); err != nil {
			t.Fatal(err)
		}
		receive(t, started, "start")
		closed := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			closed <- q.Close(ctx)
		}()
		select {
		case err := <-closed:
			t.Fatalf("Close returned (%v) while a job was running", err)
		case <-time.After(200 * time.Millisecond): // Close must still be waiting
		}
		close(release)
		if err := receive(t, finished, "handler"); err != nil {
			t.Errorf("handler context: %v", err)
		}
		if err := receive(t, closed, "Close"); err != nil {
			t.Errorf("Close: %v", err)
		}
		if s := lastState(t, q, "train", "m"); s != rivertype.JobStateCompleted {
			t.Errorf("state %s", s)
		}
	})
}

func TestCloseCancelsAndRequeues(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		store := b.store(t)
		started := make(chan struct{})
		f := newFailures()
		q, closeQ := b.open(t, store, fast(Config{OnFailed: f.on, MaxAttempts: 1, Handlers: map[string]Handler{
			"train": func(ctx context.Context, p []byte) error {
				close(started)
				<-ctx.Done() // a long job: only cancellation stops it
				return ctx.Err()
			},
		}}))
		if err := q.Enqueue(context.Background(), "train", "m", []byte("again")); err != nil {
			t.Fatal(err)
		}
		receive(t, started, "start")
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := q.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close: %v, want deadline exceeded", err)
		}
		rows := jobRows(t, q, "train", "m")
		if len(rows) != 1 || rows[0].State != rivertype.JobStateAvailable || rows[0].Attempt != 0 {
			t.Fatalf("after Close: %+v", rows[0])
		}
		closeQ()
		if f.count() != 0 {
			t.Errorf("OnFailed called on Close: %+v", f.list)
		}

		// The next Open runs it, although MaxAttempts is 1: Close did not
		// spend the attempt.
		got := make(chan string, 1)
		b.open(t, store, fast(Config{OnFailed: f.on, MaxAttempts: 1, Handlers: map[string]Handler{
			"train": func(ctx context.Context, p []byte) error { got <- string(p); return nil },
		}}))
		if p := receive(t, got, "rerun"); p != "again" {
			t.Errorf("payload %q", p)
		}
	})
}
