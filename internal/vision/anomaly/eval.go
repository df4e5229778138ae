package anomaly

import (
	"context"
	"math"
)

// ImageResult is one evaluated image.
type ImageResult struct {
	Name       string  `json:"name"`
	Anomalous  bool    `json:"anomalous"` // ground truth
	Score      float64 `json:"score"`
	Predicted  bool    `json:"predicted"`
	Confidence float64 `json:"confidence"`
	// IoU of the predicted vs. true defect pixels (all classes together),
	// for images with a true mask evaluated by a segmentation model; NaN
	// otherwise.
	IoU float64 `json:"iou"`
}

// Evaluation summarises a model on a labelled set.
type Evaluation struct {
	Threshold float64 `json:"threshold"`
	Counts
	F1        float64       `json:"f1"`
	Precision float64       `json:"precision"`
	Recall    float64       `json:"recall"`
	Accuracy  float64       `json:"accuracy"`
	AUROC     float64       `json:"auroc"`    // NaN without both classes
	MeanIoU   float64       `json:"mean_iou"` // over images with a true mask; NaN if none
	Images    []ImageResult `json:"images"`
}

func (e *Evaluation) add(r ImageResult) {
	e.Images = append(e.Images, r)
}

func (e *Evaluation) finish(thr float64) {
	e.Threshold = thr
	scores := make([]float64, len(e.Images))
	labels := make([]bool, len(e.Images))
	var iou float64
	var n int
	for i, r := range e.Images {
		scores[i], labels[i] = r.Score, r.Anomalous
		if !math.IsNaN(r.IoU) {
			iou += r.IoU
			n++
		}
	}
	e.Counts = CountAt(scores, labels, thr)
	e.F1, e.Precision, e.Recall, e.Accuracy = e.Counts.F1(), e.Counts.Precision(), e.Counts.Recall(), e.Counts.Accuracy()
	e.AUROC = AUROC(scores, labels)
	e.MeanIoU = math.NaN()
	if n > 0 {
		e.MeanIoU = iou / float64(n)
	}
}

// Evaluate runs Detect on labelled examples (e.g. a test dataset) and
// summarises the decisions at the model's threshold. For a segmentation
// model, examples with a Mask also get the IoU of the predicted defect
// pixels with the true ones.
func (m *Model) Evaluate(ctx context.Context, exs []Example) (*Evaluation, error) {
	ev := &Evaluation{}
	for i := range exs {
		img, err := exs[i].decoded()
		if err != nil {
			return nil, err
		}
		r, err := m.Detect(ctx, img)
		if err != nil {
			if se, ok := err.(*ImageSizeError); ok {
				se.Name = exs[i].Name
			}
			return nil, err
		}
		ir := ImageResult{Name: exs[i].Name, Anomalous: exs[i].Anomalous, Score: r.Score, Predicted: r.IsAnomalous, Confidence: r.Confidence, IoU: math.NaN()}
		if m.meta.Segmentation && exs[i].Mask != nil {
			ir.IoU = IoU(predictedDefects(r.Mask), DefectMask(exs[i].Mask, exs[i].ColorMap, m.meta.ImageWidth, m.meta.ImageHeight))
		}
		ev.Images = append(ev.Images, ir)
	}
	ev.finish(m.meta.Threshold)
	return ev, nil
}
