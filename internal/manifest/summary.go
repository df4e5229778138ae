package manifest

import "encoding/json"

// DatasetStatistics is one dataset's part ("training" or "testing") of the
// Custom Labels manifest summary (developer guide, "Understanding the
// manifest summary").
type DatasetStatistics struct {
	UseCase              UseCase       `json:"use_case"`
	TotalJSONLines       int           `json:"total_json_lines"`
	ValidJSONLines       int           `json:"valid_json_lines"`
	InvalidJSONLines     int           `json:"invalid_json_lines"`
	IgnoredJSONLines     int           `json:"ignored_json_lines"`
	ErrorJSONLineIndices []int         `json:"error_json_line_indices"`
	Errors               []codeMessage `json:"errors"`
}

// Statistics returns the summary's manifest-summary statistics. Line
// indices are 1-based, as in AWS's example (a 15-line testing manifest
// listing index 15).
func (s *Summary) Statistics() DatasetStatistics {
	uc := s.UseCase
	switch uc {
	case UseCaseImageLevelLabels, UseCaseObjectLocalization:
	default:
		uc = UseCaseNotDetermined // the summary knows only these three
	}
	if s.Failed() && s.Failure.Code == CodeTooManyInvalidRowsInManifest {
		uc = UseCaseNotDetermined // as in AWS's example of this failure
	}
	st := DatasetStatistics{
		UseCase: uc, TotalJSONLines: s.TotalLines, ValidJSONLines: s.ValidLines,
		InvalidJSONLines: s.InvalidLines, IgnoredJSONLines: s.IgnoredLines,
		ErrorJSONLineIndices: s.ErrorLineIndices, Errors: []codeMessage{},
	}
	if st.ErrorJSONLineIndices == nil {
		st.ErrorJSONLineIndices = []int{}
	}
	for _, e := range s.Errors {
		st.Errors = append(st.Errors, codeMessage{e.Code, e.Message})
	}
	return st
}

// MarshalManifestSummary renders this summary as the training part of a
// manifest summary file, with testing as the testing part when not nil.
// errs are the errors that span both datasets (e.g.
// ERROR_INSUFFICIENT_LABEL_OVERLAP), which the caller determines.
func (s *Summary) MarshalManifestSummary(testing *Summary, errs []Issue) ([]byte, error) {
	return MarshalManifestSummary(s, testing, errs)
}

// MarshalManifestSummary renders the ManifestSummary JSON of a training
// run: {"statistics":{"training":{...},"testing":{...}},"errors":[...]}.
// A nil summary is left out.
func MarshalManifestSummary(training, testing *Summary, errs []Issue) ([]byte, error) {
	type stats struct {
		Training *DatasetStatistics `json:"training,omitempty"`
		Testing  *DatasetStatistics `json:"testing,omitempty"`
	}
	out := struct {
		Statistics stats         `json:"statistics"`
		Errors     []codeMessage `json:"errors"`
	}{Errors: []codeMessage{}}
	if training != nil {
		st := training.Statistics()
		out.Statistics.Training = &st
	}
	if testing != nil {
		st := testing.Statistics()
		out.Statistics.Testing = &st
	}
	for _, e := range errs {
		out.Errors = append(out.Errors, codeMessage{e.Code, e.Message})
	}
	return json.Marshal(out)
}
