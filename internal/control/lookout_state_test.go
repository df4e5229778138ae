package control

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store/sqlite"
)

// TestLookoutModelStateRules: which operations a Lookout for Vision model
// allows in each state, and the error kind (ConflictException on the
// wire) otherwise. The models are written to the store directly; no
// training or S3 is involved.
func TestLookoutModelStateRules(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := New(st, nil, Config{DataDir: dir})
	defer c.Close()
	l := NewLookout(c, LookoutConfig{})
	defer l.Close()
	const acct = "111111111111"
	p, err := l.CreateLookoutProject(ctx, acct, "rules")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(s ocellus.ModelStatus) string {
		m := &ocellus.Model{ProjectARN: p.ARN, Account: acct, Status: s, Created: time.Now()}
		if err := st.CreateLookoutModel(ctx, m, func(v int) string { return ocellus.LookoutModelARN(c.region, acct, "rules", v) }); err != nil {
			t.Fatal(err)
		}
		return strconv.Itoa(m.Version)
	}
	kind := func(err error) string {
		if err == nil {
			return "ok"
		}
		if k := ocellus.KindOf(err); k == ocellus.InUse {
			return "in use"
		}
		return err.Error()
	}
	for _, c := range []struct {
		status                 ocellus.ModelStatus
		stop, delete, packaged string
	}{
		{ocellus.ModelTraining, "in use", "in use", "in use"},
		{ocellus.ModelTrainingFailed, "in use", "ok", "in use"},
		{ocellus.ModelTrained, "in use", "ok", "invalid"},
		{ocellus.ModelStartingHosting, "ok", "in use", "invalid"},
		{ocellus.ModelHosted, "ok", "in use", "invalid"},
		{ocellus.ModelHostingFailed, "ok", "ok", "invalid"},
		{ocellus.ModelStoppingHosting, "in use", "in use", "invalid"},
	} {
		v := mk(c.status)
		// A trained model gets past the state rule of packaging and stops
		// at the configuration check (Invalid): the rule is the state's.
		_, err := l.StartModelPackagingJob(ctx, acct, StartPackagingInput{Project: "rules", Version: v})
		got := kind(err)
		if ocellus.KindOf(err) == ocellus.Invalid {
			got = "invalid"
		}
		if got != c.packaged {
			t.Errorf("%s: package = %s, want %s", c.status, got, c.packaged)
		}
		if _, err := l.StopLookoutModel(ctx, acct, "rules", v); kind(err) != c.stop {
			t.Errorf("%s: stop = %s, want %s", c.status, kind(err), c.stop)
		}
		// Stopping a model that is not in the pool leaves it TRAINED.
		if c.stop == "ok" {
			if m, _ := l.DescribeLookoutModel(ctx, acct, "rules", v); m.Status != ocellus.ModelTrained {
				t.Errorf("%s: after stop %s", c.status, m.Status)
			}
			continue
		}
		if _, err := l.DeleteLookoutModel(ctx, acct, "rules", v); kind(err) != c.delete {
			t.Errorf("%s: delete = %s, want %s", c.status, kind(err), c.delete)
		}
	}
	// Starting: only TRAINED and HOSTING_FAILED models; the others are
	// refused before anything is loaded.
	for _, s := range []ocellus.ModelStatus{ocellus.ModelTraining, ocellus.ModelTrainingFailed, ocellus.ModelStartingHosting, ocellus.ModelHosted, ocellus.ModelStoppingHosting} {
		if _, err := l.StartLookoutModel(ctx, acct, "rules", mk(s), 1, 1); kind(err) != "in use" {
			t.Errorf("%s: start = %v", s, err)
		}
	}
	// A TRAINED model without an artifact file fails to load: the start is
	// accepted and the pool reports HOSTING_FAILED.
	v := mk(ocellus.ModelTrained)
	if st, err := l.StartLookoutModel(ctx, acct, "rules", v, 1, 1); err != nil || st != ocellus.ModelStartingHosting {
		t.Fatalf("start trained = %s, %v", st, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		m, _ := l.DescribeLookoutModel(ctx, acct, "rules", v)
		if m.Status == ocellus.ModelHostingFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("model without artifact: %s %q", m.Status, m.Message())
		}
	}
	// Pagination tokens of another listing are refused.
	_, next, err := l.ListLookoutModels(ctx, acct, "rules", "", 2)
	if err != nil || next == "" {
		t.Fatalf("page 1: %q %v", next, err)
	}
	if _, _, err := l.ListModelPackagingJobs(ctx, acct, "rules", next, 2); ocellus.KindOf(err) != ocellus.InvalidPaginationToken {
		t.Fatalf("a models token for the jobs listing: %v", err)
	}
}
