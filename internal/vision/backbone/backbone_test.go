package backbone_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/backbone/backbonetest"
)

func TestBuiltinConformance(t *testing.T) {
	backbonetest.Run(t, backbone.Builtin{})
}

// sharedBackbone returns ../shared/models/mobilenetv2-12-int8.onnx relative
// to the module root, skipping when it or ONNX Runtime is absent.
func sharedBackbone(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	p := filepath.Join(backbone.ModuleRoot(wd), "..", "shared", "models", "mobilenetv2-12-int8.onnx")
	if _, err := os.Stat(p); err != nil {
		t.Skip("shared backbone not present")
	}
	if _, err := backbone.FindLibrary(); err != nil {
		t.Skip(err)
	}
	return p
}

func TestORTConformance(t *testing.T) {
	b, err := backbone.OpenORT(sharedBackbone(t), backbone.ORTConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Info().Maps[2].C != 1280 {
		t.Fatalf("maps %+v", b.Info().Maps)
	}
	backbonetest.Run(t, b)
}

func TestPoolMatrix(t *testing.T) {
	// A 3x3 map pooled to 2x2 cells: cells overlap on the middle row/column.
	p := backbone.PoolMatrix(3, 3, 2)
	m := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	got := make([]float32, 4)
	for q, v := range m {
		for j := 0; j < 4; j++ {
			got[j] += v * p[q*4+j]
		}
	}
	want := []float32{3, 4, 6, 7} // means of {1,2,4,5}, {2,3,5,6}, {4,5,7,8}, {5,6,8,9}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Errorf("cell %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestFindLibraryEnv(t *testing.T) {
	f := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OCELLUS_ORT_LIB", f)
	got, err := backbone.FindLibrary()
	if err != nil || got != f {
		t.Fatalf("FindLibrary = %q, %v; want %q", got, err, f)
	}
}

func TestORTOtherSize(t *testing.T) {
	b, err := backbone.OpenORT(sharedBackbone(t), backbone.ORTConfig{Size: 320})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if m := b.Info().Maps; m[0].H != 40 || m[1].H != 20 || m[2].H != 10 {
		t.Fatalf("maps %+v", m)
	}
	backbonetest.Run(t, b)
}

func TestYOLOXNano(t *testing.T) {
	p := filepath.Join(filepath.Dir(sharedBackbone(t)), "yolox_nano.onnx")
	if _, err := os.Stat(p); err != nil {
		t.Skip("yolox_nano.onnx not present")
	}
	b, err := backbone.OpenORT(p, backbone.ORTConfig{Size: 320})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	m := b.Info().Maps
	if len(m) != 6 || m[0].H != 40 || m[2].H != 20 || m[4].H != 10 || m[5].C != 64 {
		t.Fatalf("maps %+v", m)
	}
	if k := backbone.KnownBackbones()[1]; !k.Detection || !k.BGR {
		t.Fatalf("known entry %+v", k)
	}
	backbonetest.Run(t, b)
}
