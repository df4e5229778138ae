package serve

import (
	"context"
	"crypto/sha256"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// cpuModel is a CPU-bound stand-in for a real model (see fakeModel for why a
// fake): it hashes a buffer, so it holds a core the way a forward pass does.
type cpuModel struct{ buf []byte }

func (m cpuModel) Predict(context.Context, []byte) ([32]byte, error) {
	return sha256.Sum256(m.buf), nil
}

func benchPool(b *testing.B, cfg Config, m cpuModel) *Pool[cpuModel] {
	b.Helper()
	cfg.Logger = quiet()
	p := New[cpuModel](cfg)
	b.Cleanup(func() { p.Close() })
	if err := p.Start(context.Background(), "v", 1, 1, func(context.Context) (cpuModel, error) { return m, nil }); err != nil {
		b.Fatal(err)
	}
	for {
		if s, _ := p.State("v"); s.State == Running {
			return p
		}
		time.Sleep(time.Millisecond)
	}
}

func call(p *Pool[cpuModel]) error {
	return p.Do(context.Background(), "v", func(ctx context.Context, m cpuModel) error {
		_, err := m.Predict(ctx, nil)
		return err
	})
}

// BenchmarkOverhead is the cost Do adds around a model that does nothing:
// admission, token bucket, slot, release.
func BenchmarkOverhead(b *testing.B) {
	m := cpuModel{} // hashing nothing: ~50 ns
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			m.Predict(context.Background(), nil)
		}
	})
	b.Run("pool", func(b *testing.B) {
		// A huge rate and many slots, so every request takes the admitted path.
		p := benchPool(b, Config{SlotsPerUnit: 1 << 20, UnitTPS: 1e12}, m)
		for b.Loop() {
			if err := call(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pool-parallel", func(b *testing.B) {
		p := benchPool(b, Config{SlotsPerUnit: 1 << 20, UnitTPS: 1e12}, m)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := call(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("reject", func(b *testing.B) {
		// An empty bucket: the cost of saying ProvisionedThroughputExceeded.
		p := benchPool(b, Config{UnitTPS: 1e-9, BurstPerUnit: 1}, m)
		call(p)
		for b.Loop() {
			if err := call(p); ocellus.KindOf(err) != ocellus.CapacityExceeded {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUnitTPS drives one inference unit with 4 callers per core and a
// CPU-bound model of ~1 ms, and reports what the unit sustained
// (admitted/s) and what fraction it turned away. "slots" has no rate limit,
// so it shows the slot bound (1 slot = 1 core's worth); "default" uses the
// default unit (1 slot, DefaultUnitTPS), which the rate limit caps.
func BenchmarkUnitTPS(b *testing.B) {
	m := cpuModel{buf: make([]byte, 1<<20)} // SHA-256 of 1 MiB: ~0.5-2 ms
	b.Run("model-alone", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			m.Predict(context.Background(), nil)
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "admitted/s")
	})
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"slots", Config{SlotsPerUnit: 1, UnitTPS: -1}},
		{"default", Config{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := benchPool(b, c.cfg, m)
			var admitted, rejected, cur, peak atomic.Int64
			// peak is the most requests seen inside the model at once: it
			// must not exceed the unit's slots.
			run := func() error {
				return p.Do(context.Background(), "v", func(ctx context.Context, m cpuModel) error {
					n := cur.Add(1)
					defer cur.Add(-1)
					for o := peak.Load(); n > o && !peak.CompareAndSwap(o, n); o = peak.Load() {
					}
					_, err := m.Predict(ctx, nil)
					return err
				})
			}
			b.SetParallelism(4)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					switch err := run(); ocellus.KindOf(err) {
					case ocellus.CapacityExceeded:
						rejected.Add(1)
						// A client backing off briefly, as the SDK retryer
						// does, instead of spinning on rejections.
						time.Sleep(time.Millisecond)
					default:
						if err != nil {
							b.Fatal(err)
						}
						admitted.Add(1)
					}
				}
			})
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(admitted.Load())/secs, "admitted/s")
			b.ReportMetric(100*float64(rejected.Load())/float64(b.N), "rejected%")
			b.ReportMetric(float64(peak.Load()), "peak-inflight")
		})
	}
}
