package server_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// S3 ignores an expectation it does not know; Go's net/http alone answers
// 417 before any handler (internal/expect removes the header).
func TestS3IgnoresUnknownExpect(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	cfg := e2e.Config(alice)
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(ts.URL); o.UsePathStyle = true })
	ctx := t.Context()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("expect")}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"200", "100-continue"} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("expect"), Key: aws.String(e), Body: bytes.NewReader([]byte("body " + e))},
			s3.WithAPIOptions(smithyhttp.AddHeaderValue("Expect", e)))
		if err != nil {
			t.Fatalf("PutObject with Expect: %s: %v", e, err)
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("expect"), Key: aws.String(e)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(b) != "body "+e {
			t.Fatalf("object stored with Expect: %s reads %q", e, b)
		}
	}
}
