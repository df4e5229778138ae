package server_test

import (
	"encoding/json"
	"io"
	"net/http"
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
	if h.Status != "ok" || h.Checks["database"] != "ok" || h.Checks["dataVolume"] != "ok" {
		t.Errorf("health %+v, want ok with database and dataVolume checks ok", h)
	}
	if h.FreeBytes == 0 || h.Uptime < 0 || time.Since(h.Started) > time.Minute {
		t.Errorf("health %+v: implausible free space, uptime or start time", h)
	}

	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/_ocellus/health", http.StatusMethodNotAllowed},
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
