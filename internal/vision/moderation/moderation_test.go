package moderation

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// missing skips a test whose input is absent, saying how to get it, except
// under `make test` (OCELLUS_MAKE_TEST set, after `make deps` installed
// everything), where it fails: there the golden test cannot skip silently.
func missing(t testing.TB, what, fix string) {
	t.Helper()
	if os.Getenv("OCELLUS_MAKE_TEST") != "" {
		t.Fatalf("%s (%s)", what, fix)
	}
	t.Skipf("%s: %s", what, fix)
}

// packageBytes reads the npm tarball: $OCELLUS_NSFWJS_TGZ, else lib/ of the
// module (where scripts/install-nsfwjs.sh puts it).
func packageBytes(t testing.TB) []byte {
	t.Helper()
	p := os.Getenv("OCELLUS_NSFWJS_TGZ")
	if p == "" {
		wd, _ := os.Getwd()
		p = filepath.Join(backbone.ModuleRoot(wd), "lib", PackageFile)
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		missing(t, "npm package "+PackageFile+" not at "+p, "run scripts/install-nsfwjs.sh or set OCELLUS_NSFWJS_TGZ")
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type golden struct {
	Classes []string `json:"classes"`
	Models  map[string]struct {
		Size    int                  `json:"size"`
		Outputs map[string][]float64 `json:"outputs"`
	} `json:"models"`
}

func readGolden(t testing.TB) golden {
	t.Helper()
	wd, _ := os.Getwd()
	p := filepath.Join(backbone.ModuleRoot(wd), "..", "shared", "models", "nsfwjs-golden.json")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		missing(t, "no "+p, "the shared models folder beside the checkout")
	}
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// goldenInput builds the deterministic inputs nsfwjs-golden.json defines,
// as the converted graph reads them: [1, 3, size, size], pixels/255.
func goldenInput(name string, size int) []float32 {
	x := make([]float32, 3*size*size)
	put := func(y, xx, c int, v uint32) { x[(c*size+y)*size+xx] = float32(v) / 255 }
	switch name {
	case "lcg1", "lcg2":
		s := uint32(1)
		if name == "lcg2" {
			s = 2
		}
		for y := 0; y < size; y++ {
			for xx := 0; xx < size; xx++ {
				for c := 0; c < 3; c++ {
					s = 1664525*s + 1013904223
					put(y, xx, c, uint32(uint64(s)*256>>32))
				}
			}
		}
	case "gradient":
		for y := 0; y < size; y++ {
			for xx := 0; xx < size; xx++ {
				put(y, xx, 0, uint32(xx*255/size))
				put(y, xx, 1, uint32(y*255/size))
				put(y, xx, 2, uint32((xx+y)*255/(2*size)))
			}
		}
	default:
		return nil
	}
	return x
}

var goldenNames = map[string]string{"mobilenet_v2": "MobileNetV2", "mobilenet_v2_mid": "MobileNetV2Mid", "inception_v3": "InceptionV3"}

// TestGolden converts each layers model of the npm package and compares
// its ONNX Runtime outputs with tfjs's own (../shared/models/nsfwjs-golden.json).
func TestGolden(t *testing.T) {
	g := readGolden(t)
	tgz := packageBytes(t)
	if len(g.Classes) != 5 {
		t.Fatalf("golden classes %v", g.Classes)
	}
	for i, c := range Classes() {
		if g.Classes[i] != c {
			t.Fatalf("class %d: %s, golden %s", i, c, g.Classes[i])
		}
	}
	for _, v := range Variants() {
		t.Run(v.Name, func(t *testing.T) {
			if (testing.Short() || raceEnabled) && v.Name != DefaultVariant {
				t.Skip("-short or -race: the default model only (make test runs this test again without -race)")
			}
			want, ok := g.Models[goldenNames[v.Name]]
			if !ok || want.Size != v.Size {
				t.Fatalf("golden file has no %s at %d px", goldenNames[v.Name], v.Size)
			}
			onnx, err := Convert(tgz, v.Name)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Open(onnx, v.Name, backbone.ORTConfig{})
			if errors.Is(err, backbone.ErrNoLibrary) {
				missing(t, err.Error(), "run scripts/install-onnxruntime.sh")
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			for name, exp := range want.Outputs {
				x := goldenInput(name, v.Size)
				if x == nil {
					t.Fatalf("golden input %q is not defined here", name)
				}
				sc, feats, err := m.Classify(context.Background(), x, 1)
				if err != nil {
					t.Fatal(err)
				}
				if len(feats[0]) != v.FeatLen {
					t.Errorf("%s: %d features, want %d", name, len(feats[0]), v.FeatLen)
				}
				worst := 0.0
				for i, e := range exp {
					worst = math.Max(worst, math.Abs(float64(sc[0][i])-e))
				}
				t.Logf("%s %s: %v (max |diff| %.2g)", v.Name, name, sc[0], worst)
				if worst > 1e-4 {
					t.Errorf("%s: scores %v, tfjs %v (max |diff| %.3g > 1e-4)", name, sc[0], exp, worst)
				}
			}
		})
	}
}

func TestConvertRefuses(t *testing.T) {
	if _, err := Convert([]byte("not a tarball"), DefaultVariant); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("unpinned bytes: %v", err)
	}
	if _, err := Convert(nil, "resnet50"); err == nil || !strings.Contains(err.Error(), "unknown base model") {
		t.Fatalf("unknown variant: %v", err)
	}
	if _, err := Open([]byte{0x08, 0x07}, DefaultVariant, backbone.ORTConfig{}); err == nil {
		t.Fatal("an ONNX file without a graph opened")
	}
	dir := t.TempDir()
	_, err := OpenInstalled(dir, DefaultVariant, backbone.ORTConfig{})
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "ocellus backbone pull nsfwjs-mobilenet_v2") {
		t.Fatalf("not installed: %v", err)
	}
}

// TestReadModelDir: only regular files directly in the model's folder are
// read, within the size bound.
func TestReadModelDir(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range []struct{ name, body string }{
		{"package/dist/models/m/model.min.js", "{}"},
		{"package/dist/models/m/sub/x.js", "no"},
		{"package/dist/models/other/model.min.js", "no"},
	} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	zw.Close()
	files, err := readModelDir(bytes.NewReader(buf.Bytes()), "package/dist/models/m/")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || string(files["model.min.js"]) != "{}" {
		t.Fatalf("read %v", files)
	}
	if _, err := readModelDir(strings.NewReader("garbage"), "x/"); err == nil {
		t.Fatal("garbage read as a tarball")
	}
}
