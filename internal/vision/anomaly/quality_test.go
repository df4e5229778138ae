package anomaly_test

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// Real-data quality harness (issue 14): trains with the product defaults
// (what CreateModel passes: training images, the test set as calibration)
// and prints image AUROC and pixel-level figures. Run with
//
//	OCELLUS_QUALITY=1 go test -run TestQuality -v ./internal/vision/anomaly/
//
// It is skipped otherwise (minutes of CPU) and without ../shared.

func loadImage(t testing.TB, path string) image.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := imageio.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// hazelnutSet: the photos are 512 pixels wide but of slightly different
// heights (Lookout for Vision needs one size), so images and masks are
// resized to 512x512.
func hazelnutSet(t testing.TB) (train, test []anomaly.Example) {
	loadImage := func(t testing.TB, p string) image.Image { return imageio.Resize(loadImage(t, p), 512, 512) }
	dir := filepath.Join(sharedDir(), "datasets", "hazelnut-toy")
	list := func(d string) []string {
		fs, err := filepath.Glob(filepath.Join(dir, d, "*"))
		if err != nil || len(fs) == 0 {
			t.Skipf("no %s", filepath.Join(dir, d))
		}
		sort.Strings(fs)
		return fs
	}
	for _, p := range list("train/good") {
		train = append(train, anomaly.Example{Name: p, Image: loadImage(t, p)})
	}
	for _, p := range list("test/good") {
		test = append(test, anomaly.Example{Name: p, Image: loadImage(t, p)})
	}
	for _, p := range list("test/colour") {
		base := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		m := loadImage(t, filepath.Join(dir, "ground_truth", "colour", base+".png"))
		test = append(test, anomaly.Example{Name: p, Image: loadImage(t, p), Anomalous: true, Mask: m})
	}
	return train, test
}

// deeppcbSet: templates are normal, test images anomalous with their defect
// boxes as mask regions. Seeded split of the pairs: 60% of the templates
// build the model; the other pairs' templates and test images are tested.
func deeppcbSet(t testing.TB) (train, test []anomaly.Example) {
	dir := filepath.Join(sharedDir(), "datasets", "deeppcb")
	temps, _ := filepath.Glob(filepath.Join(dir, "group*", "*", "*_temp.jpg"))
	if len(temps) == 0 {
		t.Skip("no deeppcb")
	}
	sort.Strings(temps)
	r := rand.New(rand.NewPCG(14, 5))
	r.Shuffle(len(temps), func(i, j int) { temps[i], temps[j] = temps[j], temps[i] })
	nTrain := len(temps) * 6 / 10
	for i, p := range temps {
		if i < nTrain {
			train = append(train, anomaly.Example{Name: p, Image: loadImage(t, p)})
			continue
		}
		test = append(test, anomaly.Example{Name: p, Image: loadImage(t, p)})
		tp := strings.TrimSuffix(p, "_temp.jpg") + "_test.jpg"
		img := loadImage(t, tp)
		sub := filepath.Base(filepath.Dir(p))
		boxes := filepath.Join(filepath.Dir(filepath.Dir(p)), sub+"_not", strings.TrimSuffix(filepath.Base(p), "_temp.jpg")+".txt")
		test = append(test, anomaly.Example{Name: tp, Image: img, Anomalous: true, Mask: boxMask(t, boxes, img.Bounds())})
	}
	return train, test
}

func boxMask(t testing.TB, path string, b image.Rectangle) image.Image {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := image.NewGray(b)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var x1, y1, x2, y2, typ int
		if _, err := fmt.Sscanf(strings.ReplaceAll(sc.Text(), ",", " "), "%d %d %d %d %d", &x1, &y1, &x2, &y2, &typ); err != nil {
			continue
		}
		for y := max(y1, b.Min.Y); y < min(y2, b.Max.Y); y++ {
			for x := max(x1, b.Min.X); x < min(x2, b.Max.X); x++ {
				m.SetGray(x, y, color.Gray{255})
			}
		}
	}
	return m
}

// pixelFigures compares the patch-score maps with the true masks at the
// grid's resolution (a cell is defective when most of its pixels are):
// pixel AUROC over all cells of all test images, and the IoU of the cells
// over the model's image threshold pooled over the anomalous images.
func pixelFigures(m *anomaly.Model, exs []anomaly.Example, maps [][]float32) (auroc, iou float64) {
	gw, gh := m.Meta().GridWidth, m.Meta().GridHeight
	var scores []float64
	var truth []bool
	var inter, union int
	for i, e := range exs {
		b := e.Image.Bounds()
		for gy := 0; gy < gh; gy++ {
			for gx := 0; gx < gw; gx++ {
				def := false
				if e.Mask != nil {
					x0, x1 := b.Min.X+gx*b.Dx()/gw, b.Min.X+(gx+1)*b.Dx()/gw
					y0, y1 := b.Min.Y+gy*b.Dy()/gh, b.Min.Y+(gy+1)*b.Dy()/gh
					n, on := 0, 0
					for y := y0; y < y1; y++ {
						for x := x0; x < x1; x++ {
							n++
							if r, _, _, _ := e.Mask.At(x, y).RGBA(); r > 0x7fff {
								on++
							}
						}
					}
					def = 2*on > n
				}
				s := float64(maps[i][gy*gw+gx])
				scores = append(scores, s)
				truth = append(truth, def)
				if e.Anomalous {
					p := s > m.Meta().Threshold
					if p && def {
						inter++
					}
					if p || def {
						union++
					}
				}
			}
		}
	}
	if union > 0 {
		iou = float64(inter) / float64(union)
	}
	return anomaly.AUROC(scores, truth), iou
}

func TestQuality(t *testing.T) {
	if os.Getenv("OCELLUS_QUALITY") == "" {
		t.Skip("set OCELLUS_QUALITY=1 (minutes of CPU)")
	}
	bb := openORT(t)
	sets := map[string]func(testing.TB) ([]anomaly.Example, []anomaly.Example){"hazelnut": hazelnutSet, "deeppcb": deeppcbSet}
	names := strings.Split(os.Getenv("OCELLUS_QUALITY_SETS"), ",")
	if names[0] == "" {
		names = []string{"hazelnut", "deeppcb"}
	}
	for _, name := range names {
		train, test := sets[name](t)
		ctx := context.Background()
		t0 := time.Now()
		m, _, err := anomaly.Train(ctx, anomaly.TrainConfig{Backbone: bb, Train: train, Calibration: test, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		trainSecs := time.Since(t0).Seconds()
		var scores []float64
		var labels []bool
		var maps [][]float32
		var lat []time.Duration
		for _, e := range test {
			t1 := time.Now()
			r, err := m.Detect(ctx, e.Image)
			if err != nil {
				t.Fatal(err)
			}
			lat = append(lat, time.Since(t1))
			scores = append(scores, r.Score)
			labels = append(labels, e.Anomalous)
			maps = append(maps, r.Map)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		pa, iou := pixelFigures(m, test, maps)
		au := anomaly.AUROC(scores, labels)
		t.Logf("%s: train %d, test %d; image AUROC %.4f, pixel AUROC %.4f (%dx%d grid), cell IoU at the image threshold %.3f; train %.1f s, Detect p50 %.1f ms",
			name, len(train), len(test), au, pa, m.Meta().GridWidth, m.Meta().GridHeight, iou, trainSecs, float64(lat[len(lat)/2].Microseconds())/1000)
		// Other image scores from the same maps (diagnostics for the
		// choice of the engine's image score).
		gw, gh := m.Meta().GridWidth, m.Meta().GridHeight
		for _, margin := range []int{0, 1, 2, 4} {
			for _, k := range []int{1, 10, 50} {
				alt := make([]float64, len(maps))
				for i, mp := range maps {
					var v []float64
					for y := margin; y < gh-margin; y++ {
						for x := margin; x < gw-margin; x++ {
							v = append(v, float64(mp[y*gw+x]))
						}
					}
					sort.Sort(sort.Reverse(sort.Float64Slice(v)))
					for _, a := range v[:k] {
						alt[i] += a / float64(k)
					}
				}
				t.Logf("  %s: margin %d, mean of top %d patches: image AUROC %.4f", name, margin, k, anomaly.AUROC(alt, labels))
			}
		}
		if math.IsNaN(au) {
			t.Errorf("%s: no AUROC", name)
		}
		m.Close()
	}
}
