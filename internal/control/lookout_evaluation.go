package control

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
)

// The two files AWS writes to a Lookout for Vision model's output location
// after training: the evaluation manifest and the evaluation result.

// writeEvaluation writes the evaluation manifest (one JSON line per
// evaluated image with the model's answer) and the evaluation result
// (metrics, threshold, per-image scores) to the model's output location.
func (l *Lookout) writeEvaluation(ctx context.Context, m *ocellus.Model, p *ocellus.Project, ev *anomaly.Evaluation, meta anomaly.Meta, end time.Time, nTrain, nTest int, excluded []badImage) error {
	base := m.OutputPrefix + p.Name + "/model/" + strconv.Itoa(m.Version) + "/"
	var man bytes.Buffer
	for _, r := range ev.Images {
		class, truth := "normal", "normal"
		if r.Predicted {
			class = "anomaly"
		}
		if r.Anomalous {
			truth = "anomaly"
		}
		line := map[string]any{
			"source-ref":    r.Name,
			"anomaly-label": map[bool]int{true: 1, false: 0}[r.Anomalous],
			"anomaly-label-metadata": map[string]any{
				"class-name": truth, "type": "groundtruth/image-classification",
			},
			"anomaly-label-detected": map[bool]int{true: 1, false: 0}[r.Predicted],
			"anomaly-label-detected-metadata": map[string]any{
				"class-name": class, "confidence": r.Confidence, "score": r.Score,
				"type": "groundtruth/image-classification", "creation-date": end.Format("2006-01-02T15:04:05.000"),
			},
		}
		b, _ := json.Marshal(line)
		man.Write(b)
		man.WriteByte('\n')
	}
	calib := "held-out part of the train dataset"
	if nTest > 0 {
		calib = "test dataset"
	}
	result := map[string]any{
		"Version": 1,
		"EvaluationDetails": map[string]any{
			"ModelArn": m.ARN, "EvaluationEndTimestamp": end.Format(time.RFC3339Nano),
			"NumberOfTrainingImages": nTrain, "NumberOfTestingImages": len(ev.Images), "EvaluatedOn": calib,
		},
		"Performance": map[string]any{
			"F1Score": finite(ev.F1), "Recall": finite(ev.Recall), "Precision": finite(ev.Precision),
			"Accuracy": finite(ev.Accuracy), "AUROC": finite(ev.AUROC),
			"ConfusionMatrix": map[string]int{"TruePositive": ev.TP, "FalsePositive": ev.FP, "TrueNegative": ev.TN, "FalseNegative": ev.FN},
		},
		"Threshold": meta.Threshold,
		"Backbone":  meta.Backbone,
		"Segmentation": map[string]any{
			"Enabled": meta.Segmentation, "Classes": meta.Classes,
		},
		// The images left out because they cannot be decoded.
		"ExcludedImages": append([]badImage{}, excluded...),
	}
	rb, _ := json.MarshalIndent(result, "", "  ")
	m.EvaluationManifest = base + "EvaluationManifest.json"
	m.EvaluationResult = base + "EvaluationResult.json"
	if err := l.c.blobs.Put(ctx, m.Account, m.OutputBucket, m.EvaluationManifest, "application/json", bytes.NewReader(man.Bytes())); err != nil {
		return failf("The evaluation could not be written to s3://%s/%s: %s", m.OutputBucket, m.EvaluationManifest, ocellus.MessageOf(err))
	}
	if err := l.c.blobs.Put(ctx, m.Account, m.OutputBucket, m.EvaluationResult, "application/json", bytes.NewReader(rb)); err != nil {
		return failf("The evaluation could not be written to s3://%s/%s: %s", m.OutputBucket, m.EvaluationResult, ocellus.MessageOf(err))
	}
	return nil
}
