// Package eval computes the quality figures Rekognition Custom Labels
// reports: precision, recall and F1 per label at an F1-maximising threshold,
// their averages, the confusion matrix of classification models, average
// precision at IoU 0.5 for detection, and the evaluation-summary JSON.
package eval

import (
	"math"
	"sort"
)

// LabelMetrics are one label's results on the test set.
type LabelMetrics struct {
	Label      string  `json:"label"`
	TestImages int     `json:"testImages"` // test images carrying the label
	Threshold  float64 `json:"threshold"`  // confidence 0-100
	Precision  float64 `json:"precision"`
	Recall     float64 `json:"recall"`
	F1         float64 `json:"f1"`
	AP         float64 `json:"ap"` // average precision (IoU 0.5 for detection)
}

// Report is the evaluation of a model on its test set.
type Report struct {
	Labels     []LabelMetrics `json:"labels"`
	Precision  float64        `json:"precision"` // macro averages over labels
	Recall     float64        `json:"recall"`
	F1         float64        `json:"f1"`
	MAP        float64        `json:"map"`
	Accuracy   float64        `json:"accuracy,omitempty"`  // top-1, single-label classification
	Confusion  [][]int        `json:"confusion,omitempty"` // [truth][predicted]
	TestImages int            `json:"testImages"`
}

// Scored is one prediction of one label: its score and whether it is right.
type Scored struct {
	Score float64
	True  bool
}

// BestF1 sweeps the threshold over the scores (a prediction counts when
// score >= threshold) and returns the F1-maximising threshold with its
// precision, recall and F1. positives is the number of ground-truth
// instances (it can exceed the true predictions, e.g. missed boxes). Ties
// keep the highest threshold. The threshold sits midway between the last
// admitted score and the next lower one, so it admits exactly the same test
// predictions while leaving new images the widest margin on both sides (a
// threshold at the lowest admitted score rejects about one new positive in
// every n+1). With no true prediction the threshold is the maximum score (or
// 0.5) and the figures are 0.
func BestF1(s []Scored, positives int) (thr, p, r, f1 float64) {
	sorted := append([]Scored(nil), s...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Score > sorted[j].Score })
	thr = 0.5
	if len(sorted) > 0 {
		thr = sorted[0].Score
	}
	tp := 0
	for i := 0; i < len(sorted); i++ {
		if sorted[i].True {
			tp++
		}
		if i+1 < len(sorted) && sorted[i+1].Score == sorted[i].Score {
			continue // a threshold admits every tied score
		}
		if tp == 0 || positives == 0 {
			continue
		}
		pp := float64(tp) / float64(i+1)
		rr := float64(tp) / float64(positives)
		ff := 2 * pp * rr / (pp + rr)
		if ff > f1 {
			thr, p, r, f1 = sorted[i].Score, pp, rr, ff
			if i+1 < len(sorted) {
				if mid := (sorted[i].Score + sorted[i+1].Score) / 2; mid > sorted[i+1].Score {
					thr = mid
				}
			}
		}
	}
	return thr, p, r, f1
}

// AveragePrecision is the area under the precision-recall curve with
// all-point interpolation (PASCAL VOC 2010+ / COCO style, without
// recall sampling).
func AveragePrecision(s []Scored, positives int) float64 {
	if positives == 0 {
		return 0
	}
	sorted := append([]Scored(nil), s...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Score > sorted[j].Score })
	prec := make([]float64, len(sorted))
	rec := make([]float64, len(sorted))
	tp := 0
	for i, x := range sorted {
		if x.True {
			tp++
		}
		prec[i] = float64(tp) / float64(i+1)
		rec[i] = float64(tp) / float64(positives)
	}
	for i := len(prec) - 2; i >= 0; i-- {
		prec[i] = math.Max(prec[i], prec[i+1])
	}
	var ap, prevR float64
	for i := range sorted {
		if rec[i] > prevR {
			ap += (rec[i] - prevR) * prec[i]
			prevR = rec[i]
		}
	}
	return ap
}

// Classification evaluates label probabilities probs[image][label] (0-1)
// against truth[image][label]. single marks single-label models (accuracy
// and confusion matrix by arg-max).
func Classification(labels []string, probs [][]float64, truth [][]bool, single bool) *Report {
	rep := &Report{TestImages: len(probs)}
	for k, name := range labels {
		var s []Scored
		pos := 0
		for i := range probs {
			s = append(s, Scored{probs[i][k], truth[i][k]})
			if truth[i][k] {
				pos++
			}
		}
		thr, p, r, f1 := BestF1(s, pos)
		rep.Labels = append(rep.Labels, LabelMetrics{Label: name, TestImages: pos, Threshold: 100 * thr, Precision: p, Recall: r, F1: f1, AP: AveragePrecision(s, pos)})
	}
	rep.average()
	if single {
		rep.Confusion = make([][]int, len(labels))
		for i := range rep.Confusion {
			rep.Confusion[i] = make([]int, len(labels))
		}
		correct := 0
		for i := range probs {
			pred := argmax(probs[i])
			t := -1
			for k, v := range truth[i] {
				if v {
					t = k
					break
				}
			}
			if t < 0 {
				continue
			}
			rep.Confusion[t][pred]++
			if pred == t {
				correct++
			}
		}
		if len(probs) > 0 {
			rep.Accuracy = float64(correct) / float64(len(probs))
		}
	}
	return rep
}

func (rep *Report) average() {
	n := 0
	for _, l := range rep.Labels {
		if l.TestImages == 0 {
			continue // labels absent from the test set do not count
		}
		rep.Precision += l.Precision
		rep.Recall += l.Recall
		rep.F1 += l.F1
		rep.MAP += l.AP
		n++
	}
	if n > 0 {
		rep.Precision /= float64(n)
		rep.Recall /= float64(n)
		rep.F1 /= float64(n)
		rep.MAP /= float64(n)
	}
}

func argmax(p []float64) int {
	b := 0
	for i, v := range p {
		if v > p[b] {
			b = i
		}
	}
	return b
}

// Box is an axis-aligned box in any consistent unit.
type Box struct{ Left, Top, Width, Height float64 }

// IoU is the intersection over union of two boxes.
func IoU(a, b Box) float64 {
	x0, y0 := math.Max(a.Left, b.Left), math.Max(a.Top, b.Top)
	x1, y1 := math.Min(a.Left+a.Width, b.Left+b.Width), math.Min(a.Top+a.Height, b.Top+b.Height)
	if x1 <= x0 || y1 <= y0 {
		return 0
	}
	in := (x1 - x0) * (y1 - y0)
	return in / (a.Width*a.Height + b.Width*b.Height - in)
}

// Object is a labelled box; Score is ignored for ground truth.
type Object struct {
	Label int
	Box   Box
	Score float64
}

// Detection evaluates predicted boxes against ground truth per image: a
// prediction is true when it overlaps (IoU >= 0.5) a not yet matched
// ground-truth box of its label, greedily by descending score.
func Detection(labels []string, preds, truth [][]Object) *Report {
	rep := &Report{TestImages: len(truth)}
	scored := make([][]Scored, len(labels))
	pos := make([]int, len(labels))
	images := make([]int, len(labels))
	for i := range truth {
		seen := map[int]bool{}
		for _, g := range truth[i] {
			pos[g.Label]++
			seen[g.Label] = true
		}
		for l := range seen {
			images[l]++
		}
		var p []Object
		if i < len(preds) {
			p = append(p, preds[i]...)
		}
		sort.SliceStable(p, func(a, b int) bool { return p[a].Score > p[b].Score })
		used := make([]bool, len(truth[i]))
		for _, d := range p {
			best, bi := 0.5, -1
			for gi, g := range truth[i] {
				if used[gi] || g.Label != d.Label {
					continue
				}
				if iou := IoU(d.Box, g.Box); iou >= best {
					best, bi = iou, gi
				}
			}
			if bi >= 0 {
				used[bi] = true
			}
			scored[d.Label] = append(scored[d.Label], Scored{d.Score, bi >= 0})
		}
	}
	for k, name := range labels {
		thr, p, r, f1 := BestF1(scored[k], pos[k])
		rep.Labels = append(rep.Labels, LabelMetrics{Label: name, TestImages: images[k], Threshold: 100 * thr, Precision: p, Recall: r, F1: f1, AP: AveragePrecision(scored[k], pos[k])})
	}
	rep.average()
	return rep
}
