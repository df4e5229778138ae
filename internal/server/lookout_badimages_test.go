package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	v1aws "github.com/aws/aws-sdk-go/aws"
	lv "github.com/aws/aws-sdk-go/service/lookoutforvision"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// TestLookoutTrainingWithBadImages: a model trains without an image that
// cannot be decoded (a truncated PNG, its header intact so the dataset
// takes it) and lists it in its evaluation result; with more than 20% of
// the dataset broken, training fails with a message naming one.
func TestLookoutTrainingWithBadImages(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	c, s := ts.LookoutVision(alice), ts.S3(alice)
	mkBucket(t, s, "data")
	truncate := func(key string) {
		out, err := s.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		put(t, s, "data", key, b[:len(b)/2])
	}
	for _, tc := range []struct {
		project string
		broken  []int
		trained bool
	}{{"one-bad", []int{3}, true}, {"many-bad", []int{1, 2, 3, 4, 5, 6, 7, 8}, false}} { // 1 and 8 of 36
		mkey := synthDataset(t, s, "data", tc.project, 24, 12, 96, 96, 2)
		for _, i := range tc.broken {
			truncate(fmt.Sprintf("%s/img-%02d.png", tc.project, i))
		}
		if _, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String(tc.project)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String(tc.project), DatasetType: v1aws.String("train"),
			DatasetSource: &lv.DatasetSource{GroundTruthManifest: &lv.DatasetGroundTruthManifest{S3Object: &lv.InputS3Object{Bucket: v1aws.String("data"), Key: v1aws.String(mkey)}}}}); err != nil {
			t.Fatal(err)
		}
		if d := waitL4VDataset(t, c, tc.project, "train"); *d.Status != "CREATE_COMPLETE" {
			t.Fatalf("dataset = %v", d)
		}
		if _, err := c.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String(tc.project),
			OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("data"), Prefix: v1aws.String("models/")}}}); err != nil {
			t.Fatal(err)
		}
		md := waitModel(t, c, tc.project, "1", 5*time.Minute, "TRAINING")
		if !tc.trained {
			msg := v1aws.StringValue(md.StatusMessage)
			if *md.Status != "TRAINING_FAILED" || !strings.Contains(msg, "8 of the 36 images of the train dataset cannot be used") || !strings.Contains(msg, "img-01.png") {
				t.Fatalf("model %s: %s", *md.Status, msg)
			}
			t.Logf("status message: %s", msg)
			continue
		}
		if *md.Status != "TRAINED" || md.EvaluationResult == nil {
			t.Fatalf("model = %v", md)
		}
		out, err := s.GetObject(context.Background(), &s3.GetObjectInput{Bucket: md.EvaluationResult.Bucket, Key: md.EvaluationResult.Key})
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			EvaluationDetails struct{ NumberOfTrainingImages int }
			ExcludedImages    []struct {
				SourceRef string `json:"source-ref"`
				Error     string `json:"error"`
			}
		}
		if err := json.NewDecoder(out.Body).Decode(&res); err != nil {
			t.Fatal(err)
		}
		out.Body.Close()
		if len(res.ExcludedImages) != 1 || res.ExcludedImages[0].SourceRef != "s3://data/one-bad/img-03.png" || !strings.Contains(res.ExcludedImages[0].Error, "png") ||
			res.EvaluationDetails.NumberOfTrainingImages != 35 {
			t.Fatalf("evaluation result %+v", res)
		}
	}
}
