package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/color"
	"io"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	v1aws "github.com/aws/aws-sdk-go/aws"
	lv "github.com/aws/aws-sdk-go/service/lookoutforvision"
	"github.com/aws/smithy-go"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/e2e/s3test"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/server"
)

// externalS3Server starts versitygw and an Ocellus on it (--s3-endpoint,
// the gateway's root keys as the service credentials, --artifact-bucket
// "artifacts"), with Alice allowed the buckets "alice-*" and Bob only
// "bob-data".
func externalS3Server(t *testing.T) (*e2e.Server, *s3test.Gateway, ocellus.Account, ocellus.Account) {
	g := s3test.Start(t)
	g.CreateBuckets(t, "artifacts", "alice-train", "alice-out", "bob-data")
	a, b := alice, bob
	a.S3Buckets, b.S3Buckets = []string{"alice-*"}, []string{"bob-data"}
	ts := e2e.Start(t, server.Config{Accounts: []ocellus.Account{a, b}, S3Endpoint: g.URL,
		S3AccessKeyID: g.AccessKeyID, S3SecretAccessKey: g.SecretAccessKey, ArtifactBucket: "artifacts"})
	return ts, g, a, b
}

// TestExternalS3EndToEnd: with --s3-endpoint to a real versitygw, users'
// manifests and images live in versitygw and Ocellus reads them with its
// service credentials as the calling account: a dataset is created from
// a manifest there, a Custom Labels model trains to TRAINING_COMPLETED
// with its training output written to versitygw and its artifact sealed
// in the artifact bucket (no plaintext model, nothing in the data dir),
// DetectCustomLabels reads an S3Object from versitygw, a copy of the
// version re-seals the artifact from S3, and a bucket the account's
// S3Buckets do not list is refused as AWS refuses an object the caller
// cannot read (InvalidS3ObjectException). Readiness checks the artifact
// bucket.
func TestExternalS3EndToEnd(t *testing.T) {
	ctx := context.Background()
	ts, g, a, b := externalS3Server(t)
	gs := g.Client() // the users' S3: versitygw, as its root user
	lines := colourDataset(t, gs, "alice-train", "img", map[string]color.RGBA{"red": {200, 40, 40, 255}, "blue": {40, 40, 200, 255}}, 12)
	put(t, gs, "alice-train", "train.manifest", []byte(strings.Join(lines, "\n")))
	put(t, gs, "bob-data", "x.jpg", colourJPEG(t, rand.New(rand.NewSource(2)), color.RGBA{200, 40, 40, 255}))

	r := ts.Rekognition(a)
	project := createProject(t, r, "external-colours")
	train := createDataset(t, r, project, rtypes.DatasetTypeTrain, "alice-train", "train.manifest")
	if d := waitDataset(t, r, train); d.Status != rtypes.DatasetStatusCreateComplete || aws.ToInt32(d.DatasetStats.TotalEntries) != 24 {
		t.Fatalf("dataset: %s %s, stats %+v", d.Status, aws.ToString(d.StatusMessage), d.DatasetStats)
	}
	test := createDataset(t, r, project, rtypes.DatasetTypeTest, "", "")
	if _, err := r.DistributeDatasetEntries(ctx, &rekognition.DistributeDatasetEntriesInput{Datasets: []rtypes.DistributeDataset{{Arn: &train}, {Arn: &test}}}); err != nil {
		t.Fatal(err)
	}
	arn := trainAndWait(t, r, project, "v1", "alice-out", 3*time.Minute)
	d, err := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{"v1"}})
	if err != nil || len(d.ProjectVersionDescriptions) != 1 {
		t.Fatalf("describe: %+v, %v", d, err)
	}
	pv := d.ProjectVersionDescriptions[0]
	if pv.Status != rtypes.ProjectVersionStatusTrainingCompleted || pv.EvaluationResult == nil || aws.ToFloat32(pv.EvaluationResult.F1Score) < 0.9 {
		t.Fatalf("version: %s %s, evaluation %+v", pv.Status, aws.ToString(pv.StatusMessage), pv.EvaluationResult)
	}
	// The training output is in versitygw, where the version says.
	sum := pv.EvaluationResult.Summary.S3Object
	if _, err := gs.HeadObject(ctx, &s3.HeadObjectInput{Bucket: sum.Bucket, Key: sum.Name}); aws.ToString(sum.Bucket) != "alice-out" || err != nil {
		t.Fatalf("evaluation summary s3://%s/%s in versitygw: %v", aws.ToString(sum.Bucket), aws.ToString(sum.Name), err)
	}
	// The artifact is one sealed object of the artifact bucket: no
	// plaintext model in it, nothing of the model in the data dir.
	sealed := onlyArtifact(t, gs)
	if bytes.Contains(sealed, []byte("OCELLUS-MODEL")) || len(sealed) < 1000 {
		t.Fatalf("the artifact in versitygw is not sealed (%d bytes)", len(sealed))
	}
	if _, err := os.Stat(filepath.Join(ts.DataDir, "models")); !os.IsNotExist(err) {
		t.Errorf("models/ in the data dir with an artifact bucket (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(ts.DataDir, "s3")); !os.IsNotExist(err) {
		t.Errorf("the embedded S3's directory exists with --s3-endpoint (%v)", err)
	}

	// Hosting reads the artifact back from S3; DetectCustomLabels reads
	// the image from versitygw.
	if _, err := r.StartProjectVersion(ctx, &rekognition.StartProjectVersionInput{ProjectVersionArn: &arn, MinInferenceUnits: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, r, project, "v1", rtypes.ProjectVersionStatusRunning)
	out, err := r.DetectCustomLabels(ctx, &rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, MinConfidence: aws.Float32(0),
		Image: &rtypes.Image{S3Object: &rtypes.S3Object{Bucket: aws.String("alice-train"), Name: aws.String("img/red/003.jpg")}}})
	if err != nil || len(out.CustomLabels) == 0 || aws.ToString(out.CustomLabels[0].Name) != "red" {
		t.Fatalf("DetectCustomLabels on versitygw: %+v, %v", out, err)
	}
	// Alice may not read Bob's bucket, though the service credentials could.
	_, err = r.DetectCustomLabels(ctx, &rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn,
		Image: &rtypes.Image{S3Object: &rtypes.S3Object{Bucket: aws.String("bob-data"), Name: aws.String("x.jpg")}}})
	if errCode(err) != "InvalidS3ObjectException" {
		t.Fatalf("Alice reading bob-data: %v, want InvalidS3ObjectException", err)
	}
	// Nor Bob Alice's, for a dataset.
	rb := ts.Rekognition(b)
	bp := createProject(t, rb, "bobs")
	_, err = rb.CreateDataset(ctx, &rekognition.CreateDatasetInput{ProjectArn: &bp, DatasetType: rtypes.DatasetTypeTrain,
		DatasetSource: &rtypes.DatasetSource{GroundTruthManifest: &rtypes.GroundTruthManifest{S3Object: &rtypes.S3Object{Bucket: aws.String("alice-train"), Name: aws.String("train.manifest")}}}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidS3ObjectException" || !strings.Contains(ae.ErrorMessage(), "access permissions") {
		t.Fatalf("Bob's dataset from alice-train: %v, want InvalidS3ObjectException", err)
	}

	// A copy reads the sealed artifact from S3 and seals its own there.
	if _, err := r.StopProjectVersion(ctx, &rekognition.StopProjectVersionInput{ProjectVersionArn: &arn}); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, r, project, "v1", rtypes.ProjectVersionStatusStopped)
	if _, err := r.CopyProjectVersion(ctx, &rekognition.CopyProjectVersionInput{SourceProjectArn: &project, SourceProjectVersionArn: &arn,
		DestinationProjectArn: &project, VersionName: aws.String("v2"), OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("alice-out")}}); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, r, project, "v2", rtypes.ProjectVersionStatusCopyingCompleted)
	if n := len(listKeys(t, gs, "artifacts")); n != 2 {
		t.Fatalf("%d artifacts after the copy, want 2", n)
	}
	// Deleting a version removes its artifact from the bucket.
	if _, err := r.DeleteProjectVersion(ctx, &rekognition.DeleteProjectVersionInput{ProjectVersionArn: &arn}); err != nil {
		t.Fatal(err)
	}
	if n := len(listKeys(t, gs, "artifacts")); n != 1 {
		t.Fatalf("%d artifacts after deleting v1, want 1", n)
	}

	// Readiness asks the artifact bucket.
	if st, h := readiness(t, ts); st != http.StatusOK || h["s3"] != "ok" {
		t.Fatalf("ready: %d %v", st, h)
	}
	for _, k := range listKeys(t, gs, "artifacts") {
		if _, err := gs.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("artifacts"), Key: &k}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := gs.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("artifacts")}); err != nil {
		t.Fatal(err)
	}
	if st, h := readiness(t, ts); st != http.StatusServiceUnavailable || !strings.Contains(h["s3"], "HeadBucket artifacts") {
		t.Fatalf("ready without the artifact bucket: %d %v", st, h)
	}
}

// TestExternalS3RefusesS3Requests: an Ocellus on an external S3 is no S3
// endpoint: a signed S3 request and an unsigned S3-shaped one are refused
// in S3's XML error shape, saying where S3 is.
func TestExternalS3RefusesS3Requests(t *testing.T) {
	ts, g, a, _ := externalS3Server(t)
	_, err := ts.S3(a).ListBuckets(context.Background(), &s3.ListBucketsInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidRequest" || !strings.Contains(ae.ErrorMessage(), "its S3 is "+g.URL) {
		t.Fatalf("S3 ListBuckets on Ocellus: %v, want InvalidRequest naming %s", err, g.URL)
	}
	resp, err := http.Get(ts.URL + "/alice-train/train.manifest")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "<Code>InvalidRequest</Code>") ||
		!strings.Contains(string(body), g.URL+" (--s3-endpoint)") || resp.Header.Get("x-amz-request-id") == "" {
		t.Fatalf("unsigned GET: %d %s", resp.StatusCode, body)
	}
	// The AWS APIs are still served.
	if _, err := ts.Rekognition(a).DescribeProjects(context.Background(), &rekognition.DescribeProjectsInput{}); err != nil {
		t.Fatal(err)
	}
}

// TestExternalS3SettingsRefusedClearly: external S3 settings that cannot
// work stop Open with a message that says what is missing.
func TestExternalS3SettingsRefusedClearly(t *testing.T) {
	ok := server.Config{S3Endpoint: "http://127.0.0.1:1", S3AccessKeyID: "k", S3SecretAccessKey: "s", ArtifactBucket: "artifacts"}
	for _, c := range []struct {
		edit func(*server.Config)
		want string
	}{
		{func(c *server.Config) { c.S3Endpoint = "127.0.0.1:7070" }, "expected an http:// or https:// URL"},
		{func(c *server.Config) { c.S3Endpoint = "http://k:s@127.0.0.1:7070" }, "no credentials, path or query"},
		{func(c *server.Config) { c.S3SecretAccessKey = "" }, "--s3-secret-access-key"},
		{func(c *server.Config) { c.ArtifactBucket = "" }, "--s3-endpoint needs --artifact-bucket"},
		{func(c *server.Config) { c.S3Endpoint = "" }, "--artifact-bucket needs --s3-endpoint"},
	} {
		cfg := ok
		cfg.DataDir = t.TempDir()
		c.edit(&cfg)
		srv, err := server.Open(context.Background(), cfg)
		if err == nil {
			srv.Close()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error with %q", cfg, err, c.want)
		}
	}
}

func listKeys(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// onlyArtifact is the one object of the artifact bucket (under models/).
func onlyArtifact(t *testing.T, c *s3.Client) []byte {
	t.Helper()
	keys := listKeys(t, c, "artifacts")
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "models/") {
		t.Fatalf("artifact bucket holds %q, want one models/ object", keys)
	}
	o, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: &keys[0]})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Body.Close()
	b, err := io.ReadAll(o.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readiness is the status and checks of /_ocellus/health/ready.
func readiness(t *testing.T, ts *e2e.Server) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get(ts.URL + "/_ocellus/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct{ Checks map[string]string }
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, h.Checks
}

// TestLoadAccountsS3Buckets: an accounts file may list each account's
// S3Buckets; a file without them stays valid (the accounts use no bucket
// of an external S3), and a malformed entry is refused naming it.
func TestLoadAccountsS3Buckets(t *testing.T) {
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "accounts.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	accs, err := server.LoadAccounts(write(`[{"AccountId":"111111111111","AccessKeyId":"A","SecretAccessKey":"a"}]`))
	if err != nil || len(accs) != 1 || accs[0].S3Buckets != nil || accs[0].MayUseS3("any", "x") {
		t.Fatalf("old file: %+v, %v", accs, err)
	}
	accs, err = server.LoadAccounts(write(`[{"AccountId":"111111111111","AccessKeyId":"A","SecretAccessKey":"a","S3Buckets":["team-a","lab-*","shared/team-a/"]},
		{"AccountId":"222222222222","AccessKeyId":"B","SecretAccessKey":"b"}]`))
	if err != nil || len(accs) != 2 || !accs[0].MayUseS3("lab-1", "k") || !accs[0].MayUseS3("shared", "team-a/k") || accs[1].MayUseS3("team-a", "k") {
		t.Fatalf("file with S3Buckets: %+v, %v", accs, err)
	}
	_, err = server.LoadAccounts(write(`[{"AccountId":"111111111111","AccessKeyId":"A","SecretAccessKey":"a","S3Buckets":["Team A"]}]`))
	if err == nil || !strings.Contains(err.Error(), `entry 1: S3Buckets entry "Team A"`) {
		t.Fatalf("bad entry: %v", err)
	}
}

// TestExternalS3Lookout: Lookout for Vision on an external S3 (a real
// versitygw): a dataset from a manifest with masks in versitygw, a model
// trained with its evaluation written there and its artifact sealed in
// the artifact bucket, DetectAnomalies answered from it once hosted; a
// bucket the account's S3Buckets do not list is refused with Lookout for
// Vision's ValidationException.
func TestExternalS3Lookout(t *testing.T) {
	ctx := context.Background()
	ts, g, a, b := externalS3Server(t)
	gs := g.Client()
	mkey := synthDataset(t, gs, "alice-train", "l4v", 20, 10, 96, 96, 5)
	c := ts.LookoutVision(a)
	if _, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("ext")}); err != nil {
		t.Fatal(err)
	}
	src := func(bucket string) *lv.DatasetSource {
		return &lv.DatasetSource{GroundTruthManifest: &lv.DatasetGroundTruthManifest{S3Object: &lv.InputS3Object{Bucket: v1aws.String(bucket), Key: v1aws.String(mkey)}}}
	}
	if _, err := c.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String("ext"), DatasetType: v1aws.String("train"), DatasetSource: src("alice-train")}); err != nil {
		t.Fatal(err)
	}
	if d := waitL4VDataset(t, c, "ext", "train"); *d.Status != "CREATE_COMPLETE" || *d.ImageStats.Total != 30 {
		t.Fatalf("dataset = %v", d)
	}
	// Bob may not read alice-train, though the service credentials could.
	cb := ts.LookoutVision(b)
	if _, err := cb.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("bobs")}); err != nil {
		t.Fatal(err)
	}
	_, err := cb.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String("bobs"), DatasetType: v1aws.String("train"), DatasetSource: src("alice-train")})
	wantL4VErr(t, err, "ValidationException", 400)

	if _, err := c.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String("ext"),
		OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("alice-out"), Prefix: v1aws.String("models/")}}}); err != nil {
		t.Fatal(err)
	}
	md := waitModel(t, c, "ext", "1", 5*time.Minute, "TRAINING")
	if *md.Status != "TRAINED" || md.EvaluationResult == nil {
		t.Fatalf("model = %v", md)
	}
	if _, err := gs.HeadObject(ctx, &s3.HeadObjectInput{Bucket: md.EvaluationResult.Bucket, Key: md.EvaluationResult.Key}); *md.EvaluationResult.Bucket != "alice-out" || err != nil {
		t.Fatalf("evaluation s3://%s/%s in versitygw: %v", *md.EvaluationResult.Bucket, *md.EvaluationResult.Key, err)
	}
	sealed := onlyArtifact(t, gs)
	if bytes.Contains(sealed, []byte("OCELLUS-MODEL")) || len(sealed) < 1000 {
		t.Fatalf("the Lookout artifact in versitygw is not sealed (%d bytes)", len(sealed))
	}
	if _, err := c.StartModel(&lv.StartModelInput{ProjectName: v1aws.String("ext"), ModelVersion: v1aws.String("1"), MinInferenceUnits: v1aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	if md := waitModel(t, c, "ext", "1", 2*time.Minute, "STARTING_HOSTING"); *md.Status != "HOSTED" {
		t.Fatalf("hosted = %v", md)
	}
	img, _ := synthImage(t, rand.New(rand.NewSource(9)), 96, 96, true)
	out, err := c.DetectAnomalies(&lv.DetectAnomaliesInput{ProjectName: v1aws.String("ext"), ModelVersion: v1aws.String("1"),
		ContentType: v1aws.String("image/png"), Body: bytes.NewReader(img)})
	if err != nil || out.DetectAnomalyResult == nil || len(out.DetectAnomalyResult.AnomalyMask) == 0 {
		t.Fatalf("DetectAnomalies = %v, %v", out, err)
	}
	t.Logf("anomalous image: IsAnomalous %v confidence %.3f", *out.DetectAnomalyResult.IsAnomalous, *out.DetectAnomalyResult.Confidence)
	if _, err := c.StopModel(&lv.StopModelInput{ProjectName: v1aws.String("ext"), ModelVersion: v1aws.String("1")}); err != nil {
		t.Fatal(err)
	}
}
