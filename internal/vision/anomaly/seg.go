package anomaly

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"slices"
	"strings"
)

// segExample is a masked anomalous training image with its features.
type segExample struct {
	mask   image.Image
	colors map[color.RGBA]string
	g      grid
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

// learnSegmentation sets the classes, the pixel threshold and the class
// centroids from masked anomalous training images.
func (m *Model) learnSegmentation(segs []segExample) error {
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
	// Pixel threshold: maximise the IoU of "smoothed score >= t" with the
	// union of the defect pixels, pooled over all masks, at a quarter of the
	// image resolution.
	ew, eh := max(1, m.meta.ImageWidth/4), max(1, m.meta.ImageHeight/4)
	type pv struct {
		v float32
		t bool
	}
	var pix []pv
	var totalTrue int
	d := m.meta.Dim
	cent := make([]float64, len(classes)*d)
	cnt := make([]int, len(classes))
	for _, s := range segs {
		lab := maskLabels(s.mask, s.colors, classIdx, ew, eh)
		up := upsampleMap(s.sm, s.g.H, s.g.W, ew, eh)
		for i, l := range lab {
			pix = append(pix, pv{up[i], l > 0})
			if l > 0 {
				totalTrue++
			}
		}
		// Class centroids from the patches mostly covered by one class.
		cov := make([]float64, (len(classes)+1)*s.g.H*s.g.W)
		per := make([]int, s.g.H*s.g.W)
		for y := 0; y < eh; y++ {
			gy := min(y*s.g.H/eh, s.g.H-1)
			for x := 0; x < ew; x++ {
				gx := min(x*s.g.W/ew, s.g.W-1)
				c := gy*s.g.W + gx
				cov[int(lab[y*ew+x])*s.g.H*s.g.W+c]++
				per[c]++
			}
		}
		for c := range per {
			for k := range classes {
				if per[c] > 0 && cov[(k+1)*s.g.H*s.g.W+c] >= 0.5*float64(per[c]) {
					p := s.g.patch(c)
					for j, v := range p {
						cent[k*d+j] += float64(v)
					}
					cnt[k]++
				}
			}
		}
	}
	if totalTrue == 0 {
		return errors.New("anomaly: the masks of the anomalous images mark no anomaly pixels")
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
	m.cent = make([]float32, len(classes)*d)
	for k := range classes {
		if cnt[k] == 0 {
			continue
		}
		for j := 0; j < d; j++ {
			m.cent[k*d+j] = float32(cent[k*d+j] / float64(cnt[k]))
		}
	}
	m.meta.Classes = classes
	m.meta.Background = bg
	m.meta.Segmentation = true
	return nil
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

// segment fills r.Mask and r.Anomalies. Pixels are anomalous where the
// bilinearly upsampled smoothed score map reaches the pixel threshold, and
// only in images classified anomalous (so the mask never contradicts
// IsAnomalous); their class is the nearest class centroid of the patch
// under them.
func (m *Model) segment(r *Result, g grid, sm []float32) {
	w, h := m.meta.ImageWidth, m.meta.ImageHeight
	mask := image.NewPaletted(image.Rect(0, 0, w, h), m.palette())
	counts := make([]int, len(m.meta.Classes)+1)
	if r.IsAnomalous {
		// class of every patch over the pixel threshold's neighbourhood
		cls := make([]uint8, g.H*g.W)
		for c := range cls {
			cls[c] = 1
			if len(m.meta.Classes) > 1 {
				p := g.patch(c)
				bd := float32(math.Inf(1))
				for k := range m.meta.Classes {
					if dd := sqDist(p, m.cent[k*g.D:(k+1)*g.D]); dd < bd {
						bd, cls[c] = dd, uint8(k+1)
					}
				}
			}
		}
		up := upsampleMap(sm, g.H, g.W, w, h)
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
