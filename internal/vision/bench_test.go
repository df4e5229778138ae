package vision

import (
	"bytes"
	"context"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/head"
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

// BenchmarkDetectBytes measures DetectCustomLabels' work on a 640x480 JPEG
// (decode included) for a detection model on the shared backbone at the
// detection input side, untiled (with the box classifier, and without it
// as format-3 models ran) and tiled 2x2 (the default for small objects;
// see detectionTiles).
func BenchmarkDetectBytes(b *testing.B) {
	wd, _ := os.Getwd()
	p := filepath.Join(backbone.ModuleRoot(wd), "..", "shared", "models", "mobilenetv2-12-int8.onnx")
	if _, err := os.Stat(p); err != nil {
		b.Skip("shared backbone not present")
	}
	if _, err := backbone.FindLibrary(); err != nil {
		b.Skip(err)
	}
	bb, err := backbone.OpenORT(p, backbone.ORTConfig{Detection: true})
	if err != nil {
		b.Fatal(err)
	}
	defer bb.Close()
	m, _, err := Train(context.Background(), TrainConfig{Backbone: bb, Train: detectionScenes(b, 20, 1), Test: detectionScenes(b, 4, 2), Seed: 1,
		DetectionTiles: 1, Head: head.Config{Hidden: 64, Epochs: 2}, BoxHead: head.Config{Epochs: 2}})
	if err != nil {
		b.Fatal(err)
	}
	img := imageio.Resize(detectionScenes(b, 1, 3)[0].Image, 640, 480)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	roi := m.ROIHead
	for _, v := range []struct {
		name  string
		tiles int
		roi   bool
	}{{"tiles=1", 1, true}, {"tiles=1/cell-head-only", 1, false}, {"tiles=2", 2, false}} {
		b.Run(v.name, func(b *testing.B) {
			m.Tiles, m.ROIHead = v.tiles, nil
			if v.roi {
				m.ROIHead = roi
			}
			for i := 0; i < b.N; i++ {
				if _, err := m.PredictBytes(context.Background(), buf.Bytes(), PredictOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
