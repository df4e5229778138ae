package moderation

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// BenchmarkConvert measures the install-time conversion of each variant
// (tarball check, unpacking, parsing, dequantisation, ONNX encoding) and
// reports the ONNX file size.
func BenchmarkConvert(b *testing.B) {
	tgz := packageBytes(b)
	for _, v := range Variants() {
		b.Run(v.Name, func(b *testing.B) {
			var n int
			for b.Loop() {
				onnx, err := Convert(tgz, v.Name)
				if err != nil {
					b.Fatal(err)
				}
				n = len(onnx)
			}
			b.ReportMetric(float64(n), "onnx-bytes")
		})
	}
}

// BenchmarkClassify runs one image at a time on ONNX Runtime (one intra-op
// thread, the backbone default) and reports the median latency.
func BenchmarkClassify(b *testing.B) {
	tgz := packageBytes(b)
	for _, v := range Variants() {
		b.Run(v.Name, func(b *testing.B) {
			onnx, err := Convert(tgz, v.Name)
			if err != nil {
				b.Fatal(err)
			}
			m, err := Open(onnx, v.Name, backbone.ORTConfig{})
			if errors.Is(err, backbone.ErrNoLibrary) {
				b.Skip(err)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			x := goldenInput("lcg1", v.Size)
			ctx := context.Background()
			if _, _, err := m.Classify(ctx, x, 1); err != nil { // warm-up
				b.Fatal(err)
			}
			var d []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, _, err := m.Classify(ctx, x, 1); err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(t0))
			}
			slices.Sort(d)
			b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
		})
	}
}
