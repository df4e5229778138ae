package postgres

import (
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ocellus/ocellus/internal/e2e/pgtest"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
	"github.com/ocellus/ocellus/internal/store/storetest"
)

// TestConformance runs the suite SQLite runs, each subtest on a fresh
// database of one private cluster.
func TestConformance(t *testing.T) {
	c := pgtest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), c.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestClientTokenRace: two store handles on one database (two nodes)
// claiming the same client token at once: exactly one wins each round.
func TestClientTokenRace(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	var handles [2]store.Store
	for i := range handles {
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		handles[i] = s
	}
	storetest.RaceClientTokens(t, handles[0], handles[1])
}

// TestReopenKeepsDataAndSkipsAppliedMigrations: two nodes opening a fresh
// database at once both succeed; a later Open (another node, or a restart)
// applies nothing again and sees the data.
func TestReopenKeepsDataAndSkipsAppliedMigrations(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	url := c.NewDatabase(t)
	errc := make(chan error, 2)
	for range 2 {
		go func() {
			s, err := Open(ctx, url)
			if err == nil {
				s.Close()
			}
			errc <- err
		}()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatalf("concurrent first open: %v", err)
		}
	}
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetTags(ctx, "arn:x", map[string]string{"k": "v"}, 10); err != nil {
		t.Fatal(err)
	}
	var applied int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, url)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if tags, _ := s.Tags(ctx, "arn:x"); tags["k"] != "v" {
		t.Fatalf("tags after reopen = %v", tags)
	}
	// A real duplicate key from the server is told by its code.
	_, err = s.pool.Exec(ctx, `INSERT INTO tags (arn, key, value) VALUES ('a', 'k', 'v'), ('a', 'k', 'w')`)
	if code(err) != codeUniqueViolation || !isUnique(err) {
		t.Fatalf("duplicate key = %v (code %q)", err, code(err))
	}
	names, _ := migrations.ReadDir("migrations")
	var again int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&again); err != nil || again != applied || applied != len(names) {
		t.Fatalf("schema_migrations rows: %d after the first opens, %d after reopening, %d files (%v)", applied, again, len(names), err)
	}
}

// TestDriverErrorsMapByCode: the adapter maps SQLSTATE codes, whatever the
// message says: 23505 is a unique violation, 53100 a full volume (the
// answer SQLite's SQLITE_FULL gets), anything else stays Internal.
func TestDriverErrorsMapByCode(t *testing.T) {
	full := wrap(&pgconn.PgError{Code: "53100", Message: "could not extend file: No space left on device"}, "insert project")
	if !errors.Is(full, syscall.ENOSPC) || !ocellus.DiskFull(full) || ocellus.MessageOf(full) != ocellus.DiskFullMessage {
		t.Fatalf("53100 = %v: DiskFull %v, message %q", full, ocellus.DiskFull(full), ocellus.MessageOf(full))
	}
	var pe *pgconn.PgError
	if !errors.As(full, &pe) || pe.Code != "53100" {
		t.Fatalf("the driver's error is lost: %v", full)
	}
	// The message alone does not make a full disk or a duplicate.
	other := wrap(&pgconn.PgError{Code: "XX000", Message: "database or disk is full; duplicate key value violates unique constraint"}, "insert")
	if errors.Is(other, syscall.ENOSPC) || isUnique(other) || ocellus.KindOf(other) != ocellus.Internal {
		t.Fatalf("XX000 mapped by its message: %v", other)
	}
	if !isUnique(&pgconn.PgError{Code: "23505"}) || isUnique(errors.New("23505")) {
		t.Fatal("unique violation not told by code")
	}
}

// TestLeaseRace: two store handles on one database (two nodes) claiming
// the same hosting units at once: each unit goes to one node.
func TestLeaseRace(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	var handles [2]store.Store
	for i := range handles {
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		handles[i] = s
	}
	storetest.RaceLeases(t, handles[0], handles[1])
}
