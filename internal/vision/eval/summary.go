package eval

import (
	"encoding/json"
	"time"
)

// SummaryInput is what the evaluation summary needs besides the report.
type SummaryInput struct {
	ProjectVersionArn string
	End               time.Time
	TrainingImages    int
	Detection         bool
}

// Summary is the Custom Labels evaluation-summary document
// (EvaluationResultSummary-*.json).
type Summary struct {
	Version                     int                 `json:"Version"`
	EvaluationDetails           SummaryDetails      `json:"EvaluationDetails"`
	AggregatedEvaluationResults SummaryAggregated   `json:"AggregatedEvaluationResults"`
	LabelEvaluationResults      []SummaryLabelEntry `json:"LabelEvaluationResults"`
}

// SummaryDetails describes the evaluation run.
type SummaryDetails struct {
	ProjectVersionArn      string   `json:"ProjectVersionArn"`
	EvaluationEndTimestamp string   `json:"EvaluationEndTimestamp"`
	Labels                 []string `json:"Labels"`
	NumberOfTrainingImages int      `json:"NumberOfTrainingImages"`
	NumberOfTestingImages  int      `json:"NumberOfTestingImages"`
}

// SummaryAggregated holds the model-level metrics.
type SummaryAggregated struct {
	Metrics SummaryMetrics `json:"Metrics"`
}

// SummaryMetrics are the aggregated metrics.
type SummaryMetrics struct {
	Precision        float64         `json:"Precision"`
	Recall           float64         `json:"Recall"`
	F1Score          float64         `json:"F1Score"`
	AveragePrecision *float64        `json:"AveragePrecision,omitempty"`
	AverageRecall    *float64        `json:"AverageRecall,omitempty"`
	ConfusionMatrix  []ConfusionCell `json:"ConfusionMatrix,omitempty"`
}

// ConfusionCell is one cell of the confusion matrix.
type ConfusionCell struct {
	GroundTruthLabel string `json:"GroundTruthLabel"`
	PredictedLabel   string `json:"PredictedLabel"`
	Value            int    `json:"Value"`
}

// SummaryLabelEntry is one label's result.
type SummaryLabelEntry struct {
	Label                 string             `json:"Label"`
	NumberOfTestingImages int                `json:"NumberOfTestingImages"`
	Metrics               SummaryLabelMetric `json:"Metrics"`
}

// SummaryLabelMetric holds a label's threshold (0-1, as AWS writes it;
// DetectCustomLabels applies it as a 0-100 confidence) and metrics.
type SummaryLabelMetric struct {
	Threshold float64 `json:"Threshold"`
	Precision float64 `json:"Precision"`
	Recall    float64 `json:"Recall"`
	F1Score   float64 `json:"F1Score"`
}

// NewSummary builds the summary document of a report.
func NewSummary(rep *Report, in SummaryInput) *Summary {
	s := &Summary{Version: 1}
	s.EvaluationDetails = SummaryDetails{
		ProjectVersionArn:      in.ProjectVersionArn,
		EvaluationEndTimestamp: in.End.UTC().Format("2006-01-02T15:04:05.000Z"),
		NumberOfTrainingImages: in.TrainingImages,
		NumberOfTestingImages:  rep.TestImages,
		Labels:                 []string{},
	}
	m := SummaryMetrics{Precision: rep.Precision, Recall: rep.Recall, F1Score: rep.F1}
	if in.Detection {
		ap, ar := rep.MAP, rep.Recall
		m.AveragePrecision, m.AverageRecall = &ap, &ar
	}
	for t, row := range rep.Confusion {
		for p, v := range row {
			m.ConfusionMatrix = append(m.ConfusionMatrix, ConfusionCell{rep.Labels[t].Label, rep.Labels[p].Label, v})
		}
	}
	s.AggregatedEvaluationResults.Metrics = m
	s.LabelEvaluationResults = []SummaryLabelEntry{}
	for _, l := range rep.Labels {
		s.EvaluationDetails.Labels = append(s.EvaluationDetails.Labels, l.Label)
		s.LabelEvaluationResults = append(s.LabelEvaluationResults, SummaryLabelEntry{
			Label: l.Label, NumberOfTestingImages: l.TestImages,
			Metrics: SummaryLabelMetric{Threshold: l.Threshold / 100, Precision: l.Precision, Recall: l.Recall, F1Score: l.F1},
		})
	}
	return s
}

// JSON returns the indented document.
func (s *Summary) JSON() []byte {
	b, _ := json.MarshalIndent(s, "", "  ")
	return b
}
