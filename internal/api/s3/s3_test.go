package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/ocellus/ocellus/internal/api/s3/chunked"
	"github.com/ocellus/ocellus/internal/sigv4"
)

var (
	alice = sigv4.Credential{AccountID: "111111111111", AccessKeyID: "AKIDALICE", SecretAccessKey: "alice/secret+1"}
	bob   = sigv4.Credential{AccountID: "222222222222", AccessKeyID: "AKIDBOB", SecretAccessKey: "bob-secret"}
)

func lookup(id string) (sigv4.Credential, bool) {
	for _, c := range []sigv4.Credential{alice, bob} {
		if c.AccessKeyID == id {
			return c, true
		}
	}
	return sigv4.Credential{}, false
}

type env struct {
	t   *testing.T
	dir string
	srv *Server
	ts  *httptest.Server
}

// newEnv starts a Server on dir behind an httptest server. Passing the same
// dir to a second newEnv after close() simulates a restart.
func newEnv(t *testing.T, dir string) *env {
	t.Helper()
	srv, err := New(Config{Dir: dir, Region: "us-east-1", Verifier: &sigv4.Verifier{Lookup: lookup}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, srv: srv, ts: httptest.NewServer(srv)}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	if e.ts != nil {
		e.ts.Close()
		e.srv.Close()
		e.ts = nil
	}
}

func (e *env) client(c sigv4.Credential, secret string) *s3.Client {
	if secret == "" {
		secret = c.SecretAccessKey
	}
	return s3.New(s3.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(e.ts.URL),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(c.AccessKeyID, secret, ""),
		RetryMaxAttempts: 1,
	})
}

var ctx = context.Background()

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err == nil {
		return ""
	}
	return "not an API error: " + err.Error()
}

func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("error code %q (%v), want %q", got, err, want)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func put(t *testing.T, c *s3.Client, bucket, key string, body []byte) *s3.PutObjectOutput {
	t.Helper()
	return must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)}))
}

func get(t *testing.T, c *s3.Client, in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, out
}

func mkBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	must[*s3.CreateBucketOutput](t)(c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}))
}

func TestBuckets(t *testing.T) {
	e := newEnv(t, t.TempDir())
	a, b := e.client(alice, ""), e.client(bob, "")
	mkBucket(t, a, "alpha")
	must[*s3.CreateBucketOutput](t)(a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("beta.eu"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}}))
	mkBucket(t, b, "bobs")

	// Re-creating your own bucket: 200 in us-east-1 (AWS's legacy
	// behaviour), BucketAlreadyOwnedByYou elsewhere.
	_, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
	if err != nil {
		t.Fatalf("re-create own bucket in us-east-1: %v", err)
	}
	_, err = a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("beta.eu"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}})
	wantCode(t, err, "BucketAlreadyOwnedByYou")
	_, err = b.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "BucketAlreadyExists")
	for _, bad := range []string{"ab", "Upper", "a..b", "-start", "192.168.1.1", strings.Repeat("a", 64), "under_score"} {
		_, err = a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bad)})
		wantCode(t, err, "InvalidBucketName")
	}

	lb := must[*s3.ListBucketsOutput](t)(a.ListBuckets(ctx, &s3.ListBucketsInput{}))
	var names []string
	for _, x := range lb.Buckets {
		names = append(names, *x.Name)
	}
	if strings.Join(names, ",") != "alpha,beta.eu" || *lb.Owner.ID != alice.AccountID {
		t.Fatalf("ListBuckets = %v owner %v", names, *lb.Owner.ID)
	}

	must[*s3.HeadBucketOutput](t)(a.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")}))
	_, err = a.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nope")})
	wantCode(t, err, "NotFound") // HEAD has no body: the SDK names it from the status
	loc := must[*s3.GetBucketLocationOutput](t)(a.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("beta.eu")}))
	if loc.LocationConstraint != types.BucketLocationConstraintEuWest1 {
		t.Fatalf("location %q", loc.LocationConstraint)
	}
	loc = must[*s3.GetBucketLocationOutput](t)(a.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("alpha")}))
	if loc.LocationConstraint != "" {
		t.Fatalf("us-east-1 location %q", loc.LocationConstraint)
	}

	put(t, a, "alpha", "k", []byte("x"))
	_, err = a.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "BucketNotEmpty")
	must[*s3.DeleteObjectOutput](t)(a.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k")}))
	must[*s3.DeleteBucketOutput](t)(a.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")}))
	_, err = a.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "NoSuchBucket")
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k")})
	wantCode(t, err, "NoSuchBucket")
}

func TestAccountsIsolated(t *testing.T) {
	e := newEnv(t, t.TempDir())
	a, b := e.client(alice, ""), e.client(bob, "")
	mkBucket(t, a, "private")
	put(t, a, "private", "secret.txt", []byte("alice's data"))
	checks := map[string]error{}
	_, checks["GetObject"] = b.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("private"), Key: aws.String("secret.txt")})
	_, checks["PutObject"] = b.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("private"), Key: aws.String("x"), Body: strings.NewReader("x")})
	_, checks["ListObjectsV2"] = b.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("private")})
	_, checks["DeleteObject"] = b.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("private"), Key: aws.String("secret.txt")})
	_, checks["DeleteBucket"] = b.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("private")})
	_, checks["CopyObject"] = b.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("private"), Key: aws.String("y"), CopySource: aws.String("private/secret.txt")})
	_, checks["ListObjectVersions"] = b.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("private")})
	_, checks["CreateMultipartUpload"] = b.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("private"), Key: aws.String("m")})
	for op, err := range checks {
		if code(err) != "AccessDenied" {
			t.Errorf("%s by another account: %v, want AccessDenied", op, err)
		}
	}
	// Bob cannot copy Alice's object into his own bucket either.
	mkBucket(t, b, "bobs")
	_, err := b.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bobs"), Key: aws.String("y"), CopySource: aws.String("private/secret.txt")})
	wantCode(t, err, "AccessDenied")
	lb := must[*s3.ListBucketsOutput](t)(b.ListBuckets(ctx, &s3.ListBucketsInput{}))
	if len(lb.Buckets) != 1 || *lb.Buckets[0].Name != "bobs" {
		t.Fatalf("bob sees %v", lb.Buckets)
	}
	got, _ := get(t, a, &s3.GetObjectInput{Bucket: aws.String("private"), Key: aws.String("secret.txt")})
	if string(got) != "alice's data" {
		t.Fatal("alice's object changed")
	}
}

func TestAuthFailures(t *testing.T) {
	e := newEnv(t, t.TempDir())
	_, err := e.client(alice, "wrong").ListBuckets(ctx, &s3.ListBucketsInput{})
	wantCode(t, err, "SignatureDoesNotMatch")
	_, err = e.client(sigv4.Credential{AccessKeyID: "AKIDNOBODY", SecretAccessKey: "x"}, "").ListBuckets(ctx, &s3.ListBucketsInput{})
	wantCode(t, err, "InvalidAccessKeyId")

	// An expired presigned URL.
	r, _ := http.NewRequest("GET", e.ts.URL+"/somebucket/key?X-Amz-Expires=60", nil)
	u, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(ctx,
		aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: alice.SecretAccessKey}, r, sigv4.UnsignedPayload, "s3", "us-east-1", time.Now().Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code><Message>Request has expired</Message>") {
		t.Fatalf("expired presign: %d %s", resp.StatusCode, body)
	}

	// Anonymous: 403 AccessDenied XML with a request id.
	resp, err = http.Get(e.ts.URL + "/somebucket/key")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") || resp.Header.Get("x-amz-request-id") == "" ||
		!strings.Contains(string(body), "<RequestId>"+resp.Header.Get("x-amz-request-id")+"</RequestId>") {
		t.Fatalf("anonymous: %d %s", resp.StatusCode, body)
	}
}

func TestObjectBasics(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "bkt")
	data := randBytes(100_000)
	sum := md5.Sum(data)
	out := must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("dir/img 1+é.jpg"), Body: bytes.NewReader(data),
		ContentType: aws.String("image/jpeg"), Metadata: map[string]string{"label": "cat"},
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:])), ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		CacheControl: aws.String("max-age=60"),
	}))
	if *out.ETag != fmt.Sprintf(`"%x"`, sum) || out.ChecksumSHA256 == nil {
		t.Fatalf("PutObject ETag %s checksum %v", *out.ETag, out.ChecksumSHA256)
	}
	got, g := get(t, c, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/img 1+é.jpg"), ChecksumMode: types.ChecksumModeEnabled})
	if !bytes.Equal(got, data) || *g.ContentType != "image/jpeg" || g.Metadata["label"] != "cat" || *g.ETag != *out.ETag ||
		*g.ContentLength != int64(len(data)) || g.LastModified == nil || *g.CacheControl != "max-age=60" || aws.ToString(g.ChecksumSHA256) != *out.ChecksumSHA256 {
		t.Fatalf("GetObject headers %+v", g)
	}
	h := must[*s3.HeadObjectOutput](t)(c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/img 1+é.jpg")}))
	if *h.ContentLength != int64(len(data)) || *h.ETag != *out.ETag || h.Metadata["label"] != "cat" {
		t.Fatalf("HeadObject %+v", h)
	}
	_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
	wantCode(t, err, "NotFound")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
	wantCode(t, err, "NoSuchKey")

	// Ranges.
	for _, tc := range []struct {
		rng        string
		start, end int
	}{{"bytes=0-9", 0, 9}, {"bytes=99990-", 99990, 99999}, {"bytes=-5", 99995, 99999}, {"bytes=500-1000000", 500, 99999}} {
		got, g := get(t, c, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/img 1+é.jpg"), Range: aws.String(tc.rng)})
		if !bytes.Equal(got, data[tc.start:tc.end+1]) || *g.ContentRange != fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, len(data)) {
			t.Fatalf("range %s: got %d bytes, Content-Range %s", tc.rng, len(got), *g.ContentRange)
		}
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/img 1+é.jpg"), Range: aws.String("bytes=100000-")})
	wantCode(t, err, "InvalidRange")

	// Conditionals.
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/img 1+é.jpg"), IfMatch: aws.String(`"nope"`)})
	wantCode(t, err, "PreconditionFailed")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/img 1+é.jpg"), IfNoneMatch: out.ETag})
	wantCode(t, err, "NotModified")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/img 1+é.jpg"), IfModifiedSince: aws.Time(time.Now().Add(time.Hour))})
	wantCode(t, err, "NotModified")
	get(t, c, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/img 1+é.jpg"), IfMatch: out.ETag})

	// Wrong Content-MD5 and wrong checksums store nothing.
	bad := md5.Sum([]byte("other"))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("bad"), Body: bytes.NewReader(data),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(bad[:]))})
	wantCode(t, err, "BadDigest")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("bad"), Body: bytes.NewReader(data),
		ChecksumCRC32: aws.String("AAAAAA==")})
	wantCode(t, err, "BadDigest")
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("bad")})
	wantCode(t, err, "NotFound")

	// Every checksum algorithm is verified, stored and returned.
	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme} {
		key := "sum-" + string(alg)
		must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: &key, Body: bytes.NewReader(data[:777]), ChecksumAlgorithm: alg}))
		// The SDK validates the returned checksum against the body.
		got, g := get(t, c, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: &key, ChecksumMode: types.ChecksumModeEnabled})
		if !bytes.Equal(got, data[:777]) || (g.ChecksumCRC32 == nil && g.ChecksumCRC32C == nil && g.ChecksumSHA1 == nil && g.ChecksumSHA256 == nil && g.ChecksumCRC64NVME == nil) {
			t.Fatalf("%s: no checksum returned", alg)
		}
	}

	// Keys that need escaping in the path and in the canonical request.
	for _, k := range []string{"a!b*c'(d)", "sp ace/plus+sign", "q?x=1&y#frag", "semi;colon:comma,dollar$at@", "ünï/日本", "%41percent", "dots/../x", "trailing/"} {
		put(t, c, "bkt", k, []byte(k))
		if got, _ := get(t, c, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(k)}); string(got) != k {
			t.Fatalf("key %q read back %q", k, got)
		}
	}

	// Empty object.
	put(t, c, "bkt", "empty", nil)
	got, _ = get(t, c, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("empty")})
	if len(got) != 0 {
		t.Fatal("empty object not empty")
	}

	// Presigned GET.
	ps := s3.NewPresignClient(c)
	req := must[*v4PresignedRequest](t)(presign(ps, "bkt", "dir/img 1+é.jpg"))
	resp, err := http.Get(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(pb, data) {
		t.Fatalf("presigned GET: %d %s", resp.StatusCode, pb[:min(len(pb), 200)])
	}

	// Deleting a missing key succeeds; the object then is gone.
	must[*s3.DeleteObjectOutput](t)(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("never")}))
	must[*s3.DeleteObjectOutput](t)(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("empty")}))
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("empty")})
	wantCode(t, err, "NotFound")
}

type v4PresignedRequest = v4.PresignedHTTPRequest

func presign(ps *s3.PresignClient, bucket, key string) (*v4.PresignedHTTPRequest, error) {
	return ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key}, s3.WithPresignExpires(5*time.Minute))
}

func TestVersioning(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "ver")
	bkt := aws.String("ver")
	vs := must[*s3.GetBucketVersioningOutput](t)(c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: bkt}))
	if vs.Status != "" {
		t.Fatalf("new bucket versioning %q", vs.Status)
	}
	put(t, c, "ver", "k", []byte("null version"))
	must[*s3.PutBucketVersioningOutput](t)(c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bkt,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}))
	vs = must[*s3.GetBucketVersioningOutput](t)(c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: bkt}))
	if vs.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning %q", vs.Status)
	}
	v1 := put(t, c, "ver", "k", []byte("one"))
	v2 := put(t, c, "ver", "k", []byte("two"))
	if v1.VersionId == nil || v2.VersionId == nil || *v1.VersionId == *v2.VersionId {
		t.Fatal("missing or equal version ids")
	}
	got, g := get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("k")})
	if string(got) != "two" || *g.VersionId != *v2.VersionId {
		t.Fatalf("latest = %q", got)
	}
	got, _ = get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("k"), VersionId: v1.VersionId})
	if string(got) != "one" {
		t.Fatalf("v1 = %q", got)
	}
	got, _ = get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("k"), VersionId: aws.String("null")})
	if string(got) != "null version" {
		t.Fatalf("null = %q", got)
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("k"), VersionId: aws.String("0123")})
	wantCode(t, err, "NoSuchVersion")

	del := must[*s3.DeleteObjectOutput](t)(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bkt, Key: aws.String("k")}))
	if !aws.ToBool(del.DeleteMarker) || del.VersionId == nil {
		t.Fatalf("delete: marker %v version %v", del.DeleteMarker, del.VersionId)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("k")})
	wantCode(t, err, "NoSuchKey")
	l := must[*s3.ListObjectsV2Output](t)(c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bkt}))
	if len(l.Contents) != 0 {
		t.Fatal("deleted key still listed")
	}
	lv := must[*s3.ListObjectVersionsOutput](t)(c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: bkt}))
	if len(lv.Versions) != 3 || len(lv.DeleteMarkers) != 1 || !*lv.DeleteMarkers[0].IsLatest ||
		*lv.Versions[0].VersionId != *v2.VersionId || *lv.Versions[2].VersionId != "null" {
		t.Fatalf("versions %d markers %d", len(lv.Versions), len(lv.DeleteMarkers))
	}
	// Paginate versions one at a time.
	var seen []string
	p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: bkt, MaxKeys: aws.Int32(1)})
	_ = p
	km, vm := "", ""
	for i := 0; i < 10; i++ {
		in := &s3.ListObjectVersionsInput{Bucket: bkt, MaxKeys: aws.Int32(1)}
		if km != "" {
			in.KeyMarker, in.VersionIdMarker = &km, &vm
		}
		out := must[*s3.ListObjectVersionsOutput](t)(c.ListObjectVersions(ctx, in))
		for _, v := range out.Versions {
			seen = append(seen, *v.VersionId)
		}
		for _, v := range out.DeleteMarkers {
			seen = append(seen, "dm:"+*v.VersionId)
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		km, vm = *out.NextKeyMarker, *out.NextVersionIdMarker
	}
	if len(seen) != 4 || seen[0] != "dm:"+*del.VersionId || seen[3] != "null" {
		t.Fatalf("paged versions %v", seen)
	}

	// Removing the delete marker by version id brings the object back.
	must[*s3.DeleteObjectOutput](t)(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bkt, Key: aws.String("k"), VersionId: del.VersionId}))
	got, _ = get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("k")})
	if string(got) != "two" {
		t.Fatalf("after removing marker: %q", got)
	}
	// Deleting a specific version removes only it.
	must[*s3.DeleteObjectOutput](t)(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bkt, Key: aws.String("k"), VersionId: v2.VersionId}))
	got, _ = get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("k")})
	if string(got) != "one" {
		t.Fatalf("after deleting v2: %q", got)
	}
	// Suspended: new writes replace the null version.
	must[*s3.PutBucketVersioningOutput](t)(c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bkt,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}}))
	put(t, c, "ver", "k", []byte("suspended"))
	lv = must[*s3.ListObjectVersionsOutput](t)(c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: bkt}))
	if len(lv.Versions) != 2 {
		t.Fatalf("suspended: %d versions, want 2 (v1 and the new null)", len(lv.Versions))
	}
}

func TestListing(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "lst")
	var keys []string
	for _, d := range []string{"a", "b", "c"} {
		for i := 0; i < 5; i++ {
			keys = append(keys, fmt.Sprintf("photos/%s/%02d.jpg", d, i))
		}
	}
	keys = append(keys, "photos/top.jpg", "photos/z.txt", "readme", "zeta/x", "photos/a b.txt")
	for _, k := range keys {
		put(t, c, "lst", k, []byte(k))
	}
	sort.Strings(keys)

	// Flat pagination returns every key in order.
	var all []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("lst"), MaxKeys: aws.Int32(4)})
	for p.HasMorePages() {
		out := must[*s3.ListObjectsV2Output](t)(p.NextPage(ctx))
		if *out.KeyCount != int32(len(out.Contents)) {
			t.Fatalf("KeyCount %d", *out.KeyCount)
		}
		for _, o := range out.Contents {
			all = append(all, *o.Key)
		}
	}
	if strings.Join(all, "|") != strings.Join(keys, "|") {
		t.Fatalf("paged keys\n%v\nwant\n%v", all, keys)
	}

	// Delimiter + prefix, one entry per page.
	var entries []string
	p = s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("lst"), Prefix: aws.String("photos/"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)})
	for p.HasMorePages() {
		out := must[*s3.ListObjectsV2Output](t)(p.NextPage(ctx))
		for _, cp := range out.CommonPrefixes {
			entries = append(entries, "P:"+*cp.Prefix)
		}
		for _, o := range out.Contents {
			entries = append(entries, *o.Key)
		}
	}
	want := "P:photos/a/|P:photos/b/|P:photos/c/|photos/a b.txt|photos/top.jpg|photos/z.txt"
	sort.Strings(entries)
	if strings.Join(entries, "|") != want {
		t.Fatalf("delimited\n%s\nwant\n%s", strings.Join(entries, "|"), want)
	}

	// Root level with delimiter, start-after, fetch-owner.
	out := must[*s3.ListObjectsV2Output](t)(c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lst"), Delimiter: aws.String("/"), FetchOwner: aws.Bool(true)}))
	if len(out.CommonPrefixes) != 2 || len(out.Contents) != 1 || *out.Contents[0].Key != "readme" || out.Contents[0].Owner == nil {
		t.Fatalf("root: %d prefixes %d contents", len(out.CommonPrefixes), len(out.Contents))
	}
	out = must[*s3.ListObjectsV2Output](t)(c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lst"), StartAfter: aws.String("readme")}))
	if len(out.Contents) != 1 || *out.Contents[0].Key != "zeta/x" {
		t.Fatalf("start-after: %v", out.Contents)
	}
	// encoding-type=url encodes keys (the Go SDK does not decode them).
	out = must[*s3.ListObjectsV2Output](t)(c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lst"), Prefix: aws.String("photos/a "), EncodingType: types.EncodingTypeUrl}))
	if len(out.Contents) != 1 || *out.Contents[0].Key != "photos/a%20b.txt" {
		t.Fatalf("encoding-type=url: %v", *out.Contents[0].Key)
	}

	// ListObjects v1 with markers.
	var v1 []string
	marker := ""
	for {
		o := must[*s3.ListObjectsOutput](t)(c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("lst"), Marker: &marker, MaxKeys: aws.Int32(3), Delimiter: aws.String("/"), Prefix: aws.String("photos/")}))
		for _, cp := range o.CommonPrefixes {
			v1 = append(v1, "P:"+*cp.Prefix)
		}
		for _, x := range o.Contents {
			v1 = append(v1, *x.Key)
		}
		if !aws.ToBool(o.IsTruncated) {
			break
		}
		marker = *o.NextMarker
	}
	sort.Strings(v1)
	if strings.Join(v1, "|") != want {
		t.Fatalf("v1\n%s\nwant\n%s", strings.Join(v1, "|"), want)
	}
}

func TestCopyAndDeleteObjects(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "src")
	mkBucket(t, c, "dst")
	must[*s3.PutBucketVersioningOutput](t)(c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("src"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}))
	first := must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("a/ö.txt"),
		Body: strings.NewReader("first"), ContentType: aws.String("text/plain"), Metadata: map[string]string{"m": "1"}}))
	put(t, c, "src", "a/ö.txt", []byte("second"))

	cp := must[*s3.CopyObjectOutput](t)(c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"),
		CopySource: aws.String("src/a/%C3%B6.txt?versionId=" + *first.VersionId)}))
	if cp.CopyObjectResult == nil || *cp.CopyObjectResult.ETag != *first.ETag || *cp.CopySourceVersionId != *first.VersionId {
		t.Fatalf("CopyObject result %+v", cp.CopyObjectResult)
	}
	got, g := get(t, c, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy")})
	if string(got) != "first" || *g.ContentType != "text/plain" || g.Metadata["m"] != "1" {
		t.Fatalf("copy: %q %v %v", got, *g.ContentType, g.Metadata)
	}
	must[*s3.CopyObjectOutput](t)(c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"),
		CopySource: aws.String("dst/copy"), MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("x/y"), Metadata: map[string]string{"n": "2"}}))
	_, g = get(t, c, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy")})
	if *g.ContentType != "x/y" || g.Metadata["n"] != "2" || g.Metadata["m"] != "" {
		t.Fatalf("replace: %v %v", *g.ContentType, g.Metadata)
	}
	_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), CopySource: aws.String("dst/copy")})
	wantCode(t, err, "InvalidRequest")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("src/missing")})
	wantCode(t, err, "NoSuchKey")

	for i := 0; i < 5; i++ {
		put(t, c, "dst", fmt.Sprintf("d%d", i), []byte("x"))
	}
	del := must[*s3.DeleteObjectsOutput](t)(c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("dst"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("d0")}, {Key: aws.String("d1")}, {Key: aws.String("nonexistent")}}}}))
	if len(del.Deleted) != 3 || len(del.Errors) != 0 {
		t.Fatalf("DeleteObjects: %d deleted %d errors", len(del.Deleted), len(del.Errors))
	}
	del = must[*s3.DeleteObjectsOutput](t)(c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("dst"), Delete: &types.Delete{
		Quiet: aws.Bool(true), Objects: []types.ObjectIdentifier{{Key: aws.String("d2")}, {Key: aws.String("d3")}}}}))
	if len(del.Deleted) != 0 {
		t.Fatal("quiet DeleteObjects listed deletions")
	}
	l := must[*s3.ListObjectsV2Output](t)(c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("dst")}))
	if len(l.Contents) != 2 || *l.Contents[0].Key != "copy" || *l.Contents[1].Key != "d4" {
		t.Fatalf("after DeleteObjects: %d keys", len(l.Contents))
	}
	// Versioned bucket: DeleteObjects creates delete markers.
	del = must[*s3.DeleteObjectsOutput](t)(c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("src"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("a/ö.txt")}}}}))
	if len(del.Deleted) != 1 || !aws.ToBool(del.Deleted[0].DeleteMarker) || del.Deleted[0].DeleteMarkerVersionId == nil {
		t.Fatalf("versioned DeleteObjects: %+v", del.Deleted)
	}
}

func TestMultipart(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "mpu")
	data := randBytes(20 << 20)
	bkt, key := aws.String("mpu"), aws.String("big/file.bin")
	cr := must[*s3.CreateMultipartUploadOutput](t)(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bkt, Key: key,
		ContentType: aws.String("application/x-test"), Metadata: map[string]string{"k": "v"}, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}))
	const partSize = 6 << 20
	var parts []types.CompletedPart
	var md5s []byte
	for i, off := 1, 0; off < len(data); i, off = i+1, off+partSize {
		chunk := data[off:min(off+partSize, len(data))]
		up := must[*s3.UploadPartOutput](t)(c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bkt, Key: key, UploadId: cr.UploadId,
			PartNumber: aws.Int32(int32(i)), Body: bytes.NewReader(chunk), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}))
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i)), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32})
		s := md5.Sum(chunk)
		md5s = append(md5s, s[:]...)
	}
	lp := must[*s3.ListPartsOutput](t)(c.ListParts(ctx, &s3.ListPartsInput{Bucket: bkt, Key: key, UploadId: cr.UploadId, MaxParts: aws.Int32(2)}))
	if len(lp.Parts) != 2 || !aws.ToBool(lp.IsTruncated) || *lp.NextPartNumberMarker != "2" {
		t.Fatalf("ListParts: %d parts truncated %v", len(lp.Parts), lp.IsTruncated)
	}
	lu := must[*s3.ListMultipartUploadsOutput](t)(c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bkt}))
	if len(lu.Uploads) != 1 || *lu.Uploads[0].UploadId != *cr.UploadId {
		t.Fatalf("ListMultipartUploads: %v", lu.Uploads)
	}

	// Errors: out of order, wrong ETag, unknown upload.
	_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bkt, Key: key, UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{parts[1], parts[0]}}})
	wantCode(t, err, "InvalidPartOrder")
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bkt, Key: key, UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"0000"`)}}}})
	wantCode(t, err, "InvalidPart")
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bkt, Key: key, UploadId: aws.String("nope"), PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	wantCode(t, err, "NoSuchUpload")

	done := must[*s3.CompleteMultipartUploadOutput](t)(c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bkt, Key: key, UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}))
	wantETag := fmt.Sprintf(`"%x-%d"`, md5.Sum(md5s), len(parts))
	if *done.ETag != wantETag {
		t.Fatalf("multipart ETag %s, want %s", *done.ETag, wantETag)
	}
	got, g := get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: key, ChecksumMode: types.ChecksumModeEnabled})
	if !bytes.Equal(got, data) || *g.ETag != wantETag || *g.ContentType != "application/x-test" || g.Metadata["k"] != "v" {
		t.Fatalf("multipart object differs (len %d) or headers %v %v", len(got), *g.ETag, *g.ContentType)
	}
	if !strings.HasSuffix(aws.ToString(g.ChecksumCRC32), fmt.Sprintf("-%d", len(parts))) {
		t.Fatalf("composite checksum %q", aws.ToString(g.ChecksumCRC32))
	}
	got, _ = get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: key, Range: aws.String("bytes=6291000-6292000")})
	if !bytes.Equal(got, data[6291000:6292001]) {
		t.Fatal("range across a part boundary differs")
	}
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: bkt, Key: key, UploadId: cr.UploadId})
	wantCode(t, err, "NoSuchUpload")
	// GetObject?partNumber serves one part (the SDK transfer manager's way).
	got, g = get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: key, PartNumber: aws.Int32(2)})
	if !bytes.Equal(got, data[partSize:2*partSize]) || aws.ToInt32(g.PartsCount) != int32(len(parts)) {
		t.Fatalf("partNumber=2: %d bytes, parts count %v", len(got), g.PartsCount)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: key, PartNumber: aws.Int32(9)})
	wantCode(t, err, "InvalidPartNumber")

	// FULL_OBJECT checksum type: the CRC covers the whole object, and the
	// value the client sends on completion is checked.
	crf := must[*s3.CreateMultipartUploadOutput](t)(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bkt, Key: aws.String("full"),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32, ChecksumType: types.ChecksumTypeFullObject}))
	var fparts []types.CompletedPart
	for i, off := 1, 0; off < 12<<20; i, off = i+1, off+partSize {
		up := must[*s3.UploadPartOutput](t)(c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bkt, Key: aws.String("full"), UploadId: crf.UploadId,
			PartNumber: aws.Int32(int32(i)), Body: bytes.NewReader(data[off : off+partSize]), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}))
		fparts = append(fparts, types.CompletedPart{PartNumber: aws.Int32(int32(i)), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32})
	}
	fullCRC := base64.StdEncoding.EncodeToString(func() []byte { h := newChecksum("CRC32"); h.Write(data[:12<<20]); return h.Sum(nil) }())
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bkt, Key: aws.String("full"), UploadId: crf.UploadId,
		ChecksumCRC32: aws.String("AAAAAA=="), ChecksumType: types.ChecksumTypeFullObject, MultipartUpload: &types.CompletedMultipartUpload{Parts: fparts}})
	wantCode(t, err, "BadDigest")
	fdone := must[*s3.CompleteMultipartUploadOutput](t)(c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bkt, Key: aws.String("full"), UploadId: crf.UploadId,
		ChecksumCRC32: aws.String(fullCRC), ChecksumType: types.ChecksumTypeFullObject, MultipartUpload: &types.CompletedMultipartUpload{Parts: fparts}}))
	if aws.ToString(fdone.ChecksumCRC32) != fullCRC || fdone.ChecksumType != types.ChecksumTypeFullObject {
		t.Fatalf("FULL_OBJECT complete: %v %v", aws.ToString(fdone.ChecksumCRC32), fdone.ChecksumType)
	}
	// The SDK validates a full-object checksum on GET.
	got, g = get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("full"), ChecksumMode: types.ChecksumModeEnabled})
	if !bytes.Equal(got, data[:12<<20]) || aws.ToString(g.ChecksumCRC32) != fullCRC {
		t.Fatal("FULL_OBJECT object differs")
	}
	must[*s3.DeleteObjectOutput](t)(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bkt, Key: aws.String("full")}))

	// EntityTooSmall, UploadPartCopy and abort.
	cr2 := must[*s3.CreateMultipartUploadOutput](t)(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bkt, Key: aws.String("small")}))
	var small []types.CompletedPart
	for i := int32(1); i <= 2; i++ {
		up := must[*s3.UploadPartOutput](t)(c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bkt, Key: aws.String("small"), UploadId: cr2.UploadId, PartNumber: aws.Int32(i), Body: strings.NewReader("tiny")}))
		small = append(small, types.CompletedPart{PartNumber: aws.Int32(i), ETag: up.ETag})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bkt, Key: aws.String("small"), UploadId: cr2.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: small}})
	wantCode(t, err, "EntityTooSmall")
	upc := must[*s3.UploadPartCopyOutput](t)(c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: bkt, Key: aws.String("small"), UploadId: cr2.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("mpu/big/file.bin"), CopySourceRange: aws.String("bytes=0-5242879")}))
	small[0].ETag = upc.CopyPartResult.ETag
	must[*s3.CompleteMultipartUploadOutput](t)(c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bkt, Key: aws.String("small"), UploadId: cr2.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: small}}))
	got, _ = get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("small")})
	if !bytes.Equal(got, append(bytes.Clone(data[:5<<20]), "tiny"...)) {
		t.Fatal("UploadPartCopy object differs")
	}
	cr3 := must[*s3.CreateMultipartUploadOutput](t)(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bkt, Key: aws.String("aborted")}))
	must[*s3.UploadPartOutput](t)(c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bkt, Key: aws.String("aborted"), UploadId: cr3.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("x")}))
	must[*s3.AbortMultipartUploadOutput](t)(c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bkt, Key: aws.String("aborted"), UploadId: cr3.UploadId}))
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bkt, Key: aws.String("aborted"), UploadId: cr3.UploadId})
	wantCode(t, err, "NoSuchUpload")
	// ListMultipartUploads: delimiter folding and pagination.
	for _, k := range []string{"u/a/1", "u/a/2", "u/b", "u/c/1"} {
		must[*s3.CreateMultipartUploadOutput](t)(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bkt, Key: aws.String(k)}))
	}
	var seen []string
	in := &s3.ListMultipartUploadsInput{Bucket: bkt, Prefix: aws.String("u/"), Delimiter: aws.String("/"), MaxUploads: aws.Int32(1)}
	for i := 0; i < 10; i++ {
		out := must[*s3.ListMultipartUploadsOutput](t)(c.ListMultipartUploads(ctx, in))
		for _, p := range out.CommonPrefixes {
			seen = append(seen, "P:"+*p.Prefix)
		}
		for _, u := range out.Uploads {
			seen = append(seen, *u.Key)
			must[*s3.AbortMultipartUploadOutput](t)(c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bkt, Key: u.Key, UploadId: u.UploadId}))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	if strings.Join(seen, ",") != "P:u/a/,u/b,P:u/c/" {
		t.Fatalf("ListMultipartUploads pages: %v", seen)
	}
	lu = must[*s3.ListMultipartUploadsOutput](t)(c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bkt}))
	for _, u := range lu.Uploads {
		must[*s3.AbortMultipartUploadOutput](t)(c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bkt, Key: u.Key, UploadId: u.UploadId}))
	}

	// Only the two objects' data files remain: parts were cleaned up.
	if n := countFiles(t, filepath.Join(e.dir, "data")); n != 2 {
		t.Fatalf("%d data files, want 2", n)
	}
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	c := e.client(alice, "")
	mkBucket(t, c, "keep")
	must[*s3.PutBucketVersioningOutput](t)(c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("keep"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}))
	v1 := put(t, c, "keep", "k", []byte("one"))
	put(t, c, "keep", "k", []byte("two"))
	cr := must[*s3.CreateMultipartUploadOutput](t)(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("keep"), Key: aws.String("mp")}))
	up := must[*s3.UploadPartOutput](t)(c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("keep"), Key: aws.String("mp"), UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("part")}))
	e.close()

	// Debris of a crash: a half-written temp file and an unreferenced data
	// file. Both must disappear at start.
	os.WriteFile(filepath.Join(dir, "tmp", "up-crashed"), []byte("half"), 0o644)
	os.MkdirAll(filepath.Join(dir, "data", "ff"), 0o755)
	os.WriteFile(filepath.Join(dir, "data", "ff", "ff00orphan"), []byte("orphan"), 0o644)

	e2 := newEnv(t, dir)
	c = e2.client(alice, "")
	got, _ := get(t, c, &s3.GetObjectInput{Bucket: aws.String("keep"), Key: aws.String("k")})
	if string(got) != "two" {
		t.Fatalf("after restart latest = %q", got)
	}
	got, _ = get(t, c, &s3.GetObjectInput{Bucket: aws.String("keep"), Key: aws.String("k"), VersionId: v1.VersionId})
	if string(got) != "one" {
		t.Fatalf("after restart v1 = %q", got)
	}
	must[*s3.CompleteMultipartUploadOutput](t)(c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("keep"), Key: aws.String("mp"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: up.ETag}}}}))
	if _, err := os.Stat(filepath.Join(dir, "tmp", "up-crashed")); !os.IsNotExist(err) {
		t.Fatal("temp file survived restart")
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "ff", "ff00orphan")); !os.IsNotExist(err) {
		t.Fatal("orphan data file survived restart")
	}
	vs := must[*s3.GetBucketVersioningOutput](t)(c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("keep")}))
	if vs.Status != types.BucketVersioningStatusEnabled {
		t.Fatal("versioning state lost")
	}
	if _, err := e2.client(bob, "").ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("keep")}); code(err) != "AccessDenied" {
		t.Fatalf("ownership lost: %v", err)
	}
}

// signedRequest signs r as the SDK would for S3 with the given payload hash.
func signedRequest(t *testing.T, r *http.Request, cred sigv4.Credential, payloadHash string, now time.Time) {
	t.Helper()
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	err := s.SignHTTP(ctx, aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey}, r, payloadHash, "s3", "us-east-1", now)
	if err != nil {
		t.Fatal(err)
	}
}

func TestStreamingAndHashChecks(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "stream")
	data := randBytes(200_000)
	now := time.Now().UTC()

	send := func(r *http.Request) (int, string) {
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	// streamingPut sends data as signed aws-chunked; tamper flips a data
	// byte after signing.
	streamingPut := func(key string, mode string, trailers [][2]string, tamper bool) (int, string) {
		dummy := &chunked.Signing{Key: []byte("k"), Seed: strings.Repeat("0", 64), AmzDate: "x", Scope: "y"}
		var buf bytes.Buffer
		signedMode := mode != sigv4.StreamingUnsignedPayloadTrailer
		if signedMode {
			chunked.Encode(&buf, data, 65536, dummy, trailers)
		} else {
			chunked.Encode(&buf, data, 65536, nil, trailers)
		}
		r, _ := http.NewRequest("PUT", e.ts.URL+"/stream/"+key, bytes.NewReader(buf.Bytes()))
		r.Header.Set("Content-Encoding", "aws-chunked")
		r.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(data)))
		if len(trailers) > 0 {
			r.Header.Set("X-Amz-Trailer", trailers[0][0])
		}
		signedRequest(t, r, alice, mode, now)
		if signedMode {
			a, err := sigv4.ParseHeader(r.Header.Get("Authorization"))
			if err != nil {
				t.Fatal(err)
			}
			s := &chunked.Signing{Key: sigv4.SigningKey(alice.SecretAccessKey, now.Format("20060102"), "us-east-1", "s3"),
				Seed: a.Signature, AmzDate: now.Format("20060102T150405Z"), Scope: now.Format("20060102") + "/us-east-1/s3/aws4_request"}
			buf.Reset()
			chunked.Encode(&buf, data, 65536, s, trailers)
		}
		b := buf.Bytes()
		if tamper {
			b[100] ^= 1
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		return send(r)
	}
	crc := base64.StdEncoding.EncodeToString(func() []byte { h := newChecksum("CRC32"); h.Write(data); return h.Sum(nil) }())
	for _, tc := range []struct {
		name, mode string
		trailers   [][2]string
	}{
		{"signed", sigv4.StreamingPayload, nil},
		{"signed-trailer", sigv4.StreamingPayloadTrailer, [][2]string{{"x-amz-checksum-crc32", crc}}},
		{"unsigned-trailer", sigv4.StreamingUnsignedPayloadTrailer, [][2]string{{"x-amz-checksum-crc32", crc}}},
	} {
		st, body := streamingPut(tc.name, tc.mode, tc.trailers, false)
		if st != 200 {
			t.Fatalf("%s: %d %s", tc.name, st, body)
		}
		got, g := get(t, c, &s3.GetObjectInput{Bucket: aws.String("stream"), Key: aws.String(tc.name), ChecksumMode: types.ChecksumModeEnabled})
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: data differs", tc.name)
		}
		if tc.trailers != nil && aws.ToString(g.ChecksumCRC32) != crc {
			t.Fatalf("%s: trailer checksum not stored: %v", tc.name, g.ChecksumCRC32)
		}
	}
	if st, body := streamingPut("tampered", sigv4.StreamingPayload, nil, true); st != 403 || !strings.Contains(body, "SignatureDoesNotMatch") {
		t.Fatalf("tampered chunk: %d %s", st, body)
	}
	if st, body := streamingPut("badcrc", sigv4.StreamingUnsignedPayloadTrailer, [][2]string{{"x-amz-checksum-crc32", "AAAAAA=="}}, false); st != 400 || !strings.Contains(body, "BadDigest") {
		t.Fatalf("bad trailer checksum: %d %s", st, body)
	}

	// A body that does not match its signed SHA-256 is refused and not stored.
	r, _ := http.NewRequest("PUT", e.ts.URL+"/stream/mismatch", bytes.NewReader([]byte("actual body")))
	signedRequest(t, r, alice, sigv4.PayloadHash([]byte("declared body")), now)
	if st, body := send(r); st != 400 || !strings.Contains(body, "XAmzContentSHA256Mismatch") {
		t.Fatalf("sha mismatch: %d %s", st, body)
	}
	for _, k := range []string{"tampered", "badcrc", "mismatch"} {
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("stream"), Key: aws.String(k)}); code(err) != "NotFound" {
			t.Fatalf("%s stored despite failure: %v", k, err)
		}
	}
	if n := countFiles(t, filepath.Join(e.dir, "tmp")); n != 0 {
		t.Fatalf("%d temp files left", n)
	}
	// Skewed clock.
	r, _ = http.NewRequest("GET", e.ts.URL+"/", nil)
	signedRequest(t, r, alice, sigv4.PayloadHash(nil), now.Add(-time.Hour))
	if st, body := send(r); st != 403 || !strings.Contains(body, "RequestTimeTooSkewed") {
		t.Fatalf("skew: %d %s", st, body)
	}
	// Unknown subresource.
	r, _ = http.NewRequest("GET", e.ts.URL+"/stream?policy", nil)
	signedRequest(t, r, alice, sigv4.PayloadHash(nil), now)
	if st, body := send(r); st != 501 || !strings.Contains(body, "NotImplemented") {
		t.Fatalf("subresource: %d %s", st, body)
	}
}

func TestConcurrentWriters(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "conc")
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		go func(i int) {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("conc"), Key: aws.String(fmt.Sprintf("k%d", i%4)), Body: bytes.NewReader(randBytes(10000))})
			errs <- err
		}(i)
	}
	for i := 0; i < 16; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	l := must[*s3.ListObjectsV2Output](t)(c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("conc")}))
	if len(l.Contents) != 4 {
		t.Fatalf("%d keys", len(l.Contents))
	}
	if n := countFiles(t, filepath.Join(e.dir, "data")); n != 4 {
		t.Fatalf("%d data files for 4 unversioned keys", n)
	}
}

// TestSDKOverTLS drives the SDK over HTTPS, where it streams bodies as
// aws-chunked with a trailing checksum (STREAMING-UNSIGNED-PAYLOAD-TRAILER)
// instead of signing a hex SHA-256: the real-client path for trailers.
func TestSDKOverTLS(t *testing.T) {
	srv, err := New(Config{Dir: t.TempDir(), Verifier: &sigv4.Verifier{Lookup: lookup}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	modes := make(chan string, 100)
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			modes <- r.Header.Get("X-Amz-Content-Sha256")
		}
		srv.ServeHTTP(w, r)
	}))
	defer ts.Close()
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true, HTTPClient: ts.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(alice.AccessKeyID, alice.SecretAccessKey, ""), RetryMaxAttempts: 1})
	mkBucket(t, c, "tls")
	<-modes
	data := randBytes(3 << 20)
	// A non-seekable body forces streaming.
	must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tls"), Key: aws.String("k"),
		Body: io.NopCloser(bytes.NewReader(data)), ContentLength: aws.Int64(int64(len(data))), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c}))
	if m := <-modes; m != sigv4.StreamingUnsignedPayloadTrailer {
		t.Fatalf("SDK used payload mode %q over TLS, want %s", m, sigv4.StreamingUnsignedPayloadTrailer)
	}
	got, g := get(t, c, &s3.GetObjectInput{Bucket: aws.String("tls"), Key: aws.String("k"), ChecksumMode: types.ChecksumModeEnabled})
	if !bytes.Equal(got, data) || g.ChecksumCRC32C == nil {
		t.Fatalf("TLS round trip: equal=%v checksum=%v", bytes.Equal(got, data), g.ChecksumCRC32C)
	}
}
