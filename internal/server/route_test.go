package server_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// TestUnknownServiceRefused: a request signed for a service Ocellus does
// not serve is refused in that service's error shape, never answered by
// the embedded S3.
func TestUnknownServiceRefused(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	ctx := context.Background()
	creds := aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: alice.SecretAccessKey}

	// awsQuery (STS) through the SDK: an XML error it parses.
	c := sts.NewFromConfig(e2e.Config(alice), func(o *sts.Options) { o.BaseEndpoint = aws.String(ts.URL) })
	_, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if got := errCode(err); got != "InvalidAction" {
		t.Fatalf("sts GetCallerIdentity: %q (%v), want InvalidAction", got, err)
	}

	send := func(r *http.Request, body string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("Server") == "Ocellus" || resp.Header.Get("X-Amz-Id-2") != "" {
			t.Fatalf("answered by the embedded S3: %v %s", resp.Header, b)
		}
		return resp, b
	}
	// awsJson1.0 (DynamoDB): a JSON error naming the operation.
	body := "{}"
	r, _ := http.NewRequest("POST", ts.URL+"/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.0")
	r.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	if err := v4.NewSigner().SignHTTP(ctx, creds, r, sha256hex(body), "dynamodb", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, b := send(r, body)
	var je struct {
		Type string `json:"__type"`
	}
	if json.Unmarshal(b, &je); resp.StatusCode != 400 || je.Type != "UnknownOperationException" || resp.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Fatalf("dynamodb: %d %s", resp.StatusCode, b)
	}

	// A malformed Authorization that still names its scope, on an S3-like
	// path: refused as that service (XML), not parsed by S3.
	r, _ = http.NewRequest("GET", ts.URL+"/some-bucket/key", nil)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+alice.AccessKeyID+"/20260101/us-east-1/sqs/aws4_request, Signature=zz")
	resp, b = send(r, "")
	var xe struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Code    string   `xml:"Error>Code"`
	}
	if err := xml.Unmarshal(b, &xe); err != nil || resp.StatusCode != 400 || xe.Code != "InvalidAction" {
		t.Fatalf("sqs with a malformed signature: %d %s (%v)", resp.StatusCode, b, err)
	}
}
