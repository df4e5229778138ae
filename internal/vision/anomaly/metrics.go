package anomaly

import (
	"math"
	"slices"
)

// AUROC is the area under the ROC curve of scores for the positive
// (anomalous) labels: the probability that a random anomalous example
// scores higher than a random normal one, ties counting one half. It is
// NaN when either class is missing.
func AUROC(scores []float64, positive []bool) float64 {
	type sp struct {
		s float64
		p bool
	}
	v := make([]sp, len(scores))
	var np, nn float64
	for i, s := range scores {
		v[i] = sp{s, positive[i]}
		if positive[i] {
			np++
		} else {
			nn++
		}
	}
	if np == 0 || nn == 0 {
		return math.NaN()
	}
	slices.SortFunc(v, func(a, b sp) int {
		switch {
		case a.s < b.s:
			return -1
		case a.s > b.s:
			return 1
		}
		return 0
	})
	// Mann-Whitney U with average ranks for ties.
	var rankSum float64
	for i := 0; i < len(v); {
		j := i
		for j < len(v) && v[j].s == v[i].s {
			j++
		}
		r := float64(i+j+1) / 2 // ranks i+1..j averaged
		for k := i; k < j; k++ {
			if v[k].p {
				rankSum += r
			}
		}
		i = j
	}
	return (rankSum - np*(np+1)/2) / (np * nn)
}

// Counts are the confusion counts of a binary decision.
type Counts struct{ TP, FP, TN, FN int }

// Precision is TP/(TP+FP), 0 when nothing was predicted positive.
func (c Counts) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP/(TP+FN), 0 when there are no positives.
func (c Counts) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// F1 is the harmonic mean of precision and recall.
func (c Counts) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN) }

// Accuracy is the fraction of correct decisions.
func (c Counts) Accuracy() float64 { return ratio(c.TP+c.TN, c.TP+c.TN+c.FP+c.FN) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// CountAt counts the decisions "anomalous if score >= threshold".
func CountAt(scores []float64, positive []bool, threshold float64) Counts {
	var c Counts
	for i, s := range scores {
		switch pred := s >= threshold; {
		case pred && positive[i]:
			c.TP++
		case pred:
			c.FP++
		case positive[i]:
			c.FN++
		default:
			c.TN++
		}
	}
	return c
}

// BestF1Threshold returns the threshold maximising F1 of "anomalous if
// score >= threshold". Candidates are the midpoints between consecutive
// distinct scores (and one below the lowest), so the chosen threshold sits
// in the middle of the gap it separates; among equal F1 the higher
// threshold (fewer false alarms) wins. ok is false when there is no
// positive example.
func BestF1Threshold(scores []float64, positive []bool) (threshold float64, c Counts, ok bool) {
	u := slices.Clone(scores)
	slices.Sort(u)
	u = slices.Compact(u)
	hasPos := slices.Contains(positive, true)
	if !hasPos || len(u) == 0 {
		return 0, Counts{}, false
	}
	cands := make([]float64, 0, len(u))
	lo := u[0] - max(1e-6, math.Abs(u[0])*1e-3)
	if len(u) > 1 {
		lo = u[0] - (u[1]-u[0])/2
	}
	cands = append(cands, lo)
	for i := 1; i < len(u); i++ {
		cands = append(cands, (u[i-1]+u[i])/2)
	}
	bestF := -1.0
	for _, t := range cands {
		cc := CountAt(scores, positive, t)
		if f := cc.F1(); f >= bestF {
			bestF, threshold, c = f, t, cc
		}
	}
	return threshold, c, true
}

// IoU is the intersection over union of two equal-length boolean masks
// (1 when both are empty).
func IoU(pred, truth []bool) float64 {
	var inter, union int
	for i, p := range pred {
		t := truth[i]
		if p && t {
			inter++
		}
		if p || t {
			union++
		}
	}
	if union == 0 {
		return 1
	}
	return float64(inter) / float64(union)
}
