package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// colourJPEG draws a noisy image dominated by one colour, so that even the
// built-in backbone separates the classes.
func colourJPEG(t testing.TB, rng *rand.Rand, base color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 96, 80))
	for y := 0; y < 80; y++ {
		for x := 0; x < 96; x++ {
			n := func(v uint8) uint8 { return uint8(max(0, min(255, int(v)+rng.Intn(60)-30))) }
			img.Set(x, y, color.RGBA{n(base.R), n(base.G), n(base.B), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// colourDataset uploads n images per class and returns manifest lines.
func colourDataset(t testing.TB, s *s3.Client, bucket, prefix string, classes map[string]color.RGBA, n int) []string {
	rng := rand.New(rand.NewSource(1))
	var lines []string
	for name, c := range classes {
		for i := 0; i < n; i++ {
			key := fmt.Sprintf("%s/%s/%03d.jpg", prefix, name, i)
			put(t, s, bucket, key, colourJPEG(t, rng, c))
			lines = append(lines, classLine(bucket, key, name))
		}
	}
	return lines
}

func TestTrainDescribeDeleteVersion(t *testing.T) {
	// Training is held once its version is loaded, so that the deletion
	// below lands while it is TRAINING_IN_PROGRESS however fast the machine.
	hold := newHoldOnce(t, control.JobTrain, control.HoldAfterLoad)
	ts := e2e.Start(t, server.Config{Hold: hold.Hold})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("train")})
	s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("out")})
	lines := colourDataset(t, s, "train", "img", map[string]color.RGBA{"red": {200, 40, 40, 255}, "blue": {40, 40, 200, 255}}, 25)
	put(t, s, "train", "train.manifest", []byte(strings.Join(lines, "\n")))
	project := createProject(t, r, "colours")
	train := createDataset(t, r, project, rtypes.DatasetTypeTrain, "train", "train.manifest")
	waitDataset(t, r, train)
	test := createDataset(t, r, project, rtypes.DatasetTypeTest, "", "")
	if _, err := r.DistributeDatasetEntries(ctx, &rekognition.DistributeDatasetEntriesInput{Datasets: []rtypes.DistributeDataset{{Arn: &train}, {Arn: &test}}}); err != nil {
		t.Fatal(err)
	}
	out, err := r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String("v1"),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("out"), S3KeyPrefix: aws.String("runs")}, VersionDescription: aws.String("first model"),
		Tags: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ProjectVersionArn)
	if !strings.Contains(arn, ":project/colours/version/v1/") {
		t.Fatalf("version ARN %s", arn)
	}
	_, err = r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String("v1"),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("out")}})
	if errCode(err) != "ResourceInUseException" {
		t.Fatalf("duplicate version name: %v", err)
	}
	hold.wait(t)
	_, err = r.DeleteProjectVersion(ctx, &rekognition.DeleteProjectVersionInput{ProjectVersionArn: &arn})
	if errCode(err) != "ResourceInUseException" {
		t.Fatalf("delete while training: %v", err)
	}
	hold.release()
	w := rekognition.NewProjectVersionTrainingCompletedWaiter(r, func(o *rekognition.ProjectVersionTrainingCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 500*time.Millisecond
	})
	if err := w.Wait(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{"v1"}}, 2*time.Minute); err != nil {
		d, _ := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project})
		t.Fatalf("waiter: %v (%+v)", err, d)
	}
	d, err := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project})
	if err != nil || len(d.ProjectVersionDescriptions) != 1 {
		t.Fatalf("describe: %+v, %v", d, err)
	}
	pv := d.ProjectVersionDescriptions[0]
	if pv.Status != rtypes.ProjectVersionStatusTrainingCompleted || pv.EvaluationResult == nil || aws.ToFloat32(pv.EvaluationResult.F1Score) < 0.9 ||
		aws.ToInt64(pv.BillableTrainingTimeInSeconds) < 1 || pv.TrainingEndTimestamp == nil || aws.ToString(pv.VersionDescription) != "first model" ||
		pv.ManifestSummary == nil || pv.TrainingDataResult == nil || pv.TestingDataResult == nil {
		t.Fatalf("description: %+v (eval %+v)", pv, pv.EvaluationResult)
	}
	// The evaluation summary is in the output bucket, as on AWS.
	so := pv.EvaluationResult.Summary.S3Object
	obj, err := s.GetObject(ctx, &s3.GetObjectInput{Bucket: so.Bucket, Key: so.Name})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(obj.Body)
	var summary struct {
		EvaluationDetails struct {
			ProjectVersionArn     string
			NumberOfTestingImages int
		}
		LabelEvaluationResults []struct{ Label string }
	}
	if err := json.Unmarshal(body, &summary); err != nil || summary.EvaluationDetails.ProjectVersionArn != arn ||
		summary.EvaluationDetails.NumberOfTestingImages != 10 || len(summary.LabelEvaluationResults) != 2 {
		t.Fatalf("evaluation summary %s: %v", body, err)
	}
	if !strings.HasPrefix(aws.ToString(so.Name), "runs/EvaluationResultSummary-colours-v1-") {
		t.Fatalf("summary key %s", aws.ToString(so.Name))
	}
	tags, _ := r.ListTagsForResource(ctx, &rekognition.ListTagsForResourceInput{ResourceArn: &arn})
	if tags.Tags["k"] != "v" {
		t.Fatalf("version tags %v", tags.Tags)
	}
	if _, err := r.DeleteProject(ctx, &rekognition.DeleteProjectInput{ProjectArn: &project}); errCode(err) != "ResourceInUseException" {
		t.Fatalf("delete project with a version: %v", err)
	}
	// The artifact is encrypted at rest with the service-managed key.
	arts, _ := filepath.Glob(filepath.Join(ts.DataDir, "models", "*"))
	if len(arts) != 1 {
		t.Fatalf("artifacts: %v", arts)
	}
	if raw, _ := os.ReadFile(arts[0]); !bytes.HasPrefix(raw, []byte("OCKR1\n")) {
		t.Fatalf("artifact %s is not sealed: %q", arts[0], raw[:min(16, len(raw))])
	}
	red := colourJPEG(t, rand.New(rand.NewSource(99)), color.RGBA{200, 40, 40, 255})
	put(t, s, "train", "held-out/red.jpg", red)
	// One byte over DetectCustomLabels' 15 MB for an S3 image.
	put(t, s, "train", "held-out/huge.jpg", append(append([]byte{}, red...), make([]byte, 15<<20+1-len(red))...))
	answers := testHosting(t, r, project, arn, red, func() *rekognition.Client {
		checkMatchesEvaluation(t, r, s, test, arn, body)
		// A running model comes back RUNNING after a restart.
		ts.Stop()
		ts = e2e.Start(t, server.Config{DataDir: ts.DataDir})
		r, s = ts.Rekognition(alice), ts.S3(alice)
		waitVersion(t, r, project, "v1", rtypes.ProjectVersionStatusRunning)
		if out, err := r.DetectCustomLabels(ctx, &rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, Image: &rtypes.Image{Bytes: red}}); err != nil || len(out.CustomLabels) == 0 {
			t.Fatalf("detect after restart: %+v, %v", out, err)
		}
		return r
	})
	copied := testCopy(t, ts, project, arn)
	// The copy is an independent model that gives the same answers.
	b := ts.Rekognition(bob)
	bobsProject := bobProject(t, b)
	if got := testHostingAnswers(t, b, bobsProject, copied, red); !sameLabels(got, answers) {
		t.Fatalf("copy answers %+v, source answered %+v", got, answers)
	}
	if _, err := b.StopProjectVersion(ctx, &rekognition.StopProjectVersionInput{ProjectVersionArn: &copied}); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, b, bobsProject, "copy1", rtypes.ProjectVersionStatusStopped)

	del, err := r.DeleteProjectVersion(ctx, &rekognition.DeleteProjectVersionInput{ProjectVersionArn: &arn})
	if err != nil || del.Status != rtypes.ProjectVersionStatusDeleting {
		t.Fatalf("delete version: %v %v", del, err)
	}
	if _, err := r.DeleteProject(ctx, &rekognition.DeleteProjectInput{ProjectArn: &project}); err != nil {
		t.Fatalf("delete project after its versions: %v", err)
	}
	// The copy is independent of the deleted source.
	if !strings.Contains(copied, ":222222222222:project/bobs-copies/version/copy1/") {
		t.Fatalf("copy ARN %s", copied)
	}
	cd, err := b.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: aws.String(bobProject(t, b))})
	if err != nil || len(cd.ProjectVersionDescriptions) != 1 || cd.ProjectVersionDescriptions[0].Status != rtypes.ProjectVersionStatusStopped {
		t.Fatalf("copy after source deletion: %+v, %v", cd, err)
	}
}

func bobProject(t *testing.T, b *rekognition.Client) string {
	d, err := b.DescribeProjects(context.Background(), &rekognition.DescribeProjectsInput{ProjectNames: []string{"bobs-copies"}})
	if err != nil || len(d.ProjectDescriptions) != 1 {
		t.Fatalf("bob's project: %v", err)
	}
	return aws.ToString(d.ProjectDescriptions[0].ProjectArn)
}

// testCopy copies alice's version into bob's project: refused without a
// policy, allowed with one, refused again by an explicit Deny.
func testCopy(t *testing.T, ts *e2e.Server, srcProject, srcVersion string) string {
	ctx := context.Background()
	a, b := ts.Rekognition(alice), ts.Rekognition(bob)
	ts.S3(bob).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bob-out")})
	dst := createProject(t, b, "bobs-copies")
	in := &rekognition.CopyProjectVersionInput{SourceProjectArn: &srcProject, SourceProjectVersionArn: &srcVersion,
		DestinationProjectArn: &dst, VersionName: aws.String("copy1"), OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("bob-out")}}
	if _, err := b.CopyProjectVersion(ctx, in); errCode(err) != "AccessDeniedException" {
		t.Fatalf("copy without a policy: %v", err)
	}
	allow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"rekognition:CopyProjectVersion","Resource":"` + srcVersion + `"}]}`
	if _, err := a.PutProjectPolicy(ctx, &rekognition.PutProjectPolicyInput{ProjectArn: &srcProject, PolicyName: aws.String("allow-bob"), PolicyDocument: &allow}); err != nil {
		t.Fatal(err)
	}
	out, err := b.CopyProjectVersion(ctx, in)
	if err != nil {
		t.Fatalf("copy with a policy: %v", err)
	}
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"rekognition:Copy*","Resource":"*"}]}`
	if _, err := a.PutProjectPolicy(ctx, &rekognition.PutProjectPolicyInput{ProjectArn: &srcProject, PolicyName: aws.String("deny-all"), PolicyDocument: &deny}); err != nil {
		t.Fatal(err)
	}
	in.VersionName = aws.String("copy2")
	if _, err := b.CopyProjectVersion(ctx, in); errCode(err) != "AccessDeniedException" {
		t.Fatalf("copy with an explicit deny: %v", err)
	}
	arn := aws.ToString(out.ProjectVersionArn)
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := b.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &dst})
		if err != nil {
			t.Fatal(err)
		}
		pv := d.ProjectVersionDescriptions[0]
		if pv.Status == rtypes.ProjectVersionStatusCopyingCompleted {
			if aws.ToString(pv.SourceProjectVersionArn) != srcVersion || pv.EvaluationResult == nil {
				t.Fatalf("copy description: %+v", pv)
			}
			return arn
		}
		if pv.Status != rtypes.ProjectVersionStatusCopyingInProgress || time.Now().After(deadline) {
			t.Fatalf("copy status %s: %s", pv.Status, aws.ToString(pv.StatusMessage))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTrainingFailsClearly(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")})
	lines := colourDataset(t, s, "bkt", "img", map[string]color.RGBA{"red": {200, 40, 40, 255}}, 6)
	put(t, s, "bkt", "one-label.manifest", []byte(strings.Join(lines, "\n")))
	project := createProject(t, r, "one")
	// No datasets: TrainingData with an auto-created test split.
	_, err := r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String("v"),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("bkt")}})
	if errCode(err) != "InvalidParameterException" {
		t.Fatalf("no datasets and no TrainingData: %v", err)
	}
	m := &rtypes.GroundTruthManifest{S3Object: &rtypes.S3Object{Bucket: aws.String("bkt"), Name: aws.String("one-label.manifest")}}
	_, err = r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String("v"),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("bkt")}, KmsKeyId: aws.String("arn:aws:kms:us-east-1:111111111111:key/not-in-keyring"),
		TrainingData: &rtypes.TrainingData{Assets: []rtypes.Asset{{GroundTruthManifest: m}}}, TestingData: &rtypes.TestingData{AutoCreate: true}})
	if errCode(err) != "InvalidParameterException" || !strings.Contains(err.Error(), "keyring") {
		t.Fatalf("unknown KmsKeyId: %v", err)
	}
	_, err = r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String("v"),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("bkt")}, TestingData: &rtypes.TestingData{AutoCreate: true}})
	if errCode(err) != "InvalidParameterException" {
		t.Fatalf("TestingData without TrainingData: %v", err)
	}
	_, err = r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String("v"),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("bkt")},
		TrainingData: &rtypes.TrainingData{Assets: []rtypes.Asset{{GroundTruthManifest: m}}}, TestingData: &rtypes.TestingData{AutoCreate: true}})
	if err != nil {
		t.Fatal(err)
	}
	w := rekognition.NewProjectVersionTrainingCompletedWaiter(r, func(o *rekognition.ProjectVersionTrainingCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 500*time.Millisecond
	})
	err = w.Wait(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project}, time.Minute)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "failure") {
		t.Fatalf("waiter on a failing training: %v", err)
	}
	d, _ := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project})
	pv := d.ProjectVersionDescriptions[0]
	if pv.Status != rtypes.ProjectVersionStatusTrainingFailed || aws.ToString(pv.StatusMessage) == "" {
		t.Fatalf("failed version: %s %q", pv.Status, aws.ToString(pv.StatusMessage))
	}
	t.Logf("training failure message: %s", aws.ToString(pv.StatusMessage))
}

func sameLabels(a, b []rtypes.CustomLabel) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if aws.ToString(a[i].Name) != aws.ToString(b[i].Name) || aws.ToFloat32(a[i].Confidence) != aws.ToFloat32(b[i].Confidence) {
			return false
		}
	}
	return true
}

func waitVersion(t *testing.T, c *rekognition.Client, project, name string, want rtypes.ProjectVersionStatus) {
	t.Helper()
	e2e.Poll(t, time.Minute, "version "+name+" status (want "+string(want)+")", func() (rtypes.ProjectVersionStatus, bool) {
		d, err := c.DescribeProjectVersions(context.Background(), &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		st := d.ProjectVersionDescriptions[0].Status
		return st, st == want
	})
}

// testHostingAnswers starts a version, waits with the SDK's
// ProjectVersionRunning waiter and returns the answer for img with
// MinConfidence 0 (every label).
func testHostingAnswers(t *testing.T, r *rekognition.Client, project, arn string, img []byte) []rtypes.CustomLabel {
	ctx := context.Background()
	st, err := r.StartProjectVersion(ctx, &rekognition.StartProjectVersionInput{ProjectVersionArn: &arn, MinInferenceUnits: aws.Int32(1)})
	if err != nil || st.Status != rtypes.ProjectVersionStatusStarting {
		t.Fatalf("start: %v %v", st, err)
	}
	name := strings.Split(strings.Split(arn, "/version/")[1], "/")[0]
	w := rekognition.NewProjectVersionRunningWaiter(r, func(o *rekognition.ProjectVersionRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{name}}, time.Minute); err != nil {
		t.Fatalf("running waiter: %v", err)
	}
	out, err := r.DetectCustomLabels(ctx, &rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn,
		Image: &rtypes.Image{Bytes: img}, MinConfidence: aws.Float32(0)})
	if err != nil {
		t.Fatal(err)
	}
	return out.CustomLabels
}

// whileRunning runs while the model is up and returns the client to go on
// with (it may restart the server).
func testHosting(t *testing.T, r *rekognition.Client, project, arn string, red []byte, whileRunning func() *rekognition.Client) []rtypes.CustomLabel {
	ctx := context.Background()
	all := testHostingAnswers(t, r, project, arn, red)
	r = whileRunning()
	if len(all) != 2 || aws.ToString(all[0].Name) != "red" || aws.ToFloat32(all[0].Confidence) < 50 {
		t.Fatalf("MinConfidence 0 on a red image: %+v", all)
	}
	// Default thresholds, S3 input, MaxResults.
	byS3, err := r.DetectCustomLabels(ctx, &rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn,
		Image: &rtypes.Image{S3Object: &rtypes.S3Object{Bucket: aws.String("train"), Name: aws.String("held-out/red.jpg")}}, MaxResults: aws.Int32(1)})
	if err != nil || len(byS3.CustomLabels) != 1 || aws.ToString(byS3.CustomLabels[0].Name) != "red" {
		t.Fatalf("S3 image, MaxResults 1: %+v, %v", byS3, err)
	}
	for _, c := range []struct {
		in   *rekognition.DetectCustomLabelsInput
		code string
	}{
		{&rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, Image: &rtypes.Image{Bytes: []byte("not an image")}}, "InvalidImageFormatException"},
		{&rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, Image: &rtypes.Image{Bytes: red[:len(red)*2/3]}}, "InvalidImageFormatException"}, // truncated
		{&rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, Image: &rtypes.Image{Bytes: bytes.Repeat([]byte{0xff}, 4<<20+1)}}, "ImageTooLargeException"},
		{&rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, Image: &rtypes.Image{Bytes: jpegBomb(t, red, 60000, 60000)}}, "ImageTooLargeException"},
		{&rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, Image: &rtypes.Image{S3Object: &rtypes.S3Object{Bucket: aws.String("train"), Name: aws.String("missing.jpg")}}}, "InvalidS3ObjectException"},
		{&rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, Image: &rtypes.Image{S3Object: &rtypes.S3Object{Bucket: aws.String("train"), Name: aws.String("held-out/huge.jpg")}}}, "ImageTooLargeException"},
		{&rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, Image: &rtypes.Image{Bytes: red}, MinConfidence: aws.Float32(101)}, "InvalidParameterException"},
	} {
		if _, err := r.DetectCustomLabels(ctx, c.in); errCode(err) != c.code {
			t.Errorf("detect: %v, want %s", err, c.code)
		}
	}
	if _, err := r.DeleteProjectVersion(ctx, &rekognition.DeleteProjectVersionInput{ProjectVersionArn: &arn}); errCode(err) != "ResourceInUseException" {
		t.Fatalf("delete while running: %v", err)
	}
	if _, err := r.StartProjectVersion(ctx, &rekognition.StartProjectVersionInput{ProjectVersionArn: &arn, MinInferenceUnits: aws.Int32(1)}); errCode(err) != "ResourceInUseException" {
		t.Fatalf("start while running: %v", err)
	}
	stop, err := r.StopProjectVersion(ctx, &rekognition.StopProjectVersionInput{ProjectVersionArn: &arn})
	if err != nil || stop.Status != rtypes.ProjectVersionStatusStopping {
		t.Fatalf("stop: %v %v", stop, err)
	}
	waitVersion(t, r, project, "v1", rtypes.ProjectVersionStatusStopped)
	if _, err := r.DetectCustomLabels(ctx, &rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, Image: &rtypes.Image{Bytes: red}}); errCode(err) != "ResourceNotReadyException" {
		t.Fatalf("detect on a stopped model: %v", err)
	}
	return all
}

// checkMatchesEvaluation sends every image of the test dataset to
// DetectCustomLabels and checks that the top answers reproduce, cell by
// cell, the confusion matrix of the evaluation summary training wrote: the
// hosted model answers exactly as the evaluation measured it.
func checkMatchesEvaluation(t *testing.T, r *rekognition.Client, s *s3.Client, testDataset, arn string, summaryJSON []byte) {
	ctx := context.Background()
	var summary struct {
		AggregatedEvaluationResults struct {
			Metrics struct {
				ConfusionMatrix []struct {
					GroundTruthLabel, PredictedLabel string
					Value                            int
				}
			}
		}
	}
	if err := json.Unmarshal(summaryJSON, &summary); err != nil {
		t.Fatal(err)
	}
	want := map[[2]string]int{}
	for _, c := range summary.AggregatedEvaluationResults.Metrics.ConfusionMatrix {
		if c.Value > 0 {
			want[[2]string{c.GroundTruthLabel, c.PredictedLabel}] = c.Value
		}
	}
	got := map[[2]string]int{}
	entries, err := r.ListDatasetEntries(ctx, &rekognition.ListDatasetEntriesInput{DatasetArn: &testDataset})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries.DatasetEntries {
		var line struct {
			SourceRef string `json:"source-ref"`
			Meta      struct {
				ClassName string `json:"class-name"`
			} `json:"lbl-metadata"`
		}
		json.Unmarshal([]byte(e), &line)
		key := strings.TrimPrefix(line.SourceRef, "s3://train/")
		out, err := r.DetectCustomLabels(ctx, &rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn,
			Image: &rtypes.Image{S3Object: &rtypes.S3Object{Bucket: aws.String("train"), Name: &key}}, MinConfidence: aws.Float32(0), MaxResults: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		got[[2]string{line.Meta.ClassName, aws.ToString(out.CustomLabels[0].Name)}]++
	}
	if len(entries.DatasetEntries) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("DetectCustomLabels over the test set gives confusion %v; the evaluation summary says %v", got, want)
	}
}

// jpegBomb returns a JPEG whose frame header claims w x h pixels: a few KB
// that would decode to gigabytes.
func jpegBomb(t *testing.T, jpg []byte, w, h int) []byte {
	b := bytes.Clone(jpg)
	for i := 2; i+9 < len(b); i++ {
		if b[i] == 0xff && b[i+1] == 0xc0 { // SOF0: length(2) precision(1) height(2) width(2)
			b[i+5], b[i+6] = byte(h>>8), byte(h)
			b[i+7], b[i+8] = byte(w>>8), byte(w)
			return b
		}
	}
	t.Fatal("no SOF0 marker")
	return nil
}
