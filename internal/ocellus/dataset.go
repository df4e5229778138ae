package ocellus

import (
	"strconv"
	"strings"
	"time"
)

// DatasetType says what a dataset is used for.
type DatasetType string

const (
	DatasetTrain DatasetType = "TRAIN"
	DatasetTest  DatasetType = "TEST"
)

// DatasetStatus is the lifecycle state of a dataset.
type DatasetStatus string

const (
	DatasetCreateInProgress DatasetStatus = "CREATE_IN_PROGRESS"
	DatasetCreateComplete   DatasetStatus = "CREATE_COMPLETE"
	DatasetCreateFailed     DatasetStatus = "CREATE_FAILED"
	DatasetUpdateInProgress DatasetStatus = "UPDATE_IN_PROGRESS"
	DatasetUpdateComplete   DatasetStatus = "UPDATE_COMPLETE"
	DatasetUpdateFailed     DatasetStatus = "UPDATE_FAILED"
	DatasetDeleteInProgress DatasetStatus = "DELETE_IN_PROGRESS"
)

// InProgress reports whether work is running on the dataset.
func (s DatasetStatus) InProgress() bool {
	return s == DatasetCreateInProgress || s == DatasetUpdateInProgress || s == DatasetDeleteInProgress
}

// Usable reports whether the dataset's entries can be read and used.
func (s DatasetStatus) Usable() bool {
	return s == DatasetCreateComplete || s == DatasetUpdateComplete || s == DatasetUpdateFailed
}

// Status message codes.
const (
	StatusSuccess      = "SUCCESS"
	StatusServiceError = "SERVICE_ERROR"
	StatusClientError  = "CLIENT_ERROR"
)

// DatasetStats are a dataset's counts.
type DatasetStats struct {
	LabeledEntries int
	TotalEntries   int
	TotalLabels    int
	ErrorEntries   int
}

// DatasetSource is where a dataset's entries come from when it is created.
type DatasetSource struct {
	ManifestBucket  string `json:"bucket,omitempty"`
	ManifestKey     string `json:"key,omitempty"`
	ManifestVersion string `json:"version,omitempty"`
	DatasetARN      string `json:"dataset,omitempty"`
}

// Dataset is a project's training or test dataset.
type Dataset struct {
	ARN               string
	ProjectARN        string
	Account           string
	Type              DatasetType
	Status            DatasetStatus
	StatusMessage     string
	StatusMessageCode string
	Source            DatasetSource
	Stats             DatasetStats
	Created           time.Time
	Updated           time.Time
}

// DatasetARN builds a Custom Labels dataset ARN. Like version ARNs it names
// the project by name only: arn:...:project/{name}/dataset/{train|test}/{ms}.
func DatasetARN(p *Project, t DatasetType, created time.Time) string {
	a, _ := ParseARN(p.ARN)
	a.Resource = "project/" + p.Name + "/dataset/" + strings.ToLower(string(t)) + "/" + strconv.FormatInt(created.UnixMilli(), 10)
	return a.String()
}

// EntryLabel is one label used by a dataset entry, with its box count.
type EntryLabel struct {
	Name  string
	Boxes int
}

// DatasetEntry is one image of a dataset: the JSON line as
// ListDatasetEntries returns it, and what the filters need.
type DatasetEntry struct {
	SourceRef string
	Line      string
	Labeled   bool
	HasErrors bool
	Labels    []EntryLabel
}

// LabelStats are ListDatasetLabels' numbers for one label.
type LabelStats struct {
	Name             string
	EntryCount       int
	BoundingBoxCount int
}

// Message returns the status message and status message code AWS sends for
// a dataset in state s when nothing more specific is known. AWS sends both
// in every state, work in progress included, and its own examples read them
// unconditionally; the texts of the terminal states are AWS's.
func (s DatasetStatus) Message() (msg, code string) {
	switch s {
	case DatasetCreateInProgress:
		return "The dataset is being created.", StatusSuccess
	case DatasetCreateComplete:
		return "The dataset was successfully created.", StatusSuccess
	case DatasetCreateFailed:
		return "The dataset could not be created.", StatusServiceError
	case DatasetUpdateInProgress:
		return "The dataset is being updated.", StatusSuccess
	case DatasetUpdateComplete:
		return "The dataset was successfully updated.", StatusSuccess
	case DatasetUpdateFailed:
		return "The dataset could not be updated; its entries are unchanged.", StatusServiceError
	case DatasetDeleteInProgress:
		return "The dataset is being deleted.", StatusSuccess
	}
	return "The dataset is " + string(s) + ".", StatusSuccess
}

// Message returns the dataset's status message and code as the APIs send
// them: the stored ones, completed from the state's defaults where none was
// stored (a record written before messages were kept for every state).
func (d *Dataset) Message() (msg, code string) {
	msg, code = d.StatusMessage, d.StatusMessageCode
	defMsg, defCode := d.Status.Message()
	if msg == "" {
		msg = defMsg
	}
	if code == "" {
		code = defCode
	}
	return msg, code
}
