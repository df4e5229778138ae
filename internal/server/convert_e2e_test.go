package server_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocellus/ocellus/internal/convert"
	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// TestDetectionProjectFromConvertedBCCD builds a Custom Labels detection
// project from 40 BCCD images converted with `manifest from-voc`'s code:
// images and the converted manifest go to the embedded S3, CreateDataset
// imports them, training runs with the defaults, and DetectCustomLabels
// finds blood cells with boxes on a held-out image.
func TestDetectionProjectFromConvertedBCCD(t *testing.T) {
	if raceBuild {
		t.Skip("heavy training: run without -race (make test does)")
	}
	root := filepath.Join("..", "..", "..", "shared", "datasets", "bccd")
	ids, err := convert.ReadIDs(filepath.Join(root, "ImageSets", "Main", "trainval.txt"))
	if err != nil {
		t.Skip("../shared/datasets/bccd not present")
	}
	testIDs, err := convert.ReadIDs(filepath.Join(root, "ImageSets", "Main", "test.txt"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := convert.VOC(root, convert.VOCOptions{IDs: ids[:40]})
	if err != nil || len(d.Records) != 40 {
		t.Fatalf("%d records: %v", len(d.Records), err)
	}
	cfg := server.Config{}
	if _, err := os.Stat(sharedBackbone); err == nil {
		cfg.Backbone = sharedBackbone
	}
	ts := e2e.Start(t, cfg)
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cells")}); err != nil {
		t.Fatal(err)
	}
	for _, rec := range d.Records {
		b, err := os.ReadFile(rec.Path)
		if err != nil {
			t.Fatal(err)
		}
		put(t, s, "cells", "bccd/"+rec.Image, b)
	}
	var man bytes.Buffer
	if _, err := d.WriteDetection(&man, convert.WriteOptions{S3Prefix: "s3://cells/bccd"}); err != nil {
		t.Fatal(err)
	}
	put(t, s, "cells", "bccd/train.manifest", man.Bytes())
	project := createProject(t, r, "bccd")
	ds := waitDataset(t, r, createDataset(t, r, project, rtypes.DatasetTypeTrain, "cells", "bccd/train.manifest"))
	if ds.Status != rtypes.DatasetStatusCreateComplete || aws.ToInt32(ds.DatasetStats.ErrorEntries) != 0 || aws.ToInt32(ds.DatasetStats.TotalEntries) != 40 {
		t.Fatalf("dataset: %s %s %+v", ds.Status, aws.ToString(ds.StatusMessage), ds.DatasetStats)
	}
	arn := trainAndWait(t, r, project, "v1", "cells", 10*time.Minute)
	img, err := os.ReadFile(filepath.Join(root, "JPEGImages", testIDs[0]+".jpg"))
	if err != nil {
		t.Fatal(err)
	}
	labels := testHostingAnswers(t, r, project, arn, img)
	boxes := 0
	for _, l := range labels {
		switch aws.ToString(l.Name) {
		case "RBC", "WBC", "Platelets":
		default:
			t.Fatalf("label %q is not a BCCD class", aws.ToString(l.Name))
		}
		if l.Geometry != nil && l.Geometry.BoundingBox != nil && aws.ToFloat32(l.Geometry.BoundingBox.Width) > 0 {
			boxes++
		}
	}
	// BCCD test images hold about 13 cells each.
	if boxes < 3 {
		t.Fatalf("%d boxes on %s: %+v", boxes, testIDs[0], labels)
	}
	t.Logf("%d labelled boxes on %s", boxes, testIDs[0])
}
