package console_test

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// TestDatasetImagesScoped: a dataset created from a manifest in S3 through
// the console lists its image, whose thumbnail Alice gets and Bob does not
// (neither by the same URL nor signed in as himself).
func TestDatasetImagesScoped(t *testing.T) {
	s := e2e.Start(t, server.Config{})
	ctx := context.Background()
	s3c := s.S3(e2e.Alice)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("imgs")}); err != nil {
		t.Fatal(err)
	}
	var jb bytes.Buffer
	jpeg.Encode(&jb, image.NewRGBA(image.Rect(0, 0, 400, 300)), nil)
	put := func(key string, body []byte) {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("imgs"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	put("a/cat.jpg", jb.Bytes())
	put("a/dog.jpg", jb.Bytes())
	line := func(ref, label string) string {
		return `{"source-ref":"` + ref + `","c":1,"c-metadata":{"confidence":1,"class-name":"` + label + `","human-annotated":"yes","creation-date":"2026-01-01T00:00:00","type":"groundtruth/image-classification","job-name":"j"}}` + "\n"
	}
	put("train.manifest", []byte(line("s3://imgs/a/cat.jpg", "cat")+line("s3://imgs/a/dog.jpg", "dog")))
	p, err := s.Rekognition(e2e.Alice).CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String("pets")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(p.ProjectArn)
	b := newBrowser(t, s)
	b.signIn(e2e.Alice)
	b.do("GET", "project?arn="+url.QueryEscape(arn), nil)
	code, page := b.post("datasets", url.Values{"project": {arn}, "type": {"train"}, "bucket": {"imgs"}, "key": {"train.manifest"}})
	if code != http.StatusOK || !strings.Contains(page, `id="dataset-train"`) {
		t.Fatalf("create dataset: %d %s\n%s", code, flashOf(page), page)
	}
	i := strings.Index(page, `href="/_ocellus/console/dataset?arn=`)
	ds := page[i+len(`href="/_ocellus/console/dataset?arn=`):]
	ds, _ = url.QueryUnescape(ds[:strings.IndexByte(ds, '"')])
	var grid string
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, grid = b.do("GET", "dataset?arn="+url.QueryEscape(ds), nil)
		if strings.Contains(grid, `id="grid"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(grid, "cat.jpg") || !strings.Contains(grid, `<td data-label="Label" class="name">cat</td>`) {
		t.Fatalf("dataset page lacks the image or its label stats:\n%s", grid)
	}
	thumb := "image?" + url.Values{"dataset": {ds}, "ref": {"s3://imgs/a/cat.jpg"}, "size": {"thumb"}}.Encode()
	if code, body := b.do("GET", thumb, nil); code != http.StatusOK || !strings.HasPrefix(body, "\xff\xd8") {
		t.Fatalf("Alice's thumbnail: %d %.80q", code, body)
	}
	other := "image?" + url.Values{"dataset": {ds}, "ref": {"s3://imgs/train.manifest"}}.Encode()
	if code, _ := b.do("GET", other, nil); code != http.StatusNotFound {
		t.Errorf("an object that is no entry of the dataset: %d, want 404", code)
	}
	bob := newBrowser(t, s)
	bob.signIn(e2e.Bob)
	if code, body := bob.do("GET", thumb, nil); code != http.StatusNotFound || strings.HasPrefix(body, "\xff\xd8") {
		t.Errorf("Bob fetched Alice's thumbnail: %d", code)
	}
	if code, _ := b.do("POST", "entry", url.Values{"dataset": {ds}, "ref": {"s3://imgs/a/cat.jpg"}, "op": {"add-label"}, "label": {"dog"}}); code != http.StatusForbidden {
		t.Errorf("labeling without the CSRF token: %d, want 403", code)
	}
}
