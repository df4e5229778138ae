package space

import (
	"errors"
	"syscall"
	"testing"
)

func TestGuard(t *testing.T) {
	g, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	free, err := g.Free()
	if err != nil || free == 0 {
		t.Fatalf("free %d, %v", free, err)
	}
	if err := g.Check(0); err != nil && free > g.Reserve {
		t.Fatalf("Check(0) with %d free, reserve %d: %v", free, g.Reserve, err)
	}
	if err := g.Check(int64(free)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Check(all free space) = %v, want ENOSPC", err)
	}
	var none *Guard
	if err := none.Check(1 << 62); err != nil {
		t.Fatalf("nil guard: %v", err)
	}
	for _, c := range []struct{ total, want uint64 }{{10 << 20, 1 << 20}, {1 << 30, (1 << 30) / 100}, {1 << 40, 32 << 20}} {
		if got := DefaultReserve(c.total); got != c.want {
			t.Errorf("DefaultReserve(%d) = %d, want %d", c.total, got, c.want)
		}
	}
}
