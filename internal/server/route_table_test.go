package server

import (
	"net/http/httptest"
	"testing"
)

// TestRouteTable: which row of the routing table serves a request, by its
// path, its X-Amz-Target and the service of its SigV4 scope (in the
// Authorization header or a presigned URL's X-Amz-Credential).
func TestRouteTable(t *testing.T) {
	s := &Server{}
	s.routes = s.routeTable()
	signed := func(service string) string {
		return "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/" + service + "/aws4_request, SignedHeaders=host, Signature=00"
	}
	for _, c := range []struct {
		method, target string
		auth, target2  string // Authorization header; X-Amz-Target
		want           string
	}{
		{"GET", "/_ocellus/health", "", "", "ops health"},
		{"HEAD", "/_ocellus/health", signed("s3"), "", "ops health"},
		{"GET", "/_ocellus/health/ready", "", "", "ops ready"},
		{"GET", "/_ocellus/health/live", signed("rekognition"), "", "ops live"},
		{"GET", "/_ocellus/metrics", "", "", "ops metrics"},
		{"GET", "/_ocellus/metrics/x", "", "", "ops unknown"},
		{"GET", "/_ocellus/console/", "", "", "console"},
		{"GET", "/_ocellus/console", "", "", "console"},
		{"POST", "/_ocellus/console/projects", signed("rekognition"), "RekognitionService.CreateProject", "console"},
		{"GET", "/_ocellus/consoles", "", "", "ops unknown"},
		{"GET", "/_ocellus/", signed("rekognition"), "", "ops unknown"},
		{"POST", "/", "", "RekognitionService.ListProjects", "rekognition"},
		{"POST", "/", signed("rekognition"), "RekognitionService.DescribeProjects", "rekognition"},
		{"POST", "/", signed("rekognition"), "", "rekognition"},
		{"GET", "/2020-11-20/projects", "", "", "lookoutvision"},
		{"GET", "/2020-11-20/projects", signed("lookoutvision"), "", "lookoutvision"},
		{"GET", "/2020-11-20/key", signed("s3"), "", "s3"}, // a bucket may be named 2020-11-20
		{"GET", "/bucket/key", "", "", "s3"},
		{"PUT", "/bucket", signed("s3"), "", "s3"},
		{"GET", "/bucket/key?X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request", "", "", "s3"},
		{"GET", "/?Action=GetCallerIdentity&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fsts%2Faws4_request", "", "", "refuse"},
		{"GET", "/bucket/key", signed("sqs"), "", "refuse"},
		{"GET", "/2020-11-20/projects", signed("sqs"), "", "refuse"},
		{"POST", "/", "", "DynamoDB_20120810.ListTables", "refuse"},
		{"POST", "/", signed("dynamodb"), "DynamoDB_20120810.ListTables", "refuse"},
	} {
		r := httptest.NewRequest(c.method, c.target, nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if c.target2 != "" {
			r.Header.Set("X-Amz-Target", c.target2)
		}
		if got, _ := s.routeFor(r); got.name != c.want {
			t.Errorf("%s %s (auth %q, target %q) -> %q, want %q", c.method, c.target, c.auth, c.target2, got.name, c.want)
		}
	}
	if last := s.routes[len(s.routes)-1]; last.name != "refuse" || !last.match(httptest.NewRequest("GET", "/", nil), "anything") {
		t.Fatalf("the last row %q is not the catch-all refusal", last.name)
	}
}
