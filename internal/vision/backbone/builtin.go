package backbone

import (
	"context"
	"math"
)

// BuiltinIdentity identifies the built-in extractor in model artifacts.
const BuiltinIdentity = "builtin:hog-color-v1"

// Builtin is a weight-free feature extractor: histograms of oriented
// gradients (9 unsigned orientations, 8x8-pixel cells, local contrast
// normalisation), cell colour means and a grey thumbnail of a 64x64 input.
// It needs no model file and runs in plain Go; it is much less accurate
// than a pretrained network and is meant for offline machines and tests.
type Builtin struct{}

var _ Backbone = Builtin{}

const builtinSize = 64

// Info implements Backbone.
func (Builtin) Info() Info {
	c := builtinSize / 8
	return Info{
		Name:     "builtin",
		Identity: BuiltinIdentity,
		Size:     builtinSize,
		Std:      [3]float32{1, 1, 1},
		Maps: []Map{
			{Name: "hog", C: 9, H: c, W: c, Stride: 8, Grids: []int{1, 4, c}},
			{Name: "color", C: 3, H: c, W: c, Stride: 8, Grids: []int{1, 4}},
			{Name: "gray", C: 1, H: 16, W: 16, Stride: 4, Grids: []int{16}},
		},
	}
}

// Forward implements Backbone.
func (b Builtin) Forward(ctx context.Context, x []float32, n int) ([][]float32, error) {
	info := b.Info()
	if err := checkInput(info, x, n); err != nil {
		return nil, err
	}
	const s = builtinSize
	const cells = s / 8
	hog := make([]float32, n*9*cells*cells)
	col := make([]float32, n*3*cells*cells)
	gray := make([]float32, n*16*16)
	g := make([]float32, s*s)
	for k := 0; k < n; k++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		img := x[k*3*s*s : (k+1)*3*s*s]
		for i := range g {
			g[i] = 0.299*img[i] + 0.587*img[s*s+i] + 0.114*img[2*s*s+i]
		}
		h := hog[k*9*cells*cells:]
		for y := 0; y < s; y++ {
			for xx := 0; xx < s; xx++ {
				gx := g[y*s+min(xx+1, s-1)] - g[y*s+max(xx-1, 0)]
				gy := g[min(y+1, s-1)*s+xx] - g[max(y-1, 0)*s+xx]
				mag := float32(math.Sqrt(float64(gx*gx + gy*gy)))
				if mag == 0 {
					continue
				}
				ang := math.Atan2(float64(gy), float64(gx))
				if ang < 0 {
					ang += math.Pi
				}
				bf := ang / math.Pi * 9
				b0 := int(bf) % 9
				w1 := float32(bf - math.Floor(bf))
				b1 := (b0 + 1) % 9
				cell := (y/8)*cells + xx/8
				h[b0*cells*cells+cell] += mag * (1 - w1)
				h[b1*cells*cells+cell] += mag * w1
			}
		}
		// Normalise each cell's histogram by its 3x3 neighbourhood energy
		// (contrast invariance).
		var norm [cells * cells]float32
		for c := 0; c < cells*cells; c++ {
			var e float32
			for o := 0; o < 9; o++ {
				v := h[o*cells*cells+c]
				e += v * v
			}
			norm[c] = e
		}
		for cy := 0; cy < cells; cy++ {
			for cx := 0; cx < cells; cx++ {
				var e float32
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						yy, xx := cy+dy, cx+dx
						if yy >= 0 && yy < cells && xx >= 0 && xx < cells {
							e += norm[yy*cells+xx]
						}
					}
				}
				inv := 1 / float32(math.Sqrt(float64(e/9))+1e-3)
				for o := 0; o < 9; o++ {
					h[o*cells*cells+cy*cells+cx] *= inv
				}
			}
		}
		c := col[k*3*cells*cells:]
		for ch := 0; ch < 3; ch++ {
			for y := 0; y < s; y++ {
				for xx := 0; xx < s; xx++ {
					c[ch*cells*cells+(y/8)*cells+xx/8] += img[ch*s*s+y*s+xx] / 64
				}
			}
		}
		gr := gray[k*256:]
		for y := 0; y < s; y++ {
			for xx := 0; xx < s; xx++ {
				gr[(y/4)*16+xx/4] += g[y*s+xx] / 16
			}
		}
	}
	return [][]float32{hog, col, gray}, nil
}

// Close implements Backbone.
func (Builtin) Close() error { return nil }
