package blob

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	s3api "github.com/ocellus/ocellus/internal/api/s3"
	"github.com/ocellus/ocellus/internal/keyring"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/sigv4"
)

func newBlobs(t *testing.T) *Blobs { return newBlobsKeys(t, nil) }

// newBlobsKeys is newBlobs over an embedded S3 that encrypts with kr.
func newBlobsKeys(t *testing.T, kr s3api.Keys) *Blobs {
	t.Helper()
	creds := map[string]sigv4.Credential{
		"AKA": {AccountID: "111111111111", AccessKeyID: "AKA", SecretAccessKey: "a"},
		"AKB": {AccountID: "222222222222", AccessKeyID: "AKB", SecretAccessKey: "b"},
	}
	v := &sigv4.Verifier{Lookup: func(id string) (sigv4.Credential, bool) { c, ok := creds[id]; return c, ok }}
	srv, err := s3api.New(s3api.Config{Dir: t.TempDir(), Region: "us-east-1", Verifier: v, Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return New(Config{Handler: srv, Region: "us-east-1", Credentials: func(account string) (string, string, bool) {
		for _, c := range creds {
			if c.AccountID == account {
				return c.AccessKeyID, c.SecretAccessKey, true
			}
		}
		return "", "", false
	}})
}

func TestPutOpenHeadInProcess(t *testing.T) {
	ctx := context.Background()
	b := newBlobs(t)
	c, _ := b.client("111111111111")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("ocellus "), 200_000) // 1.6 MB, streamed through the pipe
	if err := b.Put(ctx, "111111111111", "data", "dir/a b.bin", "application/octet-stream", bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	info, err := b.Head(ctx, "111111111111", "data", "dir/a b.bin", "")
	if err != nil || info.Size != int64(len(payload)) {
		t.Fatalf("Head = %+v, %v", info, err)
	}
	rc, info, err := b.Open(ctx, "111111111111", "data", "dir/a b.bin", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, payload) || info.Size != int64(len(payload)) {
		t.Fatalf("Open: %d bytes, %v", len(got), err)
	}
	// Missing object and another account's object are both InvalidS3Object.
	if _, _, err := b.Open(ctx, "111111111111", "data", "missing", ""); ocellus.KindOf(err) != ocellus.InvalidS3Object {
		t.Fatalf("missing: %v", err)
	}
	if _, err := b.Head(ctx, "222222222222", "data", "dir/a b.bin", ""); ocellus.KindOf(err) != ocellus.InvalidS3Object {
		t.Fatalf("other account: %v", err)
	}
	// Reading a prefix and closing early must not wedge the server goroutine.
	rc, _, err = b.Open(ctx, "111111111111", "data", "dir/a b.bin", "")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(rc, make([]byte, 10))
	rc.Close()
}

func TestParseURI(t *testing.T) {
	for in, want := range map[string]string{"s3://b/k/x.jpg": "b|k/x.jpg", "s3://b/": "", "http://b/k": "", "s3://b": ""} {
		b, k, err := ParseURI(in)
		got := ""
		if err == nil {
			got = b + "|" + k
		}
		if got != want || (want == "") != (err != nil) || (err != nil && !strings.Contains(err.Error(), in)) {
			t.Errorf("ParseURI(%q) = %q, %v", in, got, err)
		}
	}
}

// TestPutKMS: output files of a version with a KmsKeyId are stored with
// SSE-KMS under that key and read back as plaintext.
func TestPutKMS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "keyring.json")
	os.WriteFile(file, []byte(`[{"KeyId":"k1","Alias":"alias/out","Key":"`+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))+`"}]`), 0o600)
	kr, err := keyring.Open(dir, file)
	if err != nil {
		t.Fatal(err)
	}
	b := newBlobsKeys(t, kr)
	c, _ := b.client("111111111111")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("out")}); err != nil {
		t.Fatal(err)
	}
	if err := b.PutKMS(ctx, "111111111111", "out", "eval.json", "application/json", "alias/out", strings.NewReader(`{"F1":1}`)); err != nil {
		t.Fatal(err)
	}
	info, err := b.Head(ctx, "111111111111", "out", "eval.json", "")
	if err != nil || info.Encryption != "aws:kms" || info.KMSKeyID != "arn:aws:kms:us-east-1:111111111111:key/k1" {
		t.Fatalf("Head = %+v, %v", info, err)
	}
	rc, _, err := b.Open(ctx, "111111111111", "out", "eval.json", "")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != `{"F1":1}` {
		t.Fatalf("read back %q", got)
	}
	if err := b.Put(ctx, "111111111111", "out", "plain.json", "", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	if info, _ := b.Head(ctx, "111111111111", "out", "plain.json", ""); info.Encryption != "" {
		t.Fatalf("Put without a key reports %q", info.Encryption)
	}
}

func TestReadAllBounded(t *testing.T) {
	ctx := context.Background()
	b := newBlobs(t)
	c, _ := b.client("111111111111")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("x"), 1000)
	if err := b.Put(ctx, "111111111111", "data", "k", "", bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	got, info, err := b.ReadAll(ctx, "111111111111", "data", "k", "", 1000)
	if err != nil || !bytes.Equal(got, payload) || info.Size != 1000 {
		t.Fatalf("ReadAll at the limit = %d bytes, %+v, %v", len(got), info, err)
	}
	_, _, err = b.ReadAll(ctx, "111111111111", "data", "k", "", 999)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Size != 1000 || tl.Limit != 999 || tl.Bucket != "data" || tl.Key != "k" {
		t.Fatalf("ReadAll over the limit: err = %v, want a TooLargeError of size 1000, limit 999", err)
	}
	if !strings.Contains(err.Error(), "s3://data/k is 1000 bytes; the limit is 999") {
		t.Fatalf("message = %q", err.Error())
	}
	// Open's errors pass as they are: a missing object is InvalidS3Object.
	if _, _, err := b.ReadAll(ctx, "111111111111", "data", "nope", "", 10); ocellus.KindOf(err) != ocellus.InvalidS3Object {
		t.Fatalf("missing object: %v", err)
	}
}

// TestReadAllBoundsAStreamOfUnknownSize: an endpoint that sends no
// Content-Length is read no further than limit+1 bytes.
func TestReadAllBoundsAStreamOfUnknownSize(t *testing.T) {
	var sent int64
	done := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		chunk := bytes.Repeat([]byte("y"), 100)
		for i := 0; i < 1000; i++ { // 100 KB in all
			n, err := w.Write(chunk)
			atomic.AddInt64(&sent, int64(n))
			if err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	b := New(Config{Handler: h, Region: "us-east-1", Credentials: func(string) (string, string, bool) { return "AK", "SK", true }})
	_, info, err := b.ReadAll(context.Background(), "111111111111", "data", "k", "", 250)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Size != -1 || tl.Limit != 250 {
		t.Fatalf("err = %v (info %+v), want a TooLargeError of unknown size", err, info)
	}
	if !strings.Contains(err.Error(), "larger than the limit of 250 bytes") {
		t.Fatalf("message = %q", err.Error())
	}
	// ReadAll closed the body: the endpoint's next write failed.
	<-done
	if n := atomic.LoadInt64(&sent); n >= 100_000 {
		t.Fatalf("the whole %d-byte body was sent for a 250-byte limit", n)
	}
}
