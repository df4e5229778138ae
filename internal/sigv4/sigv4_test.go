package sigv4

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var testCred = Credential{AccountID: "111111111111", AccessKeyID: "AKIDTEST", SecretAccessKey: "secret/key+1"}

func lookup(id string) (Credential, bool) {
	if id == testCred.AccessKeyID {
		return testCred, true
	}
	return Credential{}, false
}

var signTime = time.Date(2026, 11, 23, 1, 2, 3, 0, time.UTC)

func signed(t *testing.T, method, url, service string, body []byte, secret string, opt func(*v4.SignerOptions)) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	hash := PayloadHash(body)
	if service == "s3" {
		r.Header.Set(HeaderContentSHA256, hash)
	}
	s := v4.NewSigner(func(o *v4.SignerOptions) {
		if service == "s3" {
			o.DisableURIPathEscaping = true
		}
		if opt != nil {
			opt(o)
		}
	})
	creds := aws.Credentials{AccessKeyID: testCred.AccessKeyID, SecretAccessKey: secret}
	if err := s.SignHTTP(context.Background(), creds, r, hash, service, "us-east-1", signTime); err != nil {
		t.Fatal(err)
	}
	return r
}

func verifier(now time.Time) *Verifier {
	return &Verifier{Lookup: lookup, Now: func() time.Time { return now }}
}

func codeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func TestVerifyMatchesSDKSigner(t *testing.T) {
	cases := []struct {
		name, method, url, service string
		body                       []byte
	}{
		{"json", "POST", "http://127.0.0.1:4566/", "rekognition", []byte(`{"ProjectName":"p"}`)},
		{"rest encoded arn", "DELETE", "http://127.0.0.1:4566/2020-11-20/tags/arn%3Aaws%3Alookoutvision%3Aus-east-1%3A111111111111%3Aproject%2Fp1?tagKeys=a&tagKeys=b", "lookoutvision", nil},
		{"s3 key with spaces", "PUT", "http://127.0.0.1:4566/bucket/dir/a%20b%2Bc.jpg?partNumber=1&uploadId=x%2By", "s3", []byte("hello")},
		{"s3 list", "GET", "http://127.0.0.1:4566/bucket?list-type=2&prefix=a%2Fb&delimiter=%2F", "s3", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := signed(t, c.method, c.url, c.service, c.body, testCred.SecretAccessKey, nil)
			hash := PayloadHash(c.body)
			res, err := verifier(signTime.Add(time.Minute)).Verify(r, hash)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.Credential.AccountID != "111111111111" || res.Auth.Service != c.service || res.Auth.Region != "us-east-1" {
				t.Fatalf("result = %+v", res.Auth)
			}
		})
	}
}

func TestVerifyFailures(t *testing.T) {
	body := []byte(`{}`)
	good := func() *http.Request {
		return signed(t, "POST", "http://127.0.0.1:4566/", "rekognition", body, testCred.SecretAccessKey, nil)
	}
	wrongSecret := signed(t, "POST", "http://127.0.0.1:4566/", "rekognition", body, "not-the-secret", nil)
	unknown := good()
	unknown.Header.Set("Authorization", stringsReplace(unknown.Header.Get("Authorization"), "AKIDTEST", "AKIDOTHER"))
	tampered := good()
	tampered.Header.Set("Content-Type", "text/plain")
	noAuth, _ := http.NewRequest("POST", "http://127.0.0.1:4566/", nil)
	malformed := good()
	malformed.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")

	cases := []struct {
		name string
		r    *http.Request
		now  time.Time
		hash string
		want Code
	}{
		{"wrong secret", wrongSecret, signTime, PayloadHash(body), ErrSignature},
		{"unknown key", unknown, signTime, PayloadHash(body), ErrUnknownKey},
		{"tampered signed header", tampered, signTime, PayloadHash(body), ErrSignature},
		{"tampered body", good(), signTime, PayloadHash([]byte(`{"a":1}`)), ErrSignature},
		{"skewed past", good(), signTime.Add(16 * time.Minute), PayloadHash(body), ErrSkewed},
		{"skewed future", good(), signTime.Add(-16 * time.Minute), PayloadHash(body), ErrSkewed},
		{"missing", noAuth, signTime, PayloadHash(body), ErrMissing},
		{"malformed", malformed, signTime, PayloadHash(body), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := verifier(c.now).Verify(c.r, c.hash)
			if got := codeOf(err); got != c.want {
				t.Fatalf("code = %d (%v), want %d", got, err, c.want)
			}
		})
	}
}

func TestVerifyPresigned(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://127.0.0.1:4566/bucket/key.jpg?X-Amz-Expires=300", nil)
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	u, _, err := s.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: testCred.AccessKeyID, SecretAccessKey: testCred.SecretAccessKey},
		r, UnsignedPayload, "s3", "us-east-1", signTime)
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := http.NewRequest("GET", u, nil)
	if _, err := verifier(signTime.Add(time.Minute)).Verify(pr, UnsignedPayload); err != nil {
		t.Fatalf("presigned: %v", err)
	}
	if _, err := verifier(signTime.Add(6*time.Minute)).Verify(pr, UnsignedPayload); codeOf(err) != ErrExpired {
		t.Fatalf("expired presign: %v", err)
	}
}

func stringsReplace(s, old, new string) string {
	return string(bytes.Replace([]byte(s), []byte(old), []byte(new), 1))
}

func FuzzParseHeader(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/rekognition/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + string(bytes.Repeat([]byte("a"), 64)))
	f.Add("AWS4-HMAC-SHA256 Credential=/20261123//s3/aws4_request,SignedHeaders=,Signature=")
	f.Add("AWS4-HMAC-SHA256 ,,,==,")
	f.Add("Basic dXNlcjpwYXNz")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseHeader(h)
		if err != nil {
			if codeOf(err) != ErrMalformed {
				t.Fatalf("error %v has code %d, want ErrMalformed", err, codeOf(err))
			}
			return
		}
		if a.AccessKeyID == "" || len(a.SignedHeaders) == 0 || len(a.Signature) != 64 {
			t.Fatalf("accepted incomplete header %q: %+v", h, a)
		}
	})
}

// TestVerifyTransferEncodingSigned: botocore 1.29 (Debian's) signs
// transfer-encoding on chunked uploads; net/http moves that header into
// r.TransferEncoding, so the verifier must read it from there.
func TestVerifyTransferEncodingSigned(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	var got error
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) == 0 || r.Header.Get("Transfer-Encoding") != "" {
			t.Errorf("net/http did not move Transfer-Encoding: %v %v", r.TransferEncoding, r.Header)
		}
		_, got = verifier(now).Verify(r, UnsignedPayload)
	}))
	defer ts.Close()
	send := func(sign func(*http.Request)) error {
		r, _ := http.NewRequest("PUT", ts.URL+"/bucket/key", io.NopCloser(strings.NewReader("hello")))
		r.TransferEncoding = []string{"chunked"}
		r.Header.Set(HeaderContentSHA256, UnsignedPayload)
		r.Header.Set(HeaderDate, now.Format("20060102T150405Z"))
		sign(r)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return got
	}
	sign := func(te string) func(*http.Request) {
		return func(r *http.Request) {
			a := &Auth{AccessKeyID: testCred.AccessKeyID, Date: now.Format("20060102"), Region: "us-east-1", Service: "s3",
				AmzDate: now, SignedHeaders: []string{"host", "transfer-encoding", "x-amz-content-sha256", "x-amz-date"}}
			c := r.Clone(context.Background())
			c.Host = strings.TrimPrefix(ts.URL, "http://")
			c.Header.Set("Transfer-Encoding", te)
			key := SigningKey(testCred.SecretAccessKey, a.Date, a.Region, a.Service)
			sig := Sign(key, StringToSign(a, CanonicalRequest(c, a, UnsignedPayload)))
			r.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
				testCred.AccessKeyID, a.Scope(), strings.Join(a.SignedHeaders, ";"), sig))
		}
	}
	if err := send(sign("chunked")); err != nil {
		t.Fatalf("transfer-encoding signed: %v", err)
	}
	if err := send(sign("gzip")); codeOf(err) != ErrSignature {
		t.Fatalf("a different signed transfer-encoding must not verify: %v", err)
	}
}
