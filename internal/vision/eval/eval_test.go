package eval

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestBestF1AndAP(t *testing.T) {
	// Four predictions, three positives (one never predicted).
	s := []Scored{{0.6, false}, {0.9, true}, {0.7, true}, {0.8, false}}
	thr, p, r, f1 := BestF1(s, 3)
	// Thresholds 0.9: P 1 R 1/3 F .5; 0.8: P .5 R 1/3 F .4;
	// 0.7: P 2/3 R 2/3 F 2/3; 0.6: P .5 R 2/3 F 4/7. The cut sits midway
	// between 0.7 and 0.6.
	if !near(thr, 0.65) || !near(p, 2.0/3) || !near(r, 2.0/3) || !near(f1, 2.0/3) {
		t.Errorf("BestF1 = %v %v %v %v", thr, p, r, f1)
	}
	// Interpolated precision at recall 1/3 is 1, at 2/3 is 2/3: AP = 1/3 + 2/9.
	if ap := AveragePrecision(s, 3); !near(ap, 5.0/9) {
		t.Errorf("AP = %v, want 5/9", ap)
	}
	if ap := AveragePrecision(nil, 0); ap != 0 {
		t.Errorf("AP with no positives = %v", ap)
	}
}

func TestBestF1Ties(t *testing.T) {
	// Tied scores are admitted together: threshold 0.5 takes both.
	thr, p, r, _ := BestF1([]Scored{{0.5, true}, {0.5, false}}, 1)
	if !near(thr, 0.5) || !near(p, 0.5) || !near(r, 1) {
		t.Errorf("got %v %v %v", thr, p, r)
	}
}

func TestClassification(t *testing.T) {
	probs := [][]float64{{0.9, 0.1}, {0.4, 0.6}, {0.3, 0.7}}
	truth := [][]bool{{true, false}, {true, false}, {false, true}}
	rep := Classification([]string{"a", "b"}, probs, truth, true)
	if !near(rep.Accuracy, 2.0/3) {
		t.Errorf("accuracy %v", rep.Accuracy)
	}
	want := [][]int{{1, 1}, {0, 1}}
	for i := range want {
		for j := range want[i] {
			if rep.Confusion[i][j] != want[i][j] {
				t.Fatalf("confusion %v, want %v", rep.Confusion, want)
			}
		}
	}
	// Label a: scores .9(T) .4(T) .3(F): best cut between .4 and .3, P 1 R 1 F1 1.
	a := rep.Labels[0]
	if !near(a.Threshold, 35) || !near(a.F1, 1) || a.TestImages != 2 {
		t.Errorf("label a: %+v", a)
	}
	// Label b: scores .7(T) .6(F) .1(F): cut between .7 and .6, F1 1.
	if b := rep.Labels[1]; !near(b.Threshold, 65) || !near(b.F1, 1) {
		t.Errorf("label b: %+v", b)
	}
	if !near(rep.F1, 1) {
		t.Errorf("macro F1 %v", rep.F1)
	}
}

func TestIoU(t *testing.T) {
	if v := IoU(Box{0, 0, 2, 2}, Box{1, 1, 2, 2}); !near(v, 1.0/7) {
		t.Errorf("IoU = %v, want 1/7", v)
	}
	if v := IoU(Box{0, 0, 1, 1}, Box{2, 2, 1, 1}); v != 0 {
		t.Errorf("disjoint IoU = %v", v)
	}
}

func TestDetection(t *testing.T) {
	truth := [][]Object{{{Label: 0, Box: Box{0, 0, 10, 10}}, {Label: 0, Box: Box{20, 20, 10, 10}}}}
	preds := [][]Object{{
		{Label: 0, Box: Box{0, 0, 10, 10}, Score: 0.9},   // true
		{Label: 0, Box: Box{1, 1, 10, 10}, Score: 0.8},   // duplicate: false
		{Label: 0, Box: Box{20, 22, 10, 10}, Score: 0.6}, // IoU 80/120: true
		{Label: 1, Box: Box{0, 0, 10, 10}, Score: 0.7},   // label absent from truth
	}}
	rep := Detection([]string{"a", "b"}, preds, truth)
	a := rep.Labels[0]
	// Ranked: T F T -> precision 1, .5, 2/3; recall .5, .5, 1.
	// AP = .5*1 + .5*(2/3) = 5/6; best F1 at .6 (P 2/3 R 1 F .8).
	if !near(a.AP, 5.0/6) || !near(a.F1, 0.8) || !near(a.Threshold, 60) {
		t.Errorf("label a: %+v", a)
	}
	if !near(rep.MAP, 5.0/6) { // label b has no test images and does not count
		t.Errorf("mAP %v", rep.MAP)
	}
}

func TestSummaryJSON(t *testing.T) {
	rep := Classification([]string{"a", "b"}, [][]float64{{0.9, 0.1}, {0.2, 0.8}}, [][]bool{{true, false}, {false, true}}, true)
	s := NewSummary(rep, SummaryInput{ProjectVersionArn: "arn:x", End: time.Unix(0, 0), TrainingImages: 7})
	var doc map[string]any
	if err := json.Unmarshal(s.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	d := doc["EvaluationDetails"].(map[string]any)
	if d["NumberOfTrainingImages"].(float64) != 7 || d["NumberOfTestingImages"].(float64) != 2 || d["EvaluationEndTimestamp"] != "1970-01-01T00:00:00.000Z" {
		t.Errorf("details %v", d)
	}
	m := doc["AggregatedEvaluationResults"].(map[string]any)["Metrics"].(map[string]any)
	if m["F1Score"].(float64) != 1 || len(m["ConfusionMatrix"].([]any)) != 4 {
		t.Errorf("metrics %v", m)
	}
	if _, ok := m["AveragePrecision"]; ok {
		t.Error("AveragePrecision set for classification")
	}
	l := doc["LabelEvaluationResults"].([]any)[0].(map[string]any)
	if l["Label"] != "a" || !near(l["Metrics"].(map[string]any)["Threshold"].(float64), 0.55) { // midway between 0.9 and 0.2
		t.Errorf("label %v", l)
	}
}
