package head

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
)

// blobs returns separable clusters: label k centred at +3 on dimension k.
func blobs(n, d, k int, seed uint64) ([][]float32, [][]bool) {
	r := rand.New(rand.NewPCG(seed, 9))
	var X [][]float32
	var Y [][]bool
	for i := 0; i < n; i++ {
		c := i % k
		x := make([]float32, d)
		for j := range x {
			x[j] = float32(r.NormFloat64())
		}
		x[c] += 3
		y := make([]bool, k)
		y[c] = true
		X, Y = append(X, x), append(Y, y)
	}
	return X, Y
}

func TestTrainLearnsAndIsDeterministic(t *testing.T) {
	X, Y := blobs(300, 16, 3, 1)
	cfg := Config{Hidden: 32, Epochs: 100, Seed: 7}
	a, err := Train(context.Background(), X, Y, Softmax, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(context.Background(), X, Y, Softmax, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.W1, b.W1) || !slices.Equal(a.W2, b.W2) {
		t.Fatal("same seed gave different weights")
	}
	Xt, Yt := blobs(300, 16, 3, 2)
	correct := 0
	for i, x := range Xt {
		p := a.Predict(x)
		best := 0
		for k := range p {
			if p[k] > p[best] {
				best = k
			}
		}
		if Yt[i][best] {
			correct++
		}
	}
	if acc := float64(correct) / float64(len(Xt)); acc < 0.9 {
		t.Errorf("accuracy %.2f on separable blobs", acc)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLinearSigmoid(t *testing.T) {
	X, Y := blobs(200, 8, 2, 3)
	for i := range Y { // multi-label: label 1 also on for every third example
		if i%3 == 0 {
			Y[i][1] = true
		}
	}
	m, err := Train(context.Background(), X, Y, Sigmoid, Config{Hidden: -1, Epochs: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m.Hidden != 0 || len(m.W2) != 2*8 {
		t.Fatalf("linear head shape %d %d", m.Hidden, len(m.W2))
	}
	p := m.Predict(X[1]) // label 1 only (1%3 != 0, class 1)
	if p[1] < 0.5 {
		t.Errorf("p = %v", p)
	}
}

func TestGradientMatchesFiniteDifferences(t *testing.T) {
	X, Y := blobs(6, 5, 3, 4)
	for _, out := range []Output{Softmax, Sigmoid} {
		cfg := Config{Hidden: 4, Epochs: 1, Seed: 3, Dropout: -1}.withDefaults()
		m, err := Train(context.Background(), X, Y, out, Config{Hidden: 4, Epochs: 1, Seed: 3, Dropout: -1})
		if err != nil {
			t.Fatal(err)
		}
		Xs := make([][]float32, len(X))
		for e, x := range X {
			Xs[e] = make([]float32, len(x))
			for i := range x {
				Xs[e][i] = (x[i] - m.Mean[i]) * m.Scale[i]
			}
		}
		w := []float64{1, 1, 1, 1, 1, 1}
		idx := []int{0, 1, 2, 3, 4, 5}
		masks := make([]uint64, 6)
		params := [][]float32{m.W1, m.B1, m.W2, m.B2}
		g := [][]float32{make([]float32, len(m.W1)), make([]float32, len(m.B1)), make([]float32, len(m.W2)), make([]float32, len(m.B2))}
		m.backprop(Xs, Y, nil, w, idx, masks, cfg, g)
		for pi, p := range params {
			for _, i := range []int{0, len(p) / 2, len(p) - 1} {
				old := p[i]
				const h = 1e-3
				p[i] = old + h
				lp := m.backprop(Xs, Y, nil, w, idx, masks, cfg, [][]float32{make([]float32, len(m.W1)), make([]float32, len(m.B1)), make([]float32, len(m.W2)), make([]float32, len(m.B2))})
				p[i] = old - h
				lm := m.backprop(Xs, Y, nil, w, idx, masks, cfg, [][]float32{make([]float32, len(m.W1)), make([]float32, len(m.B1)), make([]float32, len(m.W2)), make([]float32, len(m.B2))})
				p[i] = old
				num := (lp - lm) / (2 * h)
				if d := num - float64(g[pi][i]); d > 2e-2 || d < -2e-2 {
					t.Errorf("%s param %d[%d]: analytic %v numeric %v", out, pi, i, g[pi][i], num)
				}
			}
		}
	}
}

func TestRegression(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	var X [][]float32
	var T [][]float32
	for i := 0; i < 400; i++ {
		a, b := float32(r.NormFloat64()), float32(r.NormFloat64())
		X = append(X, []float32{a, b})
		T = append(T, []float32{2*a - b, a * a})
	}
	m, err := TrainRegression(context.Background(), X, T, Config{Hidden: 32, Epochs: 200, Seed: 1, Dropout: -1, LR: 3e-3})
	if err != nil {
		t.Fatal(err)
	}
	var se float64
	for i, x := range X {
		p := m.Predict(x)
		se += (p[0]-float64(T[i][0]))*(p[0]-float64(T[i][0])) + (p[1]-float64(T[i][1]))*(p[1]-float64(T[i][1]))
	}
	if mse := se / float64(2*len(X)); mse > 0.1 {
		t.Errorf("mse %.3f", mse)
	}
}

func TestPredictBatchMatchesPredict(t *testing.T) {
	X, Y := blobs(50, 12, 3, 5)
	m, err := Train(context.Background(), X, Y, Softmax, Config{Hidden: 16, Epochs: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	batch := m.PredictBatch(X[:7])
	for i, p := range batch {
		q := m.Predict(X[i])
		for k := range p {
			if d := p[k] - q[k]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("example %d label %d: batch %v single %v", i, k, p[k], q[k])
			}
		}
	}
}
