package apimodel

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

const tagPath = "/2020-11-20/tags/arn%3Aaws%3Alookoutvision%3Aus-east-1%3A123456789012%3Aproject%2Fp1"
const l4vArn = "arn:aws:lookoutvision:us-east-1:123456789012:project/p1"

// TestRestRoutes drives Match, DecodeRest and Validate for each of the 22
// Lookout for Vision operations with a request as the SDKs send it.
func TestRestRoutes(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nfake")
	tests := []struct {
		op      string
		method  string
		target  string // path and query, escaped
		headers map[string]string
		body    string
		labels  map[string]string
		want    map[string]any
	}{
		{op: "CreateProject", method: "POST", target: "/2020-11-20/projects",
			headers: map[string]string{"X-Amzn-Client-Token": "0b7c5f7e-1111-4a2b-9c3d-123456789abc"},
			body:    `{"ProjectName":"p1"}`,
			labels:  map[string]string{},
			want:    map[string]any{"ProjectName": "p1", "ClientToken": "0b7c5f7e-1111-4a2b-9c3d-123456789abc"}},
		{op: "ListProjects", method: "GET", target: "/2020-11-20/projects?nextToken=abc&maxResults=10",
			labels: map[string]string{},
			want:   map[string]any{"NextToken": "abc", "MaxResults": json.Number("10")}},
		{op: "DescribeProject", method: "GET", target: "/2020-11-20/projects/p1",
			labels: map[string]string{"projectName": "p1"},
			want:   map[string]any{"ProjectName": "p1"}},
		{op: "DeleteProject", method: "DELETE", target: "/2020-11-20/projects/p1",
			headers: map[string]string{"X-Amzn-Client-Token": "tok-1"},
			labels:  map[string]string{"projectName": "p1"},
			want:    map[string]any{"ProjectName": "p1", "ClientToken": "tok-1"}},
		{op: "CreateDataset", method: "POST", target: "/2020-11-20/projects/p1/datasets",
			body:   `{"DatasetType":"train","DatasetSource":{"GroundTruthManifest":{"S3Object":{"Bucket":"bkt","Key":"m.json"}}}}`,
			labels: map[string]string{"projectName": "p1"},
			want: map[string]any{"ProjectName": "p1", "DatasetType": "train",
				"DatasetSource": map[string]any{"GroundTruthManifest": map[string]any{"S3Object": map[string]any{"Bucket": "bkt", "Key": "m.json"}}}}},
		{op: "DescribeDataset", method: "GET", target: "/2020-11-20/projects/p1/datasets/train",
			labels: map[string]string{"projectName": "p1", "datasetType": "train"},
			want:   map[string]any{"ProjectName": "p1", "DatasetType": "train"}},
		{op: "DeleteDataset", method: "DELETE", target: "/2020-11-20/projects/p1/datasets/test",
			labels: map[string]string{"projectName": "p1", "datasetType": "test"},
			want:   map[string]any{"ProjectName": "p1", "DatasetType": "test"}},
		{op: "ListDatasetEntries", method: "GET",
			target: "/2020-11-20/projects/p1/datasets/train/entries?labeled=true&anomalyClass=normal&createdBefore=2021-01-01T00%3A00%3A00Z&createdAfter=2020-12-31T23:59:59.5Z&sourceRefContains=img%20a&maxResults=5&nextToken=t",
			labels: map[string]string{"projectName": "p1", "datasetType": "train"},
			want: map[string]any{"ProjectName": "p1", "DatasetType": "train", "Labeled": true, "AnomalyClass": "normal",
				"BeforeCreationDate": json.Number("1609459200"), "AfterCreationDate": json.Number("1609459199.5"),
				"SourceRefContains": "img a", "MaxResults": json.Number("5"), "NextToken": "t"}},
		{op: "UpdateDatasetEntries", method: "PATCH", target: "/2020-11-20/projects/p1/datasets/train/entries",
			body:   `{"Changes":"eyJzb3VyY2UtcmVmIjoiczM6Ly9iL2EuanBnIn0="}`,
			labels: map[string]string{"projectName": "p1", "datasetType": "train"},
			want:   map[string]any{"ProjectName": "p1", "DatasetType": "train", "Changes": "eyJzb3VyY2UtcmVmIjoiczM6Ly9iL2EuanBnIn0="}},
		{op: "CreateModel", method: "POST", target: "/2020-11-20/projects/p1/models",
			body:   `{"Description":"first","OutputConfig":{"S3Location":{"Bucket":"bkt","Prefix":"out/"}},"Tags":[{"Key":"k","Value":"v"}]}`,
			labels: map[string]string{"projectName": "p1"},
			want: map[string]any{"ProjectName": "p1", "Description": "first",
				"OutputConfig": map[string]any{"S3Location": map[string]any{"Bucket": "bkt", "Prefix": "out/"}},
				"Tags":         []any{map[string]any{"Key": "k", "Value": "v"}}}},
		{op: "DescribeModel", method: "GET", target: "/2020-11-20/projects/p1/models/latest",
			labels: map[string]string{"projectName": "p1", "modelVersion": "latest"},
			want:   map[string]any{"ProjectName": "p1", "ModelVersion": "latest"}},
		{op: "ListModels", method: "GET", target: "/2020-11-20/projects/p1/models?maxResults=3",
			labels: map[string]string{"projectName": "p1"},
			want:   map[string]any{"ProjectName": "p1", "MaxResults": json.Number("3")}},
		{op: "DeleteModel", method: "DELETE", target: "/2020-11-20/projects/p1/models/2",
			labels: map[string]string{"projectName": "p1", "modelVersion": "2"},
			want:   map[string]any{"ProjectName": "p1", "ModelVersion": "2"}},
		{op: "StartModel", method: "POST", target: "/2020-11-20/projects/p1/models/1/start",
			body:   `{"MinInferenceUnits":1,"MaxInferenceUnits":2}`,
			labels: map[string]string{"projectName": "p1", "modelVersion": "1"},
			want:   map[string]any{"ProjectName": "p1", "ModelVersion": "1", "MinInferenceUnits": json.Number("1"), "MaxInferenceUnits": json.Number("2")}},
		{op: "StopModel", method: "POST", target: "/2020-11-20/projects/p1/models/1/stop",
			labels: map[string]string{"projectName": "p1", "modelVersion": "1"},
			want:   map[string]any{"ProjectName": "p1", "ModelVersion": "1"}},
		{op: "DetectAnomalies", method: "POST", target: "/2020-11-20/projects/p1/models/1/detect",
			headers: map[string]string{"Content-Type": "image/png"},
			body:    string(png),
			labels:  map[string]string{"projectName": "p1", "modelVersion": "1"},
			want:    map[string]any{"ProjectName": "p1", "ModelVersion": "1", "ContentType": "image/png", "Body": png}},
		{op: "StartModelPackagingJob", method: "POST", target: "/2020-11-20/projects/p1/modelpackagingjobs",
			body:   `{"ModelVersion":"1","JobName":"job-1","Configuration":{"Greengrass":{"TargetDevice":"jetson_xavier","S3OutputLocation":{"Bucket":"bkt"},"ComponentName":"comp"}}}`,
			labels: map[string]string{"projectName": "p1"},
			want: map[string]any{"ProjectName": "p1", "ModelVersion": "1", "JobName": "job-1",
				"Configuration": map[string]any{"Greengrass": map[string]any{"TargetDevice": "jetson_xavier", "S3OutputLocation": map[string]any{"Bucket": "bkt"}, "ComponentName": "comp"}}}},
		{op: "ListModelPackagingJobs", method: "GET", target: "/2020-11-20/projects/p1/modelpackagingjobs?maxResults=2",
			labels: map[string]string{"projectName": "p1"},
			want:   map[string]any{"ProjectName": "p1", "MaxResults": json.Number("2")}},
		{op: "DescribeModelPackagingJob", method: "GET", target: "/2020-11-20/projects/p1/modelpackagingjobs/job-1",
			labels: map[string]string{"projectName": "p1", "jobName": "job-1"},
			want:   map[string]any{"ProjectName": "p1", "JobName": "job-1"}},
		{op: "TagResource", method: "POST", target: tagPath,
			body:   `{"Tags":[{"Key":"a","Value":"1"}]}`,
			labels: map[string]string{"resourceArn": l4vArn},
			want:   map[string]any{"ResourceArn": l4vArn, "Tags": []any{map[string]any{"Key": "a", "Value": "1"}}}},
		{op: "UntagResource", method: "DELETE", target: tagPath + "?tagKeys=a&tagKeys=b",
			labels: map[string]string{"resourceArn": l4vArn},
			want:   map[string]any{"ResourceArn": l4vArn, "TagKeys": []any{"a", "b"}}},
		{op: "ListTagsForResource", method: "GET", target: tagPath,
			labels: map[string]string{"resourceArn": l4vArn},
			want:   map[string]any{"ResourceArn": l4vArn}},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.op, func(t *testing.T) {
			seen[tc.op] = true
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			op, labels, ok := LookoutVision.Match(r.Method, r.URL.EscapedPath())
			if !ok {
				t.Fatalf("Match(%s %s): no match", tc.method, r.URL.EscapedPath())
			}
			if op.Name != tc.op {
				t.Fatalf("Match = %s, want %s", op.Name, tc.op)
			}
			if !reflect.DeepEqual(labels, tc.labels) {
				t.Errorf("labels = %v, want %v", labels, tc.labels)
			}
			in, err := LookoutVision.DecodeRest(op, r, labels)
			if err != nil {
				t.Fatalf("DecodeRest: %v", err)
			}
			if !reflect.DeepEqual(in, tc.want) {
				t.Errorf("input\n got: %#v\nwant: %#v", in, tc.want)
			}
			if err := LookoutVision.Validate(op.Name, in); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
	for name := range LookoutVision.Operations {
		if !seen[name] {
			t.Errorf("no route test for %s", name)
		}
	}
}

func TestMatchMisses(t *testing.T) {
	for _, tc := range []struct{ method, path string }{
		{"GET", "/2020-11-20/projectsx"},
		{"GET", "/2020-11-20/projects/"},               // empty label
		{"PUT", "/2020-11-20/projects/p1"},             // no such method
		{"GET", "/2020-11-20/projects/p1/unknown"},     // no such route
		{"GET", "/2020-11-20/tags/arn:aws/x"},          // unescaped slash splits the ARN
		{"GET", "/2020-11-20/projects/p1%zz"},          // bad escape
		{"POST", "/2020-11-20/projects/p1/models/1/x"}, // unknown action
		{"GET", ""},
		{"GET", "2020-11-20/projects"},
		{"GET", "/2016-06-27/projects"},
	} {
		if op, _, ok := LookoutVision.Match(tc.method, tc.path); ok {
			t.Errorf("Match(%s %s) = %s, want no match", tc.method, tc.path, op.Name)
		}
	}
	// Escaped characters in a label are decoded after matching.
	_, labels, ok := LookoutVision.Match("GET", "/2020-11-20/projects/my%2Dproj")
	if !ok || labels["projectName"] != "my-proj" {
		t.Errorf("labels = %v", labels)
	}
}

func TestGreedyLabel(t *testing.T) {
	s := &Service{ID: "Test", Operations: map[string]*Operation{
		"GetObject": {Name: "GetObject", Method: "GET", RequestURI: "/{Bucket}/{Key+}"},
	}}
	op, labels, ok := s.Match("GET", "/b/a/b%20c/d.txt")
	if !ok || op.Name != "GetObject" || labels["Bucket"] != "b" || labels["Key"] != "a/b c/d.txt" {
		t.Fatalf("Match = %v %v %v", op, labels, ok)
	}
	if _, _, ok := s.Match("GET", "/b"); ok {
		t.Error("greedy label must not be empty")
	}
}

func TestDecodeRestErrors(t *testing.T) {
	tests := []struct {
		name, method, target, body string
		headers                    map[string]string
	}{
		{name: "malformed JSON", method: "POST", target: "/2020-11-20/projects", body: `{"ProjectName":`},
		{name: "body not an object", method: "POST", target: "/2020-11-20/projects", body: `["p1"]`},
		{name: "trailing data", method: "POST", target: "/2020-11-20/projects", body: `{} x`},
		{name: "maxResults not a number", method: "GET", target: "/2020-11-20/projects?maxResults=ten"},
		{name: "maxResults overflows int32", method: "GET", target: "/2020-11-20/projects?maxResults=4294967296"},
		{name: "labeled not a bool", method: "GET", target: "/2020-11-20/projects/p1/datasets/train/entries?labeled=yes"},
		{name: "bad timestamp", method: "GET", target: "/2020-11-20/projects/p1/datasets/train/entries?createdBefore=yesterday"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			op, labels, ok := LookoutVision.Match(r.Method, r.URL.EscapedPath())
			if !ok {
				t.Fatal("no match")
			}
			_, err := LookoutVision.DecodeRest(op, r, labels)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Kind != Serialization {
				t.Fatalf("DecodeRest = %v, want a Serialization error", err)
			}
		})
	}
}

func TestDecodeRestThenValidate(t *testing.T) {
	// URI-bound members are validated with their wire names, like AWS.
	r := httptest.NewRequest("DELETE", "/2020-11-20/projects/a.b/models/latest", nil)
	op, labels, ok := LookoutVision.Match(r.Method, r.URL.EscapedPath())
	if !ok {
		t.Fatal("no match")
	}
	in, err := LookoutVision.DecodeRest(op, r, labels)
	if err != nil {
		t.Fatal(err)
	}
	err = LookoutVision.Validate(op.Name, in)
	want := `2 validation errors detected: Value 'a.b' at 'projectName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9][a-zA-Z0-9_\-]*; ` +
		`Value 'latest' at 'modelVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: ([1-9][0-9]*)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}

	// DetectAnomalies without a body: the payload is missing.
	r = httptest.NewRequest("POST", "/2020-11-20/projects/p1/models/1/detect", nil)
	r.Header.Set("Content-Type", "image/jpeg")
	op, labels, _ = LookoutVision.Match(r.Method, r.URL.EscapedPath())
	in, err = LookoutVision.DecodeRest(op, r, labels)
	if err != nil {
		t.Fatal(err)
	}
	err = LookoutVision.Validate(op.Name, in)
	if err == nil || err.Error() != "1 validation error detected: Value null at 'body' failed to satisfy constraint: Member must not be null" {
		t.Fatalf("got %v", err)
	}

	// A body member cannot override a URI label.
	r = httptest.NewRequest("POST", "/2020-11-20/projects/p1/models/1/start", strings.NewReader(`{"ProjectName":"other","MinInferenceUnits":0}`))
	op, labels, _ = LookoutVision.Match(r.Method, r.URL.EscapedPath())
	in, err = LookoutVision.DecodeRest(op, r, labels)
	if err != nil {
		t.Fatal(err)
	}
	if in["ProjectName"] != "p1" {
		t.Errorf("ProjectName = %v", in["ProjectName"])
	}
	err = LookoutVision.Validate(op.Name, in)
	if err == nil || err.Error() != "1 validation error detected: Value '0' at 'minInferenceUnits' failed to satisfy constraint: Member must have value greater than or equal to 1" {
		t.Fatalf("got %v", err)
	}

	// UntagResource without tagKeys.
	r = httptest.NewRequest("DELETE", tagPath, http.NoBody)
	op, labels, _ = LookoutVision.Match(r.Method, r.URL.EscapedPath())
	in, _ = LookoutVision.DecodeRest(op, r, labels)
	err = LookoutVision.Validate(op.Name, in)
	if err == nil || err.Error() != "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null" {
		t.Fatalf("got %v", err)
	}
}
