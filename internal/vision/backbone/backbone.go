// Package backbone holds the frozen feature extractors that heads are trained
// on. Two implementations share one interface and one conformance suite
// (backbonetest): ONNX Runtime executing a pretrained network (ORT), and a
// built-in, weight-free extractor (Builtin) so that a machine with no model
// file can still run the whole flow, at lower accuracy.
package backbone

import (
	"context"
	"fmt"
)

// Map describes one feature map a backbone returns, shaped [N, C, H, W].
type Map struct {
	Name   string `json:"name"`
	C      int    `json:"c"`
	H      int    `json:"h"`
	W      int    `json:"w"`
	Stride int    `json:"stride"`
	Grids  []int  `json:"grids"` // pooling grids used for embeddings: 1 = global average, g = g x g cells
}

// Info describes a backbone: what it reads and what it returns.
type Info struct {
	Name     string     `json:"name"`
	Identity string     `json:"identity"` // "sha256:<hex>" of the ONNX file, or "builtin:<version>"
	Size     int        `json:"size"`     // square input side in pixels
	Mean     [3]float32 `json:"mean"`     // per-channel normalisation (x/255 - Mean) / Std, RGB
	Std      [3]float32 `json:"std"`
	Maps     []Map      `json:"maps"`
}

// InputLen is the number of floats of one preprocessed image.
func (i Info) InputLen() int { return 3 * i.Size * i.Size }

// Backbone turns preprocessed images into feature maps.
type Backbone interface {
	Info() Info
	// Forward runs n images stored as [n, 3, Size, Size] float32 and returns
	// one slice per Info().Maps entry, each [n, C, H, W].
	Forward(ctx context.Context, x []float32, n int) ([][]float32, error)
	Close() error
}

func checkInput(i Info, x []float32, n int) error {
	if n <= 0 || len(x) != n*i.InputLen() {
		return fmt.Errorf("backbone: input has %d floats, want %d images x %d", len(x), n, i.InputLen())
	}
	return nil
}

// EmbeddingLen is the length of the pooled embedding of a backbone.
func EmbeddingLen(i Info) int {
	n := 0
	for _, m := range i.Maps {
		for _, g := range m.Grids {
			n += m.C * g * g
		}
	}
	return n
}

// PoolMatrix returns the [H*W, G] matrix (row-major) averaging an HxW map
// into g x g cells (cell index = row*g + col).
func PoolMatrix(h, w, g int) []float32 {
	p := make([]float32, h*w*g*g)
	for gy := 0; gy < g; gy++ {
		y0, y1 := gy*h/g, ((gy+1)*h+g-1)/g
		for gx := 0; gx < g; gx++ {
			x0, x1 := gx*w/g, ((gx+1)*w+g-1)/g
			inv := 1 / float32((y1-y0)*(x1-x0))
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					p[(y*w+x)*g*g+gy*g+gx] = inv
				}
			}
		}
	}
	return p
}

// Embed pools the feature maps of image k of a batch into dst (length
// EmbeddingLen): for each map, for each grid, channel-major, cell-minor.
func Embed(dst []float32, i Info, maps [][]float32, k int, pools [][][]float32) {
	o := 0
	for mi, m := range i.Maps {
		hw := m.H * m.W
		base := maps[mi][k*m.C*hw:]
		for gi, g := range m.Grids {
			gg := g * g
			if g == 1 {
				inv := 1 / float32(hw)
				for c := 0; c < m.C; c++ {
					var s float32
					for _, v := range base[c*hw : (c+1)*hw] {
						s += v
					}
					dst[o+c] = s * inv
				}
				o += m.C
				continue
			}
			p := pools[mi][gi]
			for c := 0; c < m.C; c++ {
				out := dst[o+c*gg : o+(c+1)*gg]
				for j := range out {
					out[j] = 0
				}
				for q, v := range base[c*hw : (c+1)*hw] {
					if v == 0 {
						continue
					}
					row := p[q*gg : (q+1)*gg]
					for j, pv := range row {
						out[j] += v * pv
					}
				}
			}
			o += m.C * gg
		}
	}
}

// Pools precomputes the pooling matrices of a backbone's maps.
func Pools(i Info) [][][]float32 {
	out := make([][][]float32, len(i.Maps))
	for mi, m := range i.Maps {
		out[mi] = make([][]float32, len(m.Grids))
		for gi, g := range m.Grids {
			if g > 1 {
				out[mi][gi] = PoolMatrix(m.H, m.W, g)
			}
		}
	}
	return out
}
