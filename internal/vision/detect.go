package vision

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/eval"
	"github.com/ocellus/ocellus/internal/vision/head"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// Detection is a dense head on the backbone's feature maps: every cell of
// the stride-16 grid reads the maps at its position (finer maps averaged,
// coarser ones repeated) and predicts background-or-class with the MLP head
// (softmax over labels + background, background last) and, through a ridge
// regression head (an MLP with linear outputs), the box of the object centred there: centre offset within the
// cell and log width/height. Overlapping boxes are then merged by NMS.

// DetectionSize is the input side at which detection models run a
// classification backbone (backbone.ORTConfig{Detection: true} picks it,
// or a detection network's own size): finer feature maps than the
// classification size of 224 help small objects.
const DetectionSize = backbone.DefaultDetectionSize

const (
	detGridStride = 16
	detBoxScale   = 64.0 // box sizes are regressed as log(size / 64 px)
	detMinScore   = 0.02 // candidates below this are never reported
	detNMSIoU     = 0.5
	detMaxBoxes   = 100
	detMaxCells   = 400 // cells whose box is regressed, best scores first (per tile row)
	// detSmallObject: when the median shorter side of the training boxes
	// is below this many pixels at the backbone's input, the model runs
	// tiled (detTiledSide tiles a side; see detectionTiles).
	detSmallObject = 24
	detTiledSide   = 2
	// detCentreRadius: cells whose centre is within this many strides of
	// a box centre (on both axes) are positives of it (see cellTargets).
	detCentreRadius = 0.75
	// detSmallBox: the radius applies to boxes whose shorter side is
	// under this many strides.
	detSmallBox = 1.5
)

// detectionTiles chooses how many tiles a side a detection model runs on:
// 1 (the image resized to the backbone's input) unless most training boxes
// are small at that size (median shorter side below detSmallObject
// pixels), then detTiledSide: the image is resized to detTiledSide times
// the input side and cut into detTiledSide^2 tiles of the input side, each
// run through the backbone, their cell grids stitched into one. Small
// objects then cover several stride-16 cells instead of part of one
// (DeepPCB defects ~15 px at 320). The median is over all boxes, not per
// label: on BCCD (platelets ~20 px among red cells ~50 px and white cells
// ~100 px) tiling raised platelets' AP 0.20 -> 0.23 but cost the white
// cells 0.92 -> 0.81, mAP 0.624 -> 0.590.
func detectionTiles(train []Example, size int) int {
	var sides []float64
	for _, e := range train {
		for _, o := range e.Objects {
			sides = append(sides, math.Min(o.Box.Width, o.Box.Height)*float64(size))
		}
	}
	if len(sides) == 0 {
		return 1
	}
	sort.Float64s(sides)
	if sides[len(sides)/2] < detSmallObject {
		return detTiledSide
	}
	return 1
}

// tileInputs returns the backbone inputs of an image cut into tiles x
// tiles (row-major), each info.Size square; tiles 1 is the whole image.
// flip mirrors the image horizontally first.
func tileInputs(img image.Image, info backbone.Info, tiles int, flip bool) [][]float32 {
	s := info.Size
	big := imageio.Resize(img, s*tiles, s*tiles)
	norm := imageio.Norm{Mean: info.Mean, Std: info.Std}
	out := make([][]float32, tiles*tiles)
	for t := range out {
		ty, tx := t/tiles, t%tiles
		if flip {
			tx = tiles - 1 - tx // the mirrored image's tile tx is the mirror of tile tiles-1-tx
		}
		x := make([]float32, info.InputLen())
		tile := big
		if tiles > 1 {
			tile = big.SubImage(image.Rect(tx*s, ty*s, (tx+1)*s, (ty+1)*s)).(*image.RGBA)
		}
		imageio.CHW(x, tile, norm, flip)
		out[t] = x
	}
	return out
}

// mirrored returns objects flipped horizontally with their image.
func mirrored(objs []Object) []Object {
	out := make([]Object, len(objs))
	for i, o := range objs {
		o.Box.Left = 1 - o.Box.Left - o.Box.Width
		out[i] = o
	}
	return out
}

// tiledGrid stitches the cell grids of an image's tiles (each tile's maps
// as the backbone returned them, row-major) into one grid of side*tiles
// cells a side. It returns the grid side, the cell features and, for each
// tile, the grid indices of its cells (in the tile's own cell order).
func tiledGrid(info backbone.Info, tileMaps [][][]float32, tiles int) (int, [][]float32, [][][]float32, [][]int) {
	var S int
	var feats [][]float32
	perTile := make([][][]float32, len(tileMaps))
	index := make([][]int, len(tileMaps))
	for t, maps := range tileMaps {
		side, f := cellFeatures(info, maps, 0)
		if S == 0 {
			S = side * tiles
			feats = make([][]float32, S*S)
		}
		ty, tx := t/tiles, t%tiles
		index[t] = make([]int, len(f))
		for c := range f {
			g := (ty*side+c/side)*S + tx*side + c%side
			feats[g] = f[c]
			index[t][c] = g
		}
		perTile[t] = f
	}
	return S, feats, perTile, index
}

// tiles returns the model's tiles a side (0 in older artifacts means 1).
func (m *Model) tiles() int {
	return max(1, m.Tiles)
}

// Training budgets of the detection heads, in examples seen (epochs times
// training cells): the mirrored copies and tiling multiply the cells, and
// their epochs shrink to keep the head training time about what it was
// without them (~300 images untiled: ~40k cells x 20 epochs, ~9k positives
// x 100 epochs), down to a floor.
const (
	detClassBudget = 1_000_000
	detBoxBudget   = 1_000_000
)

// epochBudget returns budget/n epochs clamped to [lo, hi].
func epochBudget(budget, n, lo, hi int) int {
	return min(hi, max(lo, budget/max(1, n)))
}

// gridStride returns the grid stride used for cells: 16 when the backbone
// has a stride-16 map, else its finest stride.
func gridStride(info backbone.Info) int {
	best := 0
	for _, m := range info.Maps {
		if m.Stride == detGridStride {
			return detGridStride
		}
		if best == 0 || m.Stride < best {
			best = m.Stride
		}
	}
	return best
}

// cellFeatures returns, for image k of a forward batch, the grid side and
// the per-cell feature vectors [cells][D].
func cellFeatures(info backbone.Info, maps [][]float32, k int) (int, [][]float32) {
	gs := gridStride(info)
	side := info.Size / gs
	D := 0
	for _, m := range info.Maps {
		D += m.C
	}
	feats := make([][]float32, side*side)
	buf := make([]float32, side*side*D)
	for c := range feats {
		feats[c] = buf[c*D : (c+1)*D]
	}
	off := 0
	for mi, m := range info.Maps {
		hw := m.H * m.W
		base := maps[mi][k*m.C*hw : (k+1)*m.C*hw]
		for gy := 0; gy < side; gy++ {
			for gx := 0; gx < side; gx++ {
				f := feats[gy*side+gx][off : off+m.C]
				switch {
				case m.Stride >= gs:
					y, x := min(gy*gs/m.Stride, m.H-1), min(gx*gs/m.Stride, m.W-1)
					for c := 0; c < m.C; c++ {
						f[c] = base[c*hw+y*m.W+x]
					}
				default:
					r := gs / m.Stride
					inv := 1 / float32(r*r)
					for c := 0; c < m.C; c++ {
						var s float32
						for dy := 0; dy < r; dy++ {
							row := base[c*hw+(gy*r+dy)*m.W+gx*r:]
							for dx := 0; dx < r; dx++ {
								s += row[dx]
							}
						}
						f[c] = s * inv
					}
				}
			}
		}
		off += m.C
	}
	return side, feats
}

// cellTargets assigns ground truth to cells: a cell whose centre lies in the
// central third of a box, or within detCentreRadius strides of the box
// centre on both axes, is a positive of that box (the cell holding the box
// centre always is); cells inside a box but not positive are ignored (-2);
// others are background (-1). The radius gives a box smaller than a cell
// (BCCD platelets, ~20 px at 320 on the stride-16 grid) the two to four
// cells nearest its centre as positives instead of one, the neighbours
// whose receptive fields hold it best then being taught it rather than
// background.
func cellTargets(objs []Object, side, stride, size int) (cls []int, box [][4]float64) {
	cls = make([]int, side*side)
	box = make([][4]float64, side*side)
	for i := range cls {
		cls[i] = -1
	}
	// Larger boxes first so small ones win shared cells.
	order := make([]int, len(objs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return objs[order[a]].Box.Width*objs[order[a]].Box.Height > objs[order[b]].Box.Width*objs[order[b]].Box.Height
	})
	s := float64(size)
	for _, oi := range order {
		o := objs[oi]
		x0, y0 := o.Box.Left*s, o.Box.Top*s
		w, h := o.Box.Width*s, o.Box.Height*s
		cx, cy := x0+w/2, y0+h/2
		rx, ry := w/6, h/6
		if math.Min(w, h) < detSmallBox*float64(stride) {
			rx = math.Max(rx, detCentreRadius*float64(stride))
			ry = math.Max(ry, detCentreRadius*float64(stride))
		}
		for gy := 0; gy < side; gy++ {
			for gx := 0; gx < side; gx++ {
				px, py := (float64(gx)+0.5)*float64(stride), (float64(gy)+0.5)*float64(stride)
				near := math.Abs(px-cx) <= rx && math.Abs(py-cy) <= ry
				if !near && (px < x0 || px > x0+w || py < y0 || py > y0+h) {
					continue
				}
				c := gy*side + gx
				centre := int(cx)/stride == gx && int(cy)/stride == gy
				if centre || near {
					cls[c] = -(oi + 10) // resolved below
					box[c] = [4]float64{(cx - px) / float64(stride), (cy - py) / float64(stride), math.Log(w / detBoxScale), math.Log(h / detBoxScale)}
				} else if cls[c] == -1 {
					cls[c] = -2
				}
			}
		}
	}
	for c, v := range cls {
		if v <= -10 {
			cls[c] = -v - 10 // object index
		}
	}
	return cls, box
}

type detSample struct {
	feat []float32
	cls  int // label index; len(labels) = background
	box  [4]float64
	pos  bool
}

func trainDetection(ctx context.Context, cfg TrainConfig, train, test []Example, labels []string, log *slog.Logger, now func() float64) (*Model, *Evaluation, error) {
	info := cfg.Backbone.Info()
	if info.Identity == backbone.BuiltinIdentity {
		return nil, nil, errors.New("vision: detection needs an ONNX backbone (the built-in extractor has no spatial maps fit for it)")
	}
	idx := map[string]int{}
	for i, l := range labels {
		idx[l] = i
	}
	K := len(labels)
	stride := gridStride(info)
	start := now()
	tiles := cfg.DetectionTiles
	if tiles <= 0 {
		tiles = detectionTiles(train, info.Size)
	}
	negPerImage := 128 * tiles
	// Every training image is used as it is and, unless NoFlip, mirrored.
	views := 2
	if cfg.NoFlip {
		views = 1
	}
	samples := make([][]detSample, views*len(train))
	var mu sync.Mutex
	log.Info("detection input", "tiles", tiles, "side", info.Size*tiles, "views", views)
	err := forEachImageTiled(ctx, cfg.Backbone, train, cfg.Workers, tiles, views == 2, func(i int, flip bool, tileMaps [][][]float32) error {
		side, feats, _, _ := tiledGrid(info, tileMaps, tiles)
		objs, stream := train[i].Objects, uint64(i)
		if flip {
			objs, stream = mirrored(objs), uint64(i)|1<<40
		}
		cls, box := cellTargets(objs, side, stride, info.Size*tiles)
		r := rand.New(rand.NewPCG(cfg.Seed, stream))
		var s []detSample
		var negs []int
		for c, v := range cls {
			switch {
			case v >= 0:
				s = append(s, detSample{feat: feats[c], cls: idx[objs[v].Label], box: box[c], pos: true})
			case v == -1:
				negs = append(negs, c)
			}
		}
		r.Shuffle(len(negs), func(a, b int) { negs[a], negs[b] = negs[b], negs[a] })
		for _, c := range negs[:min(len(negs), negPerImage)] {
			s = append(s, detSample{feat: feats[c], cls: K})
		}
		j := i
		if flip {
			j = len(train) + i
		}
		mu.Lock()
		samples[j] = s
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var X [][]float32
	var Y [][]bool
	var posX [][]float32
	var posB [][4]float64
	for _, ss := range samples {
		for _, s := range ss {
			y := make([]bool, K+1)
			y[s.cls] = true
			X, Y = append(X, s.feat), append(Y, y)
			if s.pos {
				posX, posB = append(posX, s.feat), append(posB, s.box)
			}
		}
	}
	if len(posX) == 0 {
		return nil, nil, errors.New("vision: no objects in the training set")
	}
	hc := cfg.Head
	if hc.Hidden == 0 {
		hc.Hidden = 64
	}
	if hc.Epochs == 0 {
		hc.Epochs = epochBudget(detClassBudget, len(X), 8, 20)
	}
	hc.Seed = cfg.Seed
	hc.Balance = true
	log.Info("training detection head", "cells", len(X), "positives", len(posX), "dim", len(X[0]))
	h, err := head.Train(ctx, X, Y, head.Softmax, hc)
	if err != nil {
		return nil, nil, err
	}
	log.Info("training box regression", "positives", len(posX))
	T := make([][]float32, len(posB))
	for i, b := range posB {
		T[i] = []float32{float32(b[0]), float32(b[1]), float32(b[2]), float32(b[3])}
	}
	bc := cfg.BoxHead
	if bc.Hidden == 0 {
		bc.Hidden = 128
	}
	if bc.Epochs == 0 {
		bc.Epochs = epochBudget(detBoxBudget, len(posX), 20, 100)
	}
	if bc.LR == 0 {
		bc.LR = 3e-3
	}
	if bc.Dropout == 0 {
		bc.Dropout = -1
	}
	bc.Seed = cfg.Seed
	bh, err := head.TrainRegression(ctx, posX, T, bc)
	if err != nil {
		return nil, nil, err
	}
	m := &Model{Format: FormatVersion, Kind: Detection, Backbone: info, Labels: labels, Head: h, BoxHead: bh, Tiles: tiles, bb: cfg.Backbone}
	log.Info("training box classifier")
	if m.ROIHead, m.ROIBoxHead, err = trainBoxClassifier(ctx, cfg, m, train, idx); err != nil {
		return nil, nil, err
	}
	trainSecs := now() - start
	m.Thresholds = make([]float64, K)

	log.Info("evaluating", "images", len(test))
	preds := make([][]eval.Object, len(test))
	truth := make([][]eval.Object, len(test))
	err = forEachImageTiled(ctx, cfg.Backbone, test, cfg.Workers, tiles, false, func(i int, _ bool, tileMaps [][][]float32) error {
		dets := m.detect(tileMaps)
		var p []eval.Object
		for _, d := range dets {
			p = append(p, eval.Object{Label: d.label, Score: d.score, Box: eval.Box{Left: d.box.Left, Top: d.box.Top, Width: d.box.Width, Height: d.box.Height}})
		}
		var t []eval.Object
		for _, o := range test[i].Objects {
			if k, ok := idx[o.Label]; ok {
				t = append(t, eval.Object{Label: k, Box: eval.Box{Left: o.Box.Left, Top: o.Box.Top, Width: o.Box.Width, Height: o.Box.Height}})
			}
		}
		mu.Lock()
		preds[i], truth[i] = p, t
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	rep := eval.Detection(labels, preds, truth)
	for k, l := range rep.Labels {
		m.Thresholds[k] = l.Threshold
		if l.TestImages == 0 || l.F1 == 0 {
			m.Thresholds[k] = 50
		}
	}
	ev := &Evaluation{Report: rep, TrainingImages: len(train), TrainSeconds: trainSecs}
	m.Evaluation = ev
	log.Info("trained", "mAP", rep.MAP, "f1", rep.F1, "seconds", trainSecs)
	return m, ev, nil
}

// forEachImageTiled decodes, preprocesses and runs the backbone on every
// example using all workers, calling fn with the maps of each of the
// image's tiles x tiles tiles (see tileInputs; each a batch of one), and
// with flips once more for the mirrored image.
func forEachImageTiled(ctx context.Context, bb backbone.Backbone, ex []Example, workers, tiles int, flips bool, fn func(i int, flip bool, tileMaps [][][]float32) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	info := bb.Info()
	return eachOnWorkers(ctx, len(ex), workers, func(ctx context.Context, i int) error {
		img, err := ex[i].load()
		if err != nil {
			return fmt.Errorf("vision: image %d: %w", i, err)
		}
		for _, flip := range []bool{false, true}[:1+b2i(flips)] {
			var tileMaps [][][]float32
			for _, x := range tileInputs(img, info, tiles, flip) {
				maps, err := bb.Forward(ctx, x, 1)
				if err != nil {
					return err
				}
				tileMaps = append(tileMaps, maps)
			}
			if err := fn(i, flip, tileMaps); err != nil {
				return err
			}
		}
		return nil
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

type detection struct {
	label int
	score float64
	box   Box
}

// detect turns the maps of one image's tiles into scored boxes after NMS,
// rescored by the box classifier when the model has one.
func (m *Model) detect(tileMaps [][][]float32) []detection {
	return m.rescore(tileMaps, m.proposals(tileMaps))
}

// proposals are the cell head's boxes after NMS.
func (m *Model) proposals(tileMaps [][][]float32) []detection {
	info := m.Backbone
	tiles := m.tiles()
	side, feats, perTile, index := tiledGrid(info, tileMaps, tiles)
	stride := float64(gridStride(info))
	K := len(m.Labels)
	// Classify every cell, then regress boxes for the best-scoring ones only.
	probs := make([][]float64, len(feats))
	for t, f := range perTile {
		for c, p := range m.classifyCells(side/tiles, f) {
			probs[index[t][c]] = p
		}
	}
	type cell struct {
		c, label int
		score    float64
	}
	var cells []cell
	for c, p := range probs {
		best := 0
		for k := 1; k < K; k++ {
			if p[k] > p[best] {
				best = k
			}
		}
		if p[best] >= detMinScore {
			cells = append(cells, cell{c, best, p[best]})
		}
	}
	sort.SliceStable(cells, func(a, b int) bool { return cells[a].score > cells[b].score })
	if len(cells) > detMaxCells*tiles {
		cells = cells[:detMaxCells*tiles]
	}
	sel := make([]int, len(cells))
	for i, c := range cells {
		sel[i] = c.c
	}
	boxes := m.regressCells(side, tiles, feats, sel)
	var cands []detection
	for i, cl := range cells {
		r := boxes[i]
		c := cl.c
		gx, gy := float64(c%side), float64(c/side)
		cx := (gx+0.5)*stride + r[0]*stride
		cy := (gy+0.5)*stride + r[1]*stride
		w := detBoxScale * math.Exp(math.Min(r[2], 4))
		h := detBoxScale * math.Exp(math.Min(r[3], 4))
		s := float64(info.Size * tiles)
		x0, y0 := math.Max(0, (cx-w/2)/s), math.Max(0, (cy-h/2)/s)
		x1, y1 := math.Min(1, (cx+w/2)/s), math.Min(1, (cy+h/2)/s)
		if x1 <= x0 || y1 <= y0 {
			continue
		}
		cands = append(cands, detection{label: cl.label, score: cl.score, box: Box{Left: x0, Top: y0, Width: x1 - x0, Height: y1 - y0}})
	}
	sort.SliceStable(cands, func(a, b int) bool { return cands[a].score > cands[b].score })
	// NMS with box voting: each kept box becomes the score-weighted mean of
	// the candidates it suppresses (neighbouring cells regress the same
	// object; averaging them localises it better than the best one alone).
	var out []detection
	var sums [][5]float64
	for _, d := range cands {
		merged := false
		for i, o := range out {
			if o.label == d.label && eval.IoU(eval.Box(o.box), eval.Box(d.box)) > detNMSIoU {
				s := &sums[i]
				s[0] += d.score * d.box.Left
				s[1] += d.score * d.box.Top
				s[2] += d.score * (d.box.Left + d.box.Width)
				s[3] += d.score * (d.box.Top + d.box.Height)
				s[4] += d.score
				merged = true
				break
			}
		}
		if !merged && len(out) < detMaxBoxes {
			out = append(out, d)
			sums = append(sums, [5]float64{d.score * d.box.Left, d.score * d.box.Top, d.score * (d.box.Left + d.box.Width), d.score * (d.box.Top + d.box.Height), d.score})
		}
	}
	for i := range out {
		s := sums[i]
		x0, y0, x1, y1 := s[0]/s[4], s[1]/s[4], s[2]/s[4], s[3]/s[4]
		out[i].box = Box{Left: x0, Top: y0, Width: x1 - x0, Height: y1 - y0}
	}
	return out
}

// Detect returns the labelled boxes in an image (detection models).
func (m *Model) detectImage(ctx context.Context, img image.Image) ([]detection, error) {
	if m.bb == nil {
		return nil, errors.New("vision: model has no backbone attached")
	}
	// The tiles of one request run on two goroutines (the backbone is safe
	// for concurrent use; under concurrent requests it costs nothing).
	xs := tileInputs(img, m.Backbone, m.tiles(), false)
	tileMaps := make([][][]float32, len(xs))
	errs := make([]error, len(xs))
	parallelMin(len(xs), 2, func(a, b int) {
		for t := a; t < b; t++ {
			tileMaps[t], errs[t] = m.bb.Forward(ctx, xs[t], 1)
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return m.detect(tileMaps), nil
}

// predictParallel runs the head over many cells on two goroutines (one
// request then uses both cores; under concurrent requests it costs nothing).
func predictParallel(h *head.MLP, feats [][]float32) [][]float64 {
	if len(feats) < 64 || runtime.GOMAXPROCS(0) < 2 {
		return h.PredictBatch(feats)
	}
	half := len(feats) / 2
	var a [][]float64
	done := make(chan struct{})
	go func() {
		a = h.PredictBatch(feats[:half])
		close(done)
	}()
	b := h.PredictBatch(feats[half:])
	<-done
	return append(a, b...)
}

// classifyCells runs the class head on every cell. Maps coarser than the
// grid are shared by several cells (a stride-32 position covers 2x2 cells),
// so their part of the first layer is computed once per map position: for
// MobileNetV2 that is 1,280 of 1,408 inputs, a 3x saving. The result equals
// running the head on each cell's features.
func (m *Model) classifyCells(side int, feats [][]float32) [][]float64 {
	h := m.Head
	info := m.Backbone
	gs := gridStride(info)
	if h.Hidden == 0 {
		return predictParallel(h, feats)
	}
	H := h.Hidden
	pre := make([]float32, len(feats)*H)
	off := 0
	for _, mp := range info.Maps {
		lo, hi := off, off+mp.C
		off = hi
		if mp.Stride <= gs {
			parallelRange(len(feats), func(a, b int) {
				for c := a; c < b; c++ {
					h.FirstLayerPart(pre[c*H:(c+1)*H], feats[c][lo:hi], lo, hi)
				}
			})
			continue
		}
		// One computation per map position, added to every cell it covers.
		r := mp.Stride / gs
		part := make([]float32, mp.H*mp.W*H)
		parallelRange(mp.H*mp.W, func(a, b int) {
			for p := a; p < b; p++ {
				py, px := p/mp.W, p%mp.W
				cy, cx := min(py*r, side-1), min(px*r, side-1)
				h.FirstLayerPart(part[p*H:(p+1)*H], feats[cy*side+cx][lo:hi], lo, hi)
			}
		})
		for c := range feats {
			gy, gx := c/side, c%side
			p := min(gy/r, mp.H-1)*mp.W + min(gx/r, mp.W-1)
			dst, src := pre[c*H:(c+1)*H], part[p*H:(p+1)*H]
			for j := range dst {
				dst[j] += src[j]
			}
		}
	}
	out := make([][]float64, len(feats))
	for c := range feats {
		out[c] = h.FromPreActivation(pre[c*H : (c+1)*H])
	}
	return out
}

// regressCells runs the box regression on the cells sel of the stitched
// grid (side cells a side, tiles x tiles tiles). As in classifyCells, the
// part of the first layer that reads a map coarser than the grid is
// computed once per map position among the selected cells (the stride-32
// map, 1,280 of MobileNetV2's 1,408 inputs, is shared by 2x2 cells), which
// on a tiled model's 1,600 candidate cells cuts the regression about 3x.
// The result equals BoxHead.PredictBatch on the cells' features (up to
// float rounding).
func (m *Model) regressCells(side, tiles int, feats [][]float32, sel []int) [][]float64 {
	h := m.BoxHead
	if h.Hidden == 0 || len(sel) == 0 {
		x := make([][]float32, len(sel))
		for i, c := range sel {
			x[i] = feats[c]
		}
		return h.PredictBatch(x)
	}
	info := m.Backbone
	gs := gridStride(info)
	ts := side / tiles // cells a tile side
	H := h.Hidden
	pre := make([]float32, len(sel)*H)
	off := 0
	for _, mp := range info.Maps {
		lo, hi := off, off+mp.C
		off = hi
		if mp.Stride <= gs {
			parallelRange(len(sel), func(a, b int) {
				for i := a; i < b; i++ {
					h.FirstLayerPart(pre[i*H:(i+1)*H], feats[sel[i]][lo:hi], lo, hi)
				}
			})
			continue
		}
		// The map position under each selected cell (per tile, as
		// cellFeatures reads it), computed once.
		pos := make([]int, len(sel))
		first := map[int]int{} // position -> first selected cell on it
		var uniq []int
		for i, c := range sel {
			gy, gx := c/side, c%side
			t := (gy/ts)*tiles + gx/ts
			p := (t*mp.H+min((gy%ts)*gs/mp.Stride, mp.H-1))*mp.W + min((gx%ts)*gs/mp.Stride, mp.W-1)
			if _, ok := first[p]; !ok {
				first[p] = len(uniq)
				uniq = append(uniq, i)
			}
			pos[i] = first[p]
		}
		part := make([]float32, len(uniq)*H)
		parallelRange(len(uniq), func(a, b int) {
			for u := a; u < b; u++ {
				h.FirstLayerPart(part[u*H:(u+1)*H], feats[sel[uniq[u]]][lo:hi], lo, hi)
			}
		})
		for i, u := range pos {
			dst, src := pre[i*H:(i+1)*H], part[u*H:(u+1)*H]
			for j := range dst {
				dst[j] += src[j]
			}
		}
	}
	out := make([][]float64, len(sel))
	for i := range sel {
		out[i] = h.FromPreActivation(pre[i*H : (i+1)*H])
	}
	return out
}

// parallelRange splits [0, n) over two goroutines when there is enough work
// (at least 32 items).
func parallelRange(n int, fn func(a, b int)) {
	parallelMin(n, 32, fn)
}

// parallelMin splits [0, n) over two goroutines when n >= lo.
func parallelMin(n, lo int, fn func(a, b int)) {
	if n < lo || n < 2 || runtime.GOMAXPROCS(0) < 2 {
		fn(0, n)
		return
	}
	done := make(chan struct{})
	go func() {
		fn(0, n/2)
		close(done)
	}()
	fn(n/2, n)
	<-done
}
