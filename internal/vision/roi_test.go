package vision

import (
	"math"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/head"
)

// roiInfo is a two-map backbone at 64 px: a narrow stride-16 map (pooled
// 2x2) and a wide stride-32 one (pooled whole).
func roiInfo() backbone.Info {
	return backbone.Info{Size: 64, Maps: []backbone.Map{
		{Name: "a", C: 2, H: 4, W: 4, Stride: 16},
		{Name: "b", C: 300, H: 2, W: 2, Stride: 32},
	}}
}

// TestROIFeatures checks the pooling: each bin averages the cells whose
// centres lie in it, a bin holding no cell centre takes the cell under its
// centre, and the box's log size closes the vector.
func TestROIFeatures(t *testing.T) {
	info := roiInfo()
	if got, want := roiLen(info), 2*4+300+2; got != want {
		t.Fatalf("roiLen %d, want %d", got, want)
	}
	// Map a: channel c holds 100*c + 10*y + x; map b: channel c holds c + 4*(2y+x).
	a := make([]float32, 2*16)
	for c := 0; c < 2; c++ {
		for y := 0; y < 4; y++ {
			for x := 0; x < 4; x++ {
				a[c*16+y*4+x] = float32(100*c + 10*y + x)
			}
		}
	}
	b := make([]float32, 300*4)
	for c := 0; c < 300; c++ {
		for p := 0; p < 4; p++ {
			b[c*4+p] = float32(c + 4*p)
		}
	}
	maps := [][]float32{a, b}
	// The whole image: map a's bins are its 2x2 quadrants, map b is averaged whole.
	f := roiFeatures(info, maps, Box{Left: 0, Top: 0, Width: 1, Height: 1})
	quad := []float32{5.5, 7.5, 25.5, 27.5} // mean of 10y+x over each quadrant (bin order: row-major)
	for bin, q := range quad {
		for c := 0; c < 2; c++ {
			if got, want := f[bin*2+c], q+float32(100*c); got != want {
				t.Errorf("map a bin %d channel %d: %v, want %v", bin, c, got, want)
			}
		}
	}
	if got, want := f[8+7], float32(7+6); got != want { // channel 7: 7 + 4*mean(0..3)
		t.Errorf("map b channel 7: %v, want %v", got, want)
	}
	if got := f[len(f)-2]; math.Abs(float64(got)-math.Log(1)) > 1e-6 { // 64 px wide, detBoxScale 64
		t.Errorf("log width %v, want 0", got)
	}
	// A box smaller than a cell (x 20..28 px, y 36..44 px: map a cell (1, 2)).
	f = roiFeatures(info, maps, Box{Left: 20.0 / 64, Top: 36.0 / 64, Width: 8.0 / 64, Height: 8.0 / 64})
	for bin := 0; bin < 4; bin++ {
		if got := f[bin*2]; got != 21 {
			t.Errorf("small box, bin %d: %v, want cell (x 1, y 2) = 21", bin, got)
		}
	}
	if got, want := f[8], float32(0+4*2); got != want { // map b cell (0, 1)
		t.Errorf("small box, map b: %v, want %v", got, want)
	}
	if got, want := float64(f[len(f)-1]), math.Log(8.0/64); math.Abs(got-want) > 1e-6 {
		t.Errorf("log height %v, want %v", got, want)
	}
}

// TestRescore checks that the box classifier relabels a proposal: a
// classifier sure of label 1 turns a proposal of label 0 into a label-1
// box scored by the geometric mean, the runner-up label after it.
func TestRescore(t *testing.T) {
	info := roiInfo()
	n := roiLen(info)
	K := 3
	rh := &head.MLP{Output: head.Softmax, In: n, Out: K + 1, Mean: make([]float32, n), Scale: make([]float32, n),
		W2: make([]float32, (K+1)*n), B2: []float32{1, 4, 0, 0}}
	m := &Model{Kind: Detection, Backbone: info, Labels: []string{"x", "y", "z"}, ROIHead: rh}
	maps := [][]float32{make([]float32, 2*16), make([]float32, 300*4)}
	props := []detection{{label: 0, score: 0.8, box: Box{Left: 0.1, Top: 0.1, Width: 0.5, Height: 0.5}}}
	out := m.rescore([][][]float32{maps}, props)
	p := rh.Predict(roiFeatures(info, maps, props[0].box))
	if len(out) != 2 || out[0].label != 1 || out[1].label != 0 {
		t.Fatalf("rescored %+v, want label 1 then label 0", out)
	}
	if want := math.Sqrt(0.8 * p[1]); math.Abs(out[0].score-want) > 1e-12 {
		t.Errorf("score %v, want %v", out[0].score, want)
	}
	if out[0].box != props[0].box {
		t.Errorf("box moved: %+v", out[0].box)
	}
	// A tiled model, or one without a classifier (format 3 and older), keeps its proposals.
	m.Tiles = 2
	if out := m.rescore([][][]float32{maps}, props); len(out) != 1 || out[0] != props[0] {
		t.Errorf("tiled model rescored: %+v", out)
	}
	m.Tiles, m.ROIHead = 1, nil
	if out := m.rescore([][][]float32{maps}, props); len(out) != 1 || out[0] != props[0] {
		t.Errorf("model without classifier rescored: %+v", out)
	}
}
