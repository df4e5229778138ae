package vision

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// TestQualityClassification trains with the product defaults (what
// CreateProjectVersion and `ocellus train` run) on the real classification
// sets of ../shared and logs top-1 accuracy: clothing-small on its own
// split, sign-language digits on a 70/30 split seeded 1. Minutes of CPU, so
// it runs only with OCELLUS_QUALITY=1:
//
//	OCELLUS_QUALITY=1 go test -run TestQualityClassification -v ./internal/vision/
func TestQualityClassification(t *testing.T) {
	if os.Getenv("OCELLUS_QUALITY") == "" {
		t.Skip("set OCELLUS_QUALITY=1 (minutes of CPU)")
	}
	wd, _ := os.Getwd()
	shared := filepath.Join(backbone.ModuleRoot(wd), "..", "shared")
	bb, err := backbone.OpenORT(filepath.Join(shared, "models", "mobilenetv2-12-int8.onnx"), backbone.ORTConfig{})
	if err != nil {
		t.Skip(err)
	}
	defer bb.Close()
	ds := filepath.Join(shared, "datasets")
	type set struct {
		name        string
		train, test []Example
	}
	sign := folderExamples(t, filepath.Join(ds, "sign-language-digits"))
	signTrain, signTest := Split(sign, 0.3, 1)
	sets := []set{
		{"clothing-small", folderExamples(t, filepath.Join(ds, "clothing-small", "train")), folderExamples(t, filepath.Join(ds, "clothing-small", "test"))},
		{"sign-language-digits", signTrain, signTest},
	}
	for _, s := range sets {
		t0 := time.Now()
		_, ev, err := Train(context.Background(), TrainConfig{Backbone: bb, Train: s.train, Test: s.test, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d train / %d test, top-1 %.4f, macro F1 %.4f, training %.1f s (total %.1f s)",
			s.name, len(s.train), len(s.test), ev.Report.Accuracy, ev.Report.F1, ev.TrainSeconds, time.Since(t0).Seconds())
	}
}

// folderExamples reads DIR/<label>/<image> (files sorted by name).
func folderExamples(t *testing.T, dir string) []Example {
	classes, err := os.ReadDir(dir)
	if err != nil {
		t.Skip(err)
	}
	var out []Example
	for _, c := range classes {
		if !c.IsDir() {
			continue
		}
		fs, _ := filepath.Glob(filepath.Join(dir, c.Name(), "*"))
		sort.Strings(fs)
		for _, f := range fs {
			out = append(out, Example{Path: f, Labels: []string{c.Name()}})
		}
	}
	return out
}
