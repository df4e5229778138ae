package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	v1aws "github.com/aws/aws-sdk-go/aws"
	lv "github.com/aws/aws-sdk-go/service/lookoutforvision"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// cookieInputs finds AWS's cookie data set and an ONNX backbone, or skips.
func cookieInputs(t testing.TB) (dir, bb string) {
	t.Helper()
	if testing.Short() || raceBuild {
		t.Skip("trains a real model on 63 images: not in -short or -race runs; make test runs it without -race")
	}
	wd, _ := os.Getwd()
	root := backbone.ModuleRoot(wd)
	dir = filepath.Join(root, "..", "shared", "datasets", "lookout-cookies")
	if _, err := os.Stat(filepath.Join(dir, "manifests", "template.manifest")); err != nil {
		t.Skip("lookout-cookies data set not found at " + dir)
	}
	bb = os.Getenv("OCELLUS_BACKBONE")
	if bb == "" {
		bb = filepath.Join(root, "..", "shared", "models", "mobilenetv2-12-int8.onnx")
	}
	if _, err := os.Stat(bb); err != nil {
		t.Skip("no ONNX backbone (set OCELLUS_BACKBONE)")
	}
	if _, err := backbone.FindLibrary(); err != nil {
		t.Skip("ONNX Runtime library not found")
	}
	return dir, bb
}

// hostedCookieModel runs the getting-started flow up to a HOSTED model
// and returns the client, the data set directory, the trained model's
// description and how long training took.
func hostedCookieModel(t testing.TB) (*lv.LookoutForVision, string, *lv.ModelDescription, time.Duration) {
	dir, bbPath := cookieInputs(t)
	ts := e2e.Start(t, server.Config{Backbone: bbPath})
	c, s := ts.LookoutVision(alice), ts.S3(alice)
	mkBucket(t, s, "cookies")
	for _, sub := range []string{"training-images", "mask-images", "test-images"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			put(t, s, "cookies", "getting-started/"+sub+"/"+e.Name(), b)
		}
	}
	f, err := os.Open(filepath.Join(dir, "manifests", "template.manifest"))
	if err != nil {
		t.Fatal(err)
	}
	var man bytes.Buffer
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"source-ref", "anomaly-mask-ref"} {
			if v, ok := line[k].(string); ok {
				line[k] = "s3://cookies/getting-started/" + v
			}
		}
		b, _ := json.Marshal(line)
		man.Write(append(b, '\n'))
	}
	f.Close()
	put(t, s, "cookies", "getting-started/train.manifest", man.Bytes())

	if _, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("cookies")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String("cookies"), DatasetType: v1aws.String("train"),
		DatasetSource: &lv.DatasetSource{GroundTruthManifest: &lv.DatasetGroundTruthManifest{S3Object: &lv.InputS3Object{
			Bucket: v1aws.String("cookies"), Key: v1aws.String("getting-started/train.manifest")}}}}); err != nil {
		t.Fatal(err)
	}
	if d := waitL4VDataset(t, c, "cookies", "train"); *d.Status != "CREATE_COMPLETE" || *d.ImageStats.Total != 63 {
		t.Fatalf("dataset = %v", d)
	}
	t0 := time.Now()
	if _, err := c.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String("cookies"),
		OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("cookies"), Prefix: v1aws.String("output/")}}}); err != nil {
		t.Fatal(err)
	}
	md := waitModel(t, c, "cookies", "1", 10*time.Minute, "TRAINING")
	trainTime := time.Since(t0)
	if *md.Status != "TRAINED" {
		t.Fatalf("model = %v", md)
	}
	if _, err := c.StartModel(&lv.StartModelInput{ProjectName: v1aws.String("cookies"), ModelVersion: v1aws.String("1"), MinInferenceUnits: v1aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	if md := waitModel(t, c, "cookies", "1", time.Minute, "STARTING_HOSTING"); *md.Status != "HOSTED" {
		t.Fatalf("model = %v", md)
	}
	return c, dir, md, trainTime
}

// TestLookoutCookies is AWS's getting-started flow, unchanged, through the
// real aws-sdk-go v1 client: upload the cookie images, rewrite the
// manifest's relative refs to s3:// URIs, create project and dataset,
// CreateModel, poll DescribeModel to TRAINED, StartModel, DetectAnomalies
// on all 22 test images, StopModel, delete everything.
func TestLookoutCookies(t *testing.T) {
	c, dir, md, trainTime := hostedCookieModel(t)
	ents, _ := os.ReadDir(filepath.Join(dir, "test-images"))
	var scores []float64
	var truth []bool
	var lat []time.Duration
	right, masks := 0, 0
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, "test-images", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		out, err := c.DetectAnomalies(&lv.DetectAnomaliesInput{ProjectName: v1aws.String("cookies"), ModelVersion: v1aws.String("1"),
			ContentType: v1aws.String("image/jpeg"), Body: bytes.NewReader(b)})
		lat = append(lat, time.Since(t1))
		if err != nil {
			t.Fatal(err)
		}
		r := out.DetectAnomalyResult
		anom := strings.Contains(e.Name(), "anomaly")
		if *r.IsAnomalous == anom {
			right++
		}
		if len(r.AnomalyMask) > 0 {
			masks++
		}
		// Confidence is in the decision; turn it into an anomaly score.
		sc := *r.Confidence
		if !*r.IsAnomalous {
			sc = 1 - sc
		}
		scores, truth = append(scores, sc), append(truth, anom)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	acc := float64(right) / float64(len(ents))
	auroc := anomaly.AUROC(scores, truth)
	t.Logf("cookies through the API: training %.1fs, F1 %.3f; %d test images: accuracy %.3f, AUROC %.3f; DetectAnomalies p50 %v; %d masks",
		trainTime.Seconds(), *md.Performance.F1Score, len(ents), acc, auroc, lat[len(lat)/2].Round(time.Millisecond), masks)
	if len(ents) != 22 || acc < 0.9 || masks == 0 {
		t.Errorf("accuracy %.3f on %d images, %d masks", acc, len(ents), masks)
	}
	if _, err := c.StopModel(&lv.StopModelInput{ProjectName: v1aws.String("cookies"), ModelVersion: v1aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	if md := waitModel(t, c, "cookies", "1", time.Minute, "STOPPING_HOSTING"); *md.Status != "TRAINED" {
		t.Fatalf("model = %v", md)
	}
	if _, err := c.DeleteModel(&lv.DeleteModelInput{ProjectName: v1aws.String("cookies"), ModelVersion: v1aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteDataset(&lv.DeleteDatasetInput{ProjectName: v1aws.String("cookies"), DatasetType: v1aws.String("train")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteProject(&lv.DeleteProjectInput{ProjectName: v1aws.String("cookies")}); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkLookoutDetectAnomalies measures DetectAnomalies over HTTP with
// the real SDK on a hosted cookie model (576x768 JPEGs, ONNX backbone);
// p50-ms is the median latency.
func BenchmarkLookoutDetectAnomalies(b *testing.B) {
	c, dir, _, _ := hostedCookieModel(b)
	ents, _ := os.ReadDir(filepath.Join(dir, "test-images"))
	var imgs [][]byte
	for _, e := range ents {
		bs, err := os.ReadFile(filepath.Join(dir, "test-images", e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		imgs = append(imgs, bs)
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := c.DetectAnomalies(&lv.DetectAnomaliesInput{ProjectName: v1aws.String("cookies"), ModelVersion: v1aws.String("1"),
			ContentType: v1aws.String("image/jpeg"), Body: bytes.NewReader(imgs[i%len(imgs)])}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		i++
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}
