package vision

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// The real-photo detection harness: it trains with the product defaults on
// the shared detection sets and prints mAP@0.5. It needs ../shared and
// OCELLUS_REALDET=1 (it takes minutes); features are cached on disk under
// $OCELLUS_REALDET_CACHE (default: the temp dir) so head changes iterate
// quickly. OCELLUS_REALDET_SAVE=DIR also writes each trained model to
// DIR/SET.model.

// cachingBackbone memoises Forward by the digest of its input.
type cachingBackbone struct {
	backbone.Backbone
	dir string
	mu  sync.Mutex
}

func (c *cachingBackbone) Forward(ctx context.Context, x []float32, n int) ([][]float32, error) {
	b := make([]byte, 4*len(x))
	for i, f := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	info := c.Info()
	h := sha256.New()
	fmt.Fprintf(h, "%s %d %d\n", info.Identity, info.Size, len(info.Maps))
	for _, m := range info.Maps {
		fmt.Fprintln(h, m.Name)
	}
	h.Write(b)
	p := filepath.Join(c.dir, hex.EncodeToString(h.Sum(nil)))
	if d, err := os.ReadFile(p); err == nil {
		out := make([][]float32, len(info.Maps))
		o := 0
		for i, m := range info.Maps {
			l := n * m.C * m.H * m.W
			out[i] = make([]float32, l)
			for j := range out[i] {
				out[i][j] = math.Float32frombits(binary.LittleEndian.Uint32(d[o:]))
				o += 4
			}
		}
		return out, nil
	}
	maps, err := c.Backbone.Forward(ctx, x, n)
	if err != nil {
		return nil, err
	}
	var d []byte
	for _, m := range maps {
		for _, f := range m {
			d = binary.LittleEndian.AppendUint32(d, math.Float32bits(f))
		}
	}
	os.WriteFile(p+".tmp", d, 0o644)
	os.Rename(p+".tmp", p)
	return maps, nil
}

type vocFile struct {
	Filename string `xml:"filename"`
	Size     struct {
		W float64 `xml:"width"`
		H float64 `xml:"height"`
	} `xml:"size"`
	Objects []struct {
		Name string `xml:"name"`
		Box  struct {
			X0 float64 `xml:"xmin"`
			Y0 float64 `xml:"ymin"`
			X1 float64 `xml:"xmax"`
			Y1 float64 `xml:"ymax"`
		} `xml:"bndbox"`
	} `xml:"object"`
}

func readVOC(t testing.TB, xmlPath, imgDir string) (Example, bool) {
	b, err := os.ReadFile(xmlPath)
	if err != nil {
		t.Fatal(err)
	}
	var v vocFile
	if err := xml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(imgDir, v.Filename)
	if _, err := os.Stat(img); err != nil {
		base := strings.TrimSuffix(filepath.Base(xmlPath), ".xml")
		found := false
		for _, ext := range []string{".jpg", ".JPG", ".jpeg", ".png"} {
			if _, err := os.Stat(filepath.Join(imgDir, base+ext)); err == nil {
				img, found = filepath.Join(imgDir, base+ext), true
				break
			}
		}
		if !found {
			return Example{}, false
		}
	}
	e := Example{Path: img}
	for _, o := range v.Objects {
		bx := o.Box
		if bx.X1 <= bx.X0 || bx.Y1 <= bx.Y0 || v.Size.W <= 0 || v.Size.H <= 0 {
			continue
		}
		x0, y0 := math.Max(0, bx.X0/v.Size.W), math.Max(0, bx.Y0/v.Size.H)
		x1, y1 := math.Min(1, bx.X1/v.Size.W), math.Min(1, bx.Y1/v.Size.H)
		e.Objects = append(e.Objects, Object{Label: o.Name, Box: Box{Left: x0, Top: y0, Width: x1 - x0, Height: y1 - y0}})
	}
	return e, len(e.Objects) > 0
}

func vocDir(t testing.TB, annDir, imgDir string) []Example {
	xs, _ := filepath.Glob(filepath.Join(annDir, "*.xml"))
	sort.Strings(xs)
	var out []Example
	for _, x := range xs {
		if e, ok := readVOC(t, x, imgDir); ok {
			out = append(out, e)
		}
	}
	return out
}

func deepPCB(t testing.TB, root string) []Example {
	imgs, _ := filepath.Glob(filepath.Join(root, "group*", "*", "*_test.jpg"))
	sort.Strings(imgs)
	var out []Example
	for _, p := range imgs {
		dir := filepath.Dir(p)
		id := strings.TrimSuffix(filepath.Base(p), "_test.jpg")
		b, err := os.ReadFile(filepath.Join(dir+"_not", id+".txt"))
		if err != nil {
			continue
		}
		e := Example{Path: p}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(strings.ReplaceAll(line, ",", " "))
			if len(f) != 5 {
				continue
			}
			v := make([]float64, 5)
			for i := range f {
				v[i], _ = strconv.ParseFloat(f[i], 64)
			}
			e.Objects = append(e.Objects, Object{Label: "type" + f[4], Box: Box{Left: v[0] / 640, Top: v[1] / 640, Width: (v[2] - v[0]) / 640, Height: (v[3] - v[1]) / 640}})
		}
		out = append(out, e)
	}
	return out
}

func TestRealDetection(t *testing.T) {
	if os.Getenv("OCELLUS_REALDET") == "" {
		t.Skip("set OCELLUS_REALDET=1 to run the real-photo detection harness")
	}
	shared := filepath.Join("..", "..", "..", "shared")
	if _, err := os.Stat(shared); err != nil {
		t.Skip("no ../shared")
	}
	model := os.Getenv("OCELLUS_REALDET_MODEL")
	if model == "" {
		model = filepath.Join(shared, "models", "yolox_nano.onnx")
	}
	size := DetectionSize
	if s := os.Getenv("OCELLUS_REALDET_SIZE"); s != "" {
		size, _ = strconv.Atoi(s)
	}
	cache := os.Getenv("OCELLUS_REALDET_CACHE")
	if cache == "" {
		cache = filepath.Join(os.TempDir(), "ocellus-realdet-cache")
	}
	os.MkdirAll(cache, 0o755)
	ds := filepath.Join(shared, "datasets")
	sets := map[string]func() (train, test []Example){
		"bccd": func() ([]Example, []Example) {
			all := vocDir(t, filepath.Join(ds, "bccd", "Annotations"), filepath.Join(ds, "bccd", "JPEGImages"))
			return Split(all, 0.3, 1)
		},
		"cards": func() ([]Example, []Example) {
			return vocDir(t, filepath.Join(ds, "playing-cards", "train"), filepath.Join(ds, "playing-cards", "train")),
				vocDir(t, filepath.Join(ds, "playing-cards", "test"), filepath.Join(ds, "playing-cards", "test"))
		},
		"deeppcb": func() ([]Example, []Example) {
			return Split(deepPCB(t, filepath.Join(ds, "deeppcb")), 0.3, 1)
		},
	}
	names := strings.Split(os.Getenv("OCELLUS_REALDET_SETS"), ",")
	if names[0] == "" {
		names = []string{"bccd", "cards", "deeppcb"}
	}
	ort, err := backbone.OpenORT(model, backbone.ORTConfig{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	defer ort.Close()
	bb := &cachingBackbone{Backbone: ort, dir: cache}
	for _, name := range names {
		train, test := sets[name]()
		t0 := time.Now()
		tiles, _ := strconv.Atoi(os.Getenv("OCELLUS_REALDET_TILES"))
		m, ev, err := Train(context.Background(), TrainConfig{Backbone: bb, Train: train, Test: test, Seed: 1, DetectionTiles: tiles, NoFlip: os.Getenv("OCELLUS_REALDET_NOFLIP") != "",
			Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
		if err != nil {
			t.Fatal(err)
		}
		// p50 of Predict on the test JPEGs (decode included) on the
		// uncached backbone.
		if err := m.Attach(ort); err != nil {
			t.Fatal(err)
		}
		if p := os.Getenv("OCELLUS_REALDET_SAVE"); p != "" {
			// The trained model, for profiling its predictions.
			if err := SaveFile(filepath.Join(p, name+".model"), m); err != nil {
				t.Fatal(err)
			}
		}
		var lat []float64
		for _, e := range test[:min(len(test), 40)] {
			b, err := os.ReadFile(e.Path)
			if err != nil {
				t.Fatal(err)
			}
			t1 := time.Now()
			if _, err := m.PredictBytes(context.Background(), b, PredictOptions{}); err != nil {
				t.Fatal(err)
			}
			lat = append(lat, time.Since(t1).Seconds()*1000)
		}
		sort.Float64s(lat)
		t.Logf("REALDET %s predict p50 %.1f ms p90 %.1f ms (%d images)", name, lat[len(lat)/2], lat[len(lat)*9/10], len(lat))
		var per []string
		for _, l := range ev.Report.Labels {
			per = append(per, fmt.Sprintf("%s %.3f", l.Label, l.AP))
		}
		t.Logf("REALDET %s size=%d tiles=%d train=%d test=%d mAP@0.5=%.3f (%s) train %.0fs wall %.0fs", name, size, m.tiles(), len(train), len(test), ev.Report.MAP, strings.Join(per, ", "), ev.TrainSeconds, time.Since(t0).Seconds())
	}
}
