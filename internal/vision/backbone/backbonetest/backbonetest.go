// Package backbonetest is the conformance suite every backbone.Backbone
// implementation runs.
package backbonetest

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// Run checks the contract of b: declared shapes, determinism, batch
// independence, sensitivity to the input and context cancellation.
func Run(t *testing.T, b backbone.Backbone) {
	t.Helper()
	info := b.Info()
	if info.Identity == "" || info.Size < 16 || len(info.Maps) == 0 {
		t.Fatalf("bad info: %+v", info)
	}
	for _, m := range info.Maps {
		if m.C <= 0 || m.H <= 0 || m.W <= 0 || len(m.Grids) == 0 {
			t.Fatalf("bad map %+v", m)
		}
	}
	if backbone.EmbeddingLen(info) <= 0 {
		t.Fatal("empty embedding")
	}
	r := rand.New(rand.NewPCG(1, 2))
	img := func() []float32 {
		x := make([]float32, info.InputLen())
		for i := range x {
			x[i] = (r.Float32() - info.Mean[i*3/len(x)]) / info.Std[i*3/len(x)]
		}
		return x
	}
	a, c := img(), img()
	ctx := context.Background()

	t.Run("shapes", func(t *testing.T) {
		out, err := b.Forward(ctx, append(append([]float32(nil), a...), c...), 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(info.Maps) {
			t.Fatalf("%d maps, want %d", len(out), len(info.Maps))
		}
		for i, m := range info.Maps {
			if len(out[i]) != 2*m.C*m.H*m.W {
				t.Errorf("map %s: %d floats, want %d", m.Name, len(out[i]), 2*m.C*m.H*m.W)
			}
		}
	})
	t.Run("deterministic and batch independent", func(t *testing.T) {
		one, err := b.Forward(ctx, c, 1)
		if err != nil {
			t.Fatal(err)
		}
		again, err := b.Forward(ctx, c, 1)
		if err != nil {
			t.Fatal(err)
		}
		two, err := b.Forward(ctx, append(append([]float32(nil), a...), c...), 2)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range info.Maps {
			n := m.C * m.H * m.W
			for j := 0; j < n; j++ {
				if one[i][j] != again[i][j] {
					t.Fatalf("map %s not deterministic at %d", m.Name, j)
				}
				if d := math.Abs(float64(one[i][j] - two[i][n+j])); d > 1e-4 {
					t.Fatalf("map %s: batch of 2 differs at %d by %g", m.Name, j, d)
				}
			}
		}
	})
	t.Run("input sensitive", func(t *testing.T) {
		ea := embed(t, b, a)
		ec := embed(t, b, c)
		var d float64
		for i := range ea {
			d += math.Abs(float64(ea[i] - ec[i]))
		}
		if d == 0 {
			t.Fatal("different images give the same embedding")
		}
	})
	t.Run("bad input", func(t *testing.T) {
		if _, err := b.Forward(ctx, a[:len(a)-1], 1); err == nil {
			t.Fatal("short input accepted")
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := b.Forward(cctx, a, 1); err == nil {
			t.Fatal("cancelled context accepted")
		}
	})
}

func embed(t *testing.T, b backbone.Backbone, x []float32) []float32 {
	info := b.Info()
	out, err := b.Forward(context.Background(), x, 1)
	if err != nil {
		t.Fatal(err)
	}
	e := make([]float32, backbone.EmbeddingLen(info))
	backbone.Embed(e, info, out, 0, backbone.Pools(info))
	return e
}
