package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image/color"
	"math/rand"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	v1aws "github.com/aws/aws-sdk-go/aws"
	lv "github.com/aws/aws-sdk-go/service/lookoutforvision"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/e2e/pgtest"
	"github.com/ocellus/ocellus/internal/e2e/s3test"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/server"
)

// hostedUnits reads ocellus_inference_units{node,service} from a node's
// metrics.
func hostedUnits(t *testing.T, ts *e2e.Server, service string) int {
	t.Helper()
	resp, err := http.Get(ts.URL + server.OpsPrefix + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ocellus_inference_units{") && strings.Contains(line, `service="`+service+`"`) {
			f := strings.Fields(line)
			n, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatalf("no ocellus_inference_units for %s in %s's metrics", service, ts.URL)
	return 0
}

// TestHostingAcrossNodes: two nodes on one PostgreSQL and one versitygw.
// A Custom Labels version and a Lookout for Vision model, each started
// with 1 inference unit, are hosted by one node (one lease, one unit in
// the metrics of all nodes together); both nodes answer DetectCustomLabels
// and DetectAnomalies alike, the node without the unit by forwarding
// (without forwarding this test fails at the first DetectCustomLabels on
// the other node). The internal endpoint refuses
// requests without the cluster secret's signature. When the hosting node
// goes, the other takes the unit and answers, the statuses stay RUNNING
// and HOSTED; a stop through the survivor ends STOPPED.
func TestHostingAcrossNodes(t *testing.T) {
	ctx := context.Background()
	g := s3test.Start(t)
	g.CreateBuckets(t, "artifacts", "alice-train", "alice-out")
	a := alice
	a.S3Buckets = []string{"alice-*"}
	url := pgtest.Start(t).NewDatabase(t)
	nodes := startNodes(t, url, 2, server.Config{Accounts: []ocellus.Account{a}, S3Endpoint: g.URL,
		S3AccessKeyID: g.AccessKeyID, S3SecretAccessKey: g.SecretAccessKey, ArtifactBucket: "artifacts",
		Heartbeat: 200 * time.Millisecond, LeaseTTL: 3 * time.Second})
	gs := g.Client()

	// Custom Labels: trained through node 1, started through node 2.
	lines := colourDataset(t, gs, "alice-train", "img", map[string]color.RGBA{"red": {200, 40, 40, 255}, "blue": {40, 40, 200, 255}}, 10)
	put(t, gs, "alice-train", "train.manifest", []byte(strings.Join(lines, "\n")))
	r0, r1 := nodes[0].Rekognition(a), nodes[1].Rekognition(a)
	project := createProject(t, r0, "cluster")
	train := createDataset(t, r0, project, rtypes.DatasetTypeTrain, "alice-train", "train.manifest")
	waitDataset(t, r0, train)
	test := createDataset(t, r0, project, rtypes.DatasetTypeTest, "", "")
	if _, err := r0.DistributeDatasetEntries(ctx, &rekognition.DistributeDatasetEntriesInput{Datasets: []rtypes.DistributeDataset{{Arn: &train}, {Arn: &test}}}); err != nil {
		t.Fatal(err)
	}
	arn := trainAndWait(t, r0, project, "v1", "alice-out", 3*time.Minute)
	if _, err := r1.StartProjectVersion(ctx, &rekognition.StartProjectVersionInput{ProjectVersionArn: &arn, MinInferenceUnits: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, r0, project, "v1", rtypes.ProjectVersionStatusRunning)
	img := colourJPEG(t, rand.New(rand.NewSource(9)), color.RGBA{200, 40, 40, 255})
	detect := func(r *rekognition.Client) (string, float32, error) {
		out, err := r.DetectCustomLabels(ctx, &rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, MinConfidence: aws.Float32(0), Image: &rtypes.Image{Bytes: img}})
		if err != nil {
			return "", 0, err
		}
		if len(out.CustomLabels) == 0 {
			return "", 0, fmt.Errorf("no labels")
		}
		return aws.ToString(out.CustomLabels[0].Name), aws.ToFloat32(out.CustomLabels[0].Confidence), nil
	}
	units := func(service string) (total int, hosts []*e2e.Server) {
		for _, n := range nodes {
			if u := hostedUnits(t, n, service); u > 0 {
				total += u
				hosts = append(hosts, n)
			}
		}
		return total, hosts
	}
	// Every node answers, alike: one of them through the other.
	var answers []string
	for _, r := range []*rekognition.Client{r0, r1, r0, r1} {
		name, conf, err := detect(r)
		if err != nil || name != "red" {
			t.Fatalf("DetectCustomLabels: %s %v, %v", name, conf, err)
		}
		answers = append(answers, fmt.Sprintf("%s %.4f", name, conf))
	}
	for _, x := range answers[1:] {
		if x != answers[0] {
			t.Fatalf("the nodes' answers differ: %q", answers)
		}
	}
	n, hosts := units(ocellus.Rekognition)
	if n != 1 || len(hosts) != 1 {
		t.Fatalf("1 unit started: %d units hosted on %d nodes", n, len(hosts))
	}
	// Capacity is the units of all nodes: a burst through the node without
	// the unit gets the host's answers and, beyond its one unit, AWS's
	// ProvisionedThroughputExceededException counting that unit.
	other := nodes[0]
	if hosts[0] == nodes[0] {
		other = nodes[1]
	}
	cfg := e2e.Config(a)
	cfg.RetryMaxAttempts = 1
	noRetry := rekognition.NewFromConfig(cfg, func(o *rekognition.Options) { o.BaseEndpoint = aws.String(other.URL) })
	codes := make(chan string, 60)
	for range cap(codes) {
		go func() {
			_, _, err := detect(noRetry)
			code := errCode(err)
			if code == "ProvisionedThroughputExceededException" && !strings.Contains(err.Error(), "1 inference unit(s)") {
				code = "wrong message: " + err.Error()
			}
			codes <- code
		}()
	}
	counts := map[string]int{}
	for range cap(codes) {
		counts[<-codes]++
	}
	if counts[""] == 0 || counts["ProvisionedThroughputExceededException"] == 0 || counts[""]+counts["ProvisionedThroughputExceededException"] != cap(codes) {
		t.Fatalf("60 concurrent requests through the node without the unit: %v", counts)
	}

	// Lookout for Vision: trained through node 2, started through node 1.
	l0, l1 := nodes[0].LookoutVision(a), nodes[1].LookoutVision(a)
	mkey := synthDataset(t, gs, "alice-train", "l4v", 20, 10, 64, 64, 3)
	if _, err := l1.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("parts")}); err != nil {
		t.Fatal(err)
	}
	if _, err := l1.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String("parts"), DatasetType: v1aws.String("train"),
		DatasetSource: &lv.DatasetSource{GroundTruthManifest: &lv.DatasetGroundTruthManifest{S3Object: &lv.InputS3Object{Bucket: v1aws.String("alice-train"), Key: v1aws.String(mkey)}}}}); err != nil {
		t.Fatal(err)
	}
	if d := waitL4VDataset(t, l1, "parts", "train"); *d.Status != "CREATE_COMPLETE" {
		t.Fatalf("dataset = %v", d)
	}
	if _, err := l1.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String("parts"),
		OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("alice-out"), Prefix: v1aws.String("l4v/")}}}); err != nil {
		t.Fatal(err)
	}
	if md := waitModel(t, l1, "parts", "1", 3*time.Minute, "TRAINING"); *md.Status != "TRAINED" {
		t.Fatalf("model = %v", md)
	}
	if _, err := l0.StartModel(&lv.StartModelInput{ProjectName: v1aws.String("parts"), ModelVersion: v1aws.String("1"), MinInferenceUnits: v1aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	if md := waitModel(t, l1, "parts", "1", time.Minute, "STARTING_HOSTING"); *md.Status != "HOSTED" {
		t.Fatalf("hosted = %v", md)
	}
	anomalous, _ := synthImage(t, rand.New(rand.NewSource(5)), 64, 64, true)
	detectL4V := func(c *lv.LookoutForVision) (string, error) {
		out, err := c.DetectAnomalies(&lv.DetectAnomaliesInput{ProjectName: v1aws.String("parts"), ModelVersion: v1aws.String("1"),
			ContentType: v1aws.String("image/png"), Body: bytes.NewReader(anomalous)})
		if err != nil {
			return "", err
		}
		r := out.DetectAnomalyResult
		return fmt.Sprintf("%v %.4f %d", *r.IsAnomalous, *r.Confidence, len(r.AnomalyMask)), nil
	}
	var l4vAnswers []string
	for _, c := range []*lv.LookoutForVision{l0, l1, l0, l1} {
		x, err := detectL4V(c)
		if err != nil {
			t.Fatalf("DetectAnomalies: %v", err)
		}
		l4vAnswers = append(l4vAnswers, x)
	}
	for _, x := range l4vAnswers[1:] {
		if x != l4vAnswers[0] {
			t.Fatalf("the nodes' anomaly answers differ: %q", l4vAnswers)
		}
	}
	if n, hosts := units(ocellus.LookoutVision); n != 1 || len(hosts) != 1 {
		t.Fatalf("1 Lookout unit started: %d units hosted on %d nodes", n, len(hosts))
	}

	// The internal endpoint: no signature, or a wrong one, is refused.
	for _, auth := range []string{"", "1:00", strconv.FormatInt(time.Now().UnixMilli(), 10) + ":deadbeef"} {
		req, _ := http.NewRequest(http.MethodPost, nodes[0].URL+server.ClusterPrefix+"detect", strings.NewReader(`{"Op":"DetectCustomLabels","Account":"111111111111","ARN":"`+arn+`"}`))
		if auth != "" {
			req.Header.Set("X-Ocellus-Cluster-Auth", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("forwarded request with auth %q: %s, want 403", auth, resp.Status)
		}
	}

	// The hosting node of the Custom Labels unit goes; the other node takes
	// the unit (and any Lookout unit it did not have) and answers.
	_, hosts = units(ocellus.Rekognition)
	gone := hosts[0]
	survivor, rs, ls := nodes[0], r0, l0
	if gone == nodes[0] {
		survivor, rs, ls = nodes[1], r1, l1
	}
	gone.Stop()
	e2e.Poll(t, 10*time.Second, "the survivor answers DetectCustomLabels", func() (error, bool) {
		_, _, err := detect(rs)
		return err, err == nil
	})
	e2e.Poll(t, 10*time.Second, "the survivor answers DetectAnomalies", func() (error, bool) {
		_, err := detectL4V(ls)
		return err, err == nil
	})
	if n := hostedUnits(t, survivor, ocellus.Rekognition); n != 1 {
		t.Fatalf("the survivor hosts %d Custom Labels units, want 1", n)
	}
	d, err := rs.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{"v1"}})
	if err != nil || d.ProjectVersionDescriptions[0].Status != rtypes.ProjectVersionStatusRunning {
		t.Fatalf("after the node went: %+v, %v", d, err)
	}
	if md := waitModel(t, ls, "parts", "1", time.Second, "STARTING_HOSTING"); *md.Status != "HOSTED" {
		t.Fatalf("after the node went: %v", md)
	}

	// Stopping through the survivor ends STOPPED, and no unit stays hosted.
	if _, err := rs.StopProjectVersion(ctx, &rekognition.StopProjectVersionInput{ProjectVersionArn: &arn}); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, rs, project, "v1", rtypes.ProjectVersionStatusStopped)
	if n := hostedUnits(t, survivor, ocellus.Rekognition); n != 0 {
		t.Fatalf("%d units hosted after the stop", n)
	}
	if _, err := ls.StopModel(&lv.StopModelInput{ProjectName: v1aws.String("parts"), ModelVersion: v1aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	if md := waitModel(t, ls, "parts", "1", 30*time.Second, "STOPPING_HOSTING", "HOSTED"); *md.Status != "TRAINED" {
		t.Fatalf("after the stop: %v", md)
	}
}

// TestClusterEndpointNeedsACluster: a single node (SQLite) refuses the
// internal endpoint outright.
func TestClusterEndpointNeedsACluster(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	resp, err := http.Post(ts.URL+server.ClusterPrefix+"detect", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("single node: %s, want 403", resp.Status)
	}
}

// TestPostgresNeedsClusterSecret: --database postgres:// without
// --cluster-secret is refused, naming the flag.
func TestPostgresNeedsClusterSecret(t *testing.T) {
	_, err := server.Open(context.Background(), server.Config{DataDir: t.TempDir(), Database: "postgres://u:p@127.0.0.1:1/db", ServiceKey: sharedKey})
	if err == nil || !strings.Contains(err.Error(), "--cluster-secret") {
		t.Fatalf("err = %v, want one naming --cluster-secret", err)
	}
}
