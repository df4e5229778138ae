package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// badImageManifest uploads n red and n blue images and the given broken
// files (labelled red) at the given 1-based manifest lines; it returns the
// manifest.
func badImageManifest(t *testing.T, s *s3.Client, bucket, prefix string, n int, bad map[int][]byte) string {
	rng := rand.New(rand.NewSource(int64(len(prefix))))
	classes := []struct {
		name string
		c    color.RGBA
	}{{"red", color.RGBA{200, 40, 40, 255}}, {"blue", color.RGBA{40, 40, 200, 255}}}
	var lines []string
	for i := 0; len(lines) < 2*n+len(bad); i++ {
		if b, ok := bad[len(lines)+1]; ok {
			key := fmt.Sprintf("%s/broken-%d.jpg", prefix, len(lines)+1)
			put(t, s, bucket, key, b)
			lines = append(lines, classLine(bucket, key, "red"))
			continue
		}
		cl := classes[i%2]
		key := fmt.Sprintf("%s/%s-%03d.jpg", prefix, cl.name, i)
		put(t, s, bucket, key, colourJPEG(t, rng, cl.c))
		lines = append(lines, classLine(bucket, key, cl.name))
	}
	return strings.Join(lines, "\n")
}

func getJSON(t *testing.T, s *s3.Client, o *rtypes.S3Object) []byte {
	t.Helper()
	if o == nil {
		t.Fatal("no S3 object")
	}
	out, err := s.GetObject(context.Background(), &s3.GetObjectInput{Bucket: o.Bucket, Key: o.Name})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", aws.ToString(o.Bucket), aws.ToString(o.Name), err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b
}

type manifestStats struct {
	TotalJSONLines       int   `json:"total_json_lines"`
	ValidJSONLines       int   `json:"valid_json_lines"`
	InvalidJSONLines     int   `json:"invalid_json_lines"`
	ErrorJSONLineIndices []int `json:"error_json_line_indices"`
	Errors               []struct{ Code string }
}

func manifestSummary(t *testing.T, s *s3.Client, pv rtypes.ProjectVersionDescription) (train, test manifestStats) {
	t.Helper()
	if pv.ManifestSummary == nil {
		t.Fatal("no ManifestSummary")
	}
	body := getJSON(t, s, pv.ManifestSummary.S3Object)
	var ms struct {
		Statistics struct{ Training, Testing manifestStats }
	}
	if err := json.Unmarshal(body, &ms); err != nil {
		t.Fatalf("manifest summary %s: %v", body, err)
	}
	return ms.Statistics.Training, ms.Statistics.Testing
}

// validationErrors returns the codes of each line of a validation manifest.
func validationErrors(t *testing.T, s *s3.Client, r *rtypes.ValidationData) [][]string {
	t.Helper()
	if r == nil || len(r.Assets) != 1 {
		t.Fatalf("validation data %+v", r)
	}
	body := getJSON(t, s, r.Assets[0].GroundTruthManifest.S3Object)
	var out [][]string
	for _, l := range strings.Split(string(body), "\n") {
		var line struct {
			Errors []struct{ Code, Message string } `json:"errors"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("validation line %q: %v", l, err)
		}
		var codes []string
		for _, e := range line.Errors {
			codes = append(codes, e.Code)
		}
		out = append(out, codes)
	}
	return out
}

func waitTrained(t *testing.T, r *rekognition.Client, project, name string) rtypes.ProjectVersionDescription {
	t.Helper()
	return e2e.Poll(t, 3*time.Minute, "version "+name+" training", func() (rtypes.ProjectVersionDescription, bool) {
		d, err := r.DescribeProjectVersions(context.Background(), &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		pv := d.ProjectVersionDescriptions[0]
		return pv, pv.Status != rtypes.ProjectVersionStatusTrainingInProgress
	})
}

// TestTrainingWithABadImage: a truncated JPEG (its header intact, so the
// manifest import accepts it) is an invalid line of the training run: the
// version trains without it, and the validation manifest and the manifest
// summary in OutputConfig report it as ERROR_INVALID_IMAGE.
func TestTrainingWithABadImage(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")})
	s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("out")})
	good := colourJPEG(t, rand.New(rand.NewSource(5)), color.RGBA{200, 40, 40, 255})
	put(t, s, "data", "train.manifest", []byte(badImageManifest(t, s, "data", "train", 10, map[int][]byte{5: good[:len(good)*2/3]})))
	put(t, s, "data", "test.manifest", []byte(badImageManifest(t, s, "data", "test", 5, nil)))
	project := createProject(t, r, "bad-image")
	m := func(key string) []rtypes.Asset {
		return []rtypes.Asset{{GroundTruthManifest: &rtypes.GroundTruthManifest{S3Object: &rtypes.S3Object{Bucket: aws.String("data"), Name: aws.String(key)}}}}
	}
	if _, err := r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String("v1"),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("out"), S3KeyPrefix: aws.String("runs/")},
		TrainingData: &rtypes.TrainingData{Assets: m("train.manifest")}, TestingData: &rtypes.TestingData{Assets: m("test.manifest")}}); err != nil {
		t.Fatal(err)
	}
	pv := waitTrained(t, r, project, "v1")
	if pv.Status != rtypes.ProjectVersionStatusTrainingCompleted {
		t.Fatalf("status %s: %s", pv.Status, aws.ToString(pv.StatusMessage))
	}
	train, test := manifestSummary(t, s, pv)
	if train.TotalJSONLines != 21 || train.ValidJSONLines != 20 || train.InvalidJSONLines != 1 || fmt.Sprint(train.ErrorJSONLineIndices) != "[5]" || len(train.Errors) != 0 {
		t.Errorf("training statistics %+v", train)
	}
	if test.TotalJSONLines != 10 || test.InvalidJSONLines != 0 {
		t.Errorf("testing statistics %+v", test)
	}
	codes := validationErrors(t, s, pv.TrainingDataResult.Validation)
	if len(codes) != 21 {
		t.Fatalf("%d validation lines, want 21", len(codes))
	}
	for i, c := range codes {
		want := ""
		if i == 4 {
			want = "ERROR_INVALID_IMAGE"
		}
		if strings.Join(c, ",") != want {
			t.Errorf("validation line %d: errors %v, want %q", i+1, c, want)
		}
	}
	if tc := validationErrors(t, s, pv.TestingDataResult.Validation); len(tc) != 10 {
		t.Errorf("%d testing validation lines", len(tc))
	}
	// The ground truth holds the 20 lines trained on.
	if gt := getJSON(t, s, pv.TrainingDataResult.Output.Assets[0].GroundTruthManifest.S3Object); strings.Count(string(gt), "\n") != 19 || strings.Contains(string(gt), "broken") {
		t.Errorf("training ground truth:\n%s", gt)
	}
	var ev struct {
		EvaluationDetails struct{ NumberOfTrainingImages int }
	}
	if err := json.Unmarshal(getJSON(t, s, pv.EvaluationResult.Summary.S3Object), &ev); err != nil || ev.EvaluationDetails.NumberOfTrainingImages != 20 {
		t.Errorf("evaluation: %+v, %v", ev, err)
	}
}

// TestTrainingWithTooManyBadImages: over 20% of a dataset's lines invalid
// fails the training with ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST, in the
// status message and the manifest summary; the validation manifest names
// each bad image.
func TestTrainingWithTooManyBadImages(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")})
	good := colourJPEG(t, rand.New(rand.NewSource(5)), color.RGBA{200, 40, 40, 255})
	put(t, s, "data", "train.manifest", []byte(badImageManifest(t, s, "data", "train", 4, map[int][]byte{
		2: good[:len(good)/2], 4: good[:len(good)-40], 7: good[:len(good)*3/4]}))) // 3 of 11
	put(t, s, "data", "test.manifest", []byte(badImageManifest(t, s, "data", "test", 3, nil)))
	project := createProject(t, r, "bad-images")
	waitDataset(t, r, createDataset(t, r, project, rtypes.DatasetTypeTrain, "data", "train.manifest"))
	waitDataset(t, r, createDataset(t, r, project, rtypes.DatasetTypeTest, "data", "test.manifest"))
	if _, err := r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String("v1"),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("data"), S3KeyPrefix: aws.String("out")}}); err != nil {
		t.Fatal(err)
	}
	pv := waitTrained(t, r, project, "v1")
	msg := aws.ToString(pv.StatusMessage)
	if pv.Status != rtypes.ProjectVersionStatusTrainingFailed || !strings.Contains(msg, "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST") ||
		!strings.Contains(msg, "3 invalid of 11 lines") {
		t.Fatalf("status %s: %s", pv.Status, msg)
	}
	t.Logf("status message: %s", msg)
	train, _ := manifestSummary(t, s, pv)
	if train.InvalidJSONLines != 3 || fmt.Sprint(train.ErrorJSONLineIndices) != "[2 4 7]" || len(train.Errors) != 1 || train.Errors[0].Code != "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST" {
		t.Errorf("training statistics %+v", train)
	}
	codes := validationErrors(t, s, pv.TrainingDataResult.Validation)
	var bad []int
	for i, c := range codes {
		if strings.Join(c, ",") == "ERROR_INVALID_IMAGE" {
			bad = append(bad, i+1)
		}
	}
	if fmt.Sprint(bad) != "[2 4 7]" {
		t.Errorf("lines with ERROR_INVALID_IMAGE %v, want [2 4 7]", bad)
	}
	if pv.EvaluationResult != nil {
		t.Errorf("a failed training has an evaluation: %+v", pv.EvaluationResult)
	}
}
