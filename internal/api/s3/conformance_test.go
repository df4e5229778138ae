package s3

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ocellus/ocellus/internal/sigv4"
)

// rawHead runs a signed HEAD through the handler with a recorder, so the
// header names are seen exactly as written (net/http clients canonicalise
// them on the way in).
func rawHead(t *testing.T, e *env, path string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodHead, "http://"+strings.TrimPrefix(e.ts.URL, "http://")+path, nil)
	signedRequest(t, r, alice, sigv4.PayloadHash(nil), time.Now())
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w
}

// wantMeta checks that user metadata goes out with lower-case names.
func wantMeta(t *testing.T, e *env, path, name, value string) {
	t.Helper()
	w := rawHead(t, e, path)
	if w.Code != 200 {
		t.Fatalf("HEAD %s: %d", path, w.Code)
	}
	for k := range w.Header() {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-meta-") && k != strings.ToLower(k) {
			t.Fatalf("HEAD %s: metadata header %q is not lower-case", path, k)
		}
	}
	if got := w.Header()[name]; len(got) != 1 || got[0] != value {
		t.Fatalf("HEAD %s: %s = %q, want %q (headers %v)", path, name, got, value, w.Header())
	}
}

func TestUserMetadataLowerCase(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "meta")
	meta := map[string]string{"Meta1": "v1"}
	must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("meta"), Key: aws.String("put"), Body: strings.NewReader("x"), Metadata: meta}))
	wantMeta(t, e, "/meta/put", "x-amz-meta-meta1", "v1")

	must[*s3.CopyObjectOutput](t)(c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("meta"), Key: aws.String("copy"), CopySource: aws.String("meta/put")}))
	wantMeta(t, e, "/meta/copy", "x-amz-meta-meta1", "v1")
	must[*s3.CopyObjectOutput](t)(c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("meta"), Key: aws.String("replace"), CopySource: aws.String("meta/put"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"Other-Key": "v2"}}))
	wantMeta(t, e, "/meta/replace", "x-amz-meta-other-key", "v2")

	up := must[*s3.CreateMultipartUploadOutput](t)(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("meta"), Key: aws.String("mp"), Metadata: meta}))
	p := must[*s3.UploadPartOutput](t)(c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("meta"), Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("part")}))
	must[*s3.CompleteMultipartUploadOutput](t)(c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("meta"), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: p.ETag}}}}))
	wantMeta(t, e, "/meta/mp", "x-amz-meta-meta1", "v1")
}

func TestContentEncodingKeptAsSent(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "enc")
	must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("enc"), Key: aws.String("k"), Body: strings.NewReader("x"), ContentEncoding: aws.String("deflate, gzip")}))
	h := must[*s3.HeadObjectOutput](t)(c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("enc"), Key: aws.String("k")}))
	if got := aws.ToString(h.ContentEncoding); got != "deflate, gzip" {
		t.Fatalf("Content-Encoding %q, want %q", got, "deflate, gzip")
	}
	if got := withoutAwsChunked("aws-chunked,gzip"); got != "gzip" {
		t.Fatalf("aws-chunked not dropped: %q", got)
	}
}

func TestVersionIDMarkerIsAPosition(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "ver")
	must[*s3.PutBucketVersioningOutput](t)(c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("ver"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}))
	for i := 0; i < 3; i++ {
		put(t, c, "ver", "k", []byte{byte(i)})
		put(t, c, "ver", "l", []byte{byte(i)})
	}
	// List-then-delete: delete each page's versions before asking for the
	// next page with the markers of the page just deleted.
	var seen []string
	in := &s3.ListObjectVersionsInput{Bucket: aws.String("ver"), MaxKeys: aws.Int32(2)}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("listing does not end")
		}
		out := must[*s3.ListObjectVersionsOutput](t)(c.ListObjectVersions(ctx, in))
		for _, v := range out.Versions {
			seen = append(seen, *v.Key)
			must[*s3.DeleteObjectOutput](t)(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("ver"), Key: v.Key, VersionId: v.VersionId}))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	if got := strings.Join(seen, ","); got != "k,k,k,l,l,l" {
		t.Fatalf("list-then-delete saw %s", got)
	}
	_, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("ver"), KeyMarker: aws.String("k"), VersionIdMarker: aws.String("not-a-version")})
	wantCode(t, err, "InvalidArgument")
}

// TestListingConformance: max-keys=0, an echoed empty continuation token,
// encoding-type=url encoding and ListBuckets paging.
func TestListingConformance(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	for _, b := range []string{"lc-a", "lc-b", "lc-c", "other"} {
		mkBucket(t, c, b)
	}
	put(t, c, "lc-a", "quux ab/x+y", []byte("1"))
	put(t, c, "lc-a", "z", []byte("2"))

	v2 := must[*s3.ListObjectsV2Output](t)(c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lc-a"), MaxKeys: aws.Int32(0)}))
	if aws.ToBool(v2.IsTruncated) || len(v2.Contents) != 0 {
		t.Fatalf("max-keys=0: truncated %v, %d keys", aws.ToBool(v2.IsTruncated), len(v2.Contents))
	}
	v1 := must[*s3.ListObjectsOutput](t)(c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("lc-a"), MaxKeys: aws.Int32(0)}))
	if aws.ToBool(v1.IsTruncated) {
		t.Fatal("v1 max-keys=0 says truncated")
	}
	v2 = must[*s3.ListObjectsV2Output](t)(c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lc-a"), ContinuationToken: aws.String("")}))
	if v2.ContinuationToken == nil || *v2.ContinuationToken != "" || len(v2.Contents) != 2 {
		t.Fatalf("empty continuation token: echoed %v, %d keys", v2.ContinuationToken, len(v2.Contents))
	}

	v2 = must[*s3.ListObjectsV2Output](t)(c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lc-a"), Prefix: aws.String("quux "),
		Delimiter: aws.String("/"), EncodingType: types.EncodingTypeUrl}))
	if len(v2.CommonPrefixes) != 1 || *v2.CommonPrefixes[0].Prefix != "quux%20ab/" || aws.ToString(v2.Prefix) != "quux%20" {
		t.Fatalf("v2 encoding: prefix %q, common %v", aws.ToString(v2.Prefix), v2.CommonPrefixes)
	}
	v1 = must[*s3.ListObjectsOutput](t)(c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("lc-a"), Prefix: aws.String("quux "), EncodingType: types.EncodingTypeUrl}))
	if len(v1.Contents) != 1 || *v1.Contents[0].Key != "quux%20ab/x%2By" || aws.ToString(v1.Prefix) != "quux " {
		t.Fatalf("v1 encoding: prefix %q (must not be encoded), keys %v", aws.ToString(v1.Prefix), v1.Contents)
	}

	var names []string
	in := &s3.ListBucketsInput{MaxBuckets: aws.Int32(2), Prefix: aws.String("lc-")}
	for pages := 1; ; pages++ {
		out := must[*s3.ListBucketsOutput](t)(c.ListBuckets(ctx, in))
		if len(out.Buckets) > 2 || aws.ToString(out.Prefix) != "lc-" {
			t.Fatalf("page %d: %d buckets, prefix %q", pages, len(out.Buckets), aws.ToString(out.Prefix))
		}
		for _, b := range out.Buckets {
			names = append(names, *b.Name)
		}
		if out.ContinuationToken == nil {
			break
		}
		in.ContinuationToken = out.ContinuationToken
	}
	if got := strings.Join(names, ","); got != "lc-a,lc-b,lc-c" {
		t.Fatalf("ListBuckets pages: %s", got)
	}
	_, err := c.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(10001)})
	wantCode(t, err, "InvalidArgument")
}

func TestPresignExpiresOutOfRange(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "pre")
	for _, exp := range []string{"0", "604801", "x"} {
		r, _ := http.NewRequest("GET", e.ts.URL+"/pre/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDALICE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"+
			"&X-Amz-Date=20260101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires="+exp, nil)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(b.String(), "<Code>AccessDenied</Code>") {
			t.Fatalf("X-Amz-Expires=%s: %d %s", exp, resp.StatusCode, b.String())
		}
	}
}

func TestUploadPartCopyRangePastEnd(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "upc")
	put(t, c, "upc", "src", []byte("0123456789"))
	up := must[*s3.CreateMultipartUploadOutput](t)(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("upc"), Key: aws.String("dst")}))
	copyPart := func(rng string) error {
		_, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("upc"), Key: aws.String("dst"), UploadId: up.UploadId, PartNumber: aws.Int32(1),
			CopySource: aws.String("upc/src"), CopySourceRange: aws.String(rng)})
		return err
	}
	wantCode(t, copyPart("bytes=0-10"), "InvalidRange")
	wantCode(t, copyPart("bytes=5-2"), "InvalidArgument")
	if err := copyPart("bytes=0-9"); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyContentMD5(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "md5")
	r, _ := http.NewRequest("PUT", e.ts.URL+"/md5/k", strings.NewReader("x"))
	r.Header["Content-Md5"] = []string{""}
	signedRequest(t, r, alice, sigv4.PayloadHash([]byte("x")), time.Now())
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(b.String(), "<Code>InvalidDigest</Code>") {
		t.Fatalf("empty Content-MD5: %d %s", resp.StatusCode, b.String())
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("md5"), Key: aws.String("k")})
	if err == nil {
		t.Fatal("object stored despite the invalid Content-MD5")
	}
}

// mpu uploads one part of key and returns the upload id and the part list.
func mpu(t *testing.T, c *s3.Client, bucket, key string, in *s3.CreateMultipartUploadInput) (*string, []types.CompletedPart) {
	t.Helper()
	if in == nil {
		in = &s3.CreateMultipartUploadInput{}
	}
	in.Bucket, in.Key = &bucket, &key
	up := must[*s3.CreateMultipartUploadOutput](t)(c.CreateMultipartUpload(ctx, in))
	p := must[*s3.UploadPartOutput](t)(c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(1),
		Body: strings.NewReader("part one"), ChecksumAlgorithm: in.ChecksumAlgorithm}))
	return up.UploadId, []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32}}
}

func TestCompleteMultipartRepeated(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "rep")
	id, parts := mpu(t, c, "rep", "k", nil)
	in := &s3.CompleteMultipartUploadInput{Bucket: aws.String("rep"), Key: aws.String("k"), UploadId: id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}
	first := must[*s3.CompleteMultipartUploadOutput](t)(c.CompleteMultipartUpload(ctx, in))
	again := must[*s3.CompleteMultipartUploadOutput](t)(c.CompleteMultipartUpload(ctx, in))
	if aws.ToString(first.ETag) == "" || aws.ToString(again.ETag) != aws.ToString(first.ETag) {
		t.Fatalf("repeated complete: ETag %q then %q", aws.ToString(first.ETag), aws.ToString(again.ETag))
	}
	// Another key with the same upload id is still no such upload.
	_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("rep"), Key: aws.String("other"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	wantCode(t, err, "NoSuchUpload")
}

func TestConditionalWrites(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "cond")
	putIf := func(key, body string, noneMatch, match *string) (*s3.PutObjectOutput, error) {
		return c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String(key), Body: strings.NewReader(body), IfNoneMatch: noneMatch, IfMatch: match})
	}
	first := must[*s3.PutObjectOutput](t)(putIf("k", "one", aws.String("*"), nil))
	_, err := putIf("k", "two", aws.String("*"), nil)
	wantCode(t, err, "PreconditionFailed")
	_, err = putIf("k", "two", nil, aws.String(`"0123"`))
	wantCode(t, err, "PreconditionFailed")
	_, err = putIf("missing", "two", nil, first.ETag)
	wantCode(t, err, "NoSuchKey")
	must[*s3.PutObjectOutput](t)(putIf("k", "three", nil, first.ETag))
	body, _ := get(t, c, &s3.GetObjectInput{Bucket: aws.String("cond"), Key: aws.String("k")})
	if string(body) != "three" {
		t.Fatalf("body %q after conditional writes", body)
	}

	id, parts := mpu(t, c, "cond", "k", nil)
	complete := func(noneMatch, match *string) error {
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("cond"), Key: aws.String("k"), UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}, IfNoneMatch: noneMatch, IfMatch: match})
		return err
	}
	wantCode(t, complete(aws.String("*"), nil), "PreconditionFailed")
	wantCode(t, complete(nil, first.ETag), "PreconditionFailed")
	body, _ = get(t, c, &s3.GetObjectInput{Bucket: aws.String("cond"), Key: aws.String("k")})
	if string(body) != "three" {
		t.Fatalf("failed conditional complete overwrote the object: %q", body)
	}
	if err := complete(nil, aws.String(`"`+md5hex("three")+`"`)); err != nil {
		t.Fatal(err)
	}
}

func TestCompleteMultipartFullObjectChecksum(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "cksum")
	id, parts := mpu(t, c, "cksum", "k", &s3.CreateMultipartUploadInput{ChecksumAlgorithm: types.ChecksumAlgorithmCrc32, ChecksumType: types.ChecksumTypeFullObject})
	in := &s3.CompleteMultipartUploadInput{Bucket: aws.String("cksum"), Key: aws.String("k"), UploadId: id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		ChecksumCRC32: aws.String("AAAAAA=="), ChecksumType: types.ChecksumTypeFullObject}
	_, err := c.CompleteMultipartUpload(ctx, in)
	wantCode(t, err, "BadDigest")
	in.ChecksumCRC32 = aws.String(crc32b64("part one"))
	must[*s3.CompleteMultipartUploadOutput](t)(c.CompleteMultipartUpload(ctx, in))

	// An upload without a checksum algorithm, completed with a declared
	// full-object checksum of another algorithm.
	id, parts = mpu(t, c, "cksum", "plain", nil)
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("cksum"), Key: aws.String("plain"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}, ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(make([]byte, 32)))})
	wantCode(t, err, "BadDigest")
}

func md5hex(s string) string { b := md5.Sum([]byte(s)); return hex.EncodeToString(b[:]) }

func crc32b64(s string) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc32.ChecksumIEEE([]byte(s)))
	return base64.StdEncoding.EncodeToString(b[:])
}

// TestDeleteMarkerHeaderOn404: S3 documents that x-amz-delete-marker
// "never returns false; if the value is false, Amazon S3 does not include
// this response header": a 404 after deleting in an unversioned bucket
// carries none, one hidden by a delete marker carries "true".
func TestDeleteMarkerHeaderOn404(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "plain")
	put(t, c, "plain", "k", []byte("x"))
	must[*s3.DeleteObjectOutput](t)(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("plain"), Key: aws.String("k")}))
	w := rawHead(t, e, "/plain/k")
	if _, ok := w.Header()["X-Amz-Delete-Marker"]; w.Code != 404 || ok {
		t.Fatalf("unversioned 404: %d %v", w.Code, w.Header())
	}
	mkBucket(t, c, "versioned")
	must[*s3.PutBucketVersioningOutput](t)(c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("versioned"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}))
	put(t, c, "versioned", "k", []byte("x"))
	must[*s3.DeleteObjectOutput](t)(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("versioned"), Key: aws.String("k")}))
	w = rawHead(t, e, "/versioned/k")
	if w.Code != 404 || w.Header().Get("X-Amz-Delete-Marker") != "true" {
		t.Fatalf("versioned 404: %d %v", w.Code, w.Header())
	}
}
