package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/store"
)

// testHosting covers the node table and the hosting leases: a free or
// expired unit can be claimed, a live one only by its holder; renewal moves
// only the node's own leases; release and delete remove what they name.
func testHosting(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.UnixMilli(1_000_000).UTC()
	later := now.Add(15 * time.Second)

	// Nodes: registered, renewed (URL replaced), listed by id, deleted.
	for _, n := range []store.Node{{ID: "n2", URL: "http://127.0.0.1:2", Expires: later}, {ID: "n1", URL: "http://old", Expires: now}} {
		if err := s.PutNode(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutNode(ctx, store.Node{ID: "n1", URL: "http://127.0.0.1:1", Expires: later}); err != nil {
		t.Fatal(err)
	}
	nodes, err := s.Nodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].ID != "n1" || nodes[0].URL != "http://127.0.0.1:1" || !nodes[0].Expires.Equal(later) || nodes[1].ID != "n2" {
		t.Fatalf("nodes = %+v, %v", nodes, err)
	}
	if err := s.DeleteNode(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if nodes, _ := s.Nodes(ctx); len(nodes) != 1 {
		t.Fatalf("nodes after delete = %+v", nodes)
	}

	const a, b = "arn:aws:rekognition:us-east-1:111111111111:project/p/version/v/1", "arn:aws:lookoutvision:us-east-1:111111111111:model/p/1"
	claim := func(arn string, unit int, node string, expires, at time.Time) bool {
		t.Helper()
		ok, err := s.ClaimLease(ctx, store.Lease{ARN: arn, Unit: unit, Node: node, Expires: expires}, at)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// Free units are claimed; a live one is refused to another node but
	// re-claimed (extended) by its holder.
	if !claim(a, 0, "n1", later, now) || !claim(a, 1, "n2", later, now) || !claim(b, 0, "n1", later, now) {
		t.Fatal("claiming free units failed")
	}
	if claim(a, 0, "n2", later.Add(time.Second), now) {
		t.Fatal("a live lease was taken by another node")
	}
	if !claim(a, 0, "n1", later.Add(time.Second), now) {
		t.Fatal("the holder could not extend its own lease")
	}
	ls, err := s.Leases(ctx)
	if err != nil || len(ls) != 3 {
		t.Fatalf("leases = %+v, %v", ls, err)
	}
	if ls[0].ARN != b || ls[1] != (store.Lease{ARN: a, Unit: 0, Node: "n1", Expires: later.Add(time.Second)}) || ls[2].Node != "n2" {
		t.Fatalf("leases = %+v", ls)
	}
	if !ls[1].Live(later) || ls[2].Live(later) {
		t.Fatalf("Live: a lease is live before its expiry only: %+v", ls)
	}

	// Renewal moves n1's two leases, not n2's.
	renewed := later.Add(10 * time.Second)
	if n, err := s.RenewLeases(ctx, "n1", renewed); err != nil || n != 2 {
		t.Fatalf("renew = %d, %v", n, err)
	}
	ls, _ = s.Leases(ctx)
	if !ls[0].Expires.Equal(renewed) || !ls[1].Expires.Equal(renewed) || !ls[2].Expires.Equal(later) {
		t.Fatalf("after renewal = %+v", ls)
	}
	// n2 stops renewing: once its lease has expired, n1 takes the unit.
	if claim(a, 1, "n1", renewed, later.Add(-time.Millisecond)) {
		t.Fatal("a lease was taken before it expired")
	}
	if !claim(a, 1, "n1", renewed, later) {
		t.Fatal("an expired lease could not be claimed")
	}
	if n, _ := s.RenewLeases(ctx, "n2", renewed); n != 0 {
		t.Fatalf("n2 renewed %d leases it lost", n)
	}

	// Release one ARN, then all of a node's; delete every lease of an ARN.
	if err := s.ReleaseLeases(ctx, "n1", b); err != nil {
		t.Fatal(err)
	}
	if ls, _ := s.Leases(ctx); len(ls) != 2 || ls[0].ARN != a {
		t.Fatalf("after releasing %s: %+v", b, ls)
	}
	if !claim(b, 0, "n2", later, now) || !claim(a, 2, "n2", later, now) {
		t.Fatal("claims after release failed")
	}
	if err := s.ReleaseLeases(ctx, "n1", ""); err != nil {
		t.Fatal(err)
	}
	if ls, _ := s.Leases(ctx); len(ls) != 2 || ls[0].Node != "n2" || ls[1].Node != "n2" {
		t.Fatalf("after releasing all of n1's: %+v", ls)
	}
	if err := s.DeleteLeases(ctx, a); err != nil {
		t.Fatal(err)
	}
	if ls, _ := s.Leases(ctx); len(ls) != 1 || ls[0].ARN != b {
		t.Fatalf("after deleting %s: %+v", a, ls)
	}
}

// RaceLeases: two handles on one database (two nodes) claiming the same
// units at once, half through each: each unit goes to exactly one node, and
// once every lease has expired, exactly one claim of each wins again.
func RaceLeases(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	const arn, units, claimers = "arn:aws:rekognition:us-east-1:111111111111:project/p/version/v/1", 3, 8
	now := time.UnixMilli(2_000_000).UTC()
	race := func(at, expires time.Time) {
		t.Helper()
		wins := make(chan string, units*claimers)
		errs := make(chan error, units*claimers)
		for u := range units {
			for i := range claimers {
				s := a
				if i%2 == 1 {
					s = b
				}
				go func() {
					node := fmt.Sprintf("n%d", i)
					ok, err := s.ClaimLease(ctx, store.Lease{ARN: arn, Unit: u, Node: node, Expires: expires}, at)
					errs <- err
					if ok {
						wins <- fmt.Sprint(u)
					} else {
						wins <- ""
					}
				}()
			}
		}
		won := map[string]int{}
		for range units * claimers {
			if err := <-errs; err != nil {
				t.Error(err)
			}
			if w := <-wins; w != "" {
				won[w]++
			}
		}
		for u := range units {
			if won[fmt.Sprint(u)] != 1 {
				t.Fatalf("unit %d: %d of %d claims won, want 1 (%v)", u, won[fmt.Sprint(u)], claimers, won)
			}
		}
	}
	race(now, now.Add(15*time.Second))
	race(now.Add(15*time.Second), now.Add(30*time.Second)) // every lease expired
	ls, err := b.Leases(ctx)
	if err != nil || len(ls) != units {
		t.Fatalf("leases = %+v, %v", ls, err)
	}
}
