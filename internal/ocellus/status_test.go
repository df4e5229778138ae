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

func TestLookoutStatuses(t *testing.T) {
	all := []ModelStatus{ModelTraining, ModelTrained, ModelTrainingFailed, ModelStartingHosting, ModelHosted, ModelHostingFailed,
		ModelStoppingHosting, ModelDeleting}
	for _, s := range all {
		if msg := s.Message(); msg == "" || strings.Contains(msg, string(s)) {
			t.Errorf("%s: message %q", s, msg)
		}
		// Every state that can be reached is a known state, and a model
		// never moves to where it is.
		for _, n := range modelTransitions[s] {
			if n == s || n.Message() == "The model is "+string(n)+"." {
				t.Errorf("%s -> %s", s, n)
			}
		}
	}
	for _, c := range []struct {
		from, to ModelStatus
		ok       bool
	}{
		{ModelTraining, ModelTrained, true},
		{ModelTraining, ModelTrainingFailed, true},
		{ModelTraining, ModelStartingHosting, false}, // not trained yet
		{ModelTraining, ModelDeleting, false},        // delete once training ended
		{ModelTrained, ModelStartingHosting, true},
		{ModelHostingFailed, ModelStartingHosting, true}, // start again after a failure
		{ModelHosted, ModelStartingHosting, false},       // already hosted
		{ModelHosted, ModelDeleting, false},              // stop it first
		{ModelHosted, ModelStoppingHosting, true},
		{ModelStartingHosting, ModelStoppingHosting, true},
		{ModelTrained, ModelStoppingHosting, false}, // not hosted
		{ModelStoppingHosting, ModelTrained, true},
		{ModelTrainingFailed, ModelDeleting, true},
		{ModelDeleting, ModelTrained, false},
	} {
		if got := c.from.CanBecome(c.to); got != c.ok {
			t.Errorf("%s -> %s: %v, want %v", c.from, c.to, got, c.ok)
		}
	}
	for s, trained := range map[ModelStatus]bool{ModelTraining: false, ModelTrainingFailed: false, ModelTrained: true, ModelHosted: true,
		ModelHostingFailed: true, ModelStoppingHosting: true, ModelStartingHosting: true, ModelDeleting: false} {
		if s.Trained() != trained {
			t.Errorf("%s.Trained() = %v", s, !trained)
		}
	}
	m := &Model{Status: ModelTrained}
	if m.Message() != "Training completed successfully." {
		t.Errorf("model default: %q", m.Message())
	}
	m.StatusMessage = "The model is trained and not hosted."
	if m.Message() != m.StatusMessage {
		t.Errorf("model stored: %q", m.Message())
	}

	for _, c := range []struct {
		from, to PackagingStatus
		ok       bool
	}{
		{PackagingCreated, PackagingRunning, true},
		{PackagingCreated, PackagingSucceeded, false},
		{PackagingRunning, PackagingRunning, true}, // run again after a restart
		{PackagingRunning, PackagingSucceeded, true},
		{PackagingRunning, PackagingFailed, true},
		{PackagingSucceeded, PackagingRunning, false},
		{PackagingFailed, PackagingRunning, false},
	} {
		if got := c.from.CanBecome(c.to); got != c.ok {
			t.Errorf("%s -> %s: %v, want %v", c.from, c.to, got, c.ok)
		}
	}
	for _, s := range []PackagingStatus{PackagingCreated, PackagingRunning, PackagingSucceeded, PackagingFailed} {
		if msg := s.Message(); msg == "" || strings.Contains(msg, string(s)) {
			t.Errorf("%s: message %q", s, msg)
		}
		if s.InProgress() != (s == PackagingCreated || s == PackagingRunning) {
			t.Errorf("%s.InProgress()", s)
		}
	}
	j := &PackagingJob{Status: PackagingFailed, StatusMessage: "The model could not be packaged: no bucket."}
	if j.Message() != j.StatusMessage {
		t.Errorf("job stored: %q", j.Message())
	}
	if a := LookoutModelARN("us-east-1", "111111111111", "p", 3); a != "arn:aws:lookoutvision:us-east-1:111111111111:model/p/3" {
		t.Errorf("arn %s", a)
	}
}
