package vision

import (
	"bytes"
	"context"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

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
// detection input side, untiled and tiled 2x2 (the default for small
// objects; see detectionTiles), each with the box classifier and without
// it (as format-3 models, and tiled format-4 ones, ran).
func BenchmarkDetectBytes(b *testing.B) {
	bb := sharedORTDetection(b)
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
	}{{"tiles=1", 1, true}, {"tiles=1/cell-head-only", 1, false}, {"tiles=2", 2, true}, {"tiles=2/cell-head-only", 2, false}} {
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

// BenchmarkDetectModelFile measures PredictBytes of a saved detection
// model (OCELLUS_BENCH_MODEL, e.g. one the real-photo harness wrote with
// OCELLUS_REALDET_SAVE) on the JPEGs matched by OCELLUS_BENCH_IMAGES (a
// glob), in turn, decode included, and reports the p50 of the calls.
func BenchmarkDetectModelFile(b *testing.B) {
	path, glob := os.Getenv("OCELLUS_BENCH_MODEL"), os.Getenv("OCELLUS_BENCH_IMAGES")
	if path == "" || glob == "" {
		b.Skip("set OCELLUS_BENCH_MODEL and OCELLUS_BENCH_IMAGES")
	}
	bb := sharedORTDetection(b)
	m, err := Load(path, bb)
	if err != nil {
		b.Fatal(err)
	}
	files, _ := filepath.Glob(glob)
	if len(files) == 0 {
		b.Fatalf("no images match %s", glob)
	}
	var imgs [][]byte
	for _, f := range files[:min(len(files), 40)] {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		imgs = append(imgs, d)
	}
	lat := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := m.PredictBytes(context.Background(), imgs[i%len(imgs)], PredictOptions{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
	}
	sort.Float64s(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
}

// sharedORTDetection opens the shared MobileNetV2 at the detection input
// side, as the server opens it for detection, or skips.
func sharedORTDetection(b *testing.B) *backbone.ORT {
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
	b.Cleanup(func() { bb.Close() })
	return bb
}
