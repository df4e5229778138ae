package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	lv "github.com/aws/aws-sdk-go/service/lookoutforvision"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/server"
)

// scrape reads /_ocellus/metrics and parses it as Prometheus does.
func scrape(t *testing.T, ts *e2e.Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(ts.URL + "/_ocellus/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("metrics Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	return fams
}

// sample is the metric of family name whose labels include want, nil if
// there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestMetrics drives the server with the real SDK clients (successes and
// AWS errors of all three services, a refused request, health checks) and
// checks what /_ocellus/metrics says of them: requests by service,
// operation and error code, the latency histogram, jobs by kind and state
// and the node label.
func TestMetrics(t *testing.T) {
	ts := e2e.Start(t, server.Config{NodeID: "node-a"})
	ctx := context.Background()
	r, s := ts.Rekognition(alice), ts.S3(alice)

	// Rekognition: two successes of CreateProject, one of CreateDataset
	// (which runs an import job), and a ResourceNotFoundException.
	if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("metrics-data")}); err != nil {
		t.Fatal(err)
	}
	uploadImages(t, s, "metrics-data", "img", 4)
	var lines []string
	for i := range 4 {
		lines = append(lines, classLine("metrics-data", fmt.Sprintf("img/%04d.jpg", i), []string{"cat", "dog"}[i%2]))
	}
	put(t, s, "metrics-data", "train.manifest", []byte(strings.Join(lines, "\n")+"\n"))
	project := createProject(t, r, "metrics")
	createProject(t, r, "metrics-2")
	ds := createDataset(t, r, project, rtypes.DatasetTypeTrain, "metrics-data", "train.manifest")
	waitDataset(t, r, ds)
	_, err := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{
		ProjectArn: aws.String("arn:aws:rekognition:us-east-1:" + alice.ID + ":project/missing/1"),
	})
	if code := errCode(err); code != "ResourceNotFoundException" {
		t.Fatalf("DescribeProjectVersions of a missing project: %v, want ResourceNotFoundException", err)
	}
	// An unknown access key: refused before any operation is routed.
	stranger := ocellus.Account{ID: "333333333333", AccessKeyID: "AKIDNOBODY", SecretAccessKey: "x"}
	if _, err := ts.Rekognition(stranger).DescribeProjects(ctx, &rekognition.DescribeProjectsInput{}); errCode(err) != "UnrecognizedClientException" {
		t.Fatalf("DescribeProjects with an unknown key: %v, want UnrecognizedClientException", err)
	}
	// S3: a NoSuchKey; Lookout for Vision: a ResourceNotFoundException.
	if _, err := s.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("metrics-data"), Key: aws.String("nothing")}); err == nil {
		t.Fatal("HeadObject of a missing key succeeded")
	}
	if _, err := ts.LookoutVision(alice).DescribeProject(&lv.DescribeProjectInput{ProjectName: aws.String("missing")}); err == nil {
		t.Fatal("DescribeProject of a missing project succeeded")
	}
	// A request for a service Ocellus does not serve, and health checks
	// (not counted: they are not AWS requests).
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	for _, u := range []string{"", "/_ocellus/health", "/_ocellus/health/live"} {
		if u != "" {
			req, _ = http.NewRequest(http.MethodGet, ts.URL+u, nil)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	fams := scrape(t, ts)
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"service", "rekognition", "operation", "CreateProject", "code", "OK"}, 2},
		{[]string{"service", "rekognition", "operation", "CreateDataset", "code", "OK"}, 1},
		{[]string{"service", "rekognition", "operation", "DescribeProjectVersions", "code", "ResourceNotFoundException"}, 1},
		{[]string{"service", "s3", "operation", "CreateBucket", "code", "OK"}, 1},
		{[]string{"service", "s3", "operation", "PutObject", "code", "OK"}, 5},
		{[]string{"service", "s3", "operation", "HeadObject", "code", "NoSuchKey"}, 1},
		{[]string{"service", "lookoutvision", "operation", "DescribeProject", "code", "ResourceNotFoundException"}, 1},
		{[]string{"service", "refused", "operation", "", "code", "UnknownOperationException"}, 1},
		{[]string{"service", "rekognition", "operation", "", "code", "UnrecognizedClientException"}, 1},
	} {
		m := sample(fams, "ocellus_requests_total", labels(c.labels...))
		if m == nil || m.GetCounter().GetValue() != c.want {
			t.Errorf("ocellus_requests_total%v = %v, want %v", c.labels, m.GetCounter(), c.want)
		}
	}
	if m := sample(fams, "ocellus_requests_total", labels("service", "rekognition", "operation", "DescribeProjectVersions", "code", "OK")); m != nil {
		t.Errorf("the failed DescribeProjectVersions is also counted as a success: %v", m)
	}
	// Every request counted is timed, once.
	var counted, timed uint64
	for _, m := range fams["ocellus_requests_total"].GetMetric() {
		counted += uint64(m.GetCounter().GetValue())
	}
	for _, m := range fams["ocellus_request_duration_seconds"].GetMetric() {
		timed += m.GetHistogram().GetSampleCount()
	}
	if counted != timed || counted < 16 {
		t.Errorf("%d requests counted, %d timed: want the same, at least 16", counted, timed)
	}
	h := sample(fams, "ocellus_request_duration_seconds", labels("service", "rekognition", "operation", "CreateProject")).GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() <= 0 {
		t.Errorf("CreateProject latency histogram: count %d sum %v, want 2 and > 0", h.GetSampleCount(), h.GetSampleSum())
	}

	// River records a job completed shortly after its handler returns.
	e2e.Poll(t, 10*time.Second, "the import job completed in ocellus_jobs", func() (*dto.Metric, bool) {
		m := sample(scrape(t, ts), "ocellus_jobs", labels("kind", control.JobImport, "state", "completed"))
		return m, m.GetGauge().GetValue() == 1
	})
	if m := sample(fams, "ocellus_jobs", labels("kind", control.JobTrain, "state", "running")); m == nil || m.GetGauge().GetValue() != 0 {
		t.Errorf("ocellus_jobs{kind=%s,state=running} = %v, want a 0 sample", control.JobTrain, m.GetGauge())
	}
	if m := sample(fams, "ocellus_node_info", labels("node", "node-a")); m.GetGauge().GetValue() != 1 {
		t.Errorf("ocellus_node_info{node=node-a} = %v, want 1", m.GetGauge())
	}
	for _, service := range []string{"rekognition", "lookoutvision"} {
		if m := sample(fams, "ocellus_inference_units", labels("node", "node-a", "service", service)); m == nil || m.GetGauge().GetValue() != 0 {
			t.Errorf("ocellus_inference_units{node=node-a,service=%s} = %v, want a 0 sample (nothing hosted)", service, m.GetGauge())
		}
	}
	if fams["go_goroutines"] == nil || fams["process_cpu_seconds_total"] == nil {
		t.Error("the Go and process collectors are missing")
	}

	// Scraping is not an AWS request: the counters stay as they were.
	again := scrape(t, ts)
	var counted2 uint64
	for _, m := range again["ocellus_requests_total"].GetMetric() {
		counted2 += uint64(m.GetCounter().GetValue())
	}
	if counted2 != counted {
		t.Errorf("a scrape changed the request count from %d to %d", counted, counted2)
	}
}

// Two servers in one process keep their own counters (a private registry
// each, not the global default).
func TestMetricsPerServer(t *testing.T) {
	a, b := e2e.Start(t, server.Config{NodeID: "a"}), e2e.Start(t, server.Config{NodeID: "b"})
	createProject(t, a.Rekognition(alice), "only-on-a")
	fa, fb := scrape(t, a), scrape(t, b)
	if m := sample(fa, "ocellus_requests_total", labels("operation", "CreateProject")); m.GetCounter().GetValue() != 1 {
		t.Errorf("server a: CreateProject counted %v, want 1", m.GetCounter())
	}
	if m := sample(fb, "ocellus_requests_total", labels("operation", "CreateProject")); m != nil {
		t.Errorf("server b counts a's request: %v", m)
	}
	if sample(fb, "ocellus_node_info", labels("node", "b")) == nil || sample(fb, "ocellus_node_info", labels("node", "a")) != nil {
		t.Errorf("server b's node label: %v", fb["ocellus_node_info"])
	}
}

// ocellus_inference_units follows StartProjectVersion and
// StopProjectVersion of a real trained version on this node.
func TestMetricsHostedUnits(t *testing.T) {
	ts := e2e.Start(t, server.Config{NodeID: "node-u"})
	ctx := context.Background()
	r := ts.Rekognition(alice)
	project, m := colourProject(t, ts, "units", 10)
	arn := trainVersion(t, r, project, "v1", m)
	if pv := waitTrained(t, r, project, "v1"); pv.Status != rtypes.ProjectVersionStatusTrainingCompleted {
		t.Fatalf("training: %s %s", pv.Status, aws.ToString(pv.StatusMessage))
	}
	units := func(want float64) {
		t.Helper()
		e2e.Poll(t, time.Minute, fmt.Sprintf("ocellus_inference_units = %v", want), func() (*dto.Metric, bool) {
			m := sample(scrape(t, ts), "ocellus_inference_units", labels("node", "node-u", "service", "rekognition"))
			return m, m.GetGauge().GetValue() == want
		})
	}
	units(0)
	if _, err := r.StartProjectVersion(ctx, &rekognition.StartProjectVersionInput{ProjectVersionArn: &arn, MinInferenceUnits: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	units(2)
	if _, err := r.StopProjectVersion(ctx, &rekognition.StopProjectVersionInput{ProjectVersionArn: &arn}); err != nil {
		t.Fatal(err)
	}
	units(0)
}
