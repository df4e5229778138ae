package vision

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/head"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// shapes draws one of three easily told apart patterns with noise.
func shapes(class int, r *rand.Rand) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 80, 60))
	for y := 0; y < 60; y++ {
		for x := 0; x < 80; x++ {
			n := uint8(r.IntN(40))
			var c color.RGBA
			switch class {
			case 0: // red square in the middle
				if x > 25 && x < 55 && y > 15 && y < 45 {
					c = color.RGBA{200 + n/2, n, n, 255}
				} else {
					c = color.RGBA{n, n, n, 255}
				}
			case 1: // vertical stripes
				if (x/6)%2 == 0 {
					c = color.RGBA{n, n, 200 + n/2, 255}
				} else {
					c = color.RGBA{n, n, n, 255}
				}
			case 2: // horizontal stripes
				if (y/6)%2 == 0 {
					c = color.RGBA{n, 200 + n/2, n, 255}
				} else {
					c = color.RGBA{n, n, n, 255}
				}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

var names = []string{"square", "vstripes", "hstripes"}

func dataset(n int, seed uint64) []Example {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []Example
	for i := 0; i < n; i++ {
		c := i % 3
		out = append(out, Example{Image: shapes(c, r), Labels: []string{names[c]}})
	}
	return out
}

// smallHead keeps unit tests fast (the race detector slows the head ~10x).
var smallHead = head.Config{Hidden: 32, Epochs: 15}

func fixedNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func trainSmall(t *testing.T, bb backbone.Backbone, seed uint64) (*Model, *Evaluation) {
	t.Helper()
	m, ev, err := Train(context.Background(), TrainConfig{Backbone: bb, Train: dataset(45, 1), Test: dataset(15, 2), Seed: seed, Now: fixedNow, Head: smallHead})
	if err != nil {
		t.Fatal(err)
	}
	return m, ev
}

func TestTrainPredictSaveLoad(t *testing.T) {
	bb := backbone.Builtin{}
	m, ev := trainSmall(t, bb, 1)
	if m.Kind != Classification || len(m.Labels) != 3 {
		t.Fatalf("model %v %v", m.Kind, m.Labels)
	}
	if ev.Report.Accuracy < 0.9 {
		t.Errorf("accuracy %.2f on easy shapes", ev.Report.Accuracy)
	}
	// Artifact round trip gives identical predictions.
	var buf bytes.Buffer
	if err := Save(&buf, m); err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Attach(bb); err != nil {
		t.Fatal(err)
	}
	img := shapes(1, rand.New(rand.NewPCG(5, 5)))
	zero := 0.0
	a, err := m.Predict(context.Background(), img, PredictOptions{MinConfidence: &zero})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m2.Predict(context.Background(), img, PredictOptions{MinConfidence: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 3 || len(b) != 3 || a[0] != b[0] || a[0].Name != "vstripes" {
		t.Fatalf("predictions %v vs %v", a, b)
	}
	one := 1
	if c, _ := m2.Predict(context.Background(), img, PredictOptions{MinConfidence: &zero, MaxResults: &one}); len(c) != 1 {
		t.Errorf("MaxResults ignored: %v", c)
	}
	hundred := 100.0
	if c, _ := m2.Predict(context.Background(), img, PredictOptions{MinConfidence: &hundred}); len(c) != 0 {
		t.Errorf("MinConfidence 100 gave %v", c)
	}
	// Bytes path, PNG.
	var pb bytes.Buffer
	png.Encode(&pb, img)
	if c, err := m2.PredictBytes(context.Background(), pb.Bytes(), PredictOptions{}); err != nil || len(c) == 0 || c[0].Name != "vstripes" {
		t.Errorf("PredictBytes = %v, %v", c, err)
	}
	// Corruption is detected.
	bad := append([]byte(nil), buf.Bytes()...)
	bad[len(bad)-3] ^= 0xff
	if _, err := Decode(bytes.NewReader(bad)); err == nil {
		t.Error("corrupted model accepted")
	}
	if _, err := Decode(bytes.NewReader([]byte("hello"))); err != ErrNotModel {
		t.Errorf("err = %v", err)
	}
	// Summary document.
	s := ev.Summary("arn:aws:rekognition:us-east-1:1:project/p/version/v/1", m.Kind)
	if len(s.LabelEvaluationResults) != 3 || s.EvaluationDetails.NumberOfTrainingImages != 45 {
		t.Errorf("summary %+v", s.EvaluationDetails)
	}
}

func TestTrainDeterministic(t *testing.T) {
	m1, _ := trainSmall(t, backbone.Builtin{}, 3)
	m2, _ := trainSmall(t, backbone.Builtin{}, 3)
	var a, b bytes.Buffer
	m1.Evaluation.TrainSeconds, m2.Evaluation.TrainSeconds = 0, 0
	if err := Save(&a, m1); err != nil {
		t.Fatal(err)
	}
	if err := Save(&b, m2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same seed, different model files")
	}
}

func TestAttachMismatch(t *testing.T) {
	m, _ := trainSmall(t, backbone.Builtin{}, 1)
	m.Backbone.Identity = "sha256:00"
	if err := m.Attach(backbone.Builtin{}); err == nil {
		t.Fatal("mismatched backbone accepted")
	}
}

func TestMultiLabel(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	var ex []Example
	for i := 0; i < 60; i++ {
		c := i % 3
		l := []string{names[c]}
		if c != 0 {
			l = append(l, "striped")
		}
		ex = append(ex, Example{Image: shapes(c, r), Labels: l})
	}
	m, ev, err := Train(context.Background(), TrainConfig{Backbone: backbone.Builtin{}, Train: ex, Seed: 1, Head: smallHead})
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != MultiLabel || len(m.Labels) != 4 || ev.Report.Confusion != nil {
		t.Fatalf("kind %v labels %v", m.Kind, m.Labels)
	}
	if ev.Report.F1 < 0.8 {
		t.Errorf("multi-label F1 %.2f", ev.Report.F1)
	}
}

// sharedBytes returns the shared MobileNetV2 file or skips.
func sharedBytes(t *testing.T) []byte {
	t.Helper()
	wd, _ := os.Getwd()
	b, err := os.ReadFile(filepath.Join(backbone.ModuleRoot(wd), "..", "shared", "models", "mobilenetv2-12-int8.onnx"))
	if err != nil {
		t.Skip("shared backbone not present")
	}
	return b
}

// sharedORT opens the shared MobileNetV2 backbone or skips.
func sharedORT(t *testing.T) *backbone.ORT { return sharedORTB(t) }

func sharedORTB(t testing.TB) *backbone.ORT {
	t.Helper()
	wd, _ := os.Getwd()
	p := filepath.Join(backbone.ModuleRoot(wd), "..", "shared", "models", "mobilenetv2-12-int8.onnx")
	if _, err := os.Stat(p); err != nil {
		t.Skip("shared backbone not present")
	}
	if _, err := backbone.FindLibrary(); err != nil {
		t.Skip(err)
	}
	bb, err := backbone.OpenORT(p, backbone.ORTConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Close() })
	return bb
}

func TestTrainORT(t *testing.T) {
	bb := sharedORT(t)
	m, ev := trainSmall(t, bb, 1)
	if ev.Report.Accuracy < 0.9 {
		t.Errorf("accuracy %.2f", ev.Report.Accuracy)
	}
	if m.Backbone.Identity != bb.Info().Identity {
		t.Error("identity not recorded")
	}
}

func TestAugmentVariants(t *testing.T) {
	m, ev, err := Train(context.Background(), TrainConfig{Backbone: backbone.Builtin{}, Train: dataset(30, 1), Test: dataset(9, 2), Seed: 1, Head: smallHead,
		Augment: []imageio.Augment{{Crop: 0.8, CX: 0.5, CY: 0.5}, {Brightness: 1.2}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Labels) != 3 || ev.Report.Accuracy < 0.8 {
		t.Errorf("accuracy %.2f with augmentation", ev.Report.Accuracy)
	}
}

func FuzzDecodeModel(f *testing.F) {
	info := backbone.Builtin{}.Info()
	d := backbone.EmbeddingLen(info)
	m := &Model{Kind: Classification, Backbone: info, Labels: []string{"a", "b"}, Thresholds: []float64{50, 50},
		Head: &head.MLP{Output: head.Softmax, In: d, Out: 2, Mean: make([]float32, d), Scale: make([]float32, d), W2: make([]float32, 2*d), B2: make([]float32, 2)}}
	var buf bytes.Buffer
	if err := Save(&buf, m); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		Decode(bytes.NewReader(b))
	})
}

// TestLoadFormat1 checks that a format-1 artifact (before letterboxing,
// the signed square root and flip averaging) still loads and runs as it was
// trained, and that an unknown format is refused by name.
func TestLoadFormat1(t *testing.T) {
	bb := backbone.Builtin{}
	m, _ := trainSmall(t, bb, 1)
	m.Letterbox, m.SqrtEmbedding, m.FlipTest = false, false, false
	var buf bytes.Buffer
	if err := Save(&buf, m); err != nil {
		t.Fatal(err)
	}
	rewrite := func(format int) []byte {
		b := buf.Bytes()
		n := int(binary.LittleEndian.Uint32(b[len(magic):]))
		var h map[string]any
		if err := json.Unmarshal(b[len(magic)+4:len(magic)+4+n], &h); err != nil {
			t.Fatal(err)
		}
		h["format"] = format
		hb, _ := json.Marshal(h)
		out := append([]byte(magic), binary.LittleEndian.AppendUint32(nil, uint32(len(hb)))...)
		out = append(out, hb...)
		return append(out, b[len(magic)+4+n:]...)
	}
	m1, err := Decode(bytes.NewReader(rewrite(1)))
	if err != nil {
		t.Fatal(err)
	}
	if m1.Letterbox || m1.SqrtEmbedding || m1.FlipTest {
		t.Errorf("format 1 model got format-2 switches: %+v", m1)
	}
	if err := m1.Attach(bb); err != nil {
		t.Fatal(err)
	}
	img := shapes(1, rand.New(rand.NewPCG(5, 5)))
	a, _ := m.Probabilities(context.Background(), img)
	b, err := m1.Probabilities(context.Background(), img)
	if err != nil || len(a) != len(b) || a[0] != b[0] {
		t.Errorf("format 1 probabilities %v, %v; want %v", b, err, a)
	}
	if _, err := Decode(bytes.NewReader(rewrite(FormatVersion + 1))); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("future format: %v", err)
	}
}

// TestImageHeadDefaults checks that Train fills the image-level head
// defaults (the weight decay among them) into a zero head config and keeps
// the fields a caller sets.
func TestImageHeadDefaults(t *testing.T) {
	c := imageHeadConfig(head.Config{}, 7)
	if c.Epochs != imageHeadEpochs || c.LR != imageHeadLR || c.WeightDecay != imageHeadWeightDecay || !c.Balance || c.Seed != 7 {
		t.Errorf("zero config became %+v", c)
	}
	c = imageHeadConfig(head.Config{Epochs: 5, LR: 0.01, WeightDecay: 1e-4, Hidden: 32}, 1)
	if c.Epochs != 5 || c.LR != 0.01 || c.WeightDecay != 1e-4 || c.Hidden != 32 {
		t.Errorf("caller's fields overridden: %+v", c)
	}
	// Through Train: a zero decay trains as the default one set explicitly,
	// and shrinks the head's weights against head's own default of 1e-4.
	norm := func(wd float64) float64 {
		cfg := smallHead
		cfg.WeightDecay = wd
		m, _, err := Train(context.Background(), TrainConfig{Backbone: backbone.Builtin{}, Train: dataset(45, 1), Test: dataset(15, 2), Seed: 1, Now: fixedNow, Head: cfg})
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for _, w := range m.Head.W1 {
			s += float64(w) * float64(w)
		}
		return s
	}
	d, one, n := norm(0), norm(imageHeadWeightDecay), norm(1e-4)
	if d != one || d >= n {
		t.Errorf("|W1|^2 with the default weight decay %.2f, with %g set %.2f, with 1e-4 %.2f", d, float64(imageHeadWeightDecay), one, n)
	}
}

// TestClassificationInfo checks the image-level pooling: the stride-16 map
// also pooled 3x3, the other maps as the backbone gives them.
func TestClassificationInfo(t *testing.T) {
	in := backbone.Info{Maps: []backbone.Map{{Stride: 8, H: 28, W: 28, Grids: []int{1}}, {Stride: 16, H: 14, W: 14, Grids: []int{1}}, {Stride: 32, H: 7, W: 7, Grids: []int{1}}}}
	out := classificationInfo(in)
	if g := out.Maps[1].Grids; len(g) != 2 || g[0] != 1 || g[1] != 3 {
		t.Errorf("stride-16 grids %v", g)
	}
	if len(out.Maps[0].Grids) != 1 || len(out.Maps[2].Grids) != 1 || len(in.Maps[1].Grids) != 1 {
		t.Errorf("other maps or the input changed: %+v, %+v", out.Maps, in.Maps)
	}
}

// TestLoadGrids2x2 checks that an image-level model trained before the
// stride-16 map was pooled 3x3 (its artifact, format 4 or older, records
// 2x2 cells) loads and predicts with the pooling it was trained with:
// its probabilities are its head's on the 2x2 embedding computed here
// by hand (letterboxed, signed square root, mean with the mirror).
func TestLoadGrids2x2(t *testing.T) {
	bb := sharedORT(t)
	m, _ := trainSmall(t, bb, 1)
	var s16 int
	for i, mp := range m.Backbone.Maps {
		if mp.Stride == 16 {
			s16 = i
		}
	}
	if g := m.Backbone.Maps[s16].Grids; len(g) != 2 || g[1] != 3 {
		t.Fatalf("new model's stride-16 grids %v, want [1 3]", g)
	}
	old := *m
	old.Backbone.Maps = append([]backbone.Map(nil), m.Backbone.Maps...)
	old.Backbone.Maps[s16].Grids = []int{1, 2}
	pools := backbone.Pools(old.Backbone)
	n := old.Backbone.InputLen()
	embed := func(img image.Image) [2][]float32 {
		x := make([]float32, 2*n)
		r := letterbox(img, old.Backbone.Size, old.Backbone.Mean)
		norm := imageio.Norm{Mean: old.Backbone.Mean, Std: old.Backbone.Std}
		imageio.CHW(x[:n], r, norm, false)
		imageio.CHW(x[n:], r, norm, true)
		maps, err := bb.Forward(context.Background(), x, 2)
		if err != nil {
			t.Fatal(err)
		}
		var out [2][]float32
		for k := range out {
			out[k] = make([]float32, backbone.EmbeddingLen(old.Backbone))
			backbone.Embed(out[k], old.Backbone, maps, k, pools)
			sqrtEmbedding(out[k])
		}
		return out
	}
	var X [][]float32
	var Y [][]bool
	for _, e := range dataset(15, 1) {
		X = append(X, embed(e.Image)[0])
		y := make([]bool, len(old.Labels))
		for k, l := range old.Labels {
			y[k] = l == e.Labels[0]
		}
		Y = append(Y, y)
	}
	h, err := head.Train(context.Background(), X, Y, head.Softmax, smallHead)
	if err != nil {
		t.Fatal(err)
	}
	old.Head = h
	if h.In == m.Head.In {
		t.Fatalf("2x2 and 3x3 embeddings both %d long", h.In)
	}
	var buf bytes.Buffer
	if err := Save(&buf, &old); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	hl := int(binary.LittleEndian.Uint32(b[len(magic):]))
	var hdr map[string]any
	if err := json.Unmarshal(b[len(magic)+4:len(magic)+4+hl], &hdr); err != nil {
		t.Fatal(err)
	}
	hdr["format"] = 3
	hb, _ := json.Marshal(hdr)
	file := append([]byte(magic), binary.LittleEndian.AppendUint32(nil, uint32(len(hb)))...)
	file = append(append(file, hb...), b[len(magic)+4+hl:]...)
	got, err := Decode(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if g := got.Backbone.Maps[s16].Grids; len(g) != 2 || g[1] != 2 || got.Format != 3 {
		t.Fatalf("reloaded format %d, stride-16 grids %v; want format 3, [1 2]", got.Format, g)
	}
	if err := got.Attach(bb); err != nil {
		t.Fatal(err)
	}
	for _, e := range dataset(6, 2) {
		p, err := got.Probabilities(context.Background(), e.Image)
		if err != nil {
			t.Fatal(err)
		}
		emb := embed(e.Image)
		a, c := h.Predict(emb[0]), h.Predict(emb[1])
		for k := range p {
			if want := (a[k] + c[k]) / 2; math.Abs(p[k]-want) > 1e-5 {
				t.Fatalf("label %d: %v, want %v", k, p[k], want)
			}
		}
		labels, err := got.Predict(context.Background(), e.Image, PredictOptions{})
		if err != nil || len(labels) == 0 || labels[0].Name != e.Labels[0] {
			t.Errorf("old model predicts %+v (%v) for %s", labels, err, e.Labels[0])
		}
	}
}
