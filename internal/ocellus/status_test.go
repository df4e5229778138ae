package ocellus

import (
	"strings"
	"testing"
)

func TestStatusMessages(t *testing.T) {
	for _, s := range []DatasetStatus{DatasetCreateInProgress, DatasetCreateComplete, DatasetCreateFailed, DatasetUpdateInProgress,
		DatasetUpdateComplete, DatasetUpdateFailed, DatasetDeleteInProgress} {
		msg, code := s.Message()
		if msg == "" || strings.Contains(msg, string(s)) || (code != StatusSuccess && code != StatusServiceError) {
			t.Errorf("%s: message %q code %q", s, msg, code)
		}
	}
	for _, s := range []VersionStatus{VersionTrainingInProgress, VersionTrainingCompleted, VersionTrainingFailed, VersionStarting,
		VersionRunning, VersionFailed, VersionStopping, VersionStopped, VersionDeleting, VersionCopyingInProgress,
		VersionCopyingCompleted, VersionCopyingFailed} {
		if msg := s.Message(); msg == "" || strings.Contains(msg, string(s)) {
			t.Errorf("%s: message %q", s, msg)
		}
	}
	// A stored message (a failure's reason) wins; a missing code is filled.
	d := &Dataset{Status: DatasetCreateFailed, StatusMessage: "ERROR_EMPTY_MANIFEST: empty", StatusMessageCode: StatusClientError}
	if m, c := d.Message(); m != d.StatusMessage || c != StatusClientError {
		t.Errorf("stored: %q %q", m, c)
	}
	d = &Dataset{Status: DatasetUpdateInProgress}
	if m, c := d.Message(); m != "The dataset is being updated." || c != StatusSuccess {
		t.Errorf("default: %q %q", m, c)
	}
	v := &ProjectVersion{Status: VersionTrainingInProgress}
	if v.Message() != "The model is being trained." {
		t.Errorf("version default: %q", v.Message())
	}
	v.StatusMessage = "The model could not be trained: no labels."
	if v.Message() != v.StatusMessage {
		t.Errorf("version stored: %q", v.Message())
	}
}
