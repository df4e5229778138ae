package apimodel

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"testing"
)

// fuzzOps are operations with deep, varied inputs: lists of structures,
// maps, blobs, floats, timestamps, enums and patterns.
var fuzzOps = []struct {
	svc *Service
	op  string
}{
	{Rekognition, "CreateProject"},
	{Rekognition, "DescribeProjects"},
	{Rekognition, "DetectCustomLabels"},
	{Rekognition, "CreateProjectVersion"},
	{Rekognition, "DistributeDatasetEntries"},
	{Rekognition, "ListDatasetEntries"},
	{LookoutVision, "CreateModel"},
	{LookoutVision, "StartModelPackagingJob"},
	{LookoutVision, "ListDatasetEntries"},
	{LookoutVision, "TagResource"},
}

// FuzzValidate feeds arbitrary bodies to DecodeJSON and Validate: they may
// reject the input but must never panic, and any rejection is a
// *ValidationError with a message.
func FuzzValidate(f *testing.F) {
	f.Add(uint8(0), []byte(`{"ProjectName":"p","Tags":{"k":"v"}}`))
	f.Add(uint8(2), []byte(`{"ProjectVersionArn":"x","Image":{"Bytes":"aGk=","S3Object":{"Bucket":"b"}},"MinConfidence":1e400}`))
	f.Add(uint8(4), []byte(`{"Datasets":[null,{"Arn":7},[]]}`))
	f.Add(uint8(9), []byte(`{"Tags":[{"Key":{},"Value":null}]}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		target := fuzzOps[int(which)%len(fuzzOps)]
		in, err := DecodeJSON(body)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Kind != Serialization {
				t.Fatalf("DecodeJSON error %v is not a Serialization error", err)
			}
			return
		}
		if err := target.svc.Validate(target.op, in); err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || err.Error() == "" {
				t.Fatalf("Validate error %v is not a *ValidationError", err)
			}
			if ve.Kind == Validation && len(ve.Violations) == 0 {
				t.Fatal("Validation error without violations")
			}
		}
	})
}

// FuzzMatch feeds arbitrary methods, paths and queries to Match and
// DecodeRest.
func FuzzMatch(f *testing.F) {
	f.Add("DELETE", tagPath, "tagKeys=a&tagKeys=b", []byte(nil))
	f.Add("POST", "/2020-11-20/projects/p1/models/1/detect", "", []byte("\x89PNG"))
	f.Add("GET", "/2020-11-20/projects/p1/datasets/train/entries", "createdBefore=2021-01-01T00:00:00Z&maxResults=9", []byte(nil))
	f.Add("GET", "/2020-11-20/projects/%", "", []byte(nil))
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		op, labels, ok := LookoutVision.Match(method, path)
		if !ok {
			return
		}
		if op.Method != method {
			t.Fatalf("matched %s for method %s", op.Name, method)
		}
		r := httptest.NewRequest("GET", "/", bytes.NewReader(body))
		r.Method = method
		r.URL.RawQuery = query
		in, err := LookoutVision.DecodeRest(op, r, labels)
		if err != nil {
			return
		}
		_ = LookoutVision.Validate(op.Name, in)
	})
}
