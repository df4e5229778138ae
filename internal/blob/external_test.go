package blob

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocellus/ocellus/internal/e2e/s3test"
	"github.com/ocellus/ocellus/internal/ocellus"
)

// TestExternalS3AsAccounts: against an independent S3 (versitygw), Blobs
// signs every account's request with the service credentials and keeps
// the accounts apart with Allow: an account reads and writes what its
// S3Buckets list, and any other object is refused with the same error
// (InvalidS3Object, AccessDenied) as an object S3 itself forbids, before a
// request is sent.
func TestExternalS3AsAccounts(t *testing.T) {
	ctx := context.Background()
	g := s3test.Start(t)
	g.CreateBuckets(t, "alice-data", "bob-data")
	accounts := map[string]ocellus.Account{
		"111111111111": {ID: "111111111111", S3Buckets: []string{"alice-*"}},
		"222222222222": {ID: "222222222222", S3Buckets: []string{"bob-data/in/"}},
	}
	var asked int
	b := New(Config{Endpoint: g.URL, Region: g.Region,
		Credentials: func(account string) (string, string, bool) {
			_, ok := accounts[account]
			return g.AccessKeyID, g.SecretAccessKey, ok
		},
		Allow: func(account, bucket, key string) bool {
			asked++
			return accounts[account].MayUseS3(bucket, key)
		}})
	payload := bytes.Repeat([]byte("manifest line\n"), 1000)
	if err := b.Put(ctx, "111111111111", "alice-data", "train.manifest", "application/json", bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	got, info, err := b.ReadAll(ctx, "111111111111", "alice-data", "train.manifest", "", 1<<20)
	if err != nil || !bytes.Equal(got, payload) || info.Size != int64(len(payload)) {
		t.Fatalf("read back: %d bytes, %+v, %v", len(got), info, err)
	}
	if err := b.Put(ctx, "222222222222", "bob-data", "in/a.jpg", "image/jpeg", bytes.NewReader([]byte("jpeg"))); err != nil {
		t.Fatal(err)
	}
	// The object is really in versitygw, as the root user sees it.
	if _, err := g.Client().HeadObject(ctx, headInput("bob-data", "in/a.jpg")); err != nil {
		t.Fatalf("the object is not in versitygw: %v", err)
	}
	for _, c := range []struct{ account, bucket, key string }{
		{"222222222222", "alice-data", "train.manifest"}, // another account's bucket
		{"222222222222", "bob-data", "out/a.jpg"},        // outside the key prefix
		{"111111111111", "bob-data", "in/a.jpg"},
		{"333333333333", "alice-data", "train.manifest"}, // no such account
	} {
		before := asked
		_, _, err := b.ReadAll(ctx, c.account, c.bucket, c.key, "", 1<<20)
		if ocellus.KindOf(err) != ocellus.InvalidS3Object || !strings.Contains(ocellus.MessageOf(err), "AccessDenied") {
			t.Errorf("%s reading s3://%s/%s: %v, want InvalidS3Object (AccessDenied)", c.account, c.bucket, c.key, err)
		}
		if _, err := b.Head(ctx, c.account, c.bucket, c.key, ""); ocellus.KindOf(err) != ocellus.InvalidS3Object {
			t.Errorf("%s heading s3://%s/%s: %v", c.account, c.bucket, c.key, err)
		}
		if err := b.Put(ctx, c.account, c.bucket, c.key, "", bytes.NewReader(nil)); ocellus.KindOf(err) != ocellus.InvalidS3Object {
			t.Errorf("%s writing s3://%s/%s: %v", c.account, c.bucket, c.key, err)
		}
		if asked != before+3 {
			t.Errorf("Allow asked %d times for 3 requests", asked-before)
		}
	}
	// A missing object of an allowed bucket is S3's own answer.
	if _, err := b.Head(ctx, "111111111111", "alice-data", "missing", ""); ocellus.KindOf(err) != ocellus.InvalidS3Object {
		t.Errorf("missing object: %v", err)
	}
}

// TestExternalBucket: the service's own bucket (the artifact bucket) on
// versitygw: Check is HeadBucket, Put/Get/Delete round-trip, a missing
// object is NotFound, deleting twice is no error, a bucket that does not
// exist fails Check.
func TestExternalBucket(t *testing.T) {
	ctx := context.Background()
	g := s3test.Start(t)
	g.CreateBuckets(t, "artifacts")
	b := NewBucket(g.URL, g.Region, g.AccessKeyID, g.SecretAccessKey, "artifacts")
	if err := b.Check(ctx); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{0, 1, 2, 250}, 300_000)
	if err := b.Put(ctx, "models/x.ocellus-model", data); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Get(ctx, "models/x.ocellus-model"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get: %d bytes, %v", len(got), err)
	}
	if err := b.Delete(ctx, "models/x.ocellus-model"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "models/x.ocellus-model"); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, err := b.Get(ctx, "models/x.ocellus-model"); ocellus.KindOf(err) != ocellus.NotFound {
		t.Fatalf("get after delete: %v", err)
	}
	if err := NewBucket(g.URL, g.Region, g.AccessKeyID, g.SecretAccessKey, "no-such-bucket").Check(ctx); err == nil {
		t.Fatal("Check of a missing bucket succeeded")
	}
	if err := NewBucket(g.URL, g.Region, g.AccessKeyID, "wrong-secret", "artifacts").Check(ctx); err == nil {
		t.Fatal("Check with a wrong secret succeeded")
	}
}

func headInput(bucket, key string) *s3.HeadObjectInput {
	return &s3.HeadObjectInput{Bucket: &bucket, Key: &key}
}
