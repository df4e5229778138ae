package moderation

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// synthetic makes n images with D features: cluster c (0, 1 or 2) shifts
// feature c by +4, the rest is unit noise.
func synthetic(rng *rand.Rand, n, D, c int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		f := make([]float32, D)
		for j := range f {
			f[j] = float32(rng.NormFloat64())
		}
		f[c] += 4
		out[i] = f
	}
	return out
}

// An adapter learns a label the base model cannot emit from examples
// alone, and suppresses the base model's false positives on one kind of
// image while keeping its true positives on another.
func TestAdapterLearnsAndSuppresses(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const D = 16
	labels := []string{"Explicit", "Gambling"}
	hasBase := []bool{true, false}
	nan := math.NaN()
	// Cluster 0: cards (Gambling), base silent. Cluster 1: nuts, the base
	// model wrongly says Explicit at 0.9. Cluster 2: true Explicit, base
	// 0.9. Neutral images (cluster 3) get base 0.05.
	mk := func(n int) (ex []AdapterExample, kind []int) {
		for c := range 4 {
			for _, f := range synthetic(rng, n, D, c) {
				e := AdapterExample{Features: f, Base: []float64{0.05, nan}, Labels: []bool{false, false}}
				switch c {
				case 0:
					e.Labels[1] = true
				case 1:
					e.Base[0] = 0.9
				case 2:
					e.Base[0], e.Labels[0] = 0.9, true
				}
				ex = append(ex, e)
				kind = append(kind, c)
			}
		}
		return ex, kind
	}
	train, _ := mk(30)
	test, kind := mk(20)
	a, err := TrainAdapter(context.Background(), "test-base", labels, hasBase, train, AdapterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	wrong := map[int]int{}
	for i, e := range test {
		p := a.Predict(e.Features, e.Base)
		for k := range labels {
			if (p[k] >= 0.5) != e.Labels[k] {
				wrong[kind[i]]++
			}
		}
	}
	// 20 images a kind, 2 labels each.
	for c, n := range wrong {
		if n > 2 {
			t.Errorf("cluster %d: %d of 40 decisions wrong", c, n)
		}
	}
	if a.Heads[1].A != 0 {
		t.Errorf("a label without a base score got a base weight %g", a.Heads[1].A)
	}
}

// Where the base model is already right, the adapter stays close to it.
func TestAdapterKeepsACorrectBase(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const D = 8
	var ex []AdapterExample
	for i := range 60 {
		f := make([]float32, D)
		for j := range f {
			f[j] = float32(rng.NormFloat64())
		}
		pos := i%2 == 0
		b := 0.1
		if pos {
			b = 0.9
		}
		ex = append(ex, AdapterExample{Features: f, Base: []float64{b}, Labels: []bool{pos}})
	}
	a, err := TrainAdapter(context.Background(), "test-base", []string{"Explicit"}, []bool{true}, ex, AdapterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ex {
		p := a.Predict(e.Features, e.Base)[0]
		if (p >= 0.5) != e.Labels[0] {
			t.Fatalf("base %.2f, adapter %.2f, truth %v", e.Base[0], p, e.Labels[0])
		}
	}
	if h := a.Heads[0]; h.A < 0.5 {
		t.Errorf("base weight %g: the adapter dropped a base model that was right", h.A)
	}
}

func TestAdapterEncodeDecode(t *testing.T) {
	ex := []AdapterExample{
		{Features: []float32{1, 2}, Base: []float64{0.2, math.NaN()}, Labels: []bool{false, true}},
		{Features: []float32{2, 0}, Base: []float64{0.7, math.NaN()}, Labels: []bool{true, false}},
	}
	a, err := TrainAdapter(context.Background(), "b", []string{"Explicit", "Gambling"}, []bool{true, false}, ex, AdapterConfig{Steps: 5})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeAdapter(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("decoded adapter differs:\n%+v\n%+v", a, b)
	}
	if got, want := b.Predict(ex[0].Features, ex[0].Base), a.Predict(ex[0].Features, ex[0].Base); !reflect.DeepEqual(got, want) {
		t.Fatalf("predictions differ after decoding: %v %v", got, want)
	}
	for _, bad := range []string{`{}`, `{"format":1,"mean":[1],"scale":[1],"labels":["x"],"hasBase":[true],"heads":[{"w":[1,2]}]}`, `not json`} {
		if _, err := DecodeAdapter([]byte(bad)); err == nil {
			t.Errorf("DecodeAdapter(%s) accepted", bad)
		}
	}
	if _, err := TrainAdapter(context.Background(), "b", []string{"x"}, []bool{true}, nil, AdapterConfig{}); err == nil {
		t.Error("trained on no examples")
	}
}
