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
	// A tiled model pools the proposal from its tiles' maps stitched.
	m.Tiles = 2
	tileMaps := make([][][]float32, 4)
	for k := range tileMaps {
		a, b := make([]float32, 2*16), make([]float32, 300*4)
		for i := range a {
			a[i] = float32(k)
		}
		for i := range b {
			b[i] = float32(k)
		}
		tileMaps[k] = [][]float32{a, b}
	}
	// Label 1 grows with the first pooled value (map a's first bin) and the
	// box's log height (relative to the stitched input side).
	rh.Scale[0], rh.Scale[n-1] = 1, 1
	rh.W2[1*n+0], rh.W2[1*n+n-1] = -0.5, 1
	sinfo, smaps := stitchedMaps(info, tileMaps, 2)
	out = m.rescore(tileMaps, props)
	p = rh.Predict(roiFeatures(sinfo, smaps, props[0].box))
	if want := math.Sqrt(0.8 * p[1]); len(out) != 2 || math.Abs(out[0].score-want) > 1e-12 {
		t.Errorf("tiled model rescored %+v, want label 1 at %v", out, want)
	}
	if p1 := rh.Predict(roiFeatures(info, tileMaps[0], props[0].box)); math.Abs(p1[1]-p[1]) < 1e-6 {
		t.Errorf("tiled and untiled pooling give the same probability %v: the test does not tell them apart", p1[1])
	}
	// A model without a classifier (format 3 and older, or a tiled format 4
	// one) keeps its proposals.
	m.ROIHead = nil
	if out := m.rescore(tileMaps, props); len(out) != 1 || out[0] != props[0] {
		t.Errorf("model without classifier rescored: %+v", out)
	}
}

// TestStitchedMaps checks the joining of tile maps: tile (ty, tx) map
// cell (c, y, x) lands at (c, ty*H+y, tx*W+x) of the whole image's map,
// and the description doubles the input side and map sizes.
func TestStitchedMaps(t *testing.T) {
	info := roiInfo()
	var tileMaps [][][]float32
	for k := 0; k < 4; k++ {
		var maps [][]float32
		for _, mp := range info.Maps {
			v := make([]float32, mp.C*mp.H*mp.W)
			for i := range v {
				v[i] = float32(10000*k + i)
			}
			maps = append(maps, v)
		}
		tileMaps = append(tileMaps, maps)
	}
	sinfo, smaps := stitchedMaps(info, tileMaps, 2)
	if sinfo.Size != 128 || roiLen(sinfo) != roiLen(info) || info.Size != 64 || info.Maps[0].H != 4 {
		t.Fatalf("stitched info %+v (input %+v)", sinfo, info)
	}
	for mi, mp := range info.Maps {
		big := sinfo.Maps[mi]
		if big.H != 2*mp.H || big.W != 2*mp.W || big.C != mp.C || len(smaps[mi]) != mp.C*big.H*big.W {
			t.Fatalf("map %d: %+v, %d values", mi, big, len(smaps[mi]))
		}
		for k := 0; k < 4; k++ {
			ty, tx := k/2, k%2
			for c := 0; c < mp.C; c++ {
				for y := 0; y < mp.H; y++ {
					for x := 0; x < mp.W; x++ {
						got := smaps[mi][(c*big.H+ty*mp.H+y)*big.W+tx*mp.W+x]
						if want := tileMaps[k][mi][(c*mp.H+y)*mp.W+x]; got != want {
							t.Fatalf("map %d tile %d (c %d, y %d, x %d): %v, want %v", mi, k, c, y, x, got, want)
						}
					}
				}
			}
		}
	}
	if i1, m1 := stitchedMaps(info, tileMaps[:1], 1); i1.Size != info.Size || &m1[0][0] != &tileMaps[0][0][0] {
		t.Error("one tile is not returned as it is")
	}
}

// TestRefine checks the box refinement's targets and their inverse: the
// targets of a proposal for a true box, applied to the proposal, give the
// true box back; outputs beyond refineMaxLog are clamped; a refinement
// head in rescore moves the reported box and leaves the scores.
func TestRefine(t *testing.T) {
	p := Box{Left: 0.2, Top: 0.3, Width: 0.2, Height: 0.1}
	tb := Box{Left: 0.23, Top: 0.28, Width: 0.25, Height: 0.09}
	r := refineTargets(p, tb)
	f := make([]float64, 4)
	for i, v := range r {
		f[i] = float64(v)
	}
	got := refined(p, f)
	if math.Abs(got.Left-tb.Left) > 1e-6 || math.Abs(got.Top-tb.Top) > 1e-6 || math.Abs(got.Width-tb.Width) > 1e-6 || math.Abs(got.Height-tb.Height) > 1e-6 {
		t.Fatalf("refined %+v, want %+v", got, tb)
	}
	if b := refined(p, []float64{0, 0, 100, 0}); math.Abs(b.Width-p.Width*math.E) > 1e-9 {
		t.Errorf("unclamped width %v", b.Width)
	}
	if b := refined(Box{Left: 0.9, Top: 0.9, Width: 0.1, Height: 0.1}, []float64{refineCentreScale * 2, 0, 0, 0}); b.Left+b.Width > 1+1e-12 {
		t.Errorf("refined box leaves the image: %+v", b)
	}
	info := roiInfo()
	n := roiLen(info)
	rh := &head.MLP{Output: head.Softmax, In: n, Out: 2, Mean: make([]float32, n), Scale: make([]float32, n),
		W2: make([]float32, 2*n), B2: []float32{3, 0}}
	bh := &head.MLP{Output: head.Linear, In: n, Out: 4, Mean: make([]float32, n), Scale: make([]float32, n),
		W2: make([]float32, 4*n), B2: []float32{r[0], r[1], r[2], r[3]}}
	m := &Model{Kind: Detection, Backbone: info, Labels: []string{"x"}, ROIHead: rh}
	maps := [][]float32{make([]float32, 2*16), make([]float32, 300*4)}
	props := []detection{{label: 0, score: 0.8, box: p}}
	before := m.rescore([][][]float32{maps}, props)
	m.ROIBoxHead = bh
	after := m.rescore([][][]float32{maps}, props)
	if len(before) != 1 || len(after) != 1 || before[0].score != after[0].score || before[0].box != p {
		t.Fatalf("rescored without refinement %+v, with %+v", before, after)
	}
	if b := after[0].box; math.Abs(b.Left-tb.Left) > 1e-6 || math.Abs(b.Width-tb.Width) > 1e-6 {
		t.Errorf("refined box %+v, want %+v", b, tb)
	}
}
