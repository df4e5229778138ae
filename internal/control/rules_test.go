package control

import (
	"context"
	"testing"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// The state rules of Custom Labels resources, checked through the control
// plane on SQLite (the job world of jobs_test.go: one resource of each
// kind in progress and one finished). Each refusal must leave the stored
// resource as it was.
func TestStateRules(t *testing.T) {
	w := newJobWorld(t)
	ctx := context.Background()
	const account, other = "111111111111", "222222222222"
	cases := []struct {
		name string
		call func() error
		want ocellus.Kind // -1: allowed
	}{
		{"delete a training version", func() error { _, err := w.c.DeleteProjectVersion(ctx, account, w.training.ARN); return err }, ocellus.InUse},
		{"delete a copying version", func() error { _, err := w.c.DeleteProjectVersion(ctx, account, w.copying.ARN); return err }, ocellus.InUse},
		{"start a training version", func() error { _, err := w.c.StartProjectVersion(ctx, account, w.training.ARN, 1, 1); return err }, ocellus.InUse},
		{"start with max below min", func() error { _, err := w.c.StartProjectVersion(ctx, account, w.trained.ARN, 2, 1); return err }, ocellus.Invalid},
		{"stop a version that is not running", func() error { _, err := w.c.StopProjectVersion(ctx, account, w.trained.ARN); return err }, ocellus.InUse},
		{"another account's version", func() error { _, err := w.c.DeleteProjectVersion(ctx, other, w.trained.ARN); return err }, ocellus.AccessDenied},
		{"delete a project with versions", func() error { _, err := w.c.DeleteProject(ctx, account, w.training.ProjectARN); return err }, ocellus.InUse},
		{"update an importing dataset", func() error { return w.c.UpdateDatasetEntries(ctx, account, w.importing.ARN, []byte(`{}`)) }, ocellus.InUse},
		{"update an updating dataset", func() error { return w.c.UpdateDatasetEntries(ctx, account, w.updating.ARN, []byte(`{}`)) }, ocellus.InUse},
		{"delete an importing dataset", func() error { return w.c.DeleteDataset(ctx, account, w.importing.ARN) }, ocellus.InUse},
		{"delete an updating dataset", func() error { return w.c.DeleteDataset(ctx, account, w.updating.ARN) }, ocellus.InUse},
		{"distribute while in progress", func() error {
			return w.c.DistributeDatasetEntries(ctx, account, []string{w.importing.ARN, w.updating.ARN})
		}, ocellus.NotReady},
		{"distribute one dataset", func() error { return w.c.DistributeDatasetEntries(ctx, account, []string{w.complete.ARN}) }, ocellus.Invalid},
		{"another account's dataset", func() error { return w.c.DeleteDataset(ctx, other, w.complete.ARN) }, ocellus.AccessDenied},
		{"delete a trained version", func() error { _, err := w.c.DeleteProjectVersion(ctx, account, w.trained.ARN); return err }, -1},
		{"delete a complete dataset", func() error { return w.c.DeleteDataset(ctx, account, w.complete.ARN) }, -1},
	}
	for _, c := range cases {
		before := snapshot(t, w)
		err := c.call()
		switch {
		case c.want < 0 && err != nil:
			t.Errorf("%s: %v, want it allowed", c.name, err)
		case c.want >= 0 && err == nil:
			t.Errorf("%s: allowed, want %v", c.name, c.want)
		case c.want >= 0 && ocellus.KindOf(err) != c.want:
			t.Errorf("%s: %v (%v), want %v", c.name, err, ocellus.KindOf(err), c.want)
		case c.want >= 0:
			if after := snapshot(t, w); after != before {
				t.Errorf("%s: refused but the stored state changed:\n%s\n%s", c.name, before, after)
			}
		}
	}
	// What was allowed took effect.
	if _, err := w.st.Version(ctx, w.trained.ARN); ocellus.KindOf(err) != ocellus.NotFound {
		t.Errorf("deleted version still readable: %v", err)
	}
	if _, err := w.st.Dataset(ctx, w.complete.ARN); ocellus.KindOf(err) != ocellus.NotFound {
		t.Errorf("deleted dataset still readable: %v", err)
	}
}

// snapshot is the stored status of every resource of the job world.
func snapshot(t *testing.T, w *jobWorld) string {
	t.Helper()
	ctx := context.Background()
	s := ""
	for _, v := range []*ocellus.ProjectVersion{w.training, w.copying, w.trained} {
		got, err := w.st.Version(ctx, v.ARN)
		if err != nil {
			s += v.Name + ":gone "
			continue
		}
		s += v.Name + ":" + string(got.Status) + " "
	}
	for _, d := range []*ocellus.Dataset{w.importing, w.updating, w.complete} {
		got, err := w.st.Dataset(ctx, d.ARN)
		if err != nil {
			s += string(d.Type) + ":gone "
			continue
		}
		s += string(d.Type) + ":" + string(got.Status) + " "
	}
	return s
}
