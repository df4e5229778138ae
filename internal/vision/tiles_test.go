package vision

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/head"
)

func TestDetectionTiles(t *testing.T) {
	ex := func(label string, side float64, n int) []Example {
		var out []Example
		for i := 0; i < n; i++ {
			out = append(out, Example{Objects: []Object{{Label: label, Box: Box{Left: 0.1, Top: 0.1, Width: side, Height: side * 2}}}})
		}
		return out
	}
	// 0.1 of 320 px = 32 px: large enough untiled.
	if got := detectionTiles(ex("big", 0.1, 5), 320); got != 1 {
		t.Errorf("32 px objects: %d tiles, want 1", got)
	}
	// Mostly ~16 px boxes (the shorter side counts) tile the model.
	mixed := append(ex("big", 0.3, 3), ex("small", 0.05, 20)...)
	if got := detectionTiles(mixed, 320); got != detTiledSide {
		t.Errorf("16 px objects: %d tiles, want %d", got, detTiledSide)
	}
	// A minority of small objects among large ones does not (BCCD).
	mixed = append(ex("big", 0.3, 20), ex("small", 0.05, 8)...)
	if got := detectionTiles(mixed, 320); got != 1 {
		t.Errorf("small minority: %d tiles, want 1", got)
	}
	if got := detectionTiles(nil, 320); got != 1 {
		t.Errorf("no boxes: %d tiles", got)
	}
}

// TestTileInputs checks that each tile is its quarter of the image: an
// image already at twice the input side is cut without resampling.
func TestTileInputs(t *testing.T) {
	info := backbone.Info{Size: 32, Std: [3]float32{1, 1, 1}, Maps: []backbone.Map{{C: 1, H: 2, W: 2, Stride: 16}}}
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 4), uint8(y * 4), uint8((x + y) % 256), 255})
		}
	}
	tiles := tileInputs(img, info, 2, false)
	if len(tiles) != 4 {
		t.Fatalf("%d tiles", len(tiles))
	}
	for k, x := range tiles {
		ox, oy := (k%2)*32, (k/2)*32
		quarter := image.NewRGBA(image.Rect(0, 0, 32, 32))
		for y := 0; y < 32; y++ {
			for xx := 0; xx < 32; xx++ {
				quarter.SetRGBA(xx, y, img.RGBAAt(ox+xx, oy+y))
			}
		}
		want := tileInputs(quarter, info, 1, false)[0]
		for i := range want {
			if x[i] != want[i] {
				t.Fatalf("tile %d value %d: %v, want %v", k, i, x[i], want[i])
			}
		}
	}
	// Flipped, the tiles are those of the mirrored image.
	mirror := image.NewRGBA(img.Rect)
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			mirror.SetRGBA(63-x, y, img.RGBAAt(x, y))
		}
	}
	want := tileInputs(mirror, info, 2, false)
	for k, x := range tileInputs(img, info, 2, true) {
		for i := range x {
			if x[i] != want[k][i] {
				t.Fatalf("flipped tile %d value %d: %v, want %v", k, i, x[i], want[k][i])
			}
		}
	}
	o := mirrored([]Object{{Label: "a", Box: Box{Left: 0.1, Top: 0.2, Width: 0.3, Height: 0.4}}})[0]
	if d := o.Box.Left - 0.6; d > 1e-12 || d < -1e-12 || o.Box.Top != 0.2 || o.Box.Width != 0.3 {
		t.Errorf("mirrored box %+v", o.Box)
	}
}

// TestTiledGrid checks the stitching of the tiles' cell grids: tile
// (ty, tx) cell (gy, gx) lands at grid row ty*side+gy, column tx*side+gx.
func TestTiledGrid(t *testing.T) {
	info := backbone.Info{Size: 32, Maps: []backbone.Map{{C: 1, H: 2, W: 2, Stride: 16}}}
	var tileMaps [][][]float32
	for k := 0; k < 4; k++ {
		m := make([]float32, 4)
		for c := range m {
			m[c] = float32(100*k + c)
		}
		tileMaps = append(tileMaps, [][]float32{m})
	}
	S, feats, perTile, index := tiledGrid(info, tileMaps, 2)
	if S != 4 || len(feats) != 16 {
		t.Fatalf("grid side %d with %d cells", S, len(feats))
	}
	for k := 0; k < 4; k++ {
		for c := 0; c < 4; c++ {
			row, col := (k/2)*2+c/2, (k%2)*2+c%2
			g := row*S + col
			if index[k][c] != g || feats[g][0] != float32(100*k+c) || perTile[k][c][0] != feats[g][0] {
				t.Fatalf("tile %d cell %d: index %d (want %d), value %v", k, c, index[k][c], g, feats[g][0])
			}
		}
	}
}

// TestTiledDetectionClassifier checks that a tiled detection model trains
// a box classifier, keeps it through Save and Decode, and answers with
// its proposals rescored by it (pooled from the stitched tile maps).
func TestTiledDetectionClassifier(t *testing.T) {
	sharedORT(t) // skips without the shared backbone or ONNX Runtime
	bb, err := backbone.NewORT("mobilenetv2", sharedBytes(t), backbone.ORTConfig{Size: 224})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	train, test := detectionScenes(t, 12, 1), detectionScenes(t, 3, 2)
	m, _, err := Train(context.Background(), TrainConfig{Backbone: bb, Train: train, Test: test, Seed: 1, DetectionTiles: 2,
		Head: head.Config{Hidden: 16, Epochs: 5}, BoxHead: head.Config{Hidden: 16, Epochs: 10}, BoxClassifier: head.Config{Hidden: 16, Epochs: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if m.tiles() != 2 || m.ROIHead == nil || m.ROIHead.In != roiLen(m.Backbone) {
		t.Fatalf("tiled model: tiles %d, box classifier %+v", m.tiles(), m.ROIHead)
	}
	var buf bytes.Buffer
	if err := Save(&buf, m); err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Attach(bb); err != nil {
		t.Fatal(err)
	}
	var tileMaps [][][]float32
	for _, x := range tileInputs(test[0].Image, m.Backbone, 2, false) {
		maps, err := bb.Forward(context.Background(), x, 1)
		if err != nil {
			t.Fatal(err)
		}
		tileMaps = append(tileMaps, maps)
	}
	props := m.proposals(tileMaps)
	want := m.rescore(tileMaps, props)
	if len(props) == 0 || len(want) == len(props) && want[0] == props[0] {
		t.Fatalf("%d proposals, rescored %d: the classifier did not run", len(props), len(want))
	}
	zero := 0.0
	got, err := m2.Predict(context.Background(), test[0].Image, PredictOptions{MinConfidence: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("reloaded tiled model: %d boxes, want %d", len(got), len(want))
	}
	for i, d := range want {
		if got[i].Name != m.Labels[d.label] || math.Abs(got[i].Confidence-100*d.score) > 1e-9 || *got[i].Box != d.box {
			t.Fatalf("box %d: %+v, want %+v", i, got[i], d)
		}
	}
}

// TestRegressCells checks the box regression's shared-map shortcut on a
// tiled grid: for any selection of cells it equals running the box head
// on each cell's features.
func TestRegressCells(t *testing.T) {
	info := backbone.Info{Size: 64, Maps: []backbone.Map{
		{Name: "s8", C: 3, H: 8, W: 8, Stride: 8},
		{Name: "s16", C: 4, H: 4, W: 4, Stride: 16},
		{Name: "s32", C: 5, H: 2, W: 2, Stride: 32},
	}}
	r := rand.New(rand.NewPCG(1, 2))
	var tileMaps [][][]float32
	for k := 0; k < 4; k++ {
		var maps [][]float32
		for _, mp := range info.Maps {
			v := make([]float32, mp.C*mp.H*mp.W)
			for i := range v {
				v[i] = float32(r.NormFloat64())
			}
			maps = append(maps, v)
		}
		tileMaps = append(tileMaps, maps)
	}
	side, feats, _, _ := tiledGrid(info, tileMaps, 2)
	D := len(feats[0])
	bh := &head.MLP{Output: head.Linear, In: D, Hidden: 6, Out: 4, Mean: make([]float32, D), Scale: make([]float32, D),
		W1: make([]float32, 6*D), B1: make([]float32, 6), W2: make([]float32, 4*6), B2: make([]float32, 4)}
	for _, v := range [][]float32{bh.Mean, bh.Scale, bh.W1, bh.B1, bh.W2, bh.B2} {
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
	}
	m := &Model{Kind: Detection, Backbone: info, BoxHead: bh, Tiles: 2}
	var sel []int
	var x [][]float32
	for c := range feats {
		if r.IntN(3) > 0 {
			sel = append(sel, c)
			x = append(x, feats[c])
		}
	}
	got, want := m.regressCells(side, 2, feats, sel), bh.PredictBatch(x)
	for i := range want {
		for k := range want[i] {
			if d := math.Abs(got[i][k] - want[i][k]); d > 1e-4*(1+math.Abs(want[i][k])) {
				t.Fatalf("cell %d output %d: %v, want %v", sel[i], k, got[i][k], want[i][k])
			}
		}
	}
	if len(got) != len(sel) || len(m.regressCells(side, 2, feats, nil)) != 0 {
		t.Fatalf("%d outputs for %d cells", len(got), len(sel))
	}
}
