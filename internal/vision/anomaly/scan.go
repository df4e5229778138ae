package anomaly

import "math"

// scanDims is how many leading coordinates of each bank row the blocked
// pre-scan uses. After the PCA rotation they carry most of the distance,
// so their partial distance (a lower bound of the full one) rejects almost
// every row before the full distance is needed.
const scanDims = 8

// scanIndex is the bank's leading coordinates packed for the pre-scan:
// rows in groups of 4, each group [scanDims][4], padded to a multiple of 4
// with far-away rows.
type scanIndex struct {
	p     int       // leading coordinates used: min(D, scanDims)
	n     int       // bank rows (before padding)
	head  []float32 // [ceil(n/4)][p][4]
	norm  []float32 // squared norm of each row's leading coordinates (padded)
	maxNm float32   // largest norm
}

func newScanIndex(v []float32, d int) *scanIndex {
	n := len(v) / d
	p := min(d, scanDims)
	n4 := (n + 3) / 4 * 4
	x := &scanIndex{p: p, n: n, head: make([]float32, n4*p), norm: make([]float32, n4)}
	for j := 0; j < n4; j++ {
		var s float32
		for k := 0; k < p; k++ {
			val := float32(1e15) // padding: never a candidate
			if j < n {
				val = v[j*d+k]
			}
			x.head[(j/4*p+k)*4+j%4] = val
			if j < n {
				s += val * val
			}
		}
		if j < n {
			x.norm[j] = s
			x.maxNm = max(x.maxNm, s)
		} else {
			x.norm[j] = float32(math.Inf(1))
		}
	}
	return x
}

// partial writes to out0 and out1 the partial squared distances (over the
// leading p coordinates, computed as |q|^2 + |r|^2 - 2 q.r) of two
// queries to every (padded) bank row.
func (x *scanIndex) partial(q0, q1 []float32, out0, out1 []float32) {
	p := x.p
	q0, q1 = q0[:p:p], q1[:p:p]
	var n0, n1 float32
	for k := 0; k < p; k++ {
		n0 += q0[k] * q0[k]
		n1 += q1[k] * q1[k]
	}
	nb := len(x.norm) / 4
	out0, out1 = out0[:nb*4], out1[:nb*4]
	for r := 0; r < nb; r++ {
		h := x.head[r*p*4 : (r+1)*p*4 : (r+1)*p*4]
		var a0, a1, a2, a3, b0, b1, b2, b3 float32
		for k := 0; k+4 <= len(h); k += 4 {
			hk := h[k : k+4 : k+4]
			u, w := q0[k/4], q1[k/4]
			h0, h1, h2, h3 := hk[0], hk[1], hk[2], hk[3]
			a0 += u * h0
			a1 += u * h1
			a2 += u * h2
			a3 += u * h3
			b0 += w * h0
			b1 += w * h1
			b2 += w * h2
			b3 += w * h3
		}
		nm := x.norm[r*4 : r*4+4 : r*4+4]
		o0 := out0[r*4 : r*4+4 : r*4+4]
		o1 := out1[r*4 : r*4+4 : r*4+4]
		o0[0] = n0 + nm[0] - 2*a0
		o0[1] = n0 + nm[1] - 2*a1
		o0[2] = n0 + nm[2] - 2*a2
		o0[3] = n0 + nm[3] - 2*a3
		o1[0] = n1 + nm[0] - 2*b0
		o1[1] = n1 + nm[1] - 2*b1
		o1[2] = n1 + nm[2] - 2*b2
		o1[3] = n1 + nm[3] - 2*b3
	}
}

// scanner holds per-goroutine scratch space for scanIndex queries.
type scanner struct {
	b            *Bank
	part0, part1 []float32
}

func (b *Bank) scanner() *scanner {
	m := len(b.scan.norm)
	return &scanner{b: b, part0: make([]float32, m), part1: make([]float32, m)}
}

// nearest2 returns the squared distances from two queries to their
// nearest bank vectors and those vectors' rows. hint0 and hint1 (rows, or
// -1) give starting bounds, e.g. the neighbours of the previous, adjacent
// patches. Rows from source image exclude are skipped (exclude < 0: none).
func (s *scanner) nearest2(q0, q1 []float32, hint0, hint1 int, exclude int32) (d0 float32, j0 int, d1 float32, j1 int) {
	s.b.scan.partial(q0, q1, s.part0, s.part1)
	d0, j0 = s.finish(q0, s.part0, hint0, exclude)
	d1, j1 = s.finish(q1, s.part1, hint1, exclude)
	return
}

// finish completes the search of one query given its partial distances.
func (s *scanner) finish(q, part []float32, hint int, exclude int32) (float32, int) {
	b := s.b
	d := b.D
	x := b.scan
	part = part[:x.n]
	// The partial distances are lower bounds up to rounding of the
	// |q|^2 + |r|^2 - 2 q.r form; allow for it generously.
	var qn float32
	for _, v := range q[:x.p] {
		qn += v * v
	}
	eps := 1e-5*(qn+x.maxNm) + 1e-30
	// Start from the row with the smallest partial distance (usually the
	// answer, or close to it) and the hint.
	jm, pm := -1, float32(math.Inf(1))
	if exclude < 0 {
		for j, v := range part {
			if v < pm {
				jm, pm = j, v
			}
		}
	} else {
		for j, v := range part {
			if v < pm && b.src[j] != exclude {
				jm, pm = j, v
			}
		}
	}
	best, bi := float32(math.Inf(1)), -1
	if jm >= 0 {
		best, bi = sqDist(q, b.V[jm*d:(jm+1)*d]), jm
	}
	if hint >= 0 && hint != jm && (exclude < 0 || b.src[hint] != exclude) {
		if dd := sqDist(q, b.V[hint*d:(hint+1)*d]); dd < best {
			best, bi = dd, hint
		}
	}
	for j, v := range part {
		if v >= best+eps {
			continue
		}
		if j == bi || (exclude >= 0 && b.src[j] == exclude) {
			continue
		}
		if dd := sqDistBound(q, b.V[j*d:(j+1)*d], best); dd < best {
			best, bi = dd, j
		}
	}
	return best, bi
}
