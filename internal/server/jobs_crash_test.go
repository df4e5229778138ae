package server_test

import (
	"context"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	v1aws "github.com/aws/aws-sdk-go/aws"
	lv "github.com/aws/aws-sdk-go/service/lookoutforvision"

	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/jobs"
	"github.com/ocellus/ocellus/internal/server"
)

// The kill -9 tests of this file, one per job kind, share one shape: the
// real binary runs with OCELLUS_TEST_HOLD holding one job of the kind at a
// chosen point; the test waits until it is held, kills the process with
// SIGKILL, starts it again on the same data dir (holding nothing, recording
// every hold point reached) and checks that the resource completed, that
// the job ran exactly once after the restart, and that its output is there
// once.

// crashRig is one data dir and the process serving it.
type crashRig struct {
	t      *testing.T
	data   string
	p      *e2e.Server
	before int // calls.log lines written before the restart
}

// startCrashRig starts the binary holding jobs at hold ("kind:point").
func startCrashRig(t *testing.T, hold string) *crashRig {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	p := e2e.StartBinary(t, e2e.BinaryConfig{Env: []string{server.TestHoldEnv + "=" + hold}})
	return &crashRig{t: t, data: p.DataDir, p: p}
}

// kill9AndRestart kills the process with SIGKILL and starts it again on the
// same data dir, recording hold points but holding nothing.
func (c *crashRig) kill9AndRestart() { c.kill9AndRestartHolding("record") }

// kill9AndRestartHolding kills the process with SIGKILL and starts it again
// on the same data dir, holding jobs at hold.
func (c *crashRig) kill9AndRestartHolding(hold string) {
	c.t.Helper()
	c.p.Kill9()
	// The held job's announcement is the dead process's; a job held by the
	// next one writes its own.
	held, _ := filepath.Glob(filepath.Join(c.data, server.HoldDir, "*.*-*"))
	for _, f := range held {
		if err := os.Remove(f); err != nil {
			c.t.Fatal(err)
		}
	}
	c.before = len(holdCalls(c.t, c.data))
	c.p = e2e.StartBinary(c.t, e2e.BinaryConfig{DataDir: c.data, Env: []string{server.TestHoldEnv + "=" + hold}})
}

// runsAfterRestart counts the hold points that jobs of kind reached after
// the restart, by point.
func (c *crashRig) runsAfterRestart(kind string) map[string]int {
	n := map[string]int{}
	for _, l := range holdCalls(c.t, c.data)[c.before:] {
		if k, point, _ := strings.Cut(l, " "); k == kind {
			n[point]++
		}
	}
	return n
}

// wantOneRun checks, once the resource is final, that the job of kind did
// its work once after the restart: a run that finds the resource no longer
// in progress stops before its first hold point.
func (c *crashRig) wantOneRun(kind string) {
	c.t.Helper()
	if n := c.runsAfterRestart(kind); n[control.HoldAfterLoad] != 1 || n[control.HoldBeforeSave] != 1 {
		c.t.Errorf("%s ran %d times after the restart (%d reached its end); want once", kind, n[control.HoldAfterLoad], n[control.HoldBeforeSave])
	}
}

func holdCalls(t *testing.T, data string) []string {
	b, err := os.ReadFile(filepath.Join(data, server.HoldDir, "calls.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// waitHeld waits until the binary serving data holds a job of kind at point.
func waitHeld(t *testing.T, data, kind, point string) {
	t.Helper()
	path := filepath.Join(data, server.HoldDir, kind+"."+point)
	e2e.Poll(t, 2*time.Minute, "a "+kind+" job held at "+point, func() (string, bool) {
		_, err := os.Stat(path) // polling a file the binary writes
		return fmt.Sprint(err), err == nil
	})
}

// holdOnce is an in-process Config.Hold: it holds the first job of kind
// to reach point until release is called (or the server shuts down);
// held is closed once it is held.
type holdOnce struct {
	kind, point string
	once        sync.Once
	held        chan struct{}
	released    chan struct{}
	release     func()
}

func newHoldOnce(t *testing.T, kind, point string) *holdOnce {
	h := &holdOnce{kind: kind, point: point, held: make(chan struct{}), released: make(chan struct{})}
	var r sync.Once
	h.release = func() { r.Do(func() { close(h.released) }) }
	t.Cleanup(h.release)
	return h
}

func (h *holdOnce) Hold(ctx context.Context, kind, point string) {
	if kind != h.kind || point != h.point {
		return
	}
	first := false
	h.once.Do(func() { first = true })
	if !first {
		return
	}
	close(h.held)
	select {
	case <-h.released:
	case <-ctx.Done():
	}
}

func (h *holdOnce) wait(t *testing.T) {
	t.Helper()
	select {
	case <-h.held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("no %s job reached %s", h.kind, h.point)
	}
}

// colourProject uploads a small two-colour dataset and returns the project
// ARN and the manifest's asset.
func colourProject(t *testing.T, ts *e2e.Server, name string, perClass int) (string, *rtypes.GroundTruthManifest) {
	s, r := ts.S3(alice), ts.Rekognition(alice)
	mkBucket(t, s, name)
	lines := colourDataset(t, s, name, "img", map[string]color.RGBA{"red": {200, 40, 40, 255}, "blue": {40, 40, 200, 255}}, perClass)
	put(t, s, name, "train.manifest", []byte(strings.Join(lines, "\n")))
	return createProject(t, r, name), &rtypes.GroundTruthManifest{S3Object: &rtypes.S3Object{Bucket: aws.String(name), Name: aws.String("train.manifest")}}
}

func modelFiles(t *testing.T, data string) []string {
	fs, err := filepath.Glob(filepath.Join(data, "models", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// trainVersion starts training a version on manifest m, its test set split
// from it, its output in the manifest's bucket; it returns the version ARN.
func trainVersion(t *testing.T, r *rekognition.Client, project, name string, m *rtypes.GroundTruthManifest) string {
	t.Helper()
	out, err := r.CreateProjectVersion(context.Background(), &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: &name,
		OutputConfig: &rtypes.OutputConfig{S3Bucket: m.S3Object.Bucket},
		TrainingData: &rtypes.TrainingData{Assets: []rtypes.Asset{{GroundTruthManifest: m}}}, TestingData: &rtypes.TestingData{AutoCreate: true}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ProjectVersionArn)
}

// train-version, killed with training done and its result not saved: the
// version trains again after the restart, once, and has one artifact.
func TestKill9JobTrainVersion(t *testing.T) {
	c := startCrashRig(t, control.JobTrain+":"+control.HoldBeforeSave)
	ctx := context.Background()
	project, m := colourProject(t, c.p, "train", 10)
	r := c.p.Rekognition(alice)
	trainVersion(t, r, project, "v1", m)
	waitHeld(t, c.data, control.JobTrain, control.HoldBeforeSave)
	d, err := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project})
	if err != nil || d.ProjectVersionDescriptions[0].Status != rtypes.ProjectVersionStatusTrainingInProgress {
		t.Fatalf("held training: %+v, %v", d, err)
	}
	c.kill9AndRestart()
	pv := waitTrained(t, c.p.Rekognition(alice), project, "v1")
	if pv.Status != rtypes.ProjectVersionStatusTrainingCompleted || pv.EvaluationResult == nil {
		t.Fatalf("after kill -9 and restart: %s %s", pv.Status, aws.ToString(pv.StatusMessage))
	}
	c.wantOneRun(control.JobTrain)
	if fs := modelFiles(t, c.data); len(fs) != 1 {
		t.Errorf("model artifacts after the restart: %v, want one", fs)
	}
}

// copy-version, killed with the artifact copied and the status not saved.
func TestKill9JobCopyVersion(t *testing.T) {
	c := startCrashRig(t, control.JobCopy+":"+control.HoldBeforeSave)
	ctx := context.Background()
	project, m := colourProject(t, c.p, "copy", 10)
	r := c.p.Rekognition(alice)
	src := trainVersion(t, r, project, "v1", m)
	if pv := waitTrained(t, r, project, "v1"); pv.Status != rtypes.ProjectVersionStatusTrainingCompleted {
		t.Fatalf("source version: %s %s", pv.Status, aws.ToString(pv.StatusMessage))
	}
	if _, err := r.CopyProjectVersion(ctx, &rekognition.CopyProjectVersionInput{SourceProjectArn: &project, SourceProjectVersionArn: &src,
		DestinationProjectArn: &project, VersionName: aws.String("v2"), OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("copy")}}); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, c.data, control.JobCopy, control.HoldBeforeSave)
	d, err := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{"v2"}})
	if err != nil || d.ProjectVersionDescriptions[0].Status != rtypes.ProjectVersionStatusCopyingInProgress {
		t.Fatalf("held copy: %+v, %v", d, err)
	}
	c.kill9AndRestart()
	r = c.p.Rekognition(alice)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		d, err = r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{"v2"}})
		if err != nil {
			t.Fatal(err)
		}
		if st := d.ProjectVersionDescriptions[0].Status; st != rtypes.ProjectVersionStatusCopyingInProgress || time.Now().After(deadline) {
			break
		}
	}
	if pv := d.ProjectVersionDescriptions[0]; pv.Status != rtypes.ProjectVersionStatusCopyingCompleted {
		t.Fatalf("copy after kill -9 and restart: %s %s", pv.Status, aws.ToString(pv.StatusMessage))
	}
	c.wantOneRun(control.JobCopy)
	if fs := modelFiles(t, c.data); len(fs) != 2 {
		t.Errorf("model artifacts after the restart: %v, want the source's and the copy's", fs)
	}
}

// import-dataset, killed with the entries stored and the status not saved:
// the import runs again from scratch and the dataset has each entry once.
func TestKill9JobImportDataset(t *testing.T) {
	c := startCrashRig(t, control.JobImport+":"+control.HoldBeforeSave)
	project, _ := colourProject(t, c.p, "import", 6)
	r := c.p.Rekognition(alice)
	ds := createDataset(t, r, project, rtypes.DatasetTypeTrain, "import", "train.manifest")
	waitHeld(t, c.data, control.JobImport, control.HoldBeforeSave)
	d, err := r.DescribeDataset(context.Background(), &rekognition.DescribeDatasetInput{DatasetArn: &ds})
	if err != nil || d.DatasetDescription.Status != rtypes.DatasetStatusCreateInProgress {
		t.Fatalf("held import: %+v, %v", d, err)
	}
	c.kill9AndRestart()
	r = c.p.Rekognition(alice)
	dd := waitDataset(t, r, ds)
	if dd.Status != rtypes.DatasetStatusCreateComplete || aws.ToInt32(dd.DatasetStats.TotalEntries) != 12 {
		t.Fatalf("import after kill -9 and restart: %s %s, %+v", dd.Status, aws.ToString(dd.StatusMessage), dd.DatasetStats)
	}
	c.wantOneRun(control.JobImport)
	if n := countEntries(t, r, ds); n != 12 {
		t.Errorf("%d entries listed, want 12", n)
	}
}

// import-dataset, killed while it runs on every attempt (as work that
// itself kills the process would): after the last, the restart does not
// run it again but fails the dataset, with a message; never stuck
// CREATE_IN_PROGRESS.
func TestKill9JobAttemptsExhausted(t *testing.T) {
	hold := control.JobImport + ":" + control.HoldAfterLoad
	c := startCrashRig(t, hold)
	project, _ := colourProject(t, c.p, "exhaust", 2)
	ds := createDataset(t, c.p.Rekognition(alice), project, rtypes.DatasetTypeTrain, "exhaust", "train.manifest")
	for attempt := 1; attempt <= jobs.DefaultMaxAttempts; attempt++ {
		waitHeld(t, c.data, control.JobImport, control.HoldAfterLoad)
		if attempt < jobs.DefaultMaxAttempts {
			c.kill9AndRestartHolding(hold)
		}
	}
	c.kill9AndRestart()
	dd := waitDataset(t, c.p.Rekognition(alice), ds)
	if dd.Status != rtypes.DatasetStatusCreateFailed || dd.StatusMessageCode != rtypes.DatasetStatusMessageCodeServiceError ||
		!strings.Contains(aws.ToString(dd.StatusMessage), "interrupted by process exit") {
		t.Fatalf("after %d interrupted attempts: %s %s %q", jobs.DefaultMaxAttempts, dd.Status, dd.StatusMessageCode, aws.ToString(dd.StatusMessage))
	}
	if n := c.runsAfterRestart(control.JobImport); n[control.HoldAfterLoad] != 0 {
		t.Errorf("the import ran %d more times after its attempts were spent", n[control.HoldAfterLoad])
	}
}

func countEntries(t *testing.T, r *rekognition.Client, ds string) int {
	n := 0
	p := rekognition.NewListDatasetEntriesPaginator(r, &rekognition.ListDatasetEntriesInput{DatasetArn: &ds})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.DatasetEntries)
	}
	return n
}

// update-dataset, killed before its lines are read: the lines were stored
// with the status, so the update runs after the restart and applies once.
func TestKill9JobUpdateDataset(t *testing.T) {
	c := startCrashRig(t, control.JobUpdate+":"+control.HoldAfterLoad)
	ctx := context.Background()
	project, _ := colourProject(t, c.p, "update", 3)
	s, r := c.p.S3(alice), c.p.Rekognition(alice)
	ds := createDataset(t, r, project, rtypes.DatasetTypeTrain, "update", "train.manifest")
	if dd := waitDataset(t, r, ds); dd.Status != rtypes.DatasetStatusCreateComplete {
		t.Fatalf("import: %s %s", dd.Status, aws.ToString(dd.StatusMessage))
	}
	more := colourDataset(t, s, "update", "more", map[string]color.RGBA{"green": {40, 200, 40, 255}}, 4)
	if _, err := r.UpdateDatasetEntries(ctx, &rekognition.UpdateDatasetEntriesInput{DatasetArn: &ds,
		Changes: &rtypes.DatasetChanges{GroundTruth: []byte(strings.Join(more, "\n"))}}); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, c.data, control.JobUpdate, control.HoldAfterLoad)
	d, err := r.DescribeDataset(ctx, &rekognition.DescribeDatasetInput{DatasetArn: &ds})
	if err != nil || d.DatasetDescription.Status != rtypes.DatasetStatusUpdateInProgress {
		t.Fatalf("held update: %+v, %v", d, err)
	}
	c.kill9AndRestart()
	r = c.p.Rekognition(alice)
	dd := waitDataset(t, r, ds)
	if dd.Status != rtypes.DatasetStatusUpdateComplete || aws.ToInt32(dd.DatasetStats.TotalEntries) != 10 || aws.ToInt32(dd.DatasetStats.TotalLabels) != 3 {
		t.Fatalf("update after kill -9 and restart: %s %s, %+v", dd.Status, aws.ToString(dd.StatusMessage), dd.DatasetStats)
	}
	c.wantOneRun(control.JobUpdate)
	if n := countEntries(t, r, ds); n != 10 {
		t.Errorf("%d entries listed, want 10", n)
	}
}

// lookoutProject makes a Lookout for Vision project with a small train
// dataset (imported) in bucket name.
func lookoutProject(t *testing.T, ts *e2e.Server, name string) *lv.LookoutForVision {
	c, s := ts.LookoutVision(alice), ts.S3(alice)
	mkBucket(t, s, name)
	mkey := synthDataset(t, s, name, "ds", 20, 10, 64, 64, 3)
	if _, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String(name), DatasetType: v1aws.String("train"),
		DatasetSource: &lv.DatasetSource{GroundTruthManifest: &lv.DatasetGroundTruthManifest{S3Object: &lv.InputS3Object{Bucket: v1aws.String(name), Key: v1aws.String(mkey)}}}}); err != nil {
		t.Fatal(err)
	}
	if d := waitL4VDataset(t, c, name, "train"); *d.Status != "CREATE_COMPLETE" {
		t.Fatalf("dataset: %s %s", *d.Status, v1aws.StringValue(d.StatusMessage))
	}
	if _, err := c.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String(name),
		OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String(name), Prefix: v1aws.String("out/")}}}); err != nil {
		t.Fatal(err)
	}
	return c
}

// train-lookout-model, killed with the model loaded and training not
// started: it trains once after the restart; there is one model.
func TestKill9JobTrainLookoutModel(t *testing.T) {
	c := startCrashRig(t, control.JobTrainLookout+":"+control.HoldAfterLoad)
	l := lookoutProject(t, c.p, "l4vtrain")
	waitHeld(t, c.data, control.JobTrainLookout, control.HoldAfterLoad)
	if md := waitModel(t, l, "l4vtrain", "1", time.Second); *md.Status != "TRAINING" {
		t.Fatalf("held model: %s", *md.Status)
	}
	c.kill9AndRestart()
	l = c.p.LookoutVision(alice)
	if md := waitModel(t, l, "l4vtrain", "1", 3*time.Minute, "TRAINING"); *md.Status != "TRAINED" || md.Performance == nil {
		t.Fatalf("model after kill -9 and restart: %s %s", *md.Status, v1aws.StringValue(md.StatusMessage))
	}
	c.wantOneRun(control.JobTrainLookout)
	ms, err := l.ListModels(&lv.ListModelsInput{ProjectName: v1aws.String("l4vtrain")})
	if err != nil || len(ms.Models) != 1 {
		t.Fatalf("models: %v, %v", ms, err)
	}
}

// package-model, killed with the package written and the job's status not
// saved: the job runs again, succeeds, and its objects are there once.
func TestKill9JobPackageModel(t *testing.T) {
	c := startCrashRig(t, control.JobPackage+":"+control.HoldBeforeSave)
	l := lookoutProject(t, c.p, "l4vpkg")
	if md := waitModel(t, l, "l4vpkg", "1", 3*time.Minute, "TRAINING"); *md.Status != "TRAINED" {
		t.Fatalf("model: %s %s", *md.Status, v1aws.StringValue(md.StatusMessage))
	}
	if _, err := l.StartModelPackagingJob(&lv.StartModelPackagingJobInput{ProjectName: v1aws.String("l4vpkg"), ModelVersion: v1aws.String("1"),
		JobName: v1aws.String("pkg-1"), Configuration: &lv.ModelPackagingConfiguration{Greengrass: &lv.GreengrassConfiguration{
			ComponentName: v1aws.String("com.example.part"), TargetDevice: v1aws.String("jetson_xavier"),
			S3OutputLocation: &lv.S3Location{Bucket: v1aws.String("l4vpkg"), Prefix: v1aws.String("pkg/")}}}}); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, c.data, control.JobPackage, control.HoldBeforeSave)
	describe := func() *lv.ModelPackagingDescription {
		dj, err := l.DescribeModelPackagingJob(&lv.DescribeModelPackagingJobInput{ProjectName: v1aws.String("l4vpkg"), JobName: v1aws.String("pkg-1")})
		if err != nil {
			t.Fatal(err)
		}
		return dj.ModelPackagingDescription
	}
	if st := *describe().Status; st != "RUNNING" {
		t.Fatalf("held packaging job: %s", st)
	}
	c.kill9AndRestart()
	l = c.p.LookoutVision(alice)
	job := describe()
	for deadline := time.Now().Add(time.Minute); (*job.Status == "CREATED" || *job.Status == "RUNNING") && time.Now().Before(deadline); job = describe() {
		time.Sleep(50 * time.Millisecond)
	}
	if *job.Status != "SUCCEEDED" {
		t.Fatalf("packaging job after kill -9 and restart: %s %s", *job.Status, v1aws.StringValue(job.StatusMessage))
	}
	c.wantOneRun(control.JobPackage)
	objs, err := c.p.S3(alice).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("l4vpkg"), Prefix: aws.String("pkg/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	sort.Strings(keys)
	want := []string{"pkg/com.example.part/1.0.0/README.md", "pkg/com.example.part/1.0.0/model.ocellus-anomaly", "pkg/com.example.part/1.0.0/package.json"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("package objects: %v, want %v", keys, want)
	}
}
