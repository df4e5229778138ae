package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/anomaly/anomalydata"
	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// texture is a 256x256 brick-like pattern with noise.
func texture() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 256, 256))
	for y := 0; y < 256; y++ {
		for x := 0; x < 256; x++ {
			v := uint8(120 + (x*13+y*7)%30)
			if y%32 < 3 || (x+16*(y/32%2))%48 < 3 {
				v = 60
			}
			img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	return img
}

// TestPredictAnomalyModel runs `ocellus predict` on a saved anomaly model
// (what a Lookout for Vision packaging job writes as model.ocellus-anomaly)
// and checks the DetectAnomalies JSON and the mask files.
func TestPredictAnomalyModel(t *testing.T) {
	t.Setenv("OCELLUS_BACKBONE", "builtin")
	tex := texture()
	train := append(anomalydata.Synthetic(tex, 12, 128, false, 1), anomalydata.Synthetic(tex, 6, 128, true, 2)...)
	m, _, err := anomaly.Train(context.Background(), anomaly.TrainConfig{Backbone: backbone.Builtin{}, Train: train, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := m.MarshalBinary()
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "model.ocellus-anomaly")
	os.WriteFile(model, blob, 0o644)
	var imgs []string
	for i, ex := range append(anomalydata.Synthetic(tex, 1, 128, false, 3), anomalydata.Synthetic(tex, 1, 128, true, 4)...) {
		var b bytes.Buffer
		png.Encode(&b, ex.Image)
		p := filepath.Join(dir, []string{"normal.png", "defect.png"}[i])
		os.WriteFile(p, b.Bytes(), 0o644)
		imgs = append(imgs, p)
	}
	masks := filepath.Join(dir, "masks")
	var out, errb bytes.Buffer
	if code := run(context.Background(), append([]string{"predict", "--model", model, "--mask-dir", masks}, imgs...), &out, &errb); code != 0 {
		t.Fatalf("predict exit %d: %s", code, errb.String())
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	var results []detectAnomaliesResponse
	for sc.Scan() {
		var r detectAnomaliesResponse
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		results = append(results, r)
	}
	if len(results) != 2 {
		t.Fatalf("%d results: %s", len(results), out.String())
	}
	for i, r := range results {
		d := r.DetectAnomalyResult
		if d.Source.Type != "direct" || d.Confidence < 0.5 || d.Confidence > 1 || len(d.Anomalies) == 0 || d.Anomalies[0].Name != "background" {
			t.Errorf("%s: %+v", imgs[i], d)
		}
		mask, err := os.ReadFile(filepath.Join(masks, filepath.Base(imgs[i])+".mask.png"))
		if err != nil || !bytes.Equal(mask, d.AnomalyMask) {
			t.Errorf("%s: mask file (%v) differs from AnomalyMask", imgs[i], err)
		}
		if mi, err := png.Decode(bytes.NewReader(mask)); err != nil || mi.Bounds().Dx() != 128 {
			t.Errorf("%s: mask is not a 128-px PNG: %v", imgs[i], err)
		}
	}
	if results[0].DetectAnomalyResult.IsAnomalous || !results[1].DetectAnomalyResult.IsAnomalous {
		t.Errorf("normal image anomalous=%v, defect image anomalous=%v", results[0].DetectAnomalyResult.IsAnomalous, results[1].DetectAnomalyResult.IsAnomalous)
	}
}
