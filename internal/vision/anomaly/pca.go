package anomaly

import (
	"math"
	"math/rand/v2"
)

// pcaRotation returns the d x d orthonormal matrix (row-major, one
// principal axis per row, by decreasing variance) of the vectors x
// ([n][d]), estimated on at most sample of them (seeded). Rotating features
// by it leaves every Euclidean distance unchanged, but puts most of the
// variance in the first coordinates, so a partial distance that is already
// too large is found after few of them: the exact nearest-neighbour search
// gives up on far candidates much earlier.
func pcaRotation(x []float32, d, sample int, seed int64) []float32 {
	n := len(x) / d
	r := rand.New(rand.NewPCG(uint64(seed), 0x706361))
	idx := make([]int, 0, min(n, sample))
	if n <= sample {
		for i := 0; i < n; i++ {
			idx = append(idx, i)
		}
	} else {
		idx = r.Perm(n)[:sample]
	}
	mean := make([]float64, d)
	for _, i := range idx {
		for j, v := range x[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(len(idx))
	}
	cov := make([]float64, d*d)
	parallel(d, func(lo, hi int) {
		for a := lo; a < hi; a++ {
			for _, i := range idx {
				row := x[i*d : (i+1)*d]
				va := float64(row[a]) - mean[a]
				if va == 0 {
					continue
				}
				c := cov[a*d : (a+1)*d]
				for b := a; b < d; b++ {
					c[b] += va * (float64(row[b]) - mean[b])
				}
			}
		}
	})
	for a := 0; a < d; a++ {
		for b := 0; b < a; b++ {
			cov[a*d+b] = cov[b*d+a]
		}
	}
	vals, vecs := jacobiEigen(cov, d)
	// order axes by decreasing eigenvalue
	order := make([]int, d)
	for i := range order {
		order[i] = i
	}
	for i := 1; i < d; i++ { // insertion sort: d is small
		for j := i; j > 0 && vals[order[j]] > vals[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	rot := make([]float32, d*d)
	for k, e := range order {
		for j := 0; j < d; j++ {
			rot[k*d+j] = float32(vecs[j*d+e]) // eigenvector e is column e
		}
	}
	return rot
}

// jacobiEigen diagonalises the symmetric d x d matrix a (destroyed) by
// cyclic Jacobi rotations; it returns the eigenvalues and the eigenvectors
// as the columns of a row-major matrix.
func jacobiEigen(a []float64, d int) ([]float64, []float64) {
	v := make([]float64, d*d)
	for i := 0; i < d; i++ {
		v[i*d+i] = 1
	}
	for sweep := 0; sweep < 50; sweep++ {
		var off, diag float64
		for p := 0; p < d; p++ {
			diag += a[p*d+p] * a[p*d+p]
			for q := p + 1; q < d; q++ {
				off += a[p*d+q] * a[p*d+q]
			}
		}
		if off <= 1e-22*diag || off == 0 {
			break
		}
		for p := 0; p < d; p++ {
			for q := p + 1; q < d; q++ {
				apq := a[p*d+q]
				if math.Abs(apq) < 1e-300 {
					continue
				}
				theta := (a[q*d+q] - a[p*d+p]) / (2 * apq)
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := 0; k < d; k++ { // columns p, q
					akp, akq := a[k*d+p], a[k*d+q]
					a[k*d+p] = c*akp - s*akq
					a[k*d+q] = s*akp + c*akq
				}
				for k := 0; k < d; k++ { // rows p, q
					apk, aqk := a[p*d+k], a[q*d+k]
					a[p*d+k] = c*apk - s*aqk
					a[q*d+k] = s*apk + c*aqk
				}
				for k := 0; k < d; k++ {
					vkp, vkq := v[k*d+p], v[k*d+q]
					v[k*d+p] = c*vkp - s*vkq
					v[k*d+q] = s*vkp + c*vkq
				}
			}
		}
	}
	vals := make([]float64, d)
	for i := range vals {
		vals[i] = a[i*d+i]
	}
	return vals, v
}

// rotate applies rot (d x d) to every d-vector of x in place.
func rotate(x []float32, d int, rot []float32) {
	n := len(x) / d
	parallel(n, func(lo, hi int) {
		tmp := make([]float32, d)
		for i := lo; i < hi; i++ {
			row := x[i*d : (i+1)*d]
			for k := 0; k < d; k++ {
				r := rot[k*d : (k+1)*d]
				var s0, s1, s2, s3 float32
				j := 0
				for ; j+4 <= d; j += 4 {
					s0 += r[j] * row[j]
					s1 += r[j+1] * row[j+1]
					s2 += r[j+2] * row[j+2]
					s3 += r[j+3] * row[j+3]
				}
				for ; j < d; j++ {
					s0 += r[j] * row[j]
				}
				tmp[k] = s0 + s1 + s2 + s3
			}
			copy(row, tmp)
		}
	})
}
