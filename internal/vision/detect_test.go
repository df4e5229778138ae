package vision

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/head"
	"github.com/ocellus/ocellus/internal/vision/synth"
)

func detectionScenes(t testing.TB, n int, seed uint64) []Example {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 3))
	var objs []synth.Source
	for c := 0; c < 3; c++ {
		objs = append(objs, synth.Source{Label: names[c], Images: []image.Image{shapes(c, r)}})
	}
	bg := image.NewRGBA(image.Rect(0, 0, 200, 150))
	for i := range bg.Pix {
		bg.Pix[i] = uint8(100 + r.IntN(60))
	}
	for y := 0; y < 150; y++ {
		bg.SetRGBA(0, y, color.RGBA{0, 0, 0, 255})
	}
	scenes, err := synth.Generate(synth.Config{Width: 320, Height: 240, MinScale: 0.25, MaxScale: 0.5, MaxObjects: 3}, objs, []image.Image{bg}, n, seed)
	if err != nil {
		t.Fatal(err)
	}
	var out []Example
	for _, s := range scenes {
		e := Example{Image: s.Image}
		for _, o := range s.Objects {
			e.Objects = append(e.Objects, Object{Label: o.Label, Box: Box{Left: float64(o.Left) / 320, Top: float64(o.Top) / 240, Width: float64(o.W) / 320, Height: float64(o.H) / 240}})
		}
		out = append(out, e)
	}
	return out
}

func TestDetection(t *testing.T) {
	if raceEnabled {
		t.Skip("the box classifier's plain-Go training is many times slower under the race detector (over 13 minutes); make test runs this without -race")
	}
	sharedORT(t) // skips without the shared backbone or ONNX Runtime
	bb, err := backbone.NewORT("mobilenetv2", sharedBytes(t), backbone.ORTConfig{Size: 224})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	ntrain := 60
	train, test := detectionScenes(t, ntrain, 1), detectionScenes(t, 10, 2)
	m, ev, err := Train(context.Background(), TrainConfig{Backbone: bb, Train: train, Test: test, Seed: 1,
		Head: head.Config{Hidden: 16, Epochs: 10}, BoxHead: head.Config{Hidden: 16, Epochs: 30},
		BoxClassifier: head.Config{Hidden: 16, Epochs: 10}, BoxRefine: head.Config{Hidden: 16, Epochs: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != Detection || len(m.Labels) != 3 {
		t.Fatalf("kind %v labels %v", m.Kind, m.Labels)
	}
	t.Logf("mAP %.3f", ev.Report.MAP)
	if ev.Report.MAP < 0.15 { // plumbing check; quality is measured by visionbench
		t.Errorf("mAP %.3f on easy synthetic scenes", ev.Report.MAP)
	}
	// The shared-map shortcut gives the same class probabilities as running
	// the head on every cell.
	x := tileInputs(test[0].Image, m.Backbone, 1, false)[0]
	maps, err := bb.Forward(context.Background(), x, 1)
	if err != nil {
		t.Fatal(err)
	}
	side, feats := cellFeatures(m.Backbone, maps, 0)
	fast := m.classifyCells(side, feats)
	for c, f := range feats {
		slow := m.Head.Predict(f)
		for k := range slow {
			if d := fast[c][k] - slow[k]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("cell %d label %d: shortcut %v, direct %v", c, k, fast[c][k], slow[k])
			}
		}
	}
	if m.ROIHead == nil || m.ROIHead.In != roiLen(m.Backbone) || m.ROIBoxHead == nil || m.ROIBoxHead.Out != 4 {
		t.Fatalf("untiled detection model without a box classifier or refinement: %+v, %+v", m.ROIHead, m.ROIBoxHead)
	}
	var buf bytes.Buffer
	if err := Save(&buf, m); err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if m2.ROIHead == nil || m2.ROIBoxHead == nil {
		t.Fatal("box classifier or refinement lost on reload")
	}
	if err := m2.Attach(bb); err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	a, err := m.Predict(context.Background(), test[0].Image, PredictOptions{MinConfidence: &zero})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m2.Predict(context.Background(), test[0].Image, PredictOptions{MinConfidence: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d vs %d detections", len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Confidence != b[i].Confidence || *a[i].Box != *b[i].Box {
			t.Fatalf("detection %d differs after reload: %+v vs %+v", i, a[i], b[i])
		}
		bx := a[i].Box
		if bx.Left < 0 || bx.Top < 0 || bx.Left+bx.Width > 1+1e-9 || bx.Top+bx.Height > 1+1e-9 {
			t.Errorf("box out of the image: %+v", bx)
		}
	}
	// A tiled model keeps its tiling through Save and Decode, and runs it.
	mt := *m
	mt.Tiles = 2
	buf.Reset()
	if err := Save(&buf, &mt); err != nil {
		t.Fatal(err)
	}
	mt2, err := Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if mt2.Tiles != 2 {
		t.Fatalf("tiles %d after reload, want 2", mt2.Tiles)
	}
	if err := mt2.Attach(bb); err != nil {
		t.Fatal(err)
	}
	c, err := mt2.Predict(context.Background(), test[0].Image, PredictOptions{MinConfidence: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if len(c) == 0 {
		t.Fatal("no detections from the tiled model")
	}
	for _, d := range c {
		bx := d.Box
		if bx.Left < 0 || bx.Top < 0 || bx.Left+bx.Width > 1+1e-9 || bx.Top+bx.Height > 1+1e-9 {
			t.Errorf("tiled box out of the image: %+v", bx)
		}
	}
	// A format-2 detection artifact (before tiling) loads untiled and
	// predicts as it was trained.
	buf.Reset()
	if err := Save(&buf, m); err != nil {
		t.Fatal(err)
	}
	b2 := buf.Bytes()
	n := int(binary.LittleEndian.Uint32(b2[len(magic):]))
	var hdr map[string]any
	if err := json.Unmarshal(b2[len(magic)+4:len(magic)+4+n], &hdr); err != nil {
		t.Fatal(err)
	}
	hdr["format"] = 2
	delete(hdr, "tiles")
	hb, _ := json.Marshal(hdr)
	old := append([]byte(magic), binary.LittleEndian.AppendUint32(nil, uint32(len(hb)))...)
	old = append(append(old, hb...), b2[len(magic)+4+n:]...)
	m3, err := Decode(bytes.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	if m3.Tiles != 0 || m3.Format != 2 {
		t.Fatalf("format-2 artifact: format %d tiles %d", m3.Format, m3.Tiles)
	}
	if err := m3.Attach(bb); err != nil {
		t.Fatal(err)
	}
	d3, err := m3.Predict(context.Background(), test[0].Image, PredictOptions{MinConfidence: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if len(d3) != len(a) || (len(a) > 0 && *d3[0].Box != *a[0].Box) {
		t.Fatalf("format-2 artifact predicts %d boxes, the model %d", len(d3), len(a))
	}
	// A format-3 detection artifact (before the box classifier) loads
	// without one and predicts with the cell head alone.
	cellOnly := *m
	cellOnly.ROIHead, cellOnly.ROIBoxHead = nil, nil
	buf.Reset()
	if err := Save(&buf, &cellOnly); err != nil {
		t.Fatal(err)
	}
	b3 := buf.Bytes()
	n = int(binary.LittleEndian.Uint32(b3[len(magic):]))
	hdr = nil
	if err := json.Unmarshal(b3[len(magic)+4:len(magic)+4+n], &hdr); err != nil {
		t.Fatal(err)
	}
	hdr["format"] = 3
	hb, _ = json.Marshal(hdr)
	old = append([]byte(magic), binary.LittleEndian.AppendUint32(nil, uint32(len(hb)))...)
	old = append(append(old, hb...), b3[len(magic)+4+n:]...)
	m4, err := Decode(bytes.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	if m4.Format != 3 || m4.ROIHead != nil {
		t.Fatalf("format-3 artifact: format %d, box classifier %v", m4.Format, m4.ROIHead != nil)
	}
	if err := m4.Attach(bb); err != nil {
		t.Fatal(err)
	}
	d4, err := m4.Predict(context.Background(), test[0].Image, PredictOptions{MinConfidence: &zero})
	if err != nil {
		t.Fatal(err)
	}
	want := m.proposals([][][]float32{maps})
	if len(d4) != len(want) {
		t.Fatalf("format-3 artifact predicts %d boxes, the cell head %d", len(d4), len(want))
	}
	// A format-4 detection artifact (before the box refinement) loads
	// without one and reports the proposals' boxes rescored.
	noRefine := *m
	noRefine.ROIBoxHead = nil
	buf.Reset()
	if err := Save(&buf, &noRefine); err != nil {
		t.Fatal(err)
	}
	b4 := buf.Bytes()
	n = int(binary.LittleEndian.Uint32(b4[len(magic):]))
	hdr = nil
	if err := json.Unmarshal(b4[len(magic)+4:len(magic)+4+n], &hdr); err != nil {
		t.Fatal(err)
	}
	hdr["format"] = 4
	hb, _ = json.Marshal(hdr)
	old = append([]byte(magic), binary.LittleEndian.AppendUint32(nil, uint32(len(hb)))...)
	old = append(append(old, hb...), b4[len(magic)+4+n:]...)
	m5, err := Decode(bytes.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	if m5.Format != 4 || m5.ROIHead == nil || m5.ROIBoxHead != nil {
		t.Fatalf("format-4 artifact: format %d, box classifier %v, refinement %v", m5.Format, m5.ROIHead != nil, m5.ROIBoxHead != nil)
	}
	if err := m5.Attach(bb); err != nil {
		t.Fatal(err)
	}
	d5, err := m5.Predict(context.Background(), test[0].Image, PredictOptions{MinConfidence: &zero})
	if err != nil {
		t.Fatal(err)
	}
	want = noRefine.rescore([][][]float32{maps}, noRefine.proposals([][][]float32{maps}))
	if len(d5) != len(want) || (len(want) > 0 && *d5[0].Box != want[0].box) {
		t.Fatalf("format-4 artifact predicts %d boxes, the classifier without refinement %d", len(d5), len(want))
	}
	// A refinement that does not match the backbone is refused.
	badR := *m
	rb := *m.ROIBoxHead
	rb.In--
	rb.Mean, rb.Scale = rb.Mean[1:], rb.Scale[1:]
	rb.W1 = rb.W1[:rb.Hidden*rb.In]
	badR.ROIBoxHead = &rb
	buf.Reset()
	if err := Save(&buf, &badR); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(&buf); err == nil || !strings.Contains(err.Error(), "box refinement") {
		t.Errorf("mismatched box refinement: %v", err)
	}
	// A box classifier that does not match the backbone is refused.
	bad := *m
	rh := *m.ROIHead
	rh.In--
	rh.Mean, rh.Scale = rh.Mean[1:], rh.Scale[1:]
	rh.W1 = rh.W1[:rh.Hidden*rh.In]
	bad.ROIHead = &rh
	buf.Reset()
	if err := Save(&buf, &bad); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(&buf); err == nil || !strings.Contains(err.Error(), "box classifier") {
		t.Errorf("mismatched box classifier: %v", err)
	}
	// A backbone at another input size is refused.
	other, err := backbone.NewORT("mobilenetv2", sharedBytes(t), backbone.ORTConfig{Size: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := m2.Attach(other); err == nil {
		t.Error("attached a backbone running at another size")
	}
}
