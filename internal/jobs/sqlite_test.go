package jobs

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestSQLiteOneOwner: Open takes every running job for an orphan, which is
// only right if no other process has the queue open; the exclusive lock
// makes sure.
func TestSQLiteOneOwner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	db, err := OpenSQLiteDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := Open(context.Background(), db, Config{Handlers: map[string]Handler{"x": func(context.Context, []byte) error { return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())

	// As OpenSQLiteDB would, with a shorter wait for the lock.
	other, err := sql.Open("sqlite", strings.Replace(SQLiteDSN(path), "busy_timeout(10000)", "busy_timeout(100)", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec("BEGIN IMMEDIATE; COMMIT"); err == nil {
		t.Fatal("a second connection locked the queue database while it was open")
	}
	var n int
	if err := other.QueryRow("SELECT count(*) FROM river_job").Scan(&n); err == nil {
		t.Fatal("a second connection read the queue database while it was open")
	}
}

// TestOpenContextBoundsOnlyOpening: the queue keeps working after the
// context given to Open ends.
func TestOpenContextBoundsOnlyOpening(t *testing.T) {
	b := sqliteBackend()
	ran := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	db, err := OpenSQLiteDB(b.store(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := Open(ctx, db, fast(Config{Handlers: map[string]Handler{"x": func(context.Context, []byte) error { close(ran); return nil }}}))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	cancel()
	if err := q.Enqueue(context.Background(), "x", "k", nil); err != nil {
		t.Fatal(err)
	}
	receive(t, ran, "job after Open's context ended")
}
