package moderation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// A Custom Moderation adapter corrects the base model for one user's
// content. For each label it learns
//
//	p = sigmoid(a·logit(base) + b + w·x)
//
// where base is the base model's probability of the label, x the frozen
// image features (standardised), and a, b, w are fitted by weighted
// logistic regression with a prior centred on the base model (a = 1,
// b = 0, w = 0). Untrained, an adapter answers what the base model
// answers; examples move it only as far as they justify. A label the base
// model cannot emit has no base term (a = 0) and an unpenalised bias: it is
// learnt from the examples alone.

// AdapterFormat is the version of the adapter encoding.
const AdapterFormat = 1

// AdapterExample is one training image.
type AdapterExample struct {
	Features []float32 // the base model's frozen features (Classify)
	// Base is the base model's probability (0..1) of each adapter label,
	// NaN where the base model cannot emit the label.
	Base   []float64
	Labels []bool // ground truth, one per adapter label
}

// AdapterConfig holds the training hyper-parameters; zero values are the
// defaults.
type AdapterConfig struct {
	Steps  int     // full-batch Adam steps, default 300
	LR     float64 // default 0.05
	Lambda float64 // strength of the prior towards the base model, default 0.02
}

func (c AdapterConfig) withDefaults() AdapterConfig {
	if c.Steps <= 0 {
		c.Steps = 300
	}
	if c.LR <= 0 {
		c.LR = 0.05
	}
	if c.Lambda <= 0 {
		c.Lambda = 0.02
	}
	return c
}

// Adapter is a trained correction of the base model.
type Adapter struct {
	Format    int           `json:"format"`
	BaseModel string        `json:"baseModel"` // the base model it was trained on
	Labels    []string      `json:"labels"`
	HasBase   []bool        `json:"hasBase"` // the base model emits the label
	Mean      []float32     `json:"mean"`
	Scale     []float32     `json:"scale"` // 1/std
	Heads     []AdapterHead `json:"heads"` // one per label
}

// AdapterHead is the correction of one label.
type AdapterHead struct {
	A float64   `json:"a"` // weight of the base model's logit
	B float64   `json:"b"`
	W []float32 `json:"w"`
}

const minProb = 1e-4

func logit(p float64) float64 {
	p = min(max(p, minProb), 1-minProb)
	return math.Log(p / (1 - p))
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// TrainAdapter fits an adapter on examples. hasBase[k] says whether the
// base model emits labels[k] (examples then carry its probability).
func TrainAdapter(ctx context.Context, baseModel string, labels []string, hasBase []bool, ex []AdapterExample, cfg AdapterConfig) (*Adapter, error) {
	cfg = cfg.withDefaults()
	if len(ex) == 0 {
		return nil, errors.New("moderation: no training images for the adapter")
	}
	if len(labels) == 0 || len(hasBase) != len(labels) {
		return nil, errors.New("moderation: the adapter has no labels")
	}
	D := len(ex[0].Features)
	for i, e := range ex {
		if len(e.Features) != D || len(e.Base) != len(labels) || len(e.Labels) != len(labels) {
			return nil, fmt.Errorf("moderation: adapter example %d has the wrong shape", i)
		}
	}
	a := &Adapter{Format: AdapterFormat, BaseModel: baseModel, Labels: labels, HasBase: hasBase,
		Mean: make([]float32, D), Scale: make([]float32, D)}
	n := float64(len(ex))
	for j := range D {
		var s, sq float64
		for _, e := range ex {
			v := float64(e.Features[j])
			s += v
			sq += v * v
		}
		mu := s / n
		a.Mean[j] = float32(mu)
		a.Scale[j] = float32(1 / math.Sqrt(max(sq/n-mu*mu, 0)+1e-6))
	}
	X := make([][]float64, len(ex))
	for i, e := range ex {
		X[i] = a.standardise(e.Features)
	}
	for k := range labels {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a.Heads = append(a.Heads, fitHead(X, ex, k, hasBase[k], cfg))
	}
	return a, nil
}

func (a *Adapter) standardise(f []float32) []float64 {
	x := make([]float64, len(a.Mean))
	for j := range x {
		x[j] = float64((f[j] - a.Mean[j]) * a.Scale[j])
	}
	return x
}

// fitHead fits label k by full-batch Adam on the class-balanced log loss
// plus the prior. Initialised at the prior's centre, so the result is
// deterministic.
func fitHead(X [][]float64, ex []AdapterExample, k int, hasBase bool, cfg AdapterConfig) AdapterHead {
	D := len(X[0])
	// Class-balanced weights: each class present carries half the loss.
	var pos float64
	for _, e := range ex {
		if e.Labels[k] {
			pos++
		}
	}
	neg := float64(len(ex)) - pos
	wPos, wNeg := 1/float64(len(ex)), 1/float64(len(ex))
	if pos > 0 && neg > 0 {
		wPos, wNeg = 0.5/pos, 0.5/neg
	}
	s := make([]float64, len(ex))
	for i, e := range ex {
		if hasBase {
			s[i] = logit(e.Base[k])
		}
	}
	// params: w[0..D), a, b
	p := make([]float64, D+2)
	if hasBase {
		p[D] = 1
	}
	g := make([]float64, D+2)
	m1 := make([]float64, D+2)
	m2 := make([]float64, D+2)
	const beta1, beta2, eps = 0.9, 0.999, 1e-8
	for step := 1; step <= cfg.Steps; step++ {
		clear(g)
		for i, x := range X {
			z := p[D]*s[i] + p[D+1]
			for j, v := range x {
				z += p[j] * v
			}
			y, w := 0.0, wNeg
			if ex[i].Labels[k] {
				y, w = 1, wPos
			}
			d := w * (sigmoid(z) - y)
			for j, v := range x {
				g[j] += d * v
			}
			g[D] += d * s[i]
			g[D+1] += d
		}
		for j := range D {
			g[j] += cfg.Lambda * p[j]
		}
		if hasBase {
			g[D] += cfg.Lambda * (p[D] - 1)
			g[D+1] += cfg.Lambda * p[D+1]
		} else {
			g[D] = 0 // no base term
		}
		lr := cfg.LR * math.Sqrt(1-math.Pow(beta2, float64(step))) / (1 - math.Pow(beta1, float64(step)))
		for j := range p {
			m1[j] = beta1*m1[j] + (1-beta1)*g[j]
			m2[j] = beta2*m2[j] + (1-beta2)*g[j]*g[j]
			p[j] -= lr * m1[j] / (math.Sqrt(m2[j]) + eps)
		}
	}
	h := AdapterHead{A: p[D], B: p[D+1], W: make([]float32, D)}
	for j := range D {
		h.W[j] = float32(p[j])
	}
	return h
}

// Predict returns the adapter's probability of each label for one image:
// its features and the base model's probability of each label (NaN where
// it has none).
func (a *Adapter) Predict(features []float32, base []float64) []float64 {
	x := a.standardise(features)
	out := make([]float64, len(a.Heads))
	for k, h := range a.Heads {
		z := h.B
		if a.HasBase[k] {
			z += h.A * logit(base[k])
		}
		for j, v := range x {
			z += float64(h.W[j]) * v
		}
		out[k] = sigmoid(z)
	}
	return out
}

// Encode serialises the adapter.
func (a *Adapter) Encode() ([]byte, error) { return json.Marshal(a) }

// DecodeAdapter reads an encoded adapter and checks its shape.
func DecodeAdapter(b []byte) (*Adapter, error) {
	var a Adapter
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("moderation: adapter: %w", err)
	}
	if a.Format != AdapterFormat {
		return nil, fmt.Errorf("moderation: adapter format %d, this server reads %d", a.Format, AdapterFormat)
	}
	D := len(a.Mean)
	if D == 0 || len(a.Scale) != D || len(a.Labels) == 0 || len(a.HasBase) != len(a.Labels) || len(a.Heads) != len(a.Labels) {
		return nil, errors.New("moderation: adapter: parameter sizes do not match")
	}
	for _, h := range a.Heads {
		if len(h.W) != D {
			return nil, errors.New("moderation: adapter: parameter sizes do not match")
		}
	}
	return &a, nil
}
