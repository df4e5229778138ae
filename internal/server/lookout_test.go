package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	v1aws "github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	v1creds "github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	v1signer "github.com/aws/aws-sdk-go/aws/signer/v4"
	lv "github.com/aws/aws-sdk-go/service/lookoutforvision"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/server"
)

// l4vErr returns the error code and HTTP status of an SDK error.
func l4vErr(err error) (string, int) {
	var rf awserr.RequestFailure
	if errors.As(err, &rf) {
		return rf.Code(), rf.StatusCode()
	}
	if err != nil {
		return "non-API error: " + err.Error(), 0
	}
	return "", 0
}

func wantL4VErr(t *testing.T, err error, code string, status int) {
	t.Helper()
	c, s := l4vErr(err)
	if c != code || s != status {
		t.Fatalf("error = %v (%s %d), want %s %d", err, c, s, code, status)
	}
}

// rawL4V sends a signed restJson1 request, bypassing the SDK, and returns
// the response with its body read.
func rawL4V(t *testing.T, ts *e2e.Server, a ocellus.Account, method, path, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	_, err := v1signer.NewSigner(v1creds.NewStaticCredentials(a.AccessKeyID, a.SecretAccessKey, "")).
		Sign(req, strings.NewReader(body), "lookoutvision", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: body %q is not JSON", method, path, b)
	}
	return resp, m
}

func TestLookoutProjectsTagsErrors(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	c := ts.LookoutVision(alice)

	out, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("p1")})
	if err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:lookoutvision:us-east-1:111111111111:project/p1"
	if got := v1aws.StringValue(out.ProjectMetadata.ProjectArn); got != arn || out.ProjectMetadata.CreationTimestamp == nil {
		t.Fatalf("project metadata = %+v", out.ProjectMetadata)
	}
	_, err = c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("p1")})
	wantL4VErr(t, err, "ConflictException", 409)
	var ce *lv.ConflictException
	if !errors.As(err, &ce) || v1aws.StringValue(ce.ResourceType) != "PROJECT" || v1aws.StringValue(ce.ResourceId) != "p1" {
		t.Fatalf("conflict = %#v", err)
	}
	_, err = c.DescribeProject(&lv.DescribeProjectInput{ProjectName: v1aws.String("nope")})
	wantL4VErr(t, err, "ResourceNotFoundException", 404)
	_, err = c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("bad.name")})
	wantL4VErr(t, err, "ValidationException", 400)
	// Bob cannot see Alice's project, and Alice's ARN is forbidden to him.
	_, err = ts.LookoutVision(bob).DescribeProject(&lv.DescribeProjectInput{ProjectName: v1aws.String("p1")})
	wantL4VErr(t, err, "ResourceNotFoundException", 404)
	_, err = ts.LookoutVision(bob).ListTagsForResource(&lv.ListTagsForResourceInput{ResourceArn: v1aws.String(arn)})
	wantL4VErr(t, err, "AccessDeniedException", 403)

	// Raw error shape: status, X-Amzn-ErrorType, request id, Message, ResourceId/Type.
	resp, m := rawL4V(t, ts, alice, "GET", "/2020-11-20/projects/nope", "")
	if resp.StatusCode != 404 || resp.Header.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" || resp.Header.Get("x-amzn-RequestId") == "" ||
		m["Message"] == nil || m["ResourceType"] != "PROJECT" || m["ResourceId"] != "nope" {
		t.Fatalf("raw 404 = %d %v %v", resp.StatusCode, resp.Header, m)
	}
	resp, _ = rawL4V(t, ts, alice, "GET", "/2020-11-20/nothing-here", "")
	if resp.StatusCode != 404 || resp.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Fatalf("unknown route = %d %v", resp.StatusCode, resp.Header)
	}
	_, err = ts.LookoutVision(ocellus.Account{AccessKeyID: "AKIDNOBODY", SecretAccessKey: "x"}).ListProjects(&lv.ListProjectsInput{})
	wantL4VErr(t, err, "UnrecognizedClientException", 400)

	// Pagination.
	for i := 2; i <= 5; i++ {
		if _, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String(fmt.Sprintf("p%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	var tok *string
	pages := 0
	for {
		lp, err := c.ListProjects(&lv.ListProjectsInput{MaxResults: v1aws.Int64(2), NextToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range lp.Projects {
			names = append(names, *p.ProjectName)
		}
		if lp.NextToken == nil {
			break
		}
		tok = lp.NextToken
	}
	if pages != 3 || strings.Join(names, ",") != "p1,p2,p3,p4,p5" {
		t.Fatalf("pages %d, names %v", pages, names)
	}
	_, err = c.ListProjects(&lv.ListProjectsInput{NextToken: v1aws.String("garbage")})
	wantL4VErr(t, err, "ValidationException", 400)
	_, err = c.ListProjects(&lv.ListProjectsInput{MaxResults: v1aws.Int64(101)})
	wantL4VErr(t, err, "ValidationException", 400)

	// Tags on the encoded ARN: list form, repeated tagKeys on untag.
	_, err = c.TagResource(&lv.TagResourceInput{ResourceArn: v1aws.String(arn), Tags: []*lv.Tag{
		{Key: v1aws.String("team"), Value: v1aws.String("qa")}, {Key: v1aws.String("line"), Value: v1aws.String("3")}, {Key: v1aws.String("a/b"), Value: v1aws.String("x y")}}})
	if err != nil {
		t.Fatal(err)
	}
	lt, err := c.ListTagsForResource(&lv.ListTagsForResourceInput{ResourceArn: v1aws.String(arn)})
	if err != nil || len(lt.Tags) != 3 || *lt.Tags[0].Key != "a/b" || *lt.Tags[0].Value != "x y" {
		t.Fatalf("tags = %v, %v", lt, err)
	}
	if _, err := c.UntagResource(&lv.UntagResourceInput{ResourceArn: v1aws.String(arn), TagKeys: []*string{v1aws.String("team"), v1aws.String("a/b")}}); err != nil {
		t.Fatal(err)
	}
	lt, _ = c.ListTagsForResource(&lv.ListTagsForResourceInput{ResourceArn: v1aws.String(arn)})
	if len(lt.Tags) != 1 || *lt.Tags[0].Key != "line" {
		t.Fatalf("after untag = %v", lt)
	}
	_, err = c.TagResource(&lv.TagResourceInput{ResourceArn: v1aws.String(arn), Tags: []*lv.Tag{{Key: v1aws.String("aws:x"), Value: v1aws.String("1")}}})
	wantL4VErr(t, err, "ValidationException", 400)
	_, err = c.ListTagsForResource(&lv.ListTagsForResourceInput{ResourceArn: v1aws.String("arn:aws:lookoutvision:us-east-1:111111111111:project/ghost")})
	wantL4VErr(t, err, "ResourceNotFoundException", 404)
	_, err = c.ListTagsForResource(&lv.ListTagsForResourceInput{ResourceArn: v1aws.String("arn:aws:lookoutvision:us-east-1:111111111111:model/p1/1")})
	wantL4VErr(t, err, "ResourceNotFoundException", 404)
	// Tag quota: 200 per resource -> ServiceQuotaExceededException (402).
	var many []*lv.Tag
	for i := 0; i < 150; i++ {
		many = append(many, &lv.Tag{Key: v1aws.String(fmt.Sprintf("k%03d", i)), Value: v1aws.String("v")})
	}
	if _, err := c.TagResource(&lv.TagResourceInput{ResourceArn: v1aws.String(arn), Tags: many}); err != nil {
		t.Fatal(err)
	}
	for i := range many {
		many[i].Key = v1aws.String(fmt.Sprintf("j%03d", i))
	}
	_, err = c.TagResource(&lv.TagResourceInput{ResourceArn: v1aws.String(arn), Tags: many[:60]})
	wantL4VErr(t, err, "ServiceQuotaExceededException", 402)

	// Idempotency: same token + same parameters = first answer; other
	// parameters = ConflictException saying why; the token survives a restart.
	first, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("idem"), ClientToken: v1aws.String("tok-1")})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("idem"), ClientToken: v1aws.String("tok-1")})
	if err != nil || *again.ProjectMetadata.ProjectArn != *first.ProjectMetadata.ProjectArn ||
		!again.ProjectMetadata.CreationTimestamp.Equal(*first.ProjectMetadata.CreationTimestamp) {
		t.Fatalf("replay = %v, %v", again, err)
	}
	_, err = c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("other"), ClientToken: v1aws.String("tok-1")})
	wantL4VErr(t, err, "ConflictException", 409)
	if !strings.Contains(err.Error(), "different parameters") {
		t.Fatalf("conflict does not say why: %v", err)
	}
	_, err = c.DeleteProject(&lv.DeleteProjectInput{ProjectName: v1aws.String("idem"), ClientToken: v1aws.String("tok-1")})
	wantL4VErr(t, err, "ConflictException", 409)

	// Datasets and models keep a project alive.
	if _, err := c.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String("p2"), DatasetType: v1aws.String("train")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String("p2"), DatasetType: v1aws.String("train")})
	wantL4VErr(t, err, "ConflictException", 409)
	_, err = c.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String("p2"), DatasetType: v1aws.String("validation")})
	wantL4VErr(t, err, "ValidationException", 400)
	_, err = c.DeleteProject(&lv.DeleteProjectInput{ProjectName: v1aws.String("p2")})
	wantL4VErr(t, err, "ConflictException", 409)
	dp, err := c.DescribeProject(&lv.DescribeProjectInput{ProjectName: v1aws.String("p2")})
	if err != nil || len(dp.ProjectDescription.Datasets) != 1 || *dp.ProjectDescription.Datasets[0].DatasetType != "train" ||
		*dp.ProjectDescription.Datasets[0].Status != "CREATE_COMPLETE" {
		t.Fatalf("describe project = %v, %v", dp, err)
	}
	_, err = c.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String("p2"), OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("out")}}})
	wantL4VErr(t, err, "ValidationException", 400)
	_, err = c.DescribeModel(&lv.DescribeModelInput{ProjectName: v1aws.String("p2"), ModelVersion: v1aws.String("1")})
	wantL4VErr(t, err, "ResourceNotFoundException", 404)
	_, err = c.DetectAnomalies(&lv.DetectAnomaliesInput{ProjectName: v1aws.String("p2"), ModelVersion: v1aws.String("1"),
		ContentType: v1aws.String("image/png"), Body: bytes.NewReader([]byte("x"))})
	wantL4VErr(t, err, "ResourceNotFoundException", 404)
	_, err = c.DescribeModelPackagingJob(&lv.DescribeModelPackagingJobInput{ProjectName: v1aws.String("p2"), JobName: v1aws.String("j")})
	wantL4VErr(t, err, "ResourceNotFoundException", 404)
	if _, err := c.DeleteDataset(&lv.DeleteDatasetInput{ProjectName: v1aws.String("p2"), DatasetType: v1aws.String("train")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteProject(&lv.DeleteProjectInput{ProjectName: v1aws.String("p2")}); err != nil {
		t.Fatal(err)
	}

	// Tokens are persisted: after a restart the replay still answers.
	ts.Stop()
	ts2 := e2e.Start(t, server.Config{DataDir: ts.DataDir})
	c2 := ts2.LookoutVision(alice)
	again, err = c2.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("idem"), ClientToken: v1aws.String("tok-1")})
	if err != nil || *again.ProjectMetadata.ProjectArn != *first.ProjectMetadata.ProjectArn {
		t.Fatalf("replay after restart = %v, %v", again, err)
	}
	_, err = c2.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("idem")})
	wantL4VErr(t, err, "ConflictException", 409)
}

// synthImage draws a textured image; anomalous ones get a dark scratch.
// It returns the image (PNG) and, for anomalies, the mask (PNG, the
// scratch in #23A436 on white).
func synthImage(t testing.TB, rng *rand.Rand, w, h int, anomalous bool) ([]byte, []byte) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8(150 + (x*7+y*5)%40 + rng.Intn(10))
			img.Set(x, y, color.RGBA{v, v - 20, v - 40, 255})
		}
	}
	var mask *image.RGBA
	if anomalous {
		mask = image.NewRGBA(img.Bounds())
		for i := range mask.Pix {
			mask.Pix[i] = 255
		}
		x0, y0 := 8+rng.Intn(w-40), 8+rng.Intn(h-40)
		for y := y0; y < y0+20; y++ {
			for x := x0; x < x0+24; x++ {
				img.Set(x, y, color.RGBA{20, 10, 10, 255})
				mask.Set(x, y, color.RGBA{0x23, 0xA4, 0x36, 255})
			}
		}
	}
	enc := func(m image.Image) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, m); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if mask == nil {
		return enc(img), nil
	}
	return enc(img), enc(mask)
}

func l4vLine(imageURI, class, maskURI, date string) string {
	l := fmt.Sprintf(`{"source-ref":%q,"anomaly-label":1,"anomaly-label-metadata":{"class-name":%q,"type":"groundtruth/image-classification","human-annotated":"yes","creation-date":%q,"job-name":"labeling-job/x"}`,
		imageURI, class, date)
	if maskURI != "" {
		l += fmt.Sprintf(`,"anomaly-mask-ref":%q,"anomaly-mask-ref-metadata":{"internal-color-map":{"0":{"class-name":"BACKGROUND","hex-color":"#ffffff","confidence":0.0},"1":{"class-name":"scratch","hex-color":"#23A436","confidence":0.0}},"type":"groundtruth/semantic-segmentation","human-annotated":"yes","creation-date":%q}`, maskURI, date)
	}
	return l + "}"
}

// synthDataset uploads nNormal + nAnom images (with masks) of w x h and a
// manifest, and returns the manifest key.
func synthDataset(t testing.TB, s *s3.Client, bucket, prefix string, nNormal, nAnom, w, h int, seed int64) string {
	rng := rand.New(rand.NewSource(seed))
	var lines []string
	for i := 0; i < nNormal+nAnom; i++ {
		anom := i >= nNormal
		img, mask := synthImage(t, rng, w, h, anom)
		key := fmt.Sprintf("%s/img-%02d.png", prefix, i)
		put(t, s, bucket, key, img)
		class, maskURI := "normal", ""
		if anom {
			class = "anomaly"
			mk := fmt.Sprintf("%s/mask-%02d.png", prefix, i)
			put(t, s, bucket, mk, mask)
			maskURI = "s3://" + bucket + "/" + mk
		}
		date := fmt.Sprintf("2022-08-%02dT10:00:00.000Z", 1+i%28)
		lines = append(lines, l4vLine("s3://"+bucket+"/"+key, class, maskURI, date))
	}
	mkey := prefix + "/train.manifest"
	put(t, s, bucket, mkey, []byte(strings.Join(lines, "\n")+"\n"))
	return mkey
}

func mkBucket(t testing.TB, s *s3.Client, name string) {
	t.Helper()
	if _, err := s.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

func waitL4VDataset(t testing.TB, c *lv.LookoutForVision, project, typ string) *lv.DatasetDescription {
	t.Helper()
	return e2e.Poll(t, 60*time.Second, project+" "+typ+" dataset", func() (*lv.DatasetDescription, bool) {
		d, err := c.DescribeDataset(&lv.DescribeDatasetInput{ProjectName: v1aws.String(project), DatasetType: v1aws.String(typ)})
		if err != nil {
			t.Fatal(err)
		}
		return d.DatasetDescription, !strings.HasSuffix(*d.DatasetDescription.Status, "IN_PROGRESS")
	})
}

// waitModel polls DescribeModel while the model's status is one of
// transient and returns the first description in another status.
func waitModel(t testing.TB, c *lv.LookoutForVision, project, version string, timeout time.Duration, transient ...string) *lv.ModelDescription {
	t.Helper()
	return e2e.Poll(t, timeout, project+" model "+version, func() (*lv.ModelDescription, bool) {
		d, err := c.DescribeModel(&lv.DescribeModelInput{ProjectName: v1aws.String(project), ModelVersion: v1aws.String(version)})
		if err != nil {
			t.Fatal(err)
		}
		return d.ModelDescription, !slices.Contains(transient, *d.ModelDescription.Status)
	})
}

func TestLookoutDatasetEntries(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	c, s := ts.LookoutVision(alice), ts.S3(alice)
	mkBucket(t, s, "data")
	mkey := synthDataset(t, s, "data", "ds", 12, 10, 64, 64, 1)
	if _, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("entries")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String("entries"), DatasetType: v1aws.String("train"),
		DatasetSource: &lv.DatasetSource{GroundTruthManifest: &lv.DatasetGroundTruthManifest{S3Object: &lv.InputS3Object{Bucket: v1aws.String("data"), Key: v1aws.String("missing")}}}})
	wantL4VErr(t, err, "ValidationException", 400)
	cd, err := c.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String("entries"), DatasetType: v1aws.String("train"),
		DatasetSource: &lv.DatasetSource{GroundTruthManifest: &lv.DatasetGroundTruthManifest{S3Object: &lv.InputS3Object{Bucket: v1aws.String("data"), Key: v1aws.String(mkey)}}}})
	if err != nil || *cd.DatasetMetadata.Status != "CREATE_IN_PROGRESS" {
		t.Fatalf("create dataset = %v, %v", cd, err)
	}
	d := waitL4VDataset(t, c, "entries", "train")
	if *d.Status != "CREATE_COMPLETE" || *d.ImageStats.Total != 22 || *d.ImageStats.Labeled != 22 || *d.ImageStats.Normal != 12 || *d.ImageStats.Anomaly != 10 {
		t.Fatalf("dataset = %v", d)
	}
	list := func(in *lv.ListDatasetEntriesInput) []string {
		t.Helper()
		in.ProjectName, in.DatasetType = v1aws.String("entries"), v1aws.String("train")
		var all []string
		for {
			out, err := c.ListDatasetEntries(in)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.DatasetEntries {
				all = append(all, *e)
			}
			if out.NextToken == nil {
				return all
			}
			in.NextToken = out.NextToken
		}
	}
	if n := len(list(&lv.ListDatasetEntriesInput{MaxResults: v1aws.Int64(5)})); n != 22 {
		t.Fatalf("paged entries = %d", n)
	}
	if n := len(list(&lv.ListDatasetEntriesInput{AnomalyClass: v1aws.String("anomaly"), MaxResults: v1aws.Int64(3)})); n != 10 {
		t.Fatalf("anomalies = %d", n)
	}
	if n := len(list(&lv.ListDatasetEntriesInput{Labeled: v1aws.Bool(false)})); n != 0 {
		t.Fatalf("unlabeled = %d", n)
	}
	if got := list(&lv.ListDatasetEntriesInput{SourceRefContains: v1aws.String("img-03")}); len(got) != 1 || !strings.Contains(got[0], "img-03.png") ||
		strings.Contains(got[0], "cl-metadata") || !strings.HasPrefix(got[0], `{"source-ref":"s3://data/ds/img-03.png","anomaly-label":1,`) {
		t.Fatalf("sourceRefContains = %v", got)
	}
	// Dates 2022-08-01..22; after the 10th and before the 15th: 11..14.
	after := time.Date(2022, 8, 10, 12, 0, 0, 0, time.UTC)
	before := time.Date(2022, 8, 15, 0, 0, 0, 0, time.UTC)
	if n := len(list(&lv.ListDatasetEntriesInput{AfterCreationDate: &after, BeforeCreationDate: &before, MaxResults: v1aws.Int64(2)})); n != 4 {
		t.Fatalf("date-filtered entries = %d", n)
	}
	_, err = c.ListDatasetEntries(&lv.ListDatasetEntriesInput{ProjectName: v1aws.String("entries"), DatasetType: v1aws.String("test")})
	wantL4VErr(t, err, "ResourceNotFoundException", 404)

	// A line with an existing source-ref replaces it.
	changes := l4vLine("s3://data/ds/img-00.png", "anomaly", "", "2022-09-01T00:00:00Z") + "\n"
	up, err := c.UpdateDatasetEntries(&lv.UpdateDatasetEntriesInput{ProjectName: v1aws.String("entries"), DatasetType: v1aws.String("train"), Changes: []byte(changes)})
	if err != nil || *up.Status != "UPDATE_IN_PROGRESS" {
		t.Fatalf("update = %v, %v", up, err)
	}
	d = waitL4VDataset(t, c, "entries", "train")
	if *d.Status != "UPDATE_COMPLETE" || *d.ImageStats.Total != 22 || *d.ImageStats.Normal != 11 || *d.ImageStats.Anomaly != 11 {
		t.Fatalf("after update = %v", d)
	}
	// A bad update fails with nothing lost.
	bad := "not json\nalso not json\n" + l4vLine("s3://data/ds/img-01.png", "anomaly", "", "2022-09-01T00:00:00Z") + "\n"
	if _, err := c.UpdateDatasetEntries(&lv.UpdateDatasetEntriesInput{ProjectName: v1aws.String("entries"), DatasetType: v1aws.String("train"), Changes: []byte(bad)}); err != nil {
		t.Fatal(err)
	}
	d = waitL4VDataset(t, c, "entries", "train")
	if *d.Status != "UPDATE_FAILED_ROLLBACK_COMPLETE" || *d.ImageStats.Normal != 11 || *d.ImageStats.Anomaly != 11 || d.StatusMessage == nil {
		t.Fatalf("after bad update = %v", d)
	}

	// Too few images for one dataset: ValidationException with the counts.
	_, err = c.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String("entries"), OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("data")}}})
	wantL4VErr(t, err, "ValidationException", 400)
	if !strings.Contains(err.Error(), "at least 20 normal") || !strings.Contains(err.Error(), "has 11 normal") {
		t.Fatalf("message = %v", err)
	}
	// Add normals of another size: the size rule names the offender.
	rng := rand.New(rand.NewSource(9))
	var more []string
	for i := 0; i < 10; i++ {
		img, _ := synthImage(t, rng, 80, 64, false)
		key := fmt.Sprintf("ds/wide-%02d.png", i)
		put(t, s, "data", key, img)
		more = append(more, l4vLine("s3://data/"+key, "normal", "", "2022-09-02T00:00:00Z"))
	}
	if _, err := c.UpdateDatasetEntries(&lv.UpdateDatasetEntriesInput{ProjectName: v1aws.String("entries"), DatasetType: v1aws.String("train"),
		Changes: []byte(strings.Join(more, "\n"))}); err != nil {
		t.Fatal(err)
	}
	waitL4VDataset(t, c, "entries", "train")
	_, err = c.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String("entries"), OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("data")}}})
	wantL4VErr(t, err, "ValidationException", 400)
	if !strings.Contains(err.Error(), "same size") || !strings.Contains(err.Error(), "80x64") {
		t.Fatalf("message = %v", err)
	}
}

func TestLookoutModelLifecycle(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	c, s := ts.LookoutVision(alice), ts.S3(alice)
	mkBucket(t, s, "data")
	mkBucket(t, s, "out")
	mkey := synthDataset(t, s, "data", "ds", 24, 12, 96, 96, 2)
	if _, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("life")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String("life"), DatasetType: v1aws.String("train"),
		DatasetSource: &lv.DatasetSource{GroundTruthManifest: &lv.DatasetGroundTruthManifest{S3Object: &lv.InputS3Object{Bucket: v1aws.String("data"), Key: v1aws.String(mkey)}}}}); err != nil {
		t.Fatal(err)
	}
	if d := waitL4VDataset(t, c, "life", "train"); *d.Status != "CREATE_COMPLETE" {
		t.Fatalf("dataset = %v", d)
	}
	in := &lv.CreateModelInput{ProjectName: v1aws.String("life"), Description: v1aws.String("first-model"), ClientToken: v1aws.String("model-tok"),
		KmsKeyId:     v1aws.String("arn:aws:kms:us-east-1:111111111111:key/abc"),
		OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("out"), Prefix: v1aws.String("models/")}},
		Tags:         []*lv.Tag{{Key: v1aws.String("stage"), Value: v1aws.String("dev")}}}
	cm, err := c.CreateModel(in)
	if err != nil || *cm.ModelMetadata.ModelVersion != "1" || *cm.ModelMetadata.Status != "TRAINING" ||
		*cm.ModelMetadata.ModelArn != "arn:aws:lookoutvision:us-east-1:111111111111:model/life/1" {
		t.Fatalf("create model = %v, %v", cm, err)
	}
	// The SDK retry of the same request (same token) does not train twice.
	cm2, err := c.CreateModel(in)
	if err != nil || *cm2.ModelMetadata.ModelVersion != "1" {
		t.Fatalf("replayed create model = %v, %v", cm2, err)
	}
	_, err = c.DeleteModel(&lv.DeleteModelInput{ProjectName: v1aws.String("life"), ModelVersion: v1aws.String("1")})
	wantL4VErr(t, err, "ConflictException", 409)
	md := waitModel(t, c, "life", "1", 5*time.Minute, "TRAINING")
	if *md.Status != "TRAINED" || md.Performance == nil || md.EvaluationEndTimestamp == nil || md.EvaluationManifest == nil ||
		*md.KmsKeyId != *in.KmsKeyId || *md.Description != "first-model" || *md.OutputConfig.S3Location.Prefix != "models/" {
		t.Fatalf("trained model = %v", md)
	}
	t.Logf("synthetic model: F1 %.3f precision %.3f recall %.3f", *md.Performance.F1Score, *md.Performance.Precision, *md.Performance.Recall)
	for _, o := range []*lv.OutputS3Object{md.EvaluationManifest, md.EvaluationResult} {
		if _, err := s.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: o.Bucket, Key: o.Key}); err != nil {
			t.Fatalf("evaluation object %s: %v", *o.Key, err)
		}
	}
	lm, err := c.ListModels(&lv.ListModelsInput{ProjectName: v1aws.String("life")})
	if err != nil || len(lm.Models) != 1 || *lm.Models[0].Status != "TRAINED" {
		t.Fatalf("list models = %v, %v", lm, err)
	}
	lt, err := c.ListTagsForResource(&lv.ListTagsForResourceInput{ResourceArn: cm.ModelMetadata.ModelArn})
	if err != nil || len(lt.Tags) != 1 || *lt.Tags[0].Key != "stage" {
		t.Fatalf("model tags = %v, %v", lt, err)
	}
	detect := func(c *lv.LookoutForVision, ct string, body []byte) (*lv.DetectAnomalyResult, error) {
		out, err := c.DetectAnomalies(&lv.DetectAnomaliesInput{ProjectName: v1aws.String("life"), ModelVersion: v1aws.String("1"),
			ContentType: v1aws.String(ct), Body: bytes.NewReader(body)})
		if err != nil {
			return nil, err
		}
		return out.DetectAnomalyResult, nil
	}
	rng := rand.New(rand.NewSource(77))
	normal, _ := synthImage(t, rng, 96, 96, false)
	_, err = detect(c, "image/png", normal)
	wantL4VErr(t, err, "ConflictException", 409)
	// The SDK checks the minimum itself; the server must too.
	if resp, m := rawL4V(t, ts, alice, "POST", "/2020-11-20/projects/life/models/1/start", `{"MinInferenceUnits":0}`); resp.StatusCode != 400 || m["__type"] != "ValidationException" {
		t.Fatalf("MinInferenceUnits 0 = %d %v", resp.StatusCode, m)
	}
	sm, err := c.StartModel(&lv.StartModelInput{ProjectName: v1aws.String("life"), ModelVersion: v1aws.String("1"), MinInferenceUnits: v1aws.Int64(1), MaxInferenceUnits: v1aws.Int64(2)})
	if err != nil || *sm.Status != "STARTING_HOSTING" {
		t.Fatalf("start = %v, %v", sm, err)
	}
	if md := waitModel(t, c, "life", "1", 2*time.Minute, "STARTING_HOSTING"); *md.Status != "HOSTED" || *md.MinInferenceUnits != 1 || *md.MaxInferenceUnits != 2 {
		t.Fatalf("hosted = %v", md)
	}
	_, err = c.DeleteModel(&lv.DeleteModelInput{ProjectName: v1aws.String("life"), ModelVersion: v1aws.String("1")})
	wantL4VErr(t, err, "ConflictException", 409)

	anomalous, _ := synthImage(t, rng, 96, 96, true)
	r, err := detect(c, "image/png", anomalous)
	if err != nil {
		t.Fatal(err)
	}
	if *r.Source.Type != "direct" || *r.Confidence < 0.5 || *r.Confidence > 1 {
		t.Fatalf("result = %v", r)
	}
	// The manifest has masks: a segmentation model answers with the
	// background first and a mask PNG.
	if len(r.Anomalies) == 0 || *r.Anomalies[0].Name != "background" || len(r.AnomalyMask) == 0 {
		t.Fatalf("segmentation result = %v", r)
	}
	if _, err := png.Decode(bytes.NewReader(r.AnomalyMask)); err != nil {
		t.Fatalf("mask is not a PNG: %v", err)
	}
	// Beyond its inference units a model answers ThrottlingException (429),
	// as Lookout for Vision does; the SDK would retry it, so this client
	// does not.
	noRetry := lv.New(session.Must(session.NewSession(&v1aws.Config{
		Region: v1aws.String("us-east-1"), Endpoint: v1aws.String(ts.URL), MaxRetries: v1aws.Int(0),
		Credentials: v1creds.NewStaticCredentials(alice.AccessKeyID, alice.SecretAccessKey, ""),
	})))
	codes := make(chan string, 100)
	for i := 0; i < cap(codes); i++ {
		go func() {
			_, err := detect(noRetry, "image/png", normal)
			code, _ := l4vErr(err)
			codes <- code
		}()
	}
	counts := map[string]int{}
	for i := 0; i < cap(codes); i++ {
		counts[<-codes]++
	}
	if counts[""] == 0 || counts["ThrottlingException"] == 0 || counts[""]+counts["ThrottlingException"] != cap(codes) {
		t.Fatalf("100 concurrent requests on 1 unit: %v", counts)
	}

	// JPEG input too; wrong size, wrong type and garbage are refused.
	img, _ := png.Decode(bytes.NewReader(normal))
	var jb bytes.Buffer
	jpeg.Encode(&jb, img, &jpeg.Options{Quality: 90})
	if _, err := detect(c, "image/jpeg", jb.Bytes()); err != nil {
		t.Fatal(err)
	}
	small, _ := synthImage(t, rng, 64, 64, false)
	_, err = detect(c, "image/png", small)
	wantL4VErr(t, err, "ValidationException", 400)
	if !strings.Contains(err.Error(), "96x96") {
		t.Fatalf("size message = %v", err)
	}
	_, err = detect(c, "image/gif", normal)
	wantL4VErr(t, err, "ValidationException", 400)
	_, err = detect(c, "image/png", []byte("not an image"))
	wantL4VErr(t, err, "ValidationException", 400)
	_, err = detect(c, "image/jpeg", jb.Bytes()[:jb.Len()*2/3]) // truncated
	wantL4VErr(t, err, "ValidationException", 400)
	// A few KB claiming 60,000 x 60,000 pixels is refused from its header.
	_, err = detect(c, "image/jpeg", jpegBomb(t, jb.Bytes(), 60000, 60000))
	wantL4VErr(t, err, "ValidationException", 400)
	if !strings.Contains(err.Error(), "60000x60000") {
		t.Fatalf("bomb message = %v", err)
	}

	// Packaging job: CREATED -> RUNNING -> SUCCEEDED, package in S3.
	pj, err := c.StartModelPackagingJob(&lv.StartModelPackagingJobInput{ProjectName: v1aws.String("life"), ModelVersion: v1aws.String("1"),
		JobName: v1aws.String("pkg-1"), Description: v1aws.String("edge build"),
		Configuration: &lv.ModelPackagingConfiguration{Greengrass: &lv.GreengrassConfiguration{
			ComponentName: v1aws.String("com.example.cookie"), TargetDevice: v1aws.String("jetson_xavier"),
			S3OutputLocation: &lv.S3Location{Bucket: v1aws.String("out"), Prefix: v1aws.String("pkg/")}}}})
	if err != nil || *pj.JobName != "pkg-1" {
		t.Fatalf("packaging = %v, %v", pj, err)
	}
	var job *lv.ModelPackagingDescription
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		dj, err := c.DescribeModelPackagingJob(&lv.DescribeModelPackagingJobInput{ProjectName: v1aws.String("life"), JobName: v1aws.String("pkg-1")})
		if err != nil {
			t.Fatal(err)
		}
		job = dj.ModelPackagingDescription
		if st := *job.Status; st != "CREATED" && st != "RUNNING" || time.Now().After(deadline) {
			break
		}
	}
	if *job.Status != "SUCCEEDED" || *job.ModelPackagingConfiguration.Greengrass.TargetDevice != "jetson_xavier" ||
		*job.ModelPackagingOutputDetails.Greengrass.ComponentVersion != "1.0.0" || *job.ModelPackagingMethod != "Greengrass" {
		t.Fatalf("job = %v", job)
	}
	for _, k := range []string{"model.ocellus-anomaly", "README.md", "package.json"} {
		if _, err := s.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("out"), Key: aws.String("pkg/com.example.cookie/1.0.0/" + k)}); err != nil {
			t.Fatalf("package file %s: %v", k, err)
		}
	}
	_, err = c.StartModelPackagingJob(&lv.StartModelPackagingJobInput{ProjectName: v1aws.String("life"), ModelVersion: v1aws.String("1"), JobName: v1aws.String("pkg-1"),
		Configuration: &lv.ModelPackagingConfiguration{Greengrass: &lv.GreengrassConfiguration{ComponentName: v1aws.String("c"), TargetDevice: v1aws.String("jetson_xavier"),
			S3OutputLocation: &lv.S3Location{Bucket: v1aws.String("out")}}}})
	wantL4VErr(t, err, "ConflictException", 409)
	jl, err := c.ListModelPackagingJobs(&lv.ListModelPackagingJobsInput{ProjectName: v1aws.String("life")})
	if err != nil || len(jl.ModelPackagingJobs) != 1 || *jl.ModelPackagingJobs[0].JobName != "pkg-1" {
		t.Fatalf("list jobs = %v, %v", jl, err)
	}

	// A hosted model is hosted again after a restart.
	ts.Stop()
	ts2 := e2e.Start(t, server.Config{DataDir: ts.DataDir})
	c2 := ts2.LookoutVision(alice)
	if md := waitModel(t, c2, "life", "1", 2*time.Minute, "STARTING_HOSTING"); *md.Status != "HOSTED" {
		t.Fatalf("after restart = %v", md)
	}
	var r2 *lv.DetectAnomalyResult
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r2, err = detect(c2, "image/png", anomalous); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || *r2.IsAnomalous != *r.IsAnomalous || *r2.Confidence != *r.Confidence {
		t.Fatalf("detect after restart = %v, %v (before %v)", r2, err, r)
	}
	st, err := c2.StopModel(&lv.StopModelInput{ProjectName: v1aws.String("life"), ModelVersion: v1aws.String("1")})
	if err != nil || *st.Status != "STOPPING_HOSTING" {
		t.Fatalf("stop = %v, %v", st, err)
	}
	if md := waitModel(t, c2, "life", "1", 2*time.Minute, "STOPPING_HOSTING"); *md.Status != "TRAINED" {
		t.Fatalf("stopped = %v", md)
	}
	_, err = c2.StopModel(&lv.StopModelInput{ProjectName: v1aws.String("life"), ModelVersion: v1aws.String("1")})
	wantL4VErr(t, err, "ConflictException", 409)
	if _, err := c2.DeleteModel(&lv.DeleteModelInput{ProjectName: v1aws.String("life"), ModelVersion: v1aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.DeleteDataset(&lv.DeleteDatasetInput{ProjectName: v1aws.String("life"), DatasetType: v1aws.String("train")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.DeleteProject(&lv.DeleteProjectInput{ProjectName: v1aws.String("life")}); err != nil {
		t.Fatal(err)
	}
	lp, _ := c2.ListProjects(&lv.ListProjectsInput{})
	if len(lp.Projects) != 0 {
		t.Fatalf("projects left: %v", lp)
	}
}

// TestLookoutTagRouteIsEncoded checks the SDK really sends the ARN as one %2F-encoded
// segment (the route the server must match).
func TestLookoutTagRouteIsEncoded(t *testing.T) {
	p := "/2020-11-20/tags/" + url.PathEscape("arn:aws:lookoutvision:us-east-1:111111111111:project/p1")
	if !strings.Contains(p, "%2F") {
		t.Fatalf("path %s", p)
	}
	ts := e2e.Start(t, server.Config{})
	if _, err := ts.LookoutVision(alice).CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("p1")}); err != nil {
		t.Fatal(err)
	}
	resp, m := rawL4V(t, ts, alice, "GET", p, "")
	if resp.StatusCode != 200 || m["Tags"] == nil {
		t.Fatalf("raw tags = %d %v", resp.StatusCode, m)
	}
}

// TestLookoutTrainingResumesAfterRestart: a model left TRAINING by a
// shutdown trains again when the server comes back, and ends TRAINED.
func TestLookoutTrainingResumesAfterRestart(t *testing.T) {
	if raceBuild {
		t.Skip("a second training run adds a minute under -race (TestLookoutModelLifecycle covers the races); make test runs it without -race")
	}
	ts := e2e.Start(t, server.Config{})
	c, s := ts.LookoutVision(alice), ts.S3(alice)
	mkBucket(t, s, "data")
	mkey := synthDataset(t, s, "data", "ds", 20, 10, 64, 64, 3)
	if _, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("resume")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String("resume"), DatasetType: v1aws.String("train"),
		DatasetSource: &lv.DatasetSource{GroundTruthManifest: &lv.DatasetGroundTruthManifest{S3Object: &lv.InputS3Object{Bucket: v1aws.String("data"), Key: v1aws.String(mkey)}}}}); err != nil {
		t.Fatal(err)
	}
	waitL4VDataset(t, c, "resume", "train")
	if _, err := c.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String("resume"),
		OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("data")}}}); err != nil {
		t.Fatal(err)
	}
	ts.Stop() // cancels the run in progress; the model stays TRAINING
	ts2 := e2e.Start(t, server.Config{DataDir: ts.DataDir})
	c2 := ts2.LookoutVision(alice)
	if md := waitModel(t, c2, "resume", "1", 5*time.Minute, "TRAINING"); *md.Status != "TRAINED" || md.Performance == nil {
		t.Fatalf("after restart = %v", md)
	}
	// Versions keep counting after a deletion.
	if _, err := c2.DeleteModel(&lv.DeleteModelInput{ProjectName: v1aws.String("resume"), ModelVersion: v1aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	cm, err := c2.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String("resume"),
		OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("data")}}})
	if err != nil || *cm.ModelMetadata.ModelVersion != "2" {
		t.Fatalf("second model = %v, %v", cm, err)
	}
	waitModel(t, c2, "resume", "2", 5*time.Minute, "TRAINING")
	if d, err := c2.DescribeModel(&lv.DescribeModelInput{ProjectName: v1aws.String("resume"), ModelVersion: v1aws.String("latest")}); err != nil || *d.ModelDescription.ModelVersion != "2" {
		t.Fatalf("latest = %v, %v", d, err)
	}
}

// TestLookoutTrainAndTestDatasets: with a separate test dataset the model
// is evaluated on it (its rules differ from the one-dataset case).
func TestLookoutTrainAndTestDatasets(t *testing.T) {
	if raceBuild {
		t.Skip("one more training run (TestLookoutModelLifecycle covers the races); make test runs it without -race")
	}
	ts := e2e.Start(t, server.Config{})
	c, s := ts.LookoutVision(alice), ts.S3(alice)
	mkBucket(t, s, "data")
	trainKey := synthDataset(t, s, "data", "train", 12, 4, 64, 64, 4)
	testKey := synthDataset(t, s, "data", "test", 10, 9, 64, 64, 5)
	if _, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("two_sets")}); err != nil {
		t.Fatal(err)
	}
	for typ, key := range map[string]string{"train": trainKey, "test": testKey} {
		if _, err := c.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String("two_sets"), DatasetType: v1aws.String(typ),
			DatasetSource: &lv.DatasetSource{GroundTruthManifest: &lv.DatasetGroundTruthManifest{S3Object: &lv.InputS3Object{Bucket: v1aws.String("data"), Key: v1aws.String(key)}}}}); err != nil {
			t.Fatal(err)
		}
		waitL4VDataset(t, c, "two_sets", typ)
	}
	out := &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("data"), Prefix: v1aws.String("out")}}
	_, err := c.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String("two_sets"), OutputConfig: out})
	wantL4VErr(t, err, "ValidationException", 400)
	if !strings.Contains(err.Error(), "test dataset needs at least 10 normal and 10 anomalous") {
		t.Fatalf("message = %v", err)
	}
	rng := rand.New(rand.NewSource(6))
	img, mask := synthImage(t, rng, 64, 64, true)
	put(t, s, "data", "test/extra.png", img)
	put(t, s, "data", "test/extra-mask.png", mask)
	if _, err := c.UpdateDatasetEntries(&lv.UpdateDatasetEntriesInput{ProjectName: v1aws.String("two_sets"), DatasetType: v1aws.String("test"),
		Changes: []byte(l4vLine("s3://data/test/extra.png", "anomaly", "s3://data/test/extra-mask.png", "2022-09-03T00:00:00Z"))}); err != nil {
		t.Fatal(err)
	}
	if d := waitL4VDataset(t, c, "two_sets", "test"); *d.ImageStats.Anomaly != 10 {
		t.Fatalf("test dataset = %v", d)
	}
	if _, err := c.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String("two_sets"), OutputConfig: out}); err != nil {
		t.Fatal(err)
	}
	md := waitModel(t, c, "two_sets", "1", 5*time.Minute, "TRAINING")
	if *md.Status != "TRAINED" || md.Performance == nil {
		t.Fatalf("model = %v", md)
	}
	// The evaluation is of the 20 test images.
	res, err := s.GetObject(context.Background(), &s3.GetObjectInput{Bucket: md.EvaluationResult.Bucket, Key: md.EvaluationResult.Key})
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		EvaluationDetails struct {
			NumberOfTestingImages int
			EvaluatedOn           string
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&ev); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if ev.EvaluationDetails.NumberOfTestingImages != 20 || ev.EvaluationDetails.EvaluatedOn != "test dataset" {
		t.Fatalf("evaluation = %+v", ev)
	}
	// A job name is generated when none is given, within the name pattern.
	pj, err := c.StartModelPackagingJob(&lv.StartModelPackagingJobInput{ProjectName: v1aws.String("two_sets"), ModelVersion: v1aws.String("1"),
		Configuration: &lv.ModelPackagingConfiguration{Greengrass: &lv.GreengrassConfiguration{ComponentName: v1aws.String("c"),
			TargetPlatform:   &lv.TargetPlatform{Os: v1aws.String("LINUX"), Arch: v1aws.String("ARM64")},
			S3OutputLocation: &lv.S3Location{Bucket: v1aws.String("data")}}}})
	if err != nil || !strings.HasPrefix(*pj.JobName, "two-sets-1-") {
		t.Fatalf("job = %v, %v", pj, err)
	}
}
