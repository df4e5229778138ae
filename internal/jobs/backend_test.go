package jobs

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ocellus/ocellus/internal/e2e/pgtest"
)

// backend is one database the queue runs on. Every test runs on each.
type backend struct {
	name string
	// store returns the location of a fresh, empty queue store for t.
	store func(t testing.TB) string
	// open opens a Queue on the store; close stops it and releases the
	// store, so that it can be opened again.
	open func(t testing.TB, store string, cfg Config) (q *Queue, close func())
}

func backends(t testing.TB) []backend {
	return []backend{sqliteBackend(), postgresBackend()}
}

func sqliteBackend() backend {
	return backend{
		name:  "sqlite",
		store: func(t testing.TB) string { return filepath.Join(t.TempDir(), "jobs.db") },
		open: func(t testing.TB, store string, cfg Config) (*Queue, func()) {
			db, err := OpenSQLiteDB(store)
			if err != nil {
				t.Fatal(err)
			}
			q, err := Open(context.Background(), db, cfg)
			if err != nil {
				db.Close()
				t.Fatal(err)
			}
			return q, closer(t, q, func() { db.Close() })
		},
	}
}

func postgresBackend() backend {
	return backend{
		name: "postgres",
		// One database per test, so that tests do not see each other's
		// jobs, on the one cluster of the test binary.
		store: func(t testing.TB) string { return pgtest.Shared(t).NewDatabase(t) },
		open: func(t testing.TB, store string, cfg Config) (*Queue, func()) {
			pool, err := pgxpool.New(context.Background(), store)
			if err != nil {
				t.Fatal(err)
			}
			q, err := OpenPostgres(context.Background(), pool, cfg)
			if err != nil {
				pool.Close()
				t.Fatal(err)
			}
			return q, closer(t, q, pool.Close)
		},
	}
}

// closer closes q then release, once, and at the end of t at the latest.
func closer(t testing.TB, q *Queue, release func()) func() {
	var once sync.Once
	f := func() {
		once.Do(func() {
			if err := q.Close(context.Background()); err != nil {
				t.Errorf("close: %v", err)
			}
			release()
		})
	}
	t.Cleanup(f)
	return f
}

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}
