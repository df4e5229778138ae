package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

func TestHealth(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	resp, err := http.Get(ts.URL + "/_ocellus/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var h struct {
		Status    string            `json:"status"`
		Started   time.Time         `json:"started"`
		Uptime    float64           `json:"uptimeSeconds"`
		Checks    map[string]string `json:"checks"`
		FreeBytes uint64            `json:"freeBytes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	if h.Status != "ok" || h.Checks["database"] != "ok" || h.Checks["dataVolume"] != "ok" || h.Checks["s3"] != "ok" {
		t.Errorf("health %+v, want ok with database, dataVolume and s3 checks ok", h)
	}
	if h.FreeBytes == 0 || h.Uptime < 0 || time.Since(h.Started) > time.Minute {
		t.Errorf("health %+v: implausible free space, uptime or start time", h)
	}

	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/_ocellus/health", http.StatusMethodNotAllowed},
		{http.MethodHead, "/_ocellus/health/ready", http.StatusOK},
		{http.MethodPut, "/_ocellus/health/live", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/_ocellus/metrics", http.StatusMethodNotAllowed},
		{http.MethodGet, "/_ocellus/health/other", http.StatusNotFound},
		{http.MethodGet, "/_ocellus/nothing", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(c.method, ts.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}
}

// The reserved prefix cannot be a bucket: S3 refuses the name, so the
// health endpoint never hides a user's bucket.
func TestOpsPrefixIsNoBucket(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	cfg := e2e.Config(alice)
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(ts.URL); o.UsePathStyle = true })
	_, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("_ocellus")})
	if code := errCode(err); code != "InvalidBucketName" {
		t.Fatalf("CreateBucket _ocellus: %v (code %q), want InvalidBucketName", err, code)
	}
}

type healthAnswer struct {
	Status string            `json:"status"`
	Node   string            `json:"node"`
	Checks map[string]string `json:"checks"`
}

func getHealth(t *testing.T, url string) (int, healthAnswer) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h healthAnswer
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, h
}

// Readiness checks the node's dependencies; liveness only that it serves.
// With the S3 endpoint's object store gone, the node is not ready (503,
// naming s3) but alive (200), so an orchestrator takes it out of the load
// balancer without restarting it.
func TestHealthReadyAndLive(t *testing.T) {
	ts := e2e.Start(t, server.Config{NodeID: "node-7"})
	for _, p := range []string{"/_ocellus/health", "/_ocellus/health/ready", "/_ocellus/health/live"} {
		code, h := getHealth(t, ts.URL+p)
		if code != http.StatusOK || h.Status != "ok" || h.Node != "node-7" {
			t.Errorf("%s: %d %+v, want 200 ok from node-7", p, code, h)
		}
	}
	if err := os.RemoveAll(filepath.Join(ts.DataDir, "s3", "data")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/_ocellus/health", "/_ocellus/health/ready"} {
		code, h := getHealth(t, ts.URL+p)
		if code != http.StatusServiceUnavailable || h.Status != "degraded" || h.Checks["s3"] == "ok" || h.Checks["s3"] == "" || h.Checks["database"] != "ok" {
			t.Errorf("%s without the S3 object store: %d %+v, want 503 degraded naming s3, database ok", p, code, h)
		}
	}
	if code, h := getHealth(t, ts.URL+"/_ocellus/health/live"); code != http.StatusOK || h.Status != "ok" || h.Checks != nil {
		t.Errorf("live without the S3 object store: %d %+v, want 200 ok without checks", code, h)
	}
}
