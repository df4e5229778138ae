package anomaly

import (
	"math"
	"math/rand/v2"
	"sync"
)

// segHead is the per-patch segmentation classifier: softmax regression over
// the standardised patch feature plus the patch's raw and smoothed anomaly
// scores, with classes 0 = background and 1..K = the anomaly classes. It is
// trained on soft targets (the fraction of each patch's pixels in each
// class of the training masks).
type segHead struct {
	F, K1 int       // inputs, classes including background
	Mean  []float32 // [F]
	Std   []float32 // [F]
	W     []float32 // [K1][F]
	B     []float32 // [K1]
}

// segInput builds the classifier input of patch i of g.
func segInput(dst []float32, g grid, raw, sm []float32, i int) {
	copy(dst, g.patch(i))
	dst[g.D] = raw[i]
	dst[g.D+1] = sm[i]
}

// probs writes the class probabilities of input x into p.
func (h *segHead) probs(p, x []float32) {
	mx := float32(math.Inf(-1))
	for k := 0; k < h.K1; k++ {
		s := h.B[k]
		w := h.W[k*h.F : (k+1)*h.F]
		for j, v := range x {
			s += w[j] * (v - h.Mean[j]) / h.Std[j]
		}
		p[k] = s
		mx = max(mx, s)
	}
	var z float32
	for k := range p[:h.K1] {
		p[k] = float32(math.Exp(float64(p[k] - mx)))
		z += p[k]
	}
	for k := range p[:h.K1] {
		p[k] /= z
	}
}

// trainSegHead fits the head on inputs x ([n][f]) and soft targets t
// ([n][k1]) with full-batch Adam and a small L2 penalty.
func trainSegHead(x, t []float32, f, k1 int, seed int64) *segHead {
	n := len(x) / f
	h := &segHead{F: f, K1: k1, Mean: make([]float32, f), Std: make([]float32, f), W: make([]float32, k1*f), B: make([]float32, k1)}
	for j := 0; j < f; j++ {
		var s, s2 float64
		for i := 0; i < n; i++ {
			v := float64(x[i*f+j])
			s += v
			s2 += v * v
		}
		m := s / float64(n)
		h.Mean[j] = float32(m)
		h.Std[j] = float32(math.Sqrt(math.Max(s2/float64(n)-m*m, 0)) + 1e-6)
	}
	z := make([]float32, len(x))
	for i := 0; i < n; i++ {
		for j := 0; j < f; j++ {
			z[i*f+j] = (x[i*f+j] - h.Mean[j]) / h.Std[j]
		}
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x736567))
	for i := range h.W {
		h.W[i] = float32(r.NormFloat64() * 0.01)
	}
	const (
		epochs = 150
		lr     = 0.05
		l2     = 1e-3
		b1, b2 = 0.9, 0.999
	)
	np := len(h.W) + len(h.B)
	m1 := make([]float64, np)
	m2 := make([]float64, np)
	w := workers()
	grads := make([][]float64, w)
	for i := range grads {
		grads[i] = make([]float64, np)
	}
	for ep := 1; ep <= epochs; ep++ {
		var wg sync.WaitGroup
		for c := 0; c < w; c++ {
			lo, hi := c*n/w, (c+1)*n/w
			wg.Add(1)
			go func(g []float64) {
				defer wg.Done()
				clear(g)
				p := make([]float32, k1)
				for i := lo; i < hi; i++ {
					zi := z[i*f : (i+1)*f]
					mx := float32(math.Inf(-1))
					for k := 0; k < k1; k++ {
						s := h.B[k]
						wk := h.W[k*f : (k+1)*f]
						for j, v := range zi {
							s += wk[j] * v
						}
						p[k] = s
						mx = max(mx, s)
					}
					var zs float32
					for k := range p {
						p[k] = float32(math.Exp(float64(p[k] - mx)))
						zs += p[k]
					}
					for k := range p {
						e := float64(p[k]/zs - t[i*k1+k])
						gk := g[k*f : (k+1)*f]
						for j, v := range zi {
							gk[j] += e * float64(v)
						}
						g[len(h.W)+k] += e
					}
				}
			}(grads[c])
		}
		wg.Wait()
		for q := 0; q < np; q++ {
			var gq float64
			for c := range grads {
				gq += grads[c][q]
			}
			gq /= float64(n)
			var wv float64
			if q < len(h.W) {
				wv = float64(h.W[q])
				gq += l2 * wv
			} else {
				wv = float64(h.B[q-len(h.W)])
			}
			m1[q] = b1*m1[q] + (1-b1)*gq
			m2[q] = b2*m2[q] + (1-b2)*gq*gq
			mh := m1[q] / (1 - math.Pow(b1, float64(ep)))
			vh := m2[q] / (1 - math.Pow(b2, float64(ep)))
			wv -= lr * mh / (math.Sqrt(vh) + 1e-8)
			if q < len(h.W) {
				h.W[q] = float32(wv)
			} else {
				h.B[q-len(h.W)] = float32(wv)
			}
		}
	}
	return h
}
