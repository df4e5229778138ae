package control

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
	"github.com/ocellus/ocellus/internal/store/sqlite"
)

// recordQueue stores what is enqueued, unique by kind and key as River is.
type recordQueue struct{ jobs map[string][]byte }

func (q *recordQueue) Enqueue(_ context.Context, kind, key string, payload []byte) error {
	if q.jobs == nil {
		q.jobs = map[string][]byte{}
	}
	if _, ok := q.jobs[kind+" "+key]; !ok {
		q.jobs[kind+" "+key] = payload
	}
	return nil
}

func (q *recordQueue) keys() []string {
	var ks []string
	for k := range q.jobs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// jobWorld is a control plane on SQLite in a temp dir with one resource of
// each kind in progress and one of each finished.
type jobWorld struct {
	c                       *Control
	st                      store.Store
	q                       *recordQueue
	training, copying       *ocellus.ProjectVersion
	trained                 *ocellus.ProjectVersion
	importing, updating     *ocellus.Dataset
	complete                *ocellus.Dataset
	l4vTraining, l4vTrained *store.LookoutModel
	packaging, packaged     *store.PackagingJob
}

func newJobWorld(t *testing.T) *jobWorld {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &jobWorld{st: st, q: &recordQueue{}}
	w.c = New(st, nil, Config{DataDir: t.TempDir()})
	t.Cleanup(func() { w.c.Close() })
	w.c.UseQueue(w.q)
	l := NewLookout(w.c, LookoutConfig{})
	t.Cleanup(func() { l.Close() })

	now := time.UnixMilli(1_700_000_000_000).UTC()
	const account = "111111111111"
	cl := &ocellus.Project{ARN: ocellus.ProjectARN("us-east-1", account, "cl", now), Account: account, Name: "cl", Created: now}
	for _, p := range []*ocellus.Project{cl} {
		if err := st.CreateProject(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	version := func(name string, s ocellus.VersionStatus) *ocellus.ProjectVersion {
		v := &ocellus.ProjectVersion{ARN: ocellus.VersionARN(cl, name, now), ProjectARN: cl.ARN, Account: account, Name: name, Status: s, Created: now}
		if err := st.CreateVersion(ctx, v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	w.training = version("training", ocellus.VersionTrainingInProgress)
	w.copying = version("copying", ocellus.VersionCopyingInProgress)
	w.trained = version("trained", ocellus.VersionTrainingCompleted)
	dataset := func(p *ocellus.Project, typ ocellus.DatasetType, s ocellus.DatasetStatus) *ocellus.Dataset {
		d := &ocellus.Dataset{ARN: ocellus.DatasetARN(p, typ, now), ProjectARN: p.ARN, Account: account, Type: typ, Status: s, Created: now, Updated: now}
		if err := st.CreateDataset(ctx, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	w.importing = dataset(cl, ocellus.DatasetTrain, ocellus.DatasetCreateInProgress)
	w.updating = dataset(cl, ocellus.DatasetTest, ocellus.DatasetCreateComplete)
	w.updating.Status = ocellus.DatasetUpdateInProgress
	if err := st.BeginDatasetUpdate(ctx, w.updating, []byte(`{"source-ref":"s3://b/x.jpg"}`)); err != nil {
		t.Fatal(err)
	}
	other := &ocellus.Project{ARN: ocellus.ProjectARN("us-east-1", account, "other", now), Account: account, Name: "other", Created: now}
	if err := st.CreateProject(ctx, other); err != nil {
		t.Fatal(err)
	}
	w.complete = dataset(other, ocellus.DatasetTrain, ocellus.DatasetCreateComplete)

	lp := &ocellus.Project{ARN: "arn:aws:lookoutvision:us-east-1:" + account + ":project/l4v", Account: account, Name: "l4v", Service: ocellus.LookoutVision, Created: now}
	if err := st.CreateProject(ctx, lp); err != nil {
		t.Fatal(err)
	}
	model := func(status string) *store.LookoutModel {
		m := &store.LookoutModel{ProjectARN: lp.ARN, Account: account, Status: status, Message: ModelStatusMessage(status), Created: now}
		if err := st.CreateLookoutModel(ctx, m, func(v int) string { return LookoutModelARN("us-east-1", account, "l4v", v) }); err != nil {
			t.Fatal(err)
		}
		return m
	}
	w.l4vTraining, w.l4vTrained = model(ModelTraining), model(ModelTrained)
	job := func(name, status string) *store.PackagingJob {
		j := &store.PackagingJob{ProjectARN: lp.ARN, Account: account, Name: name, ModelVersion: w.l4vTrained.Version, Method: "Greengrass",
			Config: []byte(`{}`), Status: status, Message: PackagingStatusMessage(status), Created: now, Updated: now}
		if err := st.CreatePackagingJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	w.packaging, w.packaged = job("running", JobRunning), job("done", JobSucceeded)
	return w
}

// The sweep enqueues a job for every resource in progress and nothing
// else, with the keys the API calls use, so that River's uniqueness keeps
// it from doubling a job it holds.
func TestSweepEnqueuesEveryResourceInProgress(t *testing.T) {
	w := newJobWorld(t)
	if err := w.c.sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		JobCopy + " " + w.copying.ARN,
		JobImport + " " + w.importing.ARN,
		JobPackage + " " + w.packaging.ProjectARN + "/" + w.packaging.Name,
		JobTrainLookout + " " + w.l4vTraining.ARN,
		JobTrain + " " + w.training.ARN,
		JobUpdate + " " + w.updating.ARN + "@" + strconv.FormatInt(w.updating.Updated.UnixMilli(), 10),
	}
	sort.Strings(want)
	if got := w.q.keys(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("swept:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A second sweep (another restart) finds the same keys: nothing new.
	if err := w.c.sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(w.q.jobs); n != len(want) {
		t.Fatalf("second sweep: %d jobs", n)
	}
}

// Each kind's handler does nothing for a resource no longer in progress
// or gone: a job run twice, or after a deletion, changes nothing.
func TestJobHandlersLeaveFinishedResourcesAlone(t *testing.T) {
	w := newJobWorld(t)
	ctx := context.Background()
	hs := w.c.JobHandlers()
	for _, tc := range []struct{ kind, payload string }{
		{JobTrain, w.trained.ARN},
		{JobTrain, w.trained.ARN + "-gone"},
		{JobCopy, w.trained.ARN},
		{JobImport, w.complete.ARN},
		{JobImport, w.complete.ARN + "-gone"},
		{JobUpdate, w.complete.ARN},
		{JobTrainLookout, `{"project":"` + w.l4vTrained.ProjectARN + `","version":` + strconv.Itoa(w.l4vTrained.Version) + `}`},
		{JobTrainLookout, `{"project":"` + w.l4vTrained.ProjectARN + `","version":99}`},
		{JobPackage, `{"project":"` + w.packaged.ProjectARN + `","name":"done"}`},
		{JobPackage, `{"project":"` + w.packaged.ProjectARN + `","name":"gone"}`},
	} {
		if err := hs[tc.kind](ctx, []byte(tc.payload)); err != nil {
			t.Errorf("%s %s: %v", tc.kind, tc.payload, err)
		}
	}
	if v, _ := w.st.Version(ctx, w.trained.ARN); v.Status != ocellus.VersionTrainingCompleted {
		t.Errorf("trained version is now %s", v.Status)
	}
	if d, _ := w.st.Dataset(ctx, w.complete.ARN); d.Status != ocellus.DatasetCreateComplete {
		t.Errorf("complete dataset is now %s", d.Status)
	}
	if m, _ := w.st.LookoutModel(ctx, w.l4vTrained.ProjectARN, w.l4vTrained.Version); m.Status != ModelTrained {
		t.Errorf("trained model is now %s", m.Status)
	}
	if j, _ := w.st.PackagingJob(ctx, w.packaged.ProjectARN, "done"); j.Status != JobSucceeded {
		t.Errorf("finished packaging job is now %s", j.Status)
	}
	if err := hs[JobTrainLookout](ctx, []byte("not json")); err == nil {
		t.Error("a payload that is not JSON was accepted")
	}
}

// A job that failed for good leaves its resource in AWS's failure status,
// with the reason in the message; a resource already final is left alone.
func TestJobFailedEndsInTheFailureStatus(t *testing.T) {
	w := newJobWorld(t)
	ctx := context.Background()
	reason := errors.New("jobs: interrupted by process exit on every attempt")
	if err := w.c.sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for k, payload := range w.q.jobs {
		kind, key, _ := strings.Cut(k, " ")
		w.c.JobFailed(kind, key, payload, reason)
		w.c.JobFailed(kind, key, payload, errors.New("a second report")) // idempotent
	}
	check := func(what, status, want, msg string) {
		t.Helper()
		if status != want || !strings.Contains(msg, reason.Error()) {
			t.Errorf("%s: %s %q, want %s with the reason", what, status, msg, want)
		}
	}
	v, _ := w.st.Version(ctx, w.training.ARN)
	check("training version", string(v.Status), string(ocellus.VersionTrainingFailed), v.StatusMessage)
	v, _ = w.st.Version(ctx, w.copying.ARN)
	check("copying version", string(v.Status), string(ocellus.VersionCopyingFailed), v.StatusMessage)
	d, _ := w.st.Dataset(ctx, w.importing.ARN)
	check("importing dataset", string(d.Status), string(ocellus.DatasetCreateFailed), d.StatusMessage)
	if d.StatusMessageCode != ocellus.StatusServiceError {
		t.Errorf("import failure code %s", d.StatusMessageCode)
	}
	d, _ = w.st.Dataset(ctx, w.updating.ARN)
	check("updating dataset", string(d.Status), string(ocellus.DatasetUpdateFailed), d.StatusMessage)
	if _, err := w.st.DatasetUpdateLines(ctx, w.updating.ARN); ocellus.KindOf(err) != ocellus.NotFound {
		t.Errorf("the failed update's lines are still stored: %v", err)
	}
	m, _ := w.st.LookoutModel(ctx, w.l4vTraining.ProjectARN, w.l4vTraining.Version)
	check("training model", m.Status, ModelTrainingFailed, m.Message)
	j, _ := w.st.PackagingJob(ctx, w.packaging.ProjectARN, w.packaging.Name)
	check("packaging job", j.Status, JobFailed, j.Message)

	// Final resources are not touched.
	w.c.JobFailed(JobTrain, w.trained.ARN, []byte(w.trained.ARN), reason)
	if v, _ := w.st.Version(ctx, w.trained.ARN); v.Status != ocellus.VersionTrainingCompleted {
		t.Errorf("trained version failed: %s", v.Status)
	}
	w.c.JobFailed(JobImport, w.complete.ARN, []byte(w.complete.ARN), reason)
	if d, _ := w.st.Dataset(ctx, w.complete.ARN); d.Status != ocellus.DatasetCreateComplete {
		t.Errorf("complete dataset failed: %s", d.Status)
	}
}

// Without a queue, calls that start work fail instead of running it
// in-process.
func TestNoQueueNoWork(t *testing.T) {
	c := New(nil, nil, Config{DataDir: t.TempDir()})
	defer c.Close()
	if err := c.enqueueVersion(context.Background(), JobTrain, "arn"); ocellus.KindOf(err) != ocellus.Internal {
		t.Fatalf("enqueue without a queue: %v", err)
	}
}
