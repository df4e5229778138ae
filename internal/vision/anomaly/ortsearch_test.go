package anomaly_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// sharedDir is ../shared beside the module.
func sharedDir() string {
	wd, _ := os.Getwd()
	return filepath.Join(backbone.ModuleRoot(wd), "..", "shared")
}

// openORT opens the shared MobileNetV2 backbone, which starts ONNX Runtime;
// the test is skipped when the file or the library is missing. It is
// closed when the test ends.
func openORT(t testing.TB) *backbone.ORT {
	t.Helper()
	onnx := filepath.Join(sharedDir(), "models", "mobilenetv2-12-int8.onnx")
	if _, err := os.Stat(onnx); err != nil {
		t.Skip("no ../shared/models/mobilenetv2-12-int8.onnx")
	}
	if _, err := backbone.FindLibrary(); err != nil {
		t.Skip(err)
	}
	bb, err := backbone.OpenORT(onnx, backbone.ORTConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Close() })
	return bb
}

// TestORTSearchMatchesBruteForce checks Detect's ONNX Runtime search
// against brute force in the unrotated space, with a rotation and without,
// and on a bank full of exact ties, which forces the exhaustive fallback.
func TestORTSearchMatchesBruteForce(t *testing.T) {
	openORT(t)
	r := rand.New(rand.NewPCG(5, 6))
	check := func(name string, bankV, q []float32, d int, rotated bool, wantFallbacks bool) {
		t.Helper()
		var rot []float32
		bank := slices.Clone(bankV)
		if rotated {
			rot = anomaly.PCARotation(bankV, d)
			anomaly.Rotate(bank, d, rot)
		}
		b := anomaly.NewBank(bank, d)
		x := slices.Clone(q)
		got, fallbacks, err := anomaly.SearchORT(b, rot, x)
		if err != nil {
			t.Fatal(err)
		}
		n := len(q) / d
		if len(got) != n {
			t.Fatalf("%s: %d distances for %d queries", name, len(got), n)
		}
		if wantFallbacks != (fallbacks > 0) {
			t.Errorf("%s: %d fallbacks", name, fallbacks)
		}
		for i := 0; i < n; i++ {
			best := math.Inf(1)
			for j := 0; j < len(bankV)/d; j++ {
				best = math.Min(best, sq(q[i*d:(i+1)*d], bankV[j*d:(j+1)*d]))
			}
			if want := math.Sqrt(best); math.Abs(float64(got[i])-want) > 1e-4*math.Max(1, want) {
				t.Fatalf("%s: query %d: distance %g, brute force %g", name, i, got[i], want)
			}
		}
		if rotated {
			// The features come back rotated, as the segmentation head needs.
			want := slices.Clone(q)
			anomaly.Rotate(want, d, rot)
			for i := range want {
				if math.Abs(float64(x[i]-want[i])) > 1e-4*math.Max(1, math.Abs(float64(want[i]))) {
					t.Fatalf("%s: rotated feature %d = %g, want %g", name, i, x[i], want[i])
				}
			}
		}
	}
	for _, d := range []int{7, 32, 128} {
		bankV := randVecs(r, 900, d)
		q := randVecs(r, 300, d) // 300: chunks of 128 and a short one
		check("random", bankV, q, d, true, false)
		check("unrotated", bankV, q, d, false, false)
	}
	// 40 copies of each of 5 vectors: the 4 candidates of a query are all
	// tied, so the certificate cannot hold and every query falls back.
	d := 16
	base := randVecs(r, 5, d)
	var bankV []float32
	for range 40 {
		bankV = append(bankV, base...)
	}
	check("ties", bankV, randVecs(r, 50, d), d, false, true)
}
