package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ocellus/ocellus/internal/store"
	"github.com/ocellus/ocellus/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsDataAndSkipsAppliedMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetTags(ctx, "arn:x", map[string]string{"k": "v"}, 10); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if tags, _ := s.Tags(ctx, "arn:x"); tags["k"] != "v" {
		t.Fatalf("tags after reopen = %v", tags)
	}
}

// TestClientTokenRace: two handles on one file claiming the same client
// token at once: exactly one wins each round.
func TestClientTokenRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	var handles [2]store.Store
	for i := range handles {
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		handles[i] = s
	}
	storetest.RaceClientTokens(t, handles[0], handles[1])
}

// TestLeaseRace: two handles on one file claiming the same hosting units
// at once: each unit goes to one node.
func TestLeaseRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	var handles [2]store.Store
	for i := range handles {
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		handles[i] = s
	}
	storetest.RaceLeases(t, handles[0], handles[1])
}
