package anomaly

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// workers is the parallelism of the plain-Go kernels.
func workers() int { return max(1, runtime.GOMAXPROCS(0)) }

// parallel runs fn over [0,n) split into contiguous chunks, one per worker.
func parallel(n int, fn func(lo, hi int)) {
	w := min(workers(), n)
	if w <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		lo, hi := i*n/w, (i+1)*n/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// sqDist is the squared Euclidean distance of two equal-length vectors.
func sqDist(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0 := a[i] - b[i]
		d1 := a[i+1] - b[i+1]
		d2 := a[i+2] - b[i+2]
		d3 := a[i+3] - b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return s0 + s1 + s2 + s3
}

// sqDistBound is sqDist that gives up (returning a value >= bound) as soon
// as the partial sum reaches bound; checked every 8 dimensions.
func sqDistBound(a, b []float32, bound float32) float32 {
	b = b[:len(a)]
	var s float32
	i := 0
	for i+8 <= len(a) {
		a8, b8 := a[i:i+8:i+8], b[i:i+8:i+8]
		d0, d1, d2, d3 := a8[0]-b8[0], a8[1]-b8[1], a8[2]-b8[2], a8[3]-b8[3]
		d4, d5, d6, d7 := a8[4]-b8[4], a8[5]-b8[5], a8[6]-b8[6], a8[7]-b8[7]
		s += (d0*d0 + d1*d1) + (d2*d2 + d3*d3) + (d4*d4 + d5*d5) + (d6*d6 + d7*d7)
		if s >= bound {
			return s
		}
		i += 8
	}
	if i < len(a) {
		s += sqDist(a[i:], b[i:])
	}
	return s
}

// Coreset selects k of the n d-dimensional vectors x by greedy k-center
// (farthest-point) selection: start at a seeded random point, then
// repeatedly take the point farthest from everything selected so far.
// Distances for the selection are computed on a seeded Gaussian random
// projection to proj dimensions when proj > 0 and proj < d (as PatchCore
// does), which keeps the cost O(n*k*proj). The result is deterministic for a
// given input, k, proj and seed, and lists the points in selection order.
func Coreset(x []float32, d, k, proj int, seed int64) []int {
	n := len(x) / d
	if k >= n {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	if k <= 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x636f7265736574))
	z, zd := x, d
	if proj > 0 && proj < d {
		z, zd = project(x, d, proj, r), proj
	}
	minD := make([]float32, n)
	for i := range minD {
		minD[i] = float32(math.Inf(1))
	}
	sel := make([]int, 0, k)
	cur := r.IntN(n)
	type best struct {
		v float32
		i int
	}
	bests := make([]best, workers())
	for len(sel) < k {
		sel = append(sel, cur)
		c := z[cur*zd : (cur+1)*zd]
		w := min(workers(), n)
		var wg sync.WaitGroup
		for t := 0; t < w; t++ {
			lo, hi := t*n/w, (t+1)*n/w
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				b := best{v: -1, i: -1}
				for i := lo; i < hi; i++ {
					if dd := sqDist(z[i*zd:(i+1)*zd], c); dd < minD[i] {
						minD[i] = dd
					}
					if minD[i] > b.v {
						b = best{minD[i], i}
					}
				}
				bests[t] = b
			}(t)
		}
		wg.Wait()
		b := bests[0]
		for t := 1; t < w; t++ {
			if bests[t].v > b.v { // ties keep the lower index (earlier chunk)
				b = bests[t]
			}
		}
		cur = b.i
	}
	return sel
}

func project(x []float32, d, p int, r *rand.Rand) []float32 {
	m := make([]float32, d*p)
	s := 1 / math.Sqrt(float64(p))
	for i := range m {
		m[i] = float32(r.NormFloat64() * s)
	}
	n := len(x) / d
	out := make([]float32, n*p)
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := x[i*d : (i+1)*d]
			o := out[i*p : (i+1)*p]
			for j, v := range row {
				if v == 0 {
					continue
				}
				mr := m[j*p : (j+1)*p]
				for q := range o {
					o[q] += v * mr[q]
				}
			}
		}
	})
	return out
}

// Bank is the memory bank of normal patch features with an exact
// nearest-neighbour index. The vectors are grouped around the first
// len(centre) coreset points (a k-center clustering for free; kept in the
// artifact format), and searched by a blocked partial-distance pre-scan of
// their leading coordinates (see scanIndex).
type Bank struct {
	D      int
	V      []float32  // [n][D], grouped by cluster
	start  []int      // cluster c holds V rows [start[c], start[c+1])
	centre []float32  // [k][D]
	radius []float32  // max distance of a member to its centre
	src    []int32    // training only: the image each row came from
	scan   *scanIndex // the exact nearest-neighbour search (scan.go)
}

// Len is the number of vectors in the bank.
func (b *Bank) Len() int { return len(b.V) / b.D }

// NewBank indexes the vectors v ([n][d]); the first k of them (in coreset
// selection order, which spreads them out) become the cluster centres.
func NewBank(v []float32, d int) *Bank { return newBank(v, d, nil) }

// newBank is NewBank remembering each vector's source image (src[i] for row
// i of v) for leave-one-image-out scoring.
func newBank(v []float32, d int, src []int32) *Bank {
	n := len(v) / d
	k := int(math.Ceil(2 * math.Sqrt(float64(n))))
	k = max(1, min(k, n))
	centre := append([]float32(nil), v[:k*d]...)
	assign := make([]int, n)
	dist := make([]float32, n)
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			q := v[i*d : (i+1)*d]
			bi, bd := 0, float32(math.Inf(1))
			for c := 0; c < k; c++ {
				if dd := sqDist(q, centre[c*d:(c+1)*d]); dd < bd {
					bi, bd = c, dd
				}
			}
			assign[i], dist[i] = bi, float32(math.Sqrt(float64(bd)))
		}
	})
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if assign[a] != assign[b] {
			return assign[a] - assign[b]
		}
		switch {
		case dist[a] < dist[b]:
			return -1
		case dist[a] > dist[b]:
			return 1
		}
		return 0
	})
	b := &Bank{D: d, V: make([]float32, n*d), start: make([]int, k+1), centre: centre, radius: make([]float32, k)}
	if src != nil {
		b.src = make([]int32, n)
	}
	for j, i := range order {
		copy(b.V[j*d:(j+1)*d], v[i*d:(i+1)*d])
		if src != nil {
			b.src[j] = src[i]
		}
		c := assign[i]
		b.start[c+1] = j + 1
		b.radius[c] = max(b.radius[c], dist[i])
	}
	for c := 1; c <= k; c++ { // empty clusters
		b.start[c] = max(b.start[c], b.start[c-1])
	}
	b.index()
	return b
}

// exhaustive returns the squared distance from q to its nearest bank row,
// or bound if no row is nearer.
func (b *Bank) exhaustive(q []float32, bound float32) float32 {
	d := b.D
	for j := 0; j < len(b.V)/d; j++ {
		bound = min(bound, sqDistBound(q, b.V[j*d:(j+1)*d], bound))
	}
	return bound
}

// index builds the search structures of the rows V.
func (b *Bank) index() {
	b.scan = newScanIndex(b.V, b.D)
}

// nearestAll returns, for each of the n query vectors in q ([n][D]), the
// Euclidean distance to its nearest bank vector, in parallel.
func (b *Bank) nearestAll(q []float32) []float32 { return b.nearestExcept(q, -1) }

// nearestExcept is nearestAll ignoring the bank vectors of one training
// image (leave-one-image-out scores of the bank's own images).
func (b *Bank) nearestExcept(q []float32, exclude int32) []float32 {
	d := b.D
	n := len(q) / d
	out := make([]float32, n)
	pairs := (n + 1) / 2
	parallel(pairs, func(lo, hi int) {
		s := b.scanner()
		h0, h1 := -1, -1
		for p := lo; p < hi; p++ {
			i0, i1 := 2*p, min(2*p+1, n-1)
			d0, j0, d1, j1 := s.nearest2(q[i0*d:(i0+1)*d], q[i1*d:(i1+1)*d], h0, h1, exclude)
			out[i0] = float32(math.Sqrt(float64(d0)))
			out[i1] = float32(math.Sqrt(float64(d1)))
			h0, h1 = j0, j1
		}
	})
	return out
}
