package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// A Custom Moderation adapter taught the top-level category Gambling (AWS
// counts playing cards in it, and the base model cannot see it) from the
// real photos of ../shared/datasets/playing-cards, with safe photos of the
// other sets as the negatives.

// moderationPhoto is one labelled photo of an adapter's manifests.
type moderationPhoto struct {
	path     string
	gambling bool
}

// gamblingSplit picks, for training and for testing, cards playing-card
// photos (Gambling; train/ and test/ folders) and perSet safe photos of
// each safe set (the sets' own train/test folders where they have them,
// else the even and the odd photos of the sorted list): disjoint, fixed.
func gamblingSplit(t testing.TB, cards, perSet int) (train, test []moderationPhoto) {
	t.Helper()
	for _, p := range evenly(imageFiles(t, "playing-cards/train"), cards) {
		train = append(train, moderationPhoto{p, true})
	}
	for _, p := range evenly(imageFiles(t, "playing-cards/test"), cards) {
		test = append(test, moderationPhoto{p, true})
	}
	for _, s := range []struct{ train, test string }{
		{"clothing-small/train", "clothing-small/test"}, {"hazelnut-toy/train", "hazelnut-toy/test"},
		{"sign-language-digits", ""}, {"lookout-cookies/training-images", ""}, {"bccd/JPEGImages", ""}, {"deeppcb", ""},
	} {
		a := imageFiles(t, s.train)
		var b []string
		if s.test != "" {
			b = imageFiles(t, s.test)
		} else {
			var even []string
			for i, p := range a {
				if i%2 == 0 {
					even = append(even, p)
				} else {
					b = append(b, p)
				}
			}
			a = even
		}
		for _, p := range evenly(a, perSet) {
			train = append(train, moderationPhoto{p, false})
		}
		for _, p := range evenly(b, perSet) {
			test = append(test, moderationPhoto{p, false})
		}
	}
	return train, test
}

// photoKey is where a photo goes in the bucket: its dataset folder and
// name, unique across the sets.
func photoKey(t testing.TB, p string) string {
	rel, err := filepath.Rel(datasetsRoot(t), p)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.ToSlash(rel)
}

// uploadModerationManifest uploads photos into bucket and a
// content-moderation-groundtruth manifest listing them under key.
func uploadModerationManifest(t testing.TB, s *s3.Client, bucket, key string, photos []moderationPhoto) *rtypes.Asset {
	t.Helper()
	var lines []string
	for _, ph := range photos {
		k := photoKey(t, ph.path)
		put(t, s, bucket, k, readFile(t, ph.path))
		labels := "[]"
		if ph.gambling {
			labels = `[{"Name":"Gambling"}]`
		}
		lines = append(lines, fmt.Sprintf(`{"source-ref":"s3://%s/%s","content-moderation-groundtruth":{"ModerationLabels":%s}}`, bucket, k, labels))
	}
	put(t, s, bucket, key, []byte(strings.Join(lines, "\n")+"\n"))
	return &rtypes.Asset{GroundTruthManifest: &rtypes.GroundTruthManifest{S3Object: &rtypes.S3Object{Bucket: aws.String(bucket), Name: aws.String(key)}}}
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitAdapter waits with the SDK's waiter for the version to finish
// training and returns its description.
func waitAdapter(t testing.TB, r *rekognition.Client, project, version string) rtypes.ProjectVersionDescription {
	t.Helper()
	ctx := context.Background()
	in := &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{version}}
	w := rekognition.NewProjectVersionTrainingCompletedWaiter(r, func(o *rekognition.ProjectVersionTrainingCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	if err := w.Wait(ctx, in, 10*time.Minute); err != nil {
		d, _ := r.DescribeProjectVersions(ctx, in)
		t.Fatalf("waiter: %v (%+v)", err, d)
	}
	d, err := r.DescribeProjectVersions(ctx, in)
	if err != nil || len(d.ProjectVersionDescriptions) != 1 {
		t.Fatalf("describe: %+v, %v", d, err)
	}
	return d.ProjectVersionDescriptions[0]
}

// getObject reads a whole S3 object.
func getObject(t testing.TB, s *s3.Client, o *rtypes.S3Object) []byte {
	t.Helper()
	out, err := s.GetObject(context.Background(), &s3.GetObjectInput{Bucket: o.Bucket, Key: o.Name})
	if err != nil {
		t.Fatalf("s3://%s/%s: %v", aws.ToString(o.Bucket), aws.ToString(o.Name), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// adapterCounts are the confusion counts of one model in the evaluation
// file.
type adapterCounts struct {
	TruePositives, TrueNegatives, FalsePositives, FalseNegatives int
	Precision, Recall, F1Score                                   float64
}

type adapterThreshold struct {
	Threshold float64
	Adapter   adapterCounts
	BaseModel adapterCounts
}

// adapterEvaluation is the evaluation file an adapter's training writes.
type adapterEvaluation struct {
	EvaluationDetails struct {
		ProjectVersionArn      string
		BaseModelVersion       string
		ConfidenceThreshold    float64
		NumberOfTrainingImages int
		NumberOfTestingImages  int
	}
	AggregatedEvaluationResults struct {
		F1Score               float64
		AtConfidenceThreshold adapterThreshold
		Thresholds            []adapterThreshold
	}
	LabelEvaluationResults []struct {
		Label                 string
		BaseModelEmitsLabel   bool
		AtConfidenceThreshold adapterThreshold
		Thresholds            []adapterThreshold
	}
}

// label is the evaluation of one label.
func (ev *adapterEvaluation) label(t testing.TB, name string) (emits bool, at adapterThreshold, sweep []adapterThreshold) {
	t.Helper()
	for _, l := range ev.LabelEvaluationResults {
		if l.Label == name {
			return l.BaseModelEmitsLabel, l.AtConfidenceThreshold, l.Thresholds
		}
	}
	t.Fatalf("no %s in the evaluation's labels %+v", name, ev.LabelEvaluationResults)
	return
}

// hasLabel reports whether an answer names label.
func hasLabel(labels []rtypes.ModerationLabel, name string) bool {
	return slices.ContainsFunc(labels, func(l rtypes.ModerationLabel) bool { return aws.ToString(l.Name) == name })
}

// apiError checks err is the API error code with a message containing
// each of want.
func apiError(t *testing.T, what string, err error, code string, want ...string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Errorf("%s: %v, want %s", what, err, code)
		return
	}
	for _, w := range want {
		if !strings.Contains(ae.ErrorMessage(), w) {
			t.Errorf("%s: message %q does not say %q", what, ae.ErrorMessage(), w)
		}
	}
}

// TestModerationAdapter drives a Custom Moderation adapter through
// aws-sdk-go-v2 from end to end: a CONTENT_MODERATION project, an adapter
// trained from content-moderation-groundtruth manifests in the embedded
// S3 (real playing-card photos labelled Gambling, safe photos of the other
// sets), refusals while it trains, the SDK's ProjectVersionTrainingCompleted
// waiter, the description's adapter fields, the evaluation and output
// manifest files, DetectModerationLabels with and without the adapter, and
// the refusals of operations adapters do not take.
func TestModerationAdapter(t *testing.T) {
	dir := moderationDir(t)
	cards, perSet := 16, 3 // 34 training and 34 testing images
	if raceBuild {
		cards, perSet = 8, 2
	}
	trainPhotos, testPhotos := gamblingSplit(t, cards, perSet)
	hold := newHoldOnce(t, control.JobTrain, control.HoldAfterLoad)
	ts := e2e.Start(t, server.Config{ModerationDir: dir, Hold: hold.Hold})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	mkBucket(t, s, "moderation")
	mkBucket(t, s, "out")
	trainAsset := uploadModerationManifest(t, s, "moderation", "train.manifest", trainPhotos)
	testAsset := uploadModerationManifest(t, s, "moderation", "test.manifest", testPhotos)
	threshold := aws.Float32(50)
	feature := &rtypes.CustomizationFeatureConfig{ContentModeration: &rtypes.CustomizationFeatureContentModerationConfig{ConfidenceThreshold: threshold}}

	// FeatureConfig on a Custom Labels project.
	cl := createProject(t, r, "labels")
	_, err := r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &cl, VersionName: aws.String("v1"),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("out")}, FeatureConfig: feature})
	apiError(t, "FeatureConfig on a CUSTOM_LABELS project", err, "InvalidParameterException", "FeatureConfig", "CUSTOM_LABELS")

	po, err := r.CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String("cards"),
		Feature: rtypes.CustomizationFeatureContentModeration, AutoUpdate: rtypes.ProjectAutoUpdateDisabled})
	if err != nil {
		t.Fatal(err)
	}
	project := aws.ToString(po.ProjectArn)
	vo, err := r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String("gambling"),
		VersionDescription: aws.String("cards are gambling"), FeatureConfig: feature,
		TrainingData: &rtypes.TrainingData{Assets: []rtypes.Asset{*trainAsset}},
		TestingData:  &rtypes.TestingData{Assets: []rtypes.Asset{*testAsset}},
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("out"), S3KeyPrefix: aws.String("adapters")}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(vo.ProjectVersionArn)
	if !strings.Contains(arn, ":project/cards/version/gambling/") {
		t.Errorf("adapter ARN %s", arn)
	}
	card, safe := readFile(t, testPhotos[0].path), readFile(t, testPhotos[len(testPhotos)-1].path)

	// While it trains (held once its version is loaded).
	hold.wait(t)
	_, err = r.DetectModerationLabels(ctx, &rekognition.DetectModerationLabelsInput{Image: &rtypes.Image{Bytes: card}, ProjectVersion: &arn})
	apiError(t, "DetectModerationLabels with an adapter still training", err, "ResourceNotReadyException", arn, "TRAINING_IN_PROGRESS")
	d, err := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project})
	if err != nil || len(d.ProjectVersionDescriptions) != 1 || d.ProjectVersionDescriptions[0].Status != rtypes.ProjectVersionStatusTrainingInProgress {
		t.Errorf("describe while training: %+v, %v", d, err)
	}
	hold.release()
	pv := waitAdapter(t, r, project, "gambling")

	if pv.Feature != rtypes.CustomizationFeatureContentModeration || aws.ToString(pv.BaseModelVersion) != "ocellus-nsfwjs-4.4.0" ||
		pv.FeatureConfig == nil || pv.FeatureConfig.ContentModeration == nil || aws.ToFloat32(pv.FeatureConfig.ContentModeration.ConfidenceThreshold) != 50 ||
		aws.ToString(pv.VersionDescription) != "cards are gambling" || pv.EvaluationResult == nil || pv.EvaluationResult.Summary == nil ||
		pv.TrainingEndTimestamp == nil || pv.TestingDataResult == nil || pv.TrainingDataResult == nil {
		t.Fatalf("adapter description: %+v", pv)
	}

	// The evaluation file, at the threshold and swept 5..100.
	var ev adapterEvaluation
	body := getObject(t, s, pv.EvaluationResult.Summary.S3Object)
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("evaluation %s: %v", body, err)
	}
	if k := aws.ToString(pv.EvaluationResult.Summary.S3Object.Name); !strings.HasPrefix(k, "adapters/") {
		t.Errorf("evaluation written to %s, not under the prefix", k)
	}
	det := ev.EvaluationDetails
	if det.ProjectVersionArn != arn || det.BaseModelVersion != "ocellus-nsfwjs-4.4.0" || det.ConfidenceThreshold != 50 ||
		det.NumberOfTrainingImages != len(trainPhotos) || det.NumberOfTestingImages != len(testPhotos) {
		t.Errorf("evaluation details %+v (%d training, %d testing images sent)", det, len(trainPhotos), len(testPhotos))
	}
	if f1 := aws.ToFloat32(pv.EvaluationResult.F1Score); float64(f1) != float64(float32(ev.AggregatedEvaluationResults.F1Score)) {
		t.Errorf("EvaluationResult.F1Score %v, evaluation file %v", f1, ev.AggregatedEvaluationResults.F1Score)
	}
	emits, at, sweep := ev.label(t, "Gambling")
	nCards := 0
	for _, p := range testPhotos {
		if p.gambling {
			nCards++
		}
	}
	a, b := at.Adapter, at.BaseModel
	if emits || at.Threshold != 50 || len(sweep) != 20 || sweep[0].Threshold != 5 || sweep[19].Threshold != 100 {
		t.Errorf("Gambling: base emits %v, threshold %v, %d sweep points", emits, at.Threshold, len(sweep))
	}
	if a.TruePositives+a.FalseNegatives != nCards || a.TruePositives+a.TrueNegatives+a.FalsePositives+a.FalseNegatives != len(testPhotos) ||
		b.TruePositives != 0 || b.FalsePositives != 0 || b.FalseNegatives != nCards || b.F1Score != 0 {
		t.Errorf("Gambling counts: adapter %+v, base model %+v (%d cards of %d test images)", a, b, nCards, len(testPhotos))
	}
	// The base model cannot see cards; the adapter learns them.
	if a.F1Score < 0.8 {
		t.Errorf("adapter F1 on Gambling %.3f, want at least 0.8 (%+v)", a.F1Score, a)
	}
	t.Logf("Gambling at 50: adapter %+v, base model %+v; aggregate F1 %.3f", a, b, ev.AggregatedEvaluationResults.F1Score)

	// The output manifest: each test line with both models' answers.
	if len(pv.TestingDataResult.Output.Assets) != 1 {
		t.Fatalf("testing output %+v", pv.TestingDataResult.Output)
	}
	out := getObject(t, s, pv.TestingDataResult.Output.Assets[0].GroundTruthManifest.S3Object)
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) != len(testPhotos) {
		t.Fatalf("output manifest has %d lines, want %d", len(lines), len(testPhotos))
	}
	adapterTP := 0
	for i, line := range lines {
		var l struct {
			SourceRef   string `json:"source-ref"`
			GroundTruth struct {
				ModerationLabels []struct{ Name string }
			} `json:"content-moderation-groundtruth"`
			Adapter, Base struct {
				ModerationLabels       []struct{ Name string }
				ModerationModelVersion string
				ProjectVersion         string
			}
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(line, &l); err != nil || json.Unmarshal(line, &raw) != nil {
			t.Fatalf("output line %d %s: %v", i, line, err)
		}
		json.Unmarshal(raw["detect-moderation-labels"], &l.Adapter)
		json.Unmarshal(raw["detect-moderation-labels-base-model"], &l.Base)
		if want := "s3://moderation/" + photoKey(t, testPhotos[i].path); l.SourceRef != want || (len(l.GroundTruth.ModerationLabels) == 1) != testPhotos[i].gambling {
			t.Errorf("output line %d echoes %s %+v, want %s", i, l.SourceRef, l.GroundTruth, want)
		}
		if l.Adapter.ProjectVersion != arn || l.Base.ProjectVersion != "" || l.Base.ModerationModelVersion != "ocellus-nsfwjs-4.4.0" {
			t.Errorf("output line %d: adapter answer %+v, base model answer %+v", i, l.Adapter, l.Base)
		}
		for _, m := range l.Base.ModerationLabels {
			if m.Name == "Gambling" {
				t.Errorf("output line %d: the base model answered Gambling", i)
			}
		}
		if testPhotos[i].gambling && slices.ContainsFunc(l.Adapter.ModerationLabels, func(m struct{ Name string }) bool { return m.Name == "Gambling" }) {
			adapterTP++
		}
	}
	if adapterTP != a.TruePositives {
		t.Errorf("output manifest: %d cards answered Gambling, the evaluation counts %d", adapterTP, a.TruePositives)
	}

	// DetectModerationLabels with and without the adapter, on a held-out
	// card and a held-out safe photo.
	with, err := r.DetectModerationLabels(ctx, &rekognition.DetectModerationLabelsInput{Image: &rtypes.Image{Bytes: card}, ProjectVersion: &arn})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(with.ProjectVersion) != arn || aws.ToString(with.ModerationModelVersion) != "ocellus-nsfwjs-4.4.0" || !hasLabel(with.ModerationLabels, "Gambling") {
		t.Errorf("card with the adapter: %+v", with)
	}
	checkChains(t, with.ModerationLabels, 50)
	without, err := r.DetectModerationLabels(ctx, &rekognition.DetectModerationLabelsInput{Image: &rtypes.Image{Bytes: card}})
	if err != nil {
		t.Fatal(err)
	}
	if without.ProjectVersion != nil || hasLabel(without.ModerationLabels, "Gambling") {
		t.Errorf("card without the adapter: %+v", without)
	}
	put(t, s, "moderation", "held-out-safe.jpg", safe)
	safeOut, err := r.DetectModerationLabels(ctx, &rekognition.DetectModerationLabelsInput{ProjectVersion: &arn,
		Image: &rtypes.Image{S3Object: &rtypes.S3Object{Bucket: aws.String("moderation"), Name: aws.String("held-out-safe.jpg")}}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(safeOut.ProjectVersion) != arn || hasLabel(safeOut.ModerationLabels, "Gambling") {
		t.Errorf("safe photo (%s) as an S3 object with the adapter: %+v", testPhotos[len(testPhotos)-1].path, safeOut)
	}
	all, err := r.DetectModerationLabels(ctx, &rekognition.DetectModerationLabelsInput{Image: &rtypes.Image{Bytes: card}, ProjectVersion: &arn, MinConfidence: aws.Float32(0)})
	if err != nil {
		t.Fatal(err)
	}
	checkChains(t, all.ModerationLabels, 0)
	for _, name := range []string{"Explicit", "Swimwear or Underwear", "Gambling"} {
		if !hasLabel(all.ModerationLabels, name) {
			t.Errorf("at MinConfidence 0 the adapter does not answer %s: %+v", name, all.ModerationLabels)
		}
	}

	// What adapters do not take.
	_, err = r.StartProjectVersion(ctx, &rekognition.StartProjectVersionInput{ProjectVersionArn: &arn, MinInferenceUnits: aws.Int32(1)})
	apiError(t, "StartProjectVersion on an adapter", err, "InvalidParameterException", "StartProjectVersion", "Custom Moderation adapter")
	_, err = r.StopProjectVersion(ctx, &rekognition.StopProjectVersionInput{ProjectVersionArn: &arn})
	apiError(t, "StopProjectVersion on an adapter", err, "InvalidParameterException", "StopProjectVersion", "Custom Moderation adapter")
	unknown := strings.Replace(arn, "/version/gambling/", "/version/nope/", 1)
	_, err = r.DetectModerationLabels(ctx, &rekognition.DetectModerationLabelsInput{Image: &rtypes.Image{Bytes: card}, ProjectVersion: &unknown})
	apiError(t, "DetectModerationLabels with an unknown adapter", err, "ResourceNotFoundException", unknown)
	_, err = ts.Rekognition(bob).DetectModerationLabels(ctx, &rekognition.DetectModerationLabelsInput{Image: &rtypes.Image{Bytes: card}, ProjectVersion: &arn})
	apiError(t, "DetectModerationLabels with another account's adapter", err, "ResourceNotFoundException", "does not exist")
	_, err = r.CreateDataset(ctx, &rekognition.CreateDatasetInput{ProjectArn: &project, DatasetType: rtypes.DatasetTypeTrain})
	apiError(t, "CreateDataset in a CONTENT_MODERATION project", err, "InvalidParameterException", "CUSTOM_LABELS")
}

// BenchmarkModerationAdapter measures, through aws-sdk-go-v2, an adapter
// learning Gambling from real photos: 100 of the 296 playing-card photos
// of playing-cards/train and 20 safe photos of each of six other sets for
// training, held out all 67 of playing-cards/test and 12 photos of each
// safe set's own test split (or its odd photos), a fixed selection. It
// reports the adapter's and the base model's F1 at ConfidenceThreshold 50
// on Gambling and over every label (from the evaluation file), the share
// of held-out safe photos each flags with any label (from the output
// manifest), the training time, and DetectModerationLabels p50 latency
// without and with the adapter, the image sent as bytes.
func BenchmarkModerationAdapter(b *testing.B) {
	dir := moderationDir(b)
	trainPhotos, testPhotos := gamblingSplit(b, 100, 20)
	trainCards := 0
	for _, p := range trainPhotos {
		if p.gambling {
			trainCards++
		}
	}
	var testCards, testSafe []moderationPhoto
	for _, p := range testPhotos {
		if p.gambling {
			testCards = append(testCards, p)
		} else {
			testSafe = append(testSafe, p)
		}
	}
	testPhotos = append(testCards, evenlyPhotos(testSafe, 72)...)
	ts := e2e.Start(b, server.Config{ModerationDir: dir})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	mkBucket(b, s, "moderation")
	mkBucket(b, s, "out")
	trainAsset := uploadModerationManifest(b, s, "moderation", "train.manifest", trainPhotos)
	testAsset := uploadModerationManifest(b, s, "moderation", "test.manifest", testPhotos)
	po, err := r.CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String("cards"),
		Feature: rtypes.CustomizationFeatureContentModeration, AutoUpdate: rtypes.ProjectAutoUpdateDisabled})
	if err != nil {
		b.Fatal(err)
	}
	project := aws.ToString(po.ProjectArn)
	t0 := time.Now()
	vo, err := r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String("gambling"),
		FeatureConfig: &rtypes.CustomizationFeatureConfig{ContentModeration: &rtypes.CustomizationFeatureContentModerationConfig{ConfidenceThreshold: aws.Float32(50)}},
		TrainingData:  &rtypes.TrainingData{Assets: []rtypes.Asset{*trainAsset}},
		TestingData:   &rtypes.TestingData{Assets: []rtypes.Asset{*testAsset}},
		OutputConfig:  &rtypes.OutputConfig{S3Bucket: aws.String("out")}})
	if err != nil {
		b.Fatal(err)
	}
	arn := aws.ToString(vo.ProjectVersionArn)
	pv := waitAdapter(b, r, project, "gambling")
	trainTime := time.Since(t0)
	if pv.Status != rtypes.ProjectVersionStatusTrainingCompleted {
		b.Fatalf("adapter %s: %s", pv.Status, aws.ToString(pv.StatusMessage))
	}
	var ev adapterEvaluation
	if err := json.Unmarshal(getObject(b, s, pv.EvaluationResult.Summary.S3Object), &ev); err != nil {
		b.Fatal(err)
	}
	_, g, _ := ev.label(b, "Gambling")
	agg := ev.AggregatedEvaluationResults.AtConfidenceThreshold
	// Safe photos flagged with any label, from the output manifest.
	out := getObject(b, s, pv.TestingDataResult.Output.Assets[0].GroundTruthManifest.S3Object)
	var safe, baseFlagged, adapterFlagged int
	var flaggedBy []string
	for i, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if testPhotos[i].gambling {
			continue
		}
		var l struct {
			Adapter struct{ ModerationLabels []json.RawMessage } `json:"detect-moderation-labels"`
			Base    struct{ ModerationLabels []json.RawMessage } `json:"detect-moderation-labels-base-model"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			b.Fatal(err)
		}
		safe++
		if len(l.Base.ModerationLabels) > 0 {
			baseFlagged++
			flaggedBy = append(flaggedBy, "base model: "+photoKey(b, testPhotos[i].path))
		}
		if len(l.Adapter.ModerationLabels) > 0 {
			adapterFlagged++
			flaggedBy = append(flaggedBy, "adapter: "+photoKey(b, testPhotos[i].path))
		}
	}
	b.Logf("%d training images (%d cards), %d held out (%d cards); trained in %v", len(trainPhotos), trainCards, len(testPhotos), len(testCards), trainTime.Round(time.Millisecond))
	b.Logf("Gambling at 50: adapter %+v; base model %+v", g.Adapter, g.BaseModel)
	b.Logf("every label at 50: adapter %+v; base model %+v", agg.Adapter, agg.BaseModel)
	b.Logf("held-out safe photos with any label: base model %d of %d, adapter %d of %d: %v", baseFlagged, safe, adapterFlagged, safe, flaggedBy)

	var imgs [][]byte
	for _, p := range evenlyPhotos(testPhotos, 20) {
		imgs = append(imgs, readFile(b, p.path))
	}
	for _, bc := range []struct {
		name    string
		adapter *string
	}{{"base", nil}, {"adapter", &arn}} {
		b.Run(bc.name, func(b *testing.B) {
			call := func(img []byte) {
				if _, err := r.DetectModerationLabels(ctx, &rekognition.DetectModerationLabelsInput{Image: &rtypes.Image{Bytes: img}, ProjectVersion: bc.adapter}); err != nil {
					b.Fatal(err)
				}
			}
			call(imgs[0]) // warm-up: loads the model and the adapter
			var d []time.Duration
			i := 0
			for b.Loop() {
				t0 := time.Now()
				call(imgs[i%len(imgs)])
				d = append(d, time.Since(t0))
				i++
			}
			slices.Sort(d)
			b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(g.Adapter.F1Score, "gambling-F1-adapter")
			b.ReportMetric(g.BaseModel.F1Score, "gambling-F1-base")
			b.ReportMetric(agg.Adapter.F1Score, "F1-adapter")
			b.ReportMetric(agg.BaseModel.F1Score, "F1-base")
			b.ReportMetric(100*float64(baseFlagged)/float64(safe), "safe-flagged-%-base")
			b.ReportMetric(100*float64(adapterFlagged)/float64(safe), "safe-flagged-%-adapter")
			b.ReportMetric(trainTime.Seconds(), "train-s")
		})
	}
}

// evenlyPhotos returns n of photos (all when fewer), evenly spaced.
func evenlyPhotos(photos []moderationPhoto, n int) []moderationPhoto {
	n = min(n, len(photos))
	out := make([]moderationPhoto, n)
	for i := range n {
		out[i] = photos[i*len(photos)/n]
	}
	return out
}

// BenchmarkModerationFalsePositivesAll sends every photo of the seven
// sets of ../shared/datasets (3,427 images, none unsafe; the playing cards
// count too, as the base model cannot answer Gambling) through
// DetectModerationLabels at the default MinConfidence 50 and reports the
// share that get any label, all of them false positives. One pass is
// minutes: run it with -benchtime 1x.
func BenchmarkModerationFalsePositivesAll(b *testing.B) {
	dir := moderationDir(b)
	sets := []string{"bccd", "clothing-small", "deeppcb", "hazelnut-toy", "lookout-cookies", "playing-cards", "sign-language-digits"}
	ts := e2e.Start(b, server.Config{ModerationDir: dir})
	r := ts.Rekognition(alice)
	for b.Loop() {
		flagged, total := 0, 0
		var per []string
		for _, set := range sets {
			n, byLabel := 0, map[string]int{}
			files := imageFiles(b, set)
			for _, p := range files {
				out, err := r.DetectModerationLabels(context.Background(), &rekognition.DetectModerationLabelsInput{Image: &rtypes.Image{Bytes: readFile(b, p)}})
				if err != nil {
					b.Fatalf("%s: %v", p, err)
				}
				if len(out.ModerationLabels) > 0 {
					n++
					byLabel[aws.ToString(out.ModerationLabels[0].Name)]++
				}
			}
			flagged, total = flagged+n, total+len(files)
			per = append(per, fmt.Sprintf("%s %d/%d %v", set, n, len(files), byLabel))
		}
		b.Logf("flagged %d of %d safe photos: %s", flagged, total, strings.Join(per, "; "))
		b.ReportMetric(100*float64(flagged)/float64(total), "flagged-%")
		b.ReportMetric(float64(total), "photos")
	}
}

// TestModerationAdapterRefusals: bad adapter requests get AWS's errors
// with messages that say what is wrong, an adapter whose images cannot be
// read fails its training (the SDK's waiter reports the failure), and a
// Custom Labels version is no adapter.
func TestModerationAdapterRefusals(t *testing.T) {
	dir := moderationDir(t)
	ts := e2e.Start(t, server.Config{ModerationDir: dir})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	mkBucket(t, s, "moderation")
	card := imageFiles(t, "playing-cards/test")[0]
	good := uploadModerationManifest(t, s, "moderation", "good.manifest", []moderationPhoto{{card, true}})
	asset := func(key, body string) rtypes.Asset {
		put(t, s, "moderation", key, []byte(body))
		return rtypes.Asset{GroundTruthManifest: &rtypes.GroundTruthManifest{S3Object: &rtypes.S3Object{Bucket: aws.String("moderation"), Name: aws.String(key)}}}
	}
	po, err := r.CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String("mod"),
		Feature: rtypes.CustomizationFeatureContentModeration, AutoUpdate: rtypes.ProjectAutoUpdateDisabled})
	if err != nil {
		t.Fatal(err)
	}
	project := aws.ToString(po.ProjectArn)
	ref := "s3://moderation/" + photoKey(t, card)
	create := func(name string, train []rtypes.Asset, test *rtypes.TestingData, threshold *float32) error {
		in := &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String(name),
			OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("moderation")}, TestingData: test}
		if train != nil {
			in.TrainingData = &rtypes.TrainingData{Assets: train}
		}
		if threshold != nil {
			in.FeatureConfig = &rtypes.CustomizationFeatureConfig{ContentModeration: &rtypes.CustomizationFeatureContentModerationConfig{ConfidenceThreshold: threshold}}
		}
		_, err := r.CreateProjectVersion(ctx, in)
		return err
	}
	testing := &rtypes.TestingData{Assets: []rtypes.Asset{*good}}
	for _, tc := range []struct {
		name  string
		err   error
		code  string
		words []string
	}{
		{"label outside the taxonomy", create("a1", []rtypes.Asset{asset("poker.manifest",
			`{"source-ref":"`+ref+`","content-moderation-groundtruth":{"ModerationLabels":[]}}`+"\n"+
				`{"source-ref":"`+ref+`","content-moderation-groundtruth":{"ModerationLabels":[{"Name":"Poker"}]}}`)}, testing, nil),
			"InvalidParameterException", []string{"poker.manifest", "line 2", "Poker"}},
		{"line without the attribute", create("a2", []rtypes.Asset{asset("noattr.manifest", `{"source-ref":"`+ref+`"}`)}, testing, nil),
			"InvalidParameterException", []string{"noattr.manifest", "line 1", "content-moderation-groundtruth"}},
		{"no TrainingData", create("a3", nil, testing, nil), "InvalidParameterException", []string{"TrainingData"}},
		{"no TestingData", create("a4", []rtypes.Asset{*good}, nil, nil), "InvalidParameterException", []string{"TestingData"}},
		{"ConfidenceThreshold over 100", create("a5", []rtypes.Asset{*good}, testing, aws.Float32(101)), "InvalidParameterException", []string{"confidenceThreshold", "less than or equal to 100"}},
		{"empty manifest", create("a6", []rtypes.Asset{asset("empty.manifest", "")}, testing, nil),
			"InvalidParameterException", []string{"empty.manifest", "ERROR_EMPTY_MANIFEST"}},
		{"missing manifest", create("a7", []rtypes.Asset{*good}, &rtypes.TestingData{Assets: []rtypes.Asset{{GroundTruthManifest: &rtypes.GroundTruthManifest{
			S3Object: &rtypes.S3Object{Bucket: aws.String("moderation"), Name: aws.String("nope.manifest")}}}}}, nil),
			"InvalidS3ObjectException", []string{"s3://moderation/nope.manifest", "NoSuchKey"}},
	} {
		apiError(t, tc.name, tc.err, tc.code, tc.words...)
	}

	// Images that cannot be read: the training fails, and says why.
	missing := asset("missing.manifest", `{"source-ref":"s3://moderation/gone.jpg","content-moderation-groundtruth":{"ModerationLabels":[{"Name":"Gambling"}]}}`)
	if err := create("failing", []rtypes.Asset{missing}, testing, nil); err != nil {
		t.Fatal(err)
	}
	w := rekognition.NewProjectVersionTrainingCompletedWaiter(r, func(o *rekognition.ProjectVersionTrainingCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	if err := w.Wait(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{"failing"}}, 5*time.Minute); err == nil {
		t.Error("waiter: no error for an adapter whose images are missing")
	}
	d, err := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{"failing"}})
	if err != nil || len(d.ProjectVersionDescriptions) != 1 {
		t.Fatalf("describe: %+v, %v", d, err)
	}
	if pv := d.ProjectVersionDescriptions[0]; pv.Status != rtypes.ProjectVersionStatusTrainingFailed || !strings.Contains(aws.ToString(pv.StatusMessage), "gone.jpg") {
		t.Errorf("adapter with missing images: %s %q", pv.Status, aws.ToString(pv.StatusMessage))
	} else {
		failed := aws.ToString(pv.ProjectVersionArn)
		_, err := r.DetectModerationLabels(ctx, &rekognition.DetectModerationLabelsInput{Image: &rtypes.Image{Bytes: readFile(t, card)}, ProjectVersion: &failed})
		apiError(t, "DetectModerationLabels with a failed adapter", err, "ResourceNotReadyException", "TRAINING_FAILED")
	}

	// A Custom Labels model version is not an adapter.
	cl := createProject(t, r, "labels")
	lines := colourDataset(t, s, "moderation", "colours", map[string]color.RGBA{"red": {200, 40, 40, 255}, "blue": {40, 40, 200, 255}}, 3)
	clAsset := asset("colours.manifest", strings.Join(lines, "\n"))
	vo, err := r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &cl, VersionName: aws.String("v1"),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("moderation")},
		TrainingData: &rtypes.TrainingData{Assets: []rtypes.Asset{clAsset}}, TestingData: &rtypes.TestingData{AutoCreate: true}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.DetectModerationLabels(ctx, &rekognition.DetectModerationLabelsInput{Image: &rtypes.Image{Bytes: readFile(t, card)}, ProjectVersion: vo.ProjectVersionArn})
	apiError(t, "DetectModerationLabels with a Custom Labels version", err, "InvalidParameterException", "not a Custom Moderation adapter")
}
