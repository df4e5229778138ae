package anomaly

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/ocellus/ocellus/internal/vision/onnxedit"
)

// searchCandidates is how many bank rows per patch the ranking keeps for
// the exact re-rank.
const searchCandidates = 4

// ortSearch is Detect's exact nearest-neighbour search, with the heavy part
// on ONNX Runtime. A small graph holding the bank rotates the patch
// features (x R^T, as rotate does) and ranks every bank row by
// |b|^2 - 2 q.b, one matrix product on ONNX Runtime's optimised GEMM,
// keeping the searchCandidates best rows per patch. Go then computes the
// exact squared distance to those candidates, as the Go search does. The
// ranking is the squared distance less |q|^2 up to float32 rounding, so
// when the worst candidate's ranked distance (less a generous rounding
// allowance) is still at least the best exact distance, no other row can be
// nearer; otherwise (rows tied to within rounding) that patch falls back to
// the exhaustive Go search. The answer is therefore the same as the Go
// search's. On the cookies no patch falls back; it is about 3 times faster
// than the Go search (docs/BENCHMARKS.md).
type ortSearch struct {
	sess  *ort.DynamicAdvancedSession
	bank  *Bank
	k     int
	maxNm float32 // largest |b|^2
}

// newORTSearch builds the search graph for bank with the feature rotation
// rot (D x D, nil for none). ONNX Runtime's environment must be
// initialised (an ORT backbone holds it).
func newORTSearch(bank *Bank, rot []float32) (*ortSearch, error) {
	d, n := bank.D, bank.Len()
	k := min(searchCandidates, n)
	g := &onnxedit.Graph{Name: "ocellus-patch-search"}
	g.Inputs = []*onnxedit.ValueInfo{onnxedit.NewValueInfo("x", onnxedit.Float, -1, int64(d))}
	norms := make([]float32, n)
	var maxNm float32
	for j := range norms {
		var s float32
		for _, v := range bank.V[j*d : (j+1)*d] {
			s += v * v
		}
		norms[j] = s
		maxNm = max(maxNm, s)
	}
	g.Initializers = []*onnxedit.Tensor{
		onnxedit.FloatTensor("bank", bank.V, int64(n), int64(d)),
		onnxedit.FloatTensor("bnorm", norms, int64(n)),
		onnxedit.Int64Tensor("k", []int64{int64(k)}, 1),
	}
	if rot != nil {
		rt := make([]float32, d*d) // rotate computes q[a] = sum_b rot[a][b] x[b], i.e. x R^T
		for a := 0; a < d; a++ {
			for b := 0; b < d; b++ {
				rt[b*d+a] = rot[a*d+b]
			}
		}
		g.Initializers = append(g.Initializers, onnxedit.FloatTensor("rt", rt, int64(d), int64(d)))
		g.AddNode("MatMul", "rotate", []string{"x", "rt"}, []string{"q"})
	} else {
		g.AddNode("Identity", "rotate", []string{"x"}, []string{"q"})
	}
	g.AddNode("Gemm", "rank", []string{"q", "bank", "bnorm"}, []string{"dist"},
		onnxedit.FloatAttr("alpha", -2), onnxedit.FloatAttr("beta", 1), onnxedit.IntAttr("transB", 1))
	g.AddNode("TopK", "best", []string{"dist", "k"}, []string{"val", "idx"},
		onnxedit.IntAttr("axis", 1), onnxedit.IntAttr("largest", 0), onnxedit.IntAttr("sorted", 0))
	g.Outputs = []*onnxedit.ValueInfo{
		onnxedit.NewValueInfo("q", onnxedit.Float, -1, int64(d)),
		onnxedit.NewValueInfo("val", onnxedit.Float, -1, int64(k)),
		onnxedit.NewValueInfo("idx", onnxedit.Int64, -1, int64(k)),
	}
	model := &onnxedit.Model{IRVersion: 8, Opsets: map[string]int64{"": 13}, Graph: g}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("anomaly: %w", err)
	}
	defer opts.Destroy()
	// One thread per run: run splits the patches into chunks and runs them
	// in parallel itself, which is faster than ONNX Runtime's intra-op
	// threads on one big matrix.
	if err := opts.SetIntraOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("anomaly: %w", err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("anomaly: %w", err)
	}
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(model.Encode(), []string{"x"}, []string{"q", "val", "idx"}, opts)
	if err != nil {
		return nil, fmt.Errorf("anomaly: creating the search session: %w", err)
	}
	return &ortSearch{sess: sess, bank: bank, k: k, maxNm: maxNm}, nil
}

// searchChunk is how many patches one run of the search graph takes: the
// graph's distance matrix (searchChunk x bank rows) then stays in cache,
// and chunks run in parallel, one per CPU.
const searchChunk = 128

// run rotates the unrotated patch features x ([n][D]) in place and returns
// each patch's Euclidean distance to its nearest bank vector, and how many
// patches needed the exhaustive fallback.
func (s *ortSearch) run(x []float32) ([]float32, int, error) {
	d := s.bank.D
	n := len(x) / d
	out := make([]float32, n)
	chunks := (n + searchChunk - 1) / searchChunk
	var fallbacks atomic.Int64
	errs := make([]error, chunks)
	parallel(chunks, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			a, b := c*searchChunk, min((c+1)*searchChunk, n)
			f, err := s.runChunk(x[a*d:b*d], out[a:b])
			errs[c] = err
			fallbacks.Add(int64(f))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	return out, int(fallbacks.Load()), nil
}

// runChunk is run on n = len(out) patches.
func (s *ortSearch) runChunk(x []float32, out []float32) (int, error) {
	d := s.bank.D
	n := len(out)
	in, err := ort.NewTensor(ort.NewShape(int64(n), int64(d)), x)
	if err != nil {
		return 0, fmt.Errorf("anomaly: %w", err)
	}
	defer in.Destroy()
	outs := make([]ort.Value, 3)
	if err := s.sess.Run([]ort.Value{in}, outs); err != nil {
		return 0, fmt.Errorf("anomaly: search run: %w", err)
	}
	defer func() {
		for _, v := range outs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	qt, ok1 := outs[0].(*ort.Tensor[float32])
	vt, ok2 := outs[1].(*ort.Tensor[float32])
	it, ok3 := outs[2].(*ort.Tensor[int64])
	if !ok1 || !ok2 || !ok3 {
		return 0, fmt.Errorf("anomaly: search outputs have unexpected types")
	}
	q, val, idx := qt.GetData(), vt.GetData(), it.GetData()
	if len(q) != n*d || len(idx) != n*s.k || len(val) != n*s.k {
		return 0, fmt.Errorf("anomaly: search outputs have %d, %d and %d values, want %d, %d and %d", len(q), len(val), len(idx), n*d, n*s.k, n*s.k)
	}
	copy(x, q)
	rows := int64(s.bank.Len())
	fallbacks := 0
	for i := range out {
		qi := x[i*d : (i+1)*d]
		var qn float32
		for _, v := range qi {
			qn += v * v
		}
		best, worst := float32(math.Inf(1)), float32(math.Inf(-1))
		valid := true
		for c, j := range idx[i*s.k : (i+1)*s.k] {
			if j < 0 || j >= rows {
				valid = false
				continue
			}
			best = min(best, sqDistBound(qi, s.bank.V[int(j)*d:int(j+1)*d], best))
			worst = max(worst, val[i*s.k+c])
		}
		// Every row outside the candidates is at least worst+qn away (squared),
		// up to the rounding of the matrix form.
		eps := 1e-5*(qn+s.maxNm) + 1e-30
		if !valid || worst+qn-eps < best {
			fallbacks++
			best = s.bank.exhaustive(qi, best)
		}
		out[i] = float32(math.Sqrt(float64(best)))
	}
	return fallbacks, nil
}

func (s *ortSearch) close() error {
	if s == nil || s.sess == nil {
		return nil
	}
	err := s.sess.Destroy()
	s.sess = nil
	return err
}
