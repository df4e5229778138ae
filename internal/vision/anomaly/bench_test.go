package anomaly_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/anomaly/anomalydata"
)

// BenchmarkDetectCookie measures DetectBytes (JPEG decode included, mask
// PNG encoding included) on one 576x768 cookie test image with the shared
// MobileNetV2-int8 backbone. Training happens before the timer starts.
func BenchmarkDetectCookie(b *testing.B) {
	dir := filepath.Join(sharedDir(), "datasets", "lookout-cookies")
	bb := openORT(b)
	train, err := anomalydata.ReadManifest(filepath.Join(dir, "manifests", "template.manifest"), dir)
	if err != nil {
		b.Skip(err)
	}
	ctx := context.Background()
	m, _, err := anomaly.Train(ctx, anomaly.TrainConfig{Backbone: bb, Train: train, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	raw, err := os.ReadFile(filepath.Join(dir, "test-images", "test-anomaly-1.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := m.DetectBytes(ctx, raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.EncodeMask(); err != nil {
			b.Fatal(err)
		}
	}
}
