package console_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/chromedp"

	"github.com/ocellus/ocellus/internal/console"
	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// colourImage is a small noisy image dominated by one colour, which even
// the built-in backbone tells apart.
func colourImage(t *testing.T, rng *rand.Rand, c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 96, 80))
	for y := range 80 {
		for x := range 96 {
			n := func(v uint8) uint8 { return uint8(max(0, min(255, int(v)+rng.Intn(50)-25))) }
			img.Set(x, y, color.RGBA{n(c.R), n(c.G), n(c.B), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// colourProject makes a Custom Labels project whose train and test
// datasets hold n and m images of red and blue, and returns its ARN.
func colourProject(t *testing.T, s *e2e.Server, name string, n, m int) string {
	ctx := context.Background()
	s3c, r := s.S3(e2e.Alice), s.Rekognition(e2e.Alice)
	for _, b := range []string{"colours", "out"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewSource(1))
	manifest := func(split string, k int) string {
		var lines []string
		for _, c := range []struct {
			name string
			rgb  color.RGBA
		}{{"red", color.RGBA{200, 40, 40, 255}}, {"blue", color.RGBA{40, 40, 200, 255}}} {
			for i := range k {
				key := fmt.Sprintf("%s/%s/%d.jpg", split, c.name, i)
				if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("colours"), Key: aws.String(key), Body: bytes.NewReader(colourImage(t, rng, c.rgb))}); err != nil {
					t.Fatal(err)
				}
				lines = append(lines, `{"source-ref":"s3://colours/`+key+`","c":1,"c-metadata":{"confidence":1,"class-name":"`+c.name+`","human-annotated":"yes","creation-date":"2026-01-01T00:00:00","type":"groundtruth/image-classification","job-name":"j"}}`)
			}
		}
		key := split + ".manifest"
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("colours"), Key: aws.String(key), Body: strings.NewReader(strings.Join(lines, "\n"))}); err != nil {
			t.Fatal(err)
		}
		return key
	}
	p, err := r.CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	for typ, key := range map[rtypes.DatasetType]string{rtypes.DatasetTypeTrain: manifest("train", n), rtypes.DatasetTypeTest: manifest("test", m)} {
		d, err := r.CreateDataset(ctx, &rekognition.CreateDatasetInput{ProjectArn: p.ProjectArn, DatasetType: typ,
			DatasetSource: &rtypes.DatasetSource{GroundTruthManifest: &rtypes.GroundTruthManifest{S3Object: &rtypes.S3Object{Bucket: aws.String("colours"), Name: aws.String(key)}}}})
		if err != nil {
			t.Fatal(err)
		}
		e2e.Poll(t, 30*time.Second, "dataset "+string(typ), func() (string, bool) {
			o, err := r.DescribeDataset(ctx, &rekognition.DescribeDatasetInput{DatasetArn: d.DatasetArn})
			if err != nil {
				t.Fatal(err)
			}
			st := o.DatasetDescription.Status
			if st == rtypes.DatasetStatusCreateFailed {
				t.Fatalf("dataset %s: %s", typ, aws.ToString(o.DatasetDescription.StatusMessage))
			}
			return string(st), st == rtypes.DatasetStatusCreateComplete
		})
	}
	return aws.ToString(p.ProjectArn)
}

// TestModelsOverHTTP trains a version from the console, watches it on the
// project page until it is trained (F1 and training time shown), starts
// it with two inference units, finds it RUNNING through the API with the
// snippets naming it and this server, and stops it; bad input gets the
// API's error.
func TestModelsOverHTTP(t *testing.T) {
	s := e2e.Start(t, server.Config{})
	project := colourProject(t, s, "colours", 5, 2)
	b := newBrowser(t, s)
	b.signIn(e2e.Alice)
	projectPage := "project?arn=" + url.QueryEscape(project)
	_, page := b.do("GET", projectPage, nil)
	if !strings.Contains(page, `id="no-models"`) || !strings.Contains(page, `id="train-form"`) {
		t.Fatalf("project page without models or train form:\n%s", page)
	}
	if _, page := b.post("train", url.Values{"project": {project}, "bucket": {""}}); !strings.Contains(flashOf(page), "Name the S3 bucket") {
		t.Errorf("training without an output bucket: %q", flashOf(page))
	}
	if _, page := b.post("train", url.Values{"project": {project}, "name": {"bad name!"}, "bucket": {"out"}}); !strings.Contains(flashOf(page), "at 'versionName' failed to satisfy constraint") {
		t.Errorf("a version name the API refuses: %q", flashOf(page))
	}
	code, page := b.post("train", url.Values{"project": {project}, "name": {"v1"}, "bucket": {"out"}, "prefix": {"runs/"}})
	if code != http.StatusOK || !strings.Contains(flashOf(page), "Training v1.") || !strings.Contains(page, `id="model-status">TRAINING`) {
		t.Fatalf("train: %d %q\n%s", code, flashOf(page), page)
	}
	if !strings.Contains(page, `<meta http-equiv="refresh"`) {
		t.Error("the model page does not update itself while training")
	}
	var arn string
	e2e.Poll(t, 2*time.Minute, "training on the project page", func() (string, bool) {
		_, page = b.do("GET", projectPage, nil)
		return page, strings.Contains(page, ">TRAINING_COMPLETED<") || strings.Contains(page, ">TRAINING_FAILED<")
	})
	if !strings.Contains(page, ">TRAINING_COMPLETED<") || strings.Contains(page, `<meta http-equiv="refresh"`) {
		t.Fatalf("after training:\n%s", page)
	}
	out, err := s.Rekognition(e2e.Alice).DescribeProjectVersions(context.Background(), &rekognition.DescribeProjectVersionsInput{ProjectArn: &project})
	if err != nil || len(out.ProjectVersionDescriptions) != 1 {
		t.Fatalf("describe: %v %+v", err, out)
	}
	pv := out.ProjectVersionDescriptions[0]
	arn = aws.ToString(pv.ProjectVersionArn)
	f1 := fmt.Sprintf("%.3f", aws.ToFloat32(pv.EvaluationResult.F1Score))
	if !strings.Contains(page, `<td data-label="F1">`+f1+`</td>`) {
		t.Errorf("the project page lacks the F1 %s:\n%s", f1, page)
	}
	if strings.Contains(page, `<td data-label="Training time">–</td>`) || !strings.Contains(page, `<td data-label="Training time">`) {
		t.Errorf("the project page lacks the training time:\n%s", page)
	}
	modelPage := "model?arn=" + url.QueryEscape(arn)
	_, page = b.do("GET", modelPage, nil)
	for _, want := range []string{"aws rekognition detect-custom-labels", "--project-version-arn " + arn, "--endpoint-url " + s.URL,
		`boto3.client(&#34;rekognition&#34;`, "detect_custom_labels(", `id="start-form"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the model page lacks %q", want)
		}
	}
	if _, page := b.post("model/hosting", url.Values{"model": {arn}, "op": {"start"}, "units": {"0"}}); !strings.Contains(flashOf(page), "whole number from 1 to") {
		t.Errorf("0 inference units: %q", flashOf(page))
	}
	if _, page = b.post("model/hosting", url.Values{"model": {arn}, "op": {"start"}, "units": {"2"}}); !strings.Contains(flashOf(page), "Starting v1 with 2 inference units.") {
		t.Fatalf("start: %q", flashOf(page))
	}
	e2e.Poll(t, time.Minute, "RUNNING", func() (string, bool) {
		_, page = b.do("GET", modelPage, nil)
		return page, strings.Contains(page, `id="model-status">RUNNING<`)
	})
	if !strings.Contains(page, `<strong id="model-units">2</strong>`) || !strings.Contains(page, `id="stop-model"`) {
		t.Errorf("running model page:\n%s", page)
	}
	d, err := s.Rekognition(e2e.Alice).DescribeProjectVersions(context.Background(), &rekognition.DescribeProjectVersionsInput{ProjectArn: &project})
	if err != nil || d.ProjectVersionDescriptions[0].Status != rtypes.ProjectVersionStatusRunning || aws.ToInt32(d.ProjectVersionDescriptions[0].MinInferenceUnits) != 2 {
		t.Fatalf("the API after start: %v %+v", err, d)
	}
	if _, page = b.post("model/hosting", url.Values{"model": {arn}, "op": {"stop"}}); !strings.Contains(flashOf(page), "Stopping v1.") {
		t.Fatalf("stop: %q", flashOf(page))
	}
	e2e.Poll(t, time.Minute, "STOPPED", func() (string, bool) {
		_, page = b.do("GET", modelPage, nil)
		return page, strings.Contains(page, `id="model-status">STOPPED<`)
	})
	bob := newBrowser(t, s)
	bob.signIn(e2e.Bob)
	if code, _ := bob.do("GET", modelPage, nil); code != http.StatusNotFound {
		t.Errorf("Bob opens Alice's model: %d, want 404", code)
	}
	if _, page := bob.post("model/hosting", url.Values{"model": {arn}, "op": {"start"}, "units": {"1"}}); !strings.Contains(flashOf(page), "is not authorized to access "+arn) {
		t.Errorf("Bob starts Alice's model: %q", flashOf(page))
	}
}

// TestBrowserModels trains and starts a model in Chromium: the train form
// on the project page, the model page following the training live (it
// reloads itself) until it shows the evaluation, then the start form with
// an inference unit; screenshots of both pages.
func TestBrowserModels(t *testing.T) {
	s := e2e.Start(t, server.Config{})
	project := colourProject(t, s, "colours", 5, 2)
	b := newTab(t, s, 90*time.Second)
	b.signIn(e2e.Alice)
	b.waitPage("open the project", "#train-form", chromedp.Navigate(s.URL+console.Prefix+"project?arn="+url.QueryEscape(project)))
	b.do("fill the train form", chromedp.SendKeys(chromedp.CSS("#train-name"), "v1"), chromedp.SendKeys(chromedp.CSS("#train-bucket"), "out"))
	b.accessible("project page")
	b.shoot("project")
	b.waitPage("train", "#model-status", chromedp.Click(chromedp.CSS("#train")))
	b.do("the model page follows the training", chromedp.WaitVisible(chromedp.CSS("#label-metrics")))
	if got := b.text("#model-status"); got != "TRAINING_COMPLETED" {
		t.Fatalf("after training the model is %q", got)
	}
	b.accessible("model page")
	b.shoot("model")
	b.waitPage("start the model", "#flash", chromedp.SetValue(chromedp.CSS("#units"), "1"), chromedp.Click(chromedp.CSS("#start-model")))
	b.do("the model runs", chromedp.WaitVisible(chromedp.CSS("#stop-model")))
	if got := b.text("#flash-text"); got != "Starting v1 with 1 inference unit." {
		t.Errorf("after start the page says %q", got)
	}
}
