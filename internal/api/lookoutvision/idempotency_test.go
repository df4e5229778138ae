package lookoutvision

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store/sqlite"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock(t time.Time) *fakeClock    { return &fakeClock{t: t} }
func runs(n *int) func() ([]byte, error) {
	return func() ([]byte, error) { *n++; return []byte{byte('0' + *n)}, nil }
}
func failing(n *int) func() ([]byte, error) {
	return func() ([]byte, error) { *n++; return nil, errors.New("boom") }
}

// A token answers the first result for 8 hours, refuses other parameters
// or another operation with a Conflict, forgets failures, and expires.
func TestClientTokenLifetime(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := newClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ctl := control.New(st, nil, control.Config{Now: clock.now, DataDir: t.TempDir()})
	ctl.UseQueue(storedQueue{}) // the jobs are not run: these tests cover the request path
	defer ctl.Close()
	l := control.NewLookout(ctl, control.LookoutConfig{})
	defer l.Close()

	n := 0
	out, err := l.Idempotent(ctx, "111111111111", "CreateModel", "tok", "h1", runs(&n))
	if err != nil || string(out) != "1" || n != 1 {
		t.Fatalf("first = %q, %v, runs %d", out, err, n)
	}
	clock.add(7*time.Hour + 59*time.Minute)
	if out, err = l.Idempotent(ctx, "111111111111", "CreateModel", "tok", "h1", runs(&n)); err != nil || string(out) != "1" || n != 1 {
		t.Fatalf("replay = %q, %v, runs %d", out, err, n)
	}
	if _, err = l.Idempotent(ctx, "111111111111", "CreateModel", "tok", "h2", runs(&n)); ocellus.KindOf(err) != ocellus.Conflict {
		t.Fatalf("other params = %v", err)
	}
	if _, err = l.Idempotent(ctx, "111111111111", "StartModel", "tok", "h1", runs(&n)); ocellus.KindOf(err) != ocellus.Conflict {
		t.Fatalf("other op = %v", err)
	}
	// Another account's token of the same name is its own.
	if out, err = l.Idempotent(ctx, "222222222222", "CreateModel", "tok", "h2", runs(&n)); err != nil || string(out) != "2" {
		t.Fatalf("other account = %q, %v", out, err)
	}
	// Failures are not remembered: the retry runs.
	f := 0
	if _, err = l.Idempotent(ctx, "111111111111", "DeleteModel", "tok2", "h", failing(&f)); err == nil {
		t.Fatal("failure swallowed")
	}
	if _, err = l.Idempotent(ctx, "111111111111", "DeleteModel", "tok2", "h", failing(&f)); err == nil || f != 2 {
		t.Fatalf("failure remembered: runs %d", f)
	}
	// After 8 hours the token is free again.
	clock.add(2 * time.Minute)
	if out, err = l.Idempotent(ctx, "111111111111", "CreateModel", "tok", "h2", runs(&n)); err != nil || string(out) != "3" {
		t.Fatalf("expired token = %q, %v", out, err)
	}
	// No token: every call runs.
	m := 0
	l.Idempotent(ctx, "111111111111", "CreateModel", "", "h", runs(&m))
	l.Idempotent(ctx, "111111111111", "CreateModel", "", "h", runs(&m))
	if m != 2 {
		t.Fatalf("tokenless calls ran %d times", m)
	}
}

// storedQueue accepts jobs and never runs them.
type storedQueue struct{}

func (storedQueue) Enqueue(context.Context, string, string, []byte) error { return nil }
