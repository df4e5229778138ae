package anomaly_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/anomaly/anomalydata"
	"github.com/ocellus/ocellus/internal/vision/backbone"
)

func randVecs(r *rand.Rand, n, d int) []float32 {
	v := make([]float32, n*d)
	// a few clusters, like patch features
	centres := make([]float32, 8*d)
	for i := range centres {
		centres[i] = float32(r.NormFloat64() * 3)
	}
	for i := 0; i < n; i++ {
		c := r.IntN(8)
		for j := 0; j < d; j++ {
			v[i*d+j] = centres[c*d+j] + float32(r.NormFloat64())
		}
	}
	return v
}

func sq(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return s
}

func TestCoresetDeterministicAndFarthestFirst(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, d, k = 600, 20, 50
	x := randVecs(r, n, d)
	a := anomaly.Coreset(x, d, k, 0, 7)
	b := anomaly.Coreset(x, d, k, 0, 7)
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different coreset")
	}
	if c := anomaly.Coreset(x, d, k, 0, 8); slices.Equal(a, c) {
		t.Error("different seeds gave the same coreset (start point should differ)")
	}
	if p1, p2 := anomaly.Coreset(x, d, k, 8, 7), anomaly.Coreset(x, d, k, 8, 7); !slices.Equal(p1, p2) {
		t.Fatal("projected coreset not deterministic")
	}
	if len(a) != k {
		t.Fatalf("%d points, want %d", len(a), k)
	}
	// Each selected point after the first is the farthest (in min-distance
	// to the earlier selections) of all points: check by brute force.
	for s := 1; s < k; s++ {
		far := -1.0
		for i := 0; i < n; i++ {
			md := math.Inf(1)
			for _, p := range a[:s] {
				md = math.Min(md, sq(x[i*d:(i+1)*d], x[p*d:(p+1)*d]))
			}
			far = math.Max(far, md)
		}
		got := math.Inf(1)
		for _, p := range a[:s] {
			got = math.Min(got, sq(x[a[s]*d:(a[s]+1)*d], x[p*d:(p+1)*d]))
		}
		if math.Abs(got-far) > 1e-3*far {
			t.Fatalf("selection %d has min-distance %g, farthest point has %g", s, got, far)
		}
	}
	if all := anomaly.Coreset(x, d, n+5, 0, 1); len(all) != n {
		t.Fatalf("k > n: %d points", len(all))
	}
}

func TestBankNearestMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, d := range []int{7, 32, 128} {
		bankV := randVecs(r, 900, d)
		b := anomaly.NewBank(bankV, d)
		if b.Len() != 900 {
			t.Fatalf("bank has %d vectors", b.Len())
		}
		q := randVecs(r, 300, d)
		got := b.NearestAll(q)
		for i := 0; i < 300; i++ {
			best := math.Inf(1)
			for j := 0; j < 900; j++ {
				best = math.Min(best, sq(q[i*d:(i+1)*d], bankV[j*d:(j+1)*d]))
			}
			if want := math.Sqrt(best); math.Abs(float64(got[i])-want) > 1e-4*math.Max(1, want) {
				t.Fatalf("d=%d query %d: distance %g, brute force %g", d, i, got[i], want)
			}
		}
		// a bank vector is its own nearest neighbour
		self := b.NearestAll(bankV[:10*d])
		for i, v := range self {
			if v > 1e-3 {
				t.Fatalf("d=%d: bank vector %d at distance %g from the bank", d, i, v)
			}
		}
	}
}

func TestMetricsByHand(t *testing.T) {
	// The classic example: one of the four positive/negative pairs is misordered.
	if a := anomaly.AUROC([]float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}); math.Abs(a-0.75) > 1e-12 {
		t.Errorf("AUROC %g, want 0.75", a)
	}
	if a := anomaly.AUROC([]float64{0.5, 0.5, 0.2}, []bool{true, false, false}); math.Abs(a-0.75) > 1e-12 {
		t.Errorf("AUROC with a tie %g, want 0.75", a) // pairs: (0.5 vs 0.5)=0.5, (0.5 vs 0.2)=1
	}
	if a := anomaly.AUROC([]float64{1, 2}, []bool{true, true}); !math.IsNaN(a) {
		t.Errorf("AUROC with one class %g, want NaN", a)
	}
	// Thresholds at midpoints 0.5,1.5,2.5,3.5,4.5 give F1 4/7, 2/3, 4/5, 1/2, 2/3.
	scores := []float64{1, 2, 3, 4, 5}
	labels := []bool{false, false, true, false, true}
	thr, c, ok := anomaly.BestF1Threshold(scores, labels)
	if !ok || thr != 2.5 || c != (anomaly.Counts{TP: 2, FP: 1, TN: 2, FN: 0}) {
		t.Fatalf("threshold %g counts %+v ok %v; want 2.5 {2 1 2 0}", thr, c, ok)
	}
	if f := c.F1(); math.Abs(f-0.8) > 1e-12 {
		t.Errorf("F1 %g, want 0.8", f)
	}
	if p, r := c.Precision(), c.Recall(); math.Abs(p-2.0/3) > 1e-12 || r != 1 {
		t.Errorf("precision %g recall %g, want 2/3 and 1", p, r)
	}
	if a := c.Accuracy(); a != 0.8 {
		t.Errorf("accuracy %g, want 0.8", a)
	}
	if _, _, ok := anomaly.BestF1Threshold([]float64{1, 2}, []bool{false, false}); ok {
		t.Error("threshold found without positives")
	}
}

func TestIoUAndDefectMask(t *testing.T) {
	p := []bool{true, true, false, false}
	q := []bool{false, true, true, false}
	if v := anomaly.IoU(p, q); math.Abs(v-1.0/3) > 1e-12 {
		t.Errorf("IoU %g, want 1/3", v)
	}
	if v := anomaly.IoU(make([]bool, 3), make([]bool, 3)); v != 1 {
		t.Errorf("IoU of empty masks %g, want 1", v)
	}
	crack := color.RGBA{0x23, 0xA4, 0x36, 255}
	pal := image.NewPaletted(image.Rect(0, 0, 4, 2), color.Palette{color.RGBA{0, 0, 0, 0}, crack, color.RGBA{255, 255, 255, 255}})
	pal.SetColorIndex(1, 0, 1)
	pal.SetColorIndex(2, 1, 1)
	pal.SetColorIndex(3, 1, 2)
	cm := map[color.RGBA]string{crack: "cracked", {255, 255, 255, 255}: "BACKGROUND"}
	got := anomaly.DefectMask(pal, cm, 4, 2)
	want := []bool{false, true, false, false, false, false, true, false}
	if !slices.Equal(got, want) {
		t.Errorf("DefectMask %v, want %v", got, want)
	}
}

// texture is a deterministic procedural texture: oriented stripes, blotches
// and noise, so the test needs no files.
func texture(seed uint64, size int) image.Image {
	r := rand.New(rand.NewPCG(seed, 9))
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			v := 120 + 40*math.Sin(float64(x+2*y)/5) + 20*math.Sin(float64(x)/23)*math.Cos(float64(y)/17) + r.NormFloat64()*8
			c := uint8(math.Max(0, math.Min(255, v)))
			img.SetRGBA(x, y, color.RGBA{c, uint8(float64(c) * 0.9), uint8(float64(c) * 0.7), 255})
		}
	}
	return img
}

func TestTrainDetectSaveLoadBuiltin(t *testing.T) {
	ctx := context.Background()
	tex := texture(1, 512)
	train := append(anomalydata.Synthetic(tex, 16, 128, false, 1), anomalydata.Synthetic(tex, 8, 128, true, 2)...)
	test := append(anomalydata.Synthetic(tex, 10, 128, false, 3), anomalydata.Synthetic(tex, 10, 128, true, 4)...)
	bb := backbone.Builtin{}
	m, cal, err := anomaly.Train(ctx, anomaly.TrainConfig{Backbone: bb, Train: train, InputSize: 128, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mt := m.Meta()
	if !mt.Segmentation || len(mt.Classes) == 0 || mt.Background.Color != "#FFFFFF" {
		t.Fatalf("meta %+v: want a segmentation model with a white background", mt)
	}
	if len(cal.Images) != 16+8 { // every normal (leave-one-image-out) and every anomaly
		t.Errorf("calibration set has %d images, want 24", len(cal.Images))
	}
	ev, err := m.Evaluate(ctx, test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("builtin synthetic: test AUROC %.3f accuracy %.3f F1 %.3f mean IoU %.3f", ev.AUROC, ev.Accuracy, ev.F1, ev.MeanIoU)
	if ev.AUROC < 0.8 {
		t.Errorf("test AUROC %.3f, want >= 0.8", ev.AUROC)
	}
	var anom image.Image
	for _, e := range test {
		if e.Anomalous {
			anom = e.Image
			break
		}
	}
	res, err := m.Detect(ctx, anom)
	if err != nil {
		t.Fatal(err)
	}
	if res.Confidence < 0.5 || res.Confidence >= 1 {
		t.Errorf("confidence %g outside [0.5,1)", res.Confidence)
	}
	if len(res.Anomalies) == 0 || res.Anomalies[0].Name != "background" {
		t.Fatalf("anomalies %+v: want background first", res.Anomalies)
	}
	var area float64
	for _, a := range res.Anomalies {
		area += a.TotalPercentageArea
	}
	if math.Abs(area-1) > 1e-9 {
		t.Errorf("areas sum to %g, want 1", area)
	}
	if res.Mask.Bounds() != anom.Bounds() {
		t.Errorf("mask %v, image %v", res.Mask.Bounds(), anom.Bounds())
	}
	pngBytes, err := res.EncodeMask()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(pngBytes)); err != nil {
		t.Fatalf("mask PNG: %v", err)
	}

	// Save / Load gives identical answers.
	blob, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := anomaly.Load(blob, bb, anomaly.LoadConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	for _, e := range test[8:12] {
		a, err := m.Detect(ctx, e.Image)
		if err != nil {
			t.Fatal(err)
		}
		b, err := m2.Detect(ctx, e.Image)
		if err != nil {
			t.Fatal(err)
		}
		if a.Score != b.Score || a.IsAnomalous != b.IsAnomalous || a.Confidence != b.Confidence || !slices.Equal(a.Mask.Pix, b.Mask.Pix) || !slices.Equal(a.Anomalies, b.Anomalies) {
			t.Fatalf("%s: loaded model answers differently: %+v vs %+v", e.Name, a.Anomalies, b.Anomalies)
		}
	}
	if mt2 := m2.Meta(); mt2.Threshold != mt.Threshold || mt2.BackboneIdentity != backbone.BuiltinIdentity {
		t.Errorf("loaded meta %+v", mt2)
	}
	// Corruption and a wrong backbone are refused.
	bad := slices.Clone(blob)
	bad[len(bad)/2] ^= 1
	if _, err := anomaly.Load(bad, bb, anomaly.LoadConfig{}); err == nil {
		t.Error("corrupt file loaded")
	}
	if _, err := anomaly.Load(blob, otherIdentity{bb}, anomaly.LoadConfig{}); err == nil {
		t.Error("model loaded on a different backbone")
	}

	// Images of another size are refused with a clear error.
	_, err = m.Detect(ctx, image.NewRGBA(image.Rect(0, 0, 100, 128)))
	var se *anomaly.ImageSizeError
	if !errors.As(err, &se) || se.WantW != 128 {
		t.Errorf("wrong-size image: %v", err)
	}
	// ... and at training time.
	odd := append(slices.Clone(train), anomaly.Example{Name: "odd.png", Image: image.NewRGBA(image.Rect(0, 0, 128, 96))})
	if _, _, err := anomaly.Train(ctx, anomaly.TrainConfig{Backbone: bb, Train: odd}); !errors.As(err, &se) || se.Name != "odd.png" {
		t.Errorf("mixed sizes in training: %v", err)
	}
	tiny := []anomaly.Example{{Name: "tiny.png", Image: image.NewRGBA(image.Rect(0, 0, 32, 32))}}
	if _, _, err := anomaly.Train(ctx, anomaly.TrainConfig{Backbone: bb, Train: tiny}); !errors.As(err, &se) {
		t.Errorf("32x32 image: %v", err)
	}
}

func TestClassificationOnlyModel(t *testing.T) {
	ctx := context.Background()
	tex := texture(2, 384)
	train := anomalydata.Synthetic(tex, 10, 128, false, 1)
	anoms := anomalydata.Synthetic(tex, 4, 128, true, 2)
	for i := range anoms {
		anoms[i].Mask, anoms[i].ColorMap = nil, nil
	}
	m, _, err := anomaly.Train(ctx, anomaly.TrainConfig{Backbone: backbone.Builtin{}, Train: train, Calibration: append(anomalydata.Synthetic(tex, 4, 128, false, 3), anoms...), InputSize: 128, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Meta().Segmentation {
		t.Fatal("segmentation model without masks")
	}
	res, err := m.Detect(ctx, anoms[0].Image)
	if err != nil {
		t.Fatal(err)
	}
	if res.Anomalies != nil || res.Mask != nil {
		t.Errorf("classification model returned anomalies %v / a mask", res.Anomalies)
	}
	if b, err := res.EncodeMask(); b != nil || err != nil {
		t.Errorf("EncodeMask: %d bytes, %v", len(b), err)
	}
}

// otherIdentity is a backbone claiming another identity.
type otherIdentity struct{ backbone.Builtin }

func (o otherIdentity) Info() backbone.Info {
	i := o.Builtin.Info()
	i.Identity = "builtin:other"
	return i
}

func TestCookies(t *testing.T) {
	if raceEnabled {
		t.Skip("plain-Go NN search is ~10x slower under the race detector; make test runs this without -race")
	}
	dir := filepath.Join(sharedDir(), "datasets", "lookout-cookies")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no ../shared/datasets/lookout-cookies")
	}
	bb := openORT(t)
	train, err := anomalydata.ReadManifest(filepath.Join(dir, "manifests", "template.manifest"), dir)
	if err != nil {
		t.Fatal(err)
	}
	test, err := anomalydata.ReadDir(filepath.Join(dir, "test-images"))
	if err != nil {
		t.Fatal(err)
	}
	if len(train) != 63 || len(test) != 22 {
		t.Fatalf("%d training and %d test images, want 63 and 22", len(train), len(test))
	}
	ctx := context.Background()
	m, _, err := anomaly.Train(ctx, anomaly.TrainConfig{Backbone: bb, Train: train, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ev, err := m.Evaluate(ctx, test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cookies: accuracy %.3f AUROC %.3f F1 %.3f (TP %d FP %d TN %d FN %d)", ev.Accuracy, ev.AUROC, ev.F1, ev.TP, ev.FP, ev.TN, ev.FN)
	if ev.Accuracy < 0.95 || ev.AUROC < 0.97 {
		t.Errorf("accuracy %.3f AUROC %.3f; want >= 0.95 and >= 0.97", ev.Accuracy, ev.AUROC)
	}
}

func TestTrainingIsDeterministic(t *testing.T) {
	ctx := context.Background()
	tex := texture(3, 384)
	train := append(anomalydata.Synthetic(tex, 8, 128, false, 1), anomalydata.Synthetic(tex, 4, 128, true, 2)...)
	var blobs [][]byte
	for range 2 {
		m, _, err := anomaly.Train(ctx, anomaly.TrainConfig{Backbone: backbone.Builtin{}, Train: train, InputSize: 128, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
		m.Close()
	}
	// Everything but the header's training time must match.
	body := func(b []byte) []byte {
		n := int(binary.LittleEndian.Uint32(b[20:]))
		return b[24+n : len(b)-32]
	}
	if !bytes.Equal(body(blobs[0]), body(blobs[1])) {
		t.Fatal("two trainings with the same seed gave different banks/heads")
	}
	m0, _ := anomaly.ReadMeta(blobs[0])
	m1, _ := anomaly.ReadMeta(blobs[1])
	m0.Training.Seconds, m1.Training.Seconds = 0, 0
	if !reflect.DeepEqual(m0, m1) {
		t.Fatalf("metas differ:\n%+v\n%+v", m0, m1)
	}
}
