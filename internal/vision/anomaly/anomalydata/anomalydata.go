// Package anomalydata loads anomaly-detection data sets for benchmarks and
// tests: a Lookout for Vision manifest with relative source-refs (such as
// AWS's cookie data set), a directory of images labelled by file name, and
// synthetic defects drawn on real textures.
//
// Manifests are read with internal/manifest, as the server reads them.
package anomalydata

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// ReadManifest reads a Lookout for Vision manifest whose source-refs (and
// anomaly-mask-refs) are paths relative to root, with internal/manifest's
// reader (the server's parsing). Lines without a normal or anomaly class
// are skipped.
func ReadManifest(path, root string) ([]anomaly.Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, _, err := manifest.Read(f, manifest.ParseOptions{Service: manifest.LookoutForVision, Base: root})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []anomaly.Example
	for _, e := range entries {
		a := e.Anomaly
		src := e.SourceRef
		b, err := os.ReadFile(manifest.LocalPath(src, root, root))
		if err != nil {
			return nil, err
		}
		img, err := imageio.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		ex := anomaly.Example{Name: src, Image: img, Anomalous: a.Anomalous}
		if a.Mask != "" && len(a.Colors) > 0 {
			mb, err := os.ReadFile(a.Mask)
			if err != nil {
				return nil, err
			}
			if ex.Mask, err = imageio.Decode(mb); err != nil {
				return nil, fmt.Errorf("%s: %w", a.MaskRef, err)
			}
			ex.ColorMap = map[color.RGBA]string{}
			for _, c := range a.Colors {
				rgba, err := anomaly.ParseHexColor(c.HexColor)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %w", path, e.Line, err)
				}
				ex.ColorMap[rgba] = c.ClassName
			}
		}
		out = append(out, ex)
	}
	return out, nil
}

// ReadDir reads the JPEG and PNG images of dir, anomalous when the file
// name contains "anomaly", sorted by name.
func ReadDir(dir string) ([]anomaly.Example, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []anomaly.Example
	for _, e := range ents {
		n := strings.ToLower(e.Name())
		if !(strings.HasSuffix(n, ".jpg") || strings.HasSuffix(n, ".jpeg") || strings.HasSuffix(n, ".png")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		img, err := imageio.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, anomaly.Example{Name: e.Name(), Image: img, Anomalous: strings.Contains(n, "anomaly")})
	}
	slices.SortFunc(out, func(a, b anomaly.Example) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Defect classes of the synthetic data sets and their mask colours.
var (
	Scratch = color.RGBA{0xD6, 0x27, 0x28, 255}
	Blob    = color.RGBA{0x2C, 0xA0, 0x2C, 255}
	Spot    = color.RGBA{0x1F, 0x77, 0xB4, 255}
)

// SyntheticColorMap maps the synthetic mask colours to class names.
func SyntheticColorMap() map[color.RGBA]string {
	return map[color.RGBA]string{Scratch: "scratch", Blob: "blob", Spot: "spot"}
}

// Synthetic cuts n size x size windows at seeded random places of texture
// (scaled by a random factor in [0.9, 1.1]) and, for anomalous ones, draws
// one defect: a scratch (a thin dark or bright line), a blob (an ellipse of
// shifted brightness with a soft edge) or a colour spot (a small saturated
// disk). Anomalous examples carry their mask and colour map.
func Synthetic(texture image.Image, n, size int, anomalous bool, seed uint64) []anomaly.Example {
	r := rand.New(rand.NewPCG(seed, 0x73796e7468))
	src := imageio.ToRGBA(texture)
	b := src.Rect
	out := make([]anomaly.Example, n)
	for i := range out {
		scale := 0.9 + 0.2*r.Float64()
		win := int(float64(size) * scale)
		win = min(win, b.Dx(), b.Dy())
		x0, y0 := b.Min.X+r.IntN(b.Dx()-win+1), b.Min.Y+r.IntN(b.Dy()-win+1)
		img := imageio.Resize(src.SubImage(image.Rect(x0, y0, x0+win, y0+win)), size, size)
		ex := anomaly.Example{Name: fmt.Sprintf("normal-%d", i), Image: img}
		if anomalous {
			mask := image.NewRGBA(image.Rect(0, 0, size, size))
			for p := range mask.Pix {
				mask.Pix[p] = 255
			}
			drawDefect(img, mask, r)
			ex = anomaly.Example{Name: fmt.Sprintf("anomaly-%d", i), Image: img, Anomalous: true, Mask: mask, ColorMap: SyntheticColorMap()}
		}
		out[i] = ex
	}
	return out
}

func drawDefect(img, mask *image.RGBA, r *rand.Rand) {
	s := float64(img.Rect.Dx())
	cx, cy := s*(0.2+0.6*r.Float64()), s*(0.2+0.6*r.Float64())
	blend := func(x, y int, c color.RGBA, a float64, mc color.RGBA) {
		if x < 0 || y < 0 || x >= img.Rect.Dx() || y >= img.Rect.Dy() || a <= 0 {
			return
		}
		o := img.RGBAAt(x, y)
		mix := func(p, q uint8) uint8 { return uint8(math.Round(float64(p)*(1-a) + float64(q)*a)) }
		img.SetRGBA(x, y, color.RGBA{mix(o.R, c.R), mix(o.G, c.G), mix(o.B, c.B), 255})
		if a >= 0.5 {
			mask.SetRGBA(x, y, mc)
		}
	}
	switch r.IntN(3) {
	case 0: // scratch
		ang := r.Float64() * math.Pi
		l := s * (0.25 + 0.25*r.Float64())
		w := 1.5 + 1.5*r.Float64()
		v := uint8(20)
		if r.IntN(2) == 0 {
			v = 235
		}
		c := color.RGBA{v, v, v, 255}
		dx, dy := math.Cos(ang), math.Sin(ang)
		for y := 0; y < img.Rect.Dy(); y++ {
			for x := 0; x < img.Rect.Dx(); x++ {
				px, py := float64(x)-cx, float64(y)-cy
				t := px*dx + py*dy
				if math.Abs(t) > l/2 {
					continue
				}
				d := math.Abs(-px*dy + py*dx)
				blend(x, y, c, 1-smooth(d-w/2), Scratch)
			}
		}
	case 1: // blob
		ra, rb := s*(0.05+0.06*r.Float64()), s*(0.05+0.06*r.Float64())
		ang := r.Float64() * math.Pi
		shift := 70.0
		if r.IntN(2) == 0 {
			shift = -70
		}
		for y := 0; y < img.Rect.Dy(); y++ {
			for x := 0; x < img.Rect.Dx(); x++ {
				px, py := float64(x)-cx, float64(y)-cy
				u := (px*math.Cos(ang) + py*math.Sin(ang)) / ra
				v := (-px*math.Sin(ang) + py*math.Cos(ang)) / rb
				e := math.Sqrt(u*u+v*v) - 1
				a := 1 - smooth(e*min(ra, rb))
				if a <= 0 {
					continue
				}
				o := img.RGBAAt(x, y)
				sh := func(p uint8) uint8 { return uint8(math.Max(0, math.Min(255, float64(p)+shift))) }
				blend(x, y, color.RGBA{sh(o.R), sh(o.G), sh(o.B), 255}, a, Blob)
			}
		}
	default: // colour spot
		rad := s * (0.03 + 0.04*r.Float64())
		cols := []color.RGBA{{220, 40, 40, 255}, {40, 160, 220, 255}, {230, 200, 30, 255}}
		c := cols[r.IntN(len(cols))]
		for y := 0; y < img.Rect.Dy(); y++ {
			for x := 0; x < img.Rect.Dx(); x++ {
				d := math.Hypot(float64(x)-cx, float64(y)-cy) - rad
				blend(x, y, c, 1-smooth(d), Spot)
			}
		}
	}
}

// smooth is a one-pixel soft edge: 0 inside (d <= -0.5), 1 outside.
func smooth(d float64) float64 { return math.Max(0, math.Min(1, d+0.5)) }
