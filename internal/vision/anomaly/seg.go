package anomaly

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"slices"
	"strings"
)

// segExample is a masked anomalous training image with its features.
type segExample struct {
	mask   image.Image
	colors map[color.RGBA]string
	g      grid
	raw    []float32
	sm     []float32
}

// isBackgroundName reports class names that mean "no anomaly".
func isBackgroundName(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "background") }

// maskLabels returns the class index (0 = background, i+1 = classes[i]) of
// every pixel of a w x h grid sampled from mask (nearest pixel).
func maskLabels(mask image.Image, colors map[color.RGBA]string, classIdx map[string]int, w, h int) []uint8 {
	b := mask.Bounds()
	out := make([]uint8, w*h)
	cache := map[color.RGBA]uint8{}
	for y := 0; y < h; y++ {
		sy := b.Min.Y + (2*y+1)*b.Dy()/(2*h)
		for x := 0; x < w; x++ {
			sx := b.Min.X + (2*x+1)*b.Dx()/(2*w)
			c := color.RGBAModel.Convert(mask.At(sx, sy)).(color.RGBA)
			c.A = 255
			l, ok := cache[c]
			if !ok {
				if name, found := colors[c]; found && !isBackgroundName(name) {
					l = uint8(classIdx[name])
				}
				cache[c] = l
			}
			out[y*w+x] = l
		}
	}
	return out
}

// upsampleMap bilinearly resizes a gh x gw map to w x h.
func upsampleMap(v []float32, gh, gw, w, h int) []float32 {
	return upsample(fmap{C: 1, H: gh, W: gw, V: v}, h, w).V
}

// learnSegmentation sets the classes, trains the per-patch classifier and
// sets the pixel threshold from masked anomalous training images.
func (m *Model) learnSegmentation(segs []segExample, seed int64) error {
	// Classes in first-seen order of the colour maps (sorted per map by
	// name so map iteration order does not matter).
	classIdx := map[string]int{}
	var classes []Class
	bg := m.meta.Background
	for _, s := range segs {
		type kv struct {
			c    color.RGBA
			name string
		}
		var kvs []kv
		for c, n := range s.colors {
			kvs = append(kvs, kv{c, n})
		}
		slices.SortFunc(kvs, func(a, b kv) int { return strings.Compare(a.name+hexColor(a.c), b.name+hexColor(b.c)) })
		for _, e := range kvs {
			if isBackgroundName(e.name) {
				bg.Color = hexColor(e.c)
				continue
			}
			if _, ok := classIdx[e.name]; !ok {
				classes = append(classes, Class{Name: e.name, Color: hexColor(e.c)})
				classIdx[e.name] = len(classes)
			}
		}
	}
	if len(classes) == 0 {
		return errors.New("anomaly: masks given but their colour maps name no anomaly class")
	}
	if len(classes) > 254 {
		return errors.New("anomaly: more than 254 anomaly classes")
	}
	k1 := len(classes) + 1
	d := m.meta.Dim
	f := d + 2
	// Labels at a quarter of the image resolution; soft patch targets are
	// the class fractions of the pixels under each patch.
	ew, eh := max(1, m.meta.ImageWidth/4), max(1, m.meta.ImageHeight/4)
	labs := make([][]uint8, len(segs))
	var x, t []float32
	var anyDefect bool
	for si, s := range segs {
		lab := maskLabels(s.mask, s.colors, classIdx, ew, eh)
		labs[si] = lab
		hw := s.g.H * s.g.W
		cov := make([]float32, hw*k1)
		per := make([]float32, hw)
		for y := 0; y < eh; y++ {
			gy := min(y*s.g.H/eh, s.g.H-1)
			for xx := 0; xx < ew; xx++ {
				c := gy*s.g.W + min(xx*s.g.W/ew, s.g.W-1)
				l := lab[y*ew+xx]
				cov[c*k1+int(l)]++
				per[c]++
				anyDefect = anyDefect || l > 0
			}
		}
		in := make([]float32, f)
		for c := 0; c < hw; c++ {
			segInput(in, s.g, s.raw, s.sm, c)
			x = append(x, in...)
			for k := 0; k < k1; k++ {
				v := float32(0)
				if per[c] > 0 {
					v = cov[c*k1+k] / per[c]
				} else if k == 0 {
					v = 1
				}
				t = append(t, v)
			}
		}
	}
	if !anyDefect {
		return errors.New("anomaly: the masks of the anomalous images mark no anomaly pixels")
	}
	m.head = trainSegHead(x, t, f, k1, seed)
	m.meta.Classes = classes
	m.meta.Background = bg
	m.meta.Segmentation = true

	// Pixel threshold on the upsampled defect probability maximising the
	// IoU with the union of the defect pixels, pooled over all masks.
	type pv struct {
		v float32
		t bool
	}
	var pix []pv
	var totalTrue int
	for si, s := range segs {
		pd := m.defectProb(s.g, s.raw, s.sm, nil)
		up := upsampleMap(pd, s.g.H, s.g.W, ew, eh)
		for i, l := range labs[si] {
			pix = append(pix, pv{up[i], l > 0})
			if l > 0 {
				totalTrue++
			}
		}
	}
	slices.SortFunc(pix, func(a, b pv) int {
		switch {
		case a.v > b.v:
			return -1
		case a.v < b.v:
			return 1
		}
		return 0
	})
	bestIoU, bestI := -1.0, 0
	tp := 0
	for i := 0; i < len(pix); i++ {
		if pix[i].t {
			tp++
		}
		if i+1 < len(pix) && pix[i+1].v == pix[i].v {
			continue
		}
		fp := i + 1 - tp
		if iou := float64(tp) / float64(totalTrue+fp); iou > bestIoU {
			bestIoU, bestI = iou, i
		}
	}
	thr := float64(pix[bestI].v)
	if bestI+1 < len(pix) {
		thr = (thr + float64(pix[bestI+1].v)) / 2
	}
	m.meta.PixelThreshold = thr
	return nil
}

// defectProb returns, per patch, the probability of any anomaly class; if
// cls is not nil it receives the most probable anomaly class (1-based).
func (m *Model) defectProb(g grid, raw, sm []float32, cls []uint8) []float32 {
	h := m.head
	hw := g.H * g.W
	out := make([]float32, hw)
	parallel(hw, func(lo, hi int) {
		in := make([]float32, h.F)
		p := make([]float32, h.K1)
		for c := lo; c < hi; c++ {
			segInput(in, g, raw, sm, c)
			h.probs(p, in)
			out[c] = 1 - p[0]
			if cls != nil {
				best := 1
				for k := 2; k < h.K1; k++ {
					if p[k] > p[best] {
						best = k
					}
				}
				cls[c] = uint8(best)
			}
		}
	})
	return out
}

// palette is the mask palette: background, then the classes.
func (m *Model) palette() color.Palette {
	p := color.Palette{mustColor(m.meta.Background.Color)}
	for _, c := range m.meta.Classes {
		p = append(p, mustColor(c.Color))
	}
	return p
}

func mustColor(s string) color.RGBA {
	c, err := ParseHexColor(s)
	if err != nil {
		return DefaultBackground
	}
	return c
}

// segment fills r.Mask and r.Anomalies. A pixel is anomalous where the
// bilinearly upsampled defect probability of the patch classifier reaches
// the pixel threshold, and only in images classified anomalous (so the mask
// never contradicts IsAnomalous); its class is the most probable anomaly
// class of the patch under it.
func (m *Model) segment(r *Result, g grid, raw, sm []float32) {
	w, h := m.meta.ImageWidth, m.meta.ImageHeight
	mask := image.NewPaletted(image.Rect(0, 0, w, h), m.palette())
	counts := make([]int, len(m.meta.Classes)+1)
	if r.IsAnomalous {
		cls := make([]uint8, g.H*g.W)
		pd := m.defectProb(g, raw, sm, cls)
		up := upsampleMap(pd, g.H, g.W, w, h)
		thr := float32(m.meta.PixelThreshold)
		for y := 0; y < h; y++ {
			gy := min(y*g.H/h, g.H-1)
			row := mask.Pix[y*mask.Stride : y*mask.Stride+w]
			for x := 0; x < w; x++ {
				if up[y*w+x] >= thr {
					row[x] = cls[gy*g.W+min(x*g.W/w, g.W-1)]
				}
			}
		}
	}
	for _, v := range mask.Pix {
		counts[v]++
	}
	total := float64(w * h)
	r.Anomalies = []Anomaly{{Name: m.meta.Background.Name, TotalPercentageArea: float64(counts[0]) / total, Color: m.meta.Background.Color}}
	for k, c := range m.meta.Classes {
		if counts[k+1] > 0 {
			r.Anomalies = append(r.Anomalies, Anomaly{Name: c.Name, TotalPercentageArea: float64(counts[k+1]) / total, Color: c.Color})
		}
	}
	r.Mask = mask
}

// EncodeMask returns the mask as PNG bytes (nil for classification models).
func (r *Result) EncodeMask() ([]byte, error) {
	if r.Mask == nil {
		return nil, nil
	}
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, r.Mask); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DefectMask returns, for a mask in the dataset's colours, which pixels of
// a w x h image belong to an anomaly class (a colour in colors naming a
// class other than BACKGROUND), row-major; the mask is sampled at the
// nearest pixel when its size differs.
func DefectMask(mask image.Image, colors map[color.RGBA]string, w, h int) []bool {
	idx := map[string]int{}
	for _, n := range colors {
		idx[n] = 1
	}
	lab := maskLabels(mask, colors, idx, w, h)
	out := make([]bool, len(lab))
	for i, l := range lab {
		out[i] = l > 0
	}
	return out
}

// predictedDefects returns which pixels of a result's mask are anomalous.
func predictedDefects(mask *image.Paletted) []bool {
	b := mask.Bounds()
	out := make([]bool, b.Dx()*b.Dy())
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			out[y*b.Dx()+x] = mask.Pix[y*mask.Stride+x] != 0
		}
	}
	return out
}
