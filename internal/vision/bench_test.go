package vision

import (
	"bytes"
	"context"
	"image/jpeg"
	"math/rand/v2"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// BenchmarkPredictBytes measures classification of a 640x480 JPEG, decode
// included (run with the shared backbone present; see also visionbench).
func BenchmarkPredictBytes(b *testing.B) {
	bb := sharedORTB(b)
	m, _, err := Train(context.Background(), TrainConfig{Backbone: bb, Train: dataset(30, 1), Test: dataset(9, 2), Seed: 1, Head: smallHead})
	if err != nil {
		b.Fatal(err)
	}
	img := imageio.Resize(shapes(0, rand.New(rand.NewPCG(1, 1))), 640, 480)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.PredictBytes(context.Background(), buf.Bytes(), PredictOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
