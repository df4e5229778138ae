package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand"
	"os"
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

type box struct {
	label      string
	x, y, w, h int
}

// scene draws 1-3 objects (red squares, blue discs) on a noisy grey
// background and returns the JPEG and the boxes in pixels.
func scene(t testing.TB, rng *rand.Rand, w, h int) ([]byte, []box) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8(110 + rng.Intn(40))
			img.Set(x, y, color.RGBA{v, v, v, 255})
		}
	}
	var boxes []box
	for n := 1 + rng.Intn(3); len(boxes) < n; {
		s := 50 + rng.Intn(50)
		b := box{x: rng.Intn(w - s), y: rng.Intn(h - s), w: s, h: s}
		overlap := false
		for _, o := range boxes {
			if b.x < o.x+o.w && o.x < b.x+b.w && b.y < o.y+o.h && o.y < b.y+b.h {
				overlap = true
			}
		}
		if overlap {
			continue
		}
		if rng.Intn(2) == 0 {
			b.label = "square"
			for y := b.y; y < b.y+s; y++ {
				for x := b.x; x < b.x+s; x++ {
					img.Set(x, y, color.RGBA{210, 30, 30, 255})
				}
			}
		} else {
			b.label = "disc"
			r := s / 2
			for y := b.y; y < b.y+s; y++ {
				for x := b.x; x < b.x+s; x++ {
					if (x-b.x-r)*(x-b.x-r)+(y-b.y-r)*(y-b.y-r) <= r*r {
						img.Set(x, y, color.RGBA{30, 30, 210, 255})
					}
				}
			}
		}
		boxes = append(boxes, b)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), boxes
}

func detectionLine(bucket, key string, w, h int, boxes []box) string {
	classes := map[string]int{"square": 0, "disc": 1}
	var anns, objs []map[string]any
	for _, b := range boxes {
		anns = append(anns, map[string]any{"class_id": classes[b.label], "left": b.x, "top": b.y, "width": b.w, "height": b.h})
		objs = append(objs, map[string]any{"confidence": 1})
	}
	line, _ := json.Marshal(map[string]any{
		"source-ref": fmt.Sprintf("s3://%s/%s", bucket, key),
		"bb":         map[string]any{"image_size": []map[string]int{{"width": w, "height": h, "depth": 3}}, "annotations": anns},
		"bb-metadata": map[string]any{"objects": objs, "class-map": map[string]string{"0": "square", "1": "disc"},
			"type": "groundtruth/object-detection", "human-annotated": "yes", "creation-date": "2024-01-01T00:00:00"},
	})
	return string(line)
}

// TestDetectionProject trains an object-detection model through the API on
// synthetic scenes and checks DetectCustomLabels answers with boxes that
// find the held-out objects. It uses the shared MobileNetV2 backbone when
// present, the built-in extractor otherwise.
func TestDetectionProject(t *testing.T) {
	if raceBuild {
		// Training a detection head under the race detector takes many
		// minutes; `make test` runs this test again without -race. The
		// same code paths run under -race in the classification tests.
		t.Skip("heavy training: run without -race (make test does)")
	}
	cfg := server.Config{}
	if _, err := os.Stat(sharedBackbone); err == nil {
		cfg.Backbone = sharedBackbone
	}
	ts := e2e.Start(t, cfg)
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scenes")})
	rng := rand.New(rand.NewSource(3))
	const w, h = 320, 240
	var lines []string
	for i := 0; i < 80; i++ {
		img, boxes := scene(t, rng, w, h)
		key := fmt.Sprintf("train/%03d.jpg", i)
		put(t, s, "scenes", key, img)
		lines = append(lines, detectionLine("scenes", key, w, h, boxes))
	}
	put(t, s, "scenes", "train.manifest", []byte(strings.Join(lines, "\n")))
	project := createProject(t, r, "shapes")
	d := waitDataset(t, r, createDataset(t, r, project, rtypes.DatasetTypeTrain, "scenes", "train.manifest"))
	if d.Status != rtypes.DatasetStatusCreateComplete {
		t.Fatalf("dataset: %s %s", d.Status, aws.ToString(d.StatusMessage))
	}
	arn := trainAndWait(t, r, project, "det", "scenes", 5*time.Minute)
	dd, _ := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project})
	so := dd.ProjectVersionDescriptions[0].EvaluationResult.Summary.S3Object
	obj, err := s.GetObject(ctx, &s3.GetObjectInput{Bucket: so.Bucket, Key: so.Name})
	if err != nil {
		t.Fatal(err)
	}
	var summary struct {
		AggregatedEvaluationResults struct {
			Metrics struct{ AveragePrecision *float64 }
		}
	}
	json.NewDecoder(obj.Body).Decode(&summary)
	if summary.AggregatedEvaluationResults.Metrics.AveragePrecision == nil {
		t.Fatalf("detection evaluation has no AveragePrecision")
	}
	t.Logf("F1 %.3f, mAP %.3f (backbone %q)", aws.ToFloat32(dd.ProjectVersionDescriptions[0].EvaluationResult.F1Score),
		*summary.AggregatedEvaluationResults.Metrics.AveragePrecision, cfg.Backbone)

	testHostingAnswers(t, r, project, arn, jpegBytes(t, 96, 80, 1)) // starts it
	// Localisation is judged on the most confident answers at MinConfidence
	// 0: the default per-label thresholds come from this test's 16-image
	// automatic test split and vary from run to run with it (CI once found 5
	// of 18 objects with them). The default answer must be the confident
	// part of the full one.
	found, total, answered := 0, 0, 0
	for i := 0; i < 10; i++ {
		img, boxes := scene(t, rng, w, h)
		def, err := r.DetectCustomLabels(ctx, &rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, Image: &rtypes.Image{Bytes: img}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.DetectCustomLabels(ctx, &rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, Image: &rtypes.Image{Bytes: img}, MinConfidence: aws.Float32(0)})
		if err != nil {
			t.Fatal(err)
		}
		answered += len(res.CustomLabels)
		for _, l := range def.CustomLabels {
			if !containsLabel(res.CustomLabels, l) {
				t.Fatalf("default answer %s is not among the MinConfidence 0 answers %s", labelString([]rtypes.CustomLabel{l}), labelString(res.CustomLabels))
			}
		}
		for _, l := range res.CustomLabels {
			bb := l.Geometry.BoundingBox
			if l.Geometry == nil || bb == nil || aws.ToFloat32(bb.Left) < 0 || aws.ToFloat32(bb.Left)+aws.ToFloat32(bb.Width) > 1.001 {
				t.Fatalf("label without a valid box: %+v", l)
			}
		}
		// Answers come most confident first; look at the best 3 per object.
		top := res.CustomLabels[:min(len(res.CustomLabels), 3*len(boxes))]
		for _, b := range boxes {
			total++
			for _, l := range top {
				bb := l.Geometry.BoundingBox
				px := box{x: int(float64(aws.ToFloat32(bb.Left)) * w), y: int(float64(aws.ToFloat32(bb.Top)) * h),
					w: int(float64(aws.ToFloat32(bb.Width)) * w), h: int(float64(aws.ToFloat32(bb.Height)) * h)}
				if aws.ToString(l.Name) == b.label && iou(px, b) >= 0.5 {
					found++
					break
				}
			}
		}
	}
	t.Logf("held-out objects found (IoU >= 0.5, right label) among the 3 most confident answers per object: %d of %d (%d answers in all)", found, total, answered)
	// A floor, not the quality target: detection quality is measured by
	// the vision benchmark (docs/BENCHMARKS.md); this checks the hosted
	// model finds objects where they are.
	if found*3 < total {
		t.Fatalf("found %d of %d held-out objects", found, total)
	}
}

func labelString(ls []rtypes.CustomLabel) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "[%s %.4f", aws.ToString(l.Name), aws.ToFloat32(l.Confidence))
		if l.Geometry != nil && l.Geometry.BoundingBox != nil {
			bb := l.Geometry.BoundingBox
			fmt.Fprintf(&b, " %.4f,%.4f %.4fx%.4f", aws.ToFloat32(bb.Left), aws.ToFloat32(bb.Top), aws.ToFloat32(bb.Width), aws.ToFloat32(bb.Height))
		}
		b.WriteString("] ")
	}
	return b.String()
}

// containsLabel reports whether ls holds l (same name, confidence and box,
// to 4 decimals).
func containsLabel(ls []rtypes.CustomLabel, l rtypes.CustomLabel) bool {
	for _, o := range ls {
		if labelString([]rtypes.CustomLabel{o}) == labelString([]rtypes.CustomLabel{l}) {
			return true
		}
	}
	return false
}

func iou(a, b box) float64 {
	ix := max(0, min(a.x+a.w, b.x+b.w)-max(a.x, b.x))
	iy := max(0, min(a.y+a.h, b.y+b.h)-max(a.y, b.y))
	inter := float64(ix * iy)
	return inter / float64(a.w*a.h+b.w*b.h-ix*iy)
}

// trainAndWait creates version name of project with its output under
// s3://bucket/out/ and waits with the SDK's ProjectVersionTrainingCompleted
// waiter, as AWS's examples do; it returns the version's ARN.
func trainAndWait(t *testing.T, r *rekognition.Client, project, name, bucket string, timeout time.Duration) string {
	t.Helper()
	ctx := context.Background()
	out, err := r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String(name),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String(bucket), S3KeyPrefix: aws.String("out/")}})
	if err != nil {
		t.Fatal(err)
	}
	wt := rekognition.NewProjectVersionTrainingCompletedWaiter(r, func(o *rekognition.ProjectVersionTrainingCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
	})
	if err := wt.Wait(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{name}}, timeout); err != nil {
		dd, _ := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{name}})
		msg := ""
		if len(dd.ProjectVersionDescriptions) > 0 {
			msg = aws.ToString(dd.ProjectVersionDescriptions[0].StatusMessage)
		}
		t.Fatalf("training %s: %v (%s)", name, err, msg)
	}
	return aws.ToString(out.ProjectVersionArn)
}
