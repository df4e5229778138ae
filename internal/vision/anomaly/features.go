package anomaly

import (
	"context"
	"fmt"
	"image"
	"runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/imageio"
	"github.com/ocellus/ocellus/internal/vision/onnxedit"
)

// grid is the patch-feature grid of one image: H x W patches of D floats,
// row-major, patch-major ([H*W][D]).
type grid struct {
	H, W, D int
	F       []float32
}

func (g grid) patch(i int) []float32 { return g.F[i*g.D : (i+1)*g.D] }

// fmap is one backbone feature map of one image, [C][H][W].
type fmap struct {
	C, H, W int
	V       []float32
}

// mapper turns preprocessed images ([n,3,InH,InW]) into the selected
// feature maps of each image.
type mapper interface {
	maps(ctx context.Context, x []float32, n int) ([][]fmap, error)
	close() error
}

// featurizer runs a backbone over whole images at a chosen input
// resolution and turns the mid-level maps into PatchCore patch features.
type featurizer struct {
	info       backbone.Info
	inW, inH   int
	norm       imageio.Norm
	m          mapper
	native     bool // ORT session with symbolic height/width, else tiles of Info().Size
	selected   []int
	batch      int
	neighbours int       // side of the local average (3 = 3x3)
	rot        []float32 // optional dim x dim rotation applied to every patch feature
}

// selectMaps picks the mid-level maps: stride 8 and 16 (the finest first).
func selectMaps(info backbone.Info) ([]int, error) {
	var sel []int
	for i, m := range info.Maps {
		if m.Stride >= 8 && m.Stride <= 16 {
			sel = append(sel, i)
		}
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("anomaly: backbone %s has no stride-8 or stride-16 feature map", info.Name)
	}
	return sel, nil
}

// newFeaturizer prepares feature extraction for inputs of inW x inH pixels.
// An ONNX Runtime backbone gets its own session whose input height and width
// are symbolic, so the network sees the whole image at that resolution; any
// other backbone is run on Info().Size tiles stitched back together.
func newFeaturizer(bb backbone.Backbone, inW, inH, threads int) (*featurizer, error) {
	info := bb.Info()
	sel, err := selectMaps(info)
	if err != nil {
		return nil, err
	}
	f := &featurizer{info: info, inW: inW, inH: inH, norm: imageio.Norm{Mean: info.Mean, Std: info.Std}, selected: sel, neighbours: 3, batch: 4}
	if o, ok := bb.(*backbone.ORT); ok {
		m, err := newORTMapper(o, sel, threads, inW, inH)
		if err != nil {
			return nil, err
		}
		f.m, f.native = m, true
		return f, nil
	}
	s := info.Size
	if inW%s != 0 || inH%s != 0 {
		return nil, fmt.Errorf("anomaly: input %dx%d is not a multiple of the backbone's %d-pixel tiles", inW, inH, s)
	}
	f.m = &tileMapper{bb: bb, info: info, sel: sel, inW: inW, inH: inH}
	return f, nil
}

func (f *featurizer) close() error { return f.m.close() }

// gridSize is the patch grid of the finest selected map.
func (f *featurizer) gridSize() (h, w int) {
	st := f.info.Maps[f.selected[0]].Stride
	return f.inH / st, f.inW / st
}

// dim is the patch feature length.
func (f *featurizer) dim() int {
	d := 0
	for _, i := range f.selected {
		d += f.info.Maps[i].C
	}
	return d
}

// preprocess resizes img to the input resolution into dst ([3,inH,inW]).
func (f *featurizer) preprocess(dst []float32, img image.Image) {
	imageio.CHW(dst, imageio.Resize(img, f.inW, f.inH), f.norm, false)
}

// grids computes the patch grids of imgs, in batches, rotated by f.rot.
func (f *featurizer) grids(ctx context.Context, imgs []image.Image) ([]grid, error) {
	return f.gridsRotated(ctx, imgs, true)
}

// gridsRotated is grids, applying f.rot only when rotated is true.
func (f *featurizer) gridsRotated(ctx context.Context, imgs []image.Image, rotated bool) ([]grid, error) {
	out := make([]grid, 0, len(imgs))
	plane := 3 * f.inW * f.inH
	for i := 0; i < len(imgs); i += f.batch {
		j := min(i+f.batch, len(imgs))
		x := make([]float32, (j-i)*plane)
		var wg sync.WaitGroup
		for k := i; k < j; k++ {
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				f.preprocess(x[(k-i)*plane:(k-i+1)*plane], imgs[k])
			}(k)
		}
		wg.Wait()
		ms, err := f.m.maps(ctx, x, j-i)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			out = append(out, f.patchGrid(m, rotated))
		}
	}
	return out, nil
}

// patchGrid builds PatchCore patch features: each selected map is averaged
// over a local 3x3 neighbourhood (the receptive field grows without losing
// resolution), coarser maps are bilinearly upsampled to the finest grid,
// and the maps are concatenated per patch.
func (f *featurizer) patchGrid(ms []fmap, rotated bool) grid {
	h, w := ms[0].H, ms[0].W
	d := 0
	for _, m := range ms {
		d += m.C
	}
	g := grid{H: h, W: w, D: d, F: make([]float32, h*w*d)}
	off := 0
	for _, m := range ms {
		a := localAverage(m, f.neighbours)
		if a.H != h || a.W != w {
			a = upsample(a, h, w)
		}
		hw := h * w
		for c := 0; c < a.C; c++ {
			src := a.V[c*hw : (c+1)*hw]
			for p, v := range src {
				g.F[p*d+off+c] = v
			}
		}
		off += m.C
	}
	if rotated && f.rot != nil {
		rotate(g.F, d, f.rot)
	}
	return g
}

// localAverage averages each cell with its k x k neighbours (only those
// inside the map, so borders are not darkened by zero padding).
func localAverage(m fmap, k int) fmap {
	if k <= 1 {
		return m
	}
	r := k / 2
	out := fmap{C: m.C, H: m.H, W: m.W, V: make([]float32, len(m.V))}
	hw := m.H * m.W
	tmp := make([]float32, hw)
	for c := 0; c < m.C; c++ {
		src := m.V[c*hw : (c+1)*hw]
		dst := out.V[c*hw : (c+1)*hw]
		// horizontal then vertical box sums, divided by the valid count
		for y := 0; y < m.H; y++ {
			row := src[y*m.W : (y+1)*m.W]
			for x := 0; x < m.W; x++ {
				var s float32
				for xx := max(0, x-r); xx <= min(m.W-1, x+r); xx++ {
					s += row[xx]
				}
				tmp[y*m.W+x] = s
			}
		}
		for y := 0; y < m.H; y++ {
			y0, y1 := max(0, y-r), min(m.H-1, y+r)
			for x := 0; x < m.W; x++ {
				var s float32
				for yy := y0; yy <= y1; yy++ {
					s += tmp[yy*m.W+x]
				}
				n := (y1 - y0 + 1) * (min(m.W-1, x+r) - max(0, x-r) + 1)
				dst[y*m.W+x] = s / float32(n)
			}
		}
	}
	return out
}

// upsample resizes a map bilinearly (align_corners=false) to h x w.
func upsample(m fmap, h, w int) fmap {
	out := fmap{C: m.C, H: h, W: w, V: make([]float32, m.C*h*w)}
	ys := make([]lerp, h)
	xs := make([]lerp, w)
	for y := range ys {
		ys[y] = lerpAt(y, h, m.H)
	}
	for x := range xs {
		xs[x] = lerpAt(x, w, m.W)
	}
	shw := m.H * m.W
	for c := 0; c < m.C; c++ {
		src := m.V[c*shw : (c+1)*shw]
		dst := out.V[c*h*w : (c+1)*h*w]
		for y, ly := range ys {
			r0, r1 := src[ly.i0*m.W:], src[ly.i1*m.W:]
			for x, lx := range xs {
				top := r0[lx.i0]*(1-lx.t) + r0[lx.i1]*lx.t
				bot := r1[lx.i0]*(1-lx.t) + r1[lx.i1]*lx.t
				dst[y*w+x] = top*(1-ly.t) + bot*ly.t
			}
		}
	}
	return out
}

type lerp struct {
	i0, i1 int
	t      float32
}

// lerpAt maps destination index i (of n) to source indices (of m) with
// pixel-centre alignment.
func lerpAt(i, n, m int) lerp {
	s := (float64(i)+0.5)*float64(m)/float64(n) - 0.5
	if s < 0 {
		s = 0
	}
	i0 := int(s)
	if i0 > m-1 {
		i0 = m - 1
	}
	i1 := min(i0+1, m-1)
	return lerp{i0: i0, i1: i1, t: float32(s - float64(i0))}
}

// ortMapper runs the backbone's edited ONNX graph, reduced to the selected
// maps, with symbolic input height and width.
type ortMapper struct {
	sess   *ort.DynamicAdvancedSession
	input  string
	output []string
	w, h   int
}

func newORTMapper(o *backbone.ORT, sel []int, threads, w, h int) (*ortMapper, error) {
	m, err := onnxedit.Decode(o.Model())
	if err != nil {
		return nil, err
	}
	info := o.Info()
	var outs []string
	for _, i := range sel {
		outs = append(outs, info.Maps[i].Name)
	}
	if err := m.Graph.SetOutputs(outs...); err != nil {
		return nil, err
	}
	if err := m.Graph.SymbolicInput(o.InputName(), map[int]string{0: "batch", 2: "height", 3: "width"}); err != nil {
		return nil, err
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("anomaly: %w", err)
	}
	defer opts.Destroy()
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		return nil, fmt.Errorf("anomaly: %w", err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("anomaly: %w", err)
	}
	// The backbone holds the process-wide ONNX Runtime environment open.
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(m.Encode(), []string{o.InputName()}, outs, opts)
	if err != nil {
		return nil, fmt.Errorf("anomaly: creating variable-size session: %w", err)
	}
	return &ortMapper{sess: sess, input: o.InputName(), output: outs, w: w, h: h}, nil
}

func (o *ortMapper) maps(ctx context.Context, x []float32, n int) ([][]fmap, error) {
	w, h := o.w, o.h
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, err := ort.NewTensor(ort.NewShape(int64(n), 3, int64(h), int64(w)), x)
	if err != nil {
		return nil, fmt.Errorf("anomaly: %w", err)
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(o.output))
	if err := o.sess.Run([]ort.Value{in}, outs); err != nil {
		return nil, fmt.Errorf("anomaly: backbone run: %w", err)
	}
	defer func() {
		for _, v := range outs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	res := make([][]fmap, n)
	for i := range res {
		res[i] = make([]fmap, len(outs))
	}
	for j, v := range outs {
		t, ok := v.(*ort.Tensor[float32])
		if !ok {
			return nil, fmt.Errorf("anomaly: output %s is not float32", o.output[j])
		}
		sh := t.GetShape()
		if len(sh) != 4 || int(sh[0]) != n {
			return nil, fmt.Errorf("anomaly: output %s has shape %v", o.output[j], sh)
		}
		c, hh, ww := int(sh[1]), int(sh[2]), int(sh[3])
		data := t.GetData()
		per := c * hh * ww
		for i := 0; i < n; i++ {
			res[i][j] = fmap{C: c, H: hh, W: ww, V: append([]float32(nil), data[i*per:(i+1)*per]...)}
		}
	}
	return res, nil
}

func (o *ortMapper) close() error {
	if o.sess == nil {
		return nil
	}
	err := o.sess.Destroy()
	o.sess = nil
	return err
}

// tileMapper runs a fixed-size backbone on non-overlapping Size x Size tiles
// and stitches each selected map back into one map per image.
type tileMapper struct {
	bb       backbone.Backbone
	info     backbone.Info
	sel      []int
	inW, inH int
}

func (t *tileMapper) maps(ctx context.Context, x []float32, n int) ([][]fmap, error) {
	s := t.info.Size
	tx, ty := t.inW/s, t.inH/s
	tiles := make([]float32, n*tx*ty*3*s*s)
	plane := t.inW * t.inH
	for k := 0; k < n; k++ {
		img := x[k*3*plane:]
		for j := 0; j < ty; j++ {
			for i := 0; i < tx; i++ {
				dst := tiles[((k*ty+j)*tx+i)*3*s*s:]
				for c := 0; c < 3; c++ {
					for y := 0; y < s; y++ {
						src := img[c*plane+(j*s+y)*t.inW+i*s:]
						copy(dst[c*s*s+y*s:c*s*s+(y+1)*s], src[:s])
					}
				}
			}
		}
	}
	out, err := t.bb.Forward(ctx, tiles, n*tx*ty)
	if err != nil {
		return nil, err
	}
	res := make([][]fmap, n)
	for k := range res {
		res[k] = make([]fmap, len(t.sel))
		for si, mi := range t.sel {
			m := t.info.Maps[mi]
			H, W := m.H*ty, m.W*tx
			fm := fmap{C: m.C, H: H, W: W, V: make([]float32, m.C*H*W)}
			per := m.C * m.H * m.W
			for j := 0; j < ty; j++ {
				for i := 0; i < tx; i++ {
					src := out[mi][((k*ty+j)*tx+i)*per:]
					for c := 0; c < m.C; c++ {
						for y := 0; y < m.H; y++ {
							copy(fm.V[c*H*W+(j*m.H+y)*W+i*m.W:], src[c*m.H*m.W+y*m.W:c*m.H*m.W+(y+1)*m.W])
						}
					}
				}
			}
			res[k][si] = fm
		}
	}
	return res, nil
}

func (t *tileMapper) close() error { return nil }
