package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeImage writes a 64x48 PNG: class 0 has vertical stripes, class 1
// horizontal ones.
func writeImage(t *testing.T, path string, class, seed int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			on := (x/5)%2 == 0
			if class == 1 {
				on = (y/5)%2 == 0
			}
			v := uint8((x*7 + y*13 + seed*31) % 40)
			if on {
				v += 180
			}
			img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTrainPredictExportCLI(t *testing.T) {
	t.Setenv("OCELLUS_BACKBONE", "builtin")
	dir := t.TempDir()
	root := filepath.Join(dir, "images")
	var train, test strings.Builder
	names := []string{"vertical", "horizontal"}
	for i := 0; i < 24; i++ {
		c := i % 2
		key := fmt.Sprintf("ds/img%02d.png", i)
		writeImage(t, filepath.Join(root, "bucket", key), c, i)
		line := fmt.Sprintf(`{"source-ref":"s3://bucket/%s","stripes":%d,"stripes-metadata":{"class-name":%q,"type":"groundtruth/image-classification"}}`+"\n", key, c, names[c])
		if i < 16 {
			train.WriteString(line)
		} else {
			test.WriteString(line)
		}
	}
	os.WriteFile(filepath.Join(dir, "train.manifest"), []byte(train.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "test.manifest"), []byte(test.String()), 0o644)
	model := filepath.Join(dir, "m.ocm")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"train", "--manifest", filepath.Join(dir, "train.manifest"), "--test-manifest", filepath.Join(dir, "test.manifest"),
		"--images-root", root, "--out", model, "--epochs", "10", "--hidden", "16", "--quiet"}, &out, &errb)
	if code != 0 {
		t.Fatalf("train exit %d: %s %s", code, out.String(), errb.String())
	}
	var summary map[string]any
	b, err := os.ReadFile(evaluationPath(model))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &summary); err != nil {
		t.Fatal(err)
	}
	if summary["EvaluationDetails"].(map[string]any)["NumberOfTestingImages"].(float64) != 8 {
		t.Errorf("summary %s", b)
	}

	img := filepath.Join(root, "bucket", "ds", "img01.png")
	out.Reset()
	code = run(context.Background(), []string{"predict", "--model", model, "--min-confidence", "0", "--max-results", "1", img, img}, &out, &errb)
	if code != 0 {
		t.Fatalf("predict exit %d: %s", code, errb.String())
	}
	sc := bufio.NewScanner(&out)
	lines := 0
	for sc.Scan() {
		lines++
		var resp struct {
			CustomLabels []struct {
				Name       string
				Confidence float64
				Geometry   any
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.CustomLabels) != 1 || resp.CustomLabels[0].Name != "horizontal" || resp.CustomLabels[0].Geometry != nil {
			t.Errorf("response %s", sc.Text())
		}
		if c := resp.CustomLabels[0].Confidence; c < 50 || c > 100 {
			t.Errorf("confidence %v", c)
		}
	}
	if lines != 2 {
		t.Errorf("%d lines, want 2", lines)
	}
	// The built-in extractor has no ONNX form.
	if code := run(context.Background(), []string{"export", "--model", model, "--onnx", filepath.Join(dir, "m.onnx")}, &out, &errb); code == 0 {
		t.Error("export of a built-in model succeeded")
	}
}
