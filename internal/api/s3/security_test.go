package s3

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/ocellus/ocellus/internal/keyring"
	"github.com/ocellus/ocellus/internal/sigv4"
)

const testKMSKey = "1234abcd-12ab-34cd-56ef-1234567890ab"

// newKeyringEnv is newEnv with a keyring holding the service-managed key
// and testKMSKey (alias/ocellus-test). The keyring lives in keyDir, so a
// restart on the same dirs finds the same keys.
func newKeyringEnv(t *testing.T, dir, keyDir string) *env {
	t.Helper()
	file := filepath.Join(keyDir, "keyring.json")
	if _, err := os.Stat(file); err != nil {
		key := base64.StdEncoding.EncodeToString(randBytes(32))
		os.WriteFile(file, []byte(`[{"KeyId":"`+testKMSKey+`","Alias":"alias/ocellus-test","Key":"`+key+`"}]`), 0o600)
	}
	kr, err := keyring.Open(keyDir, file)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Dir: dir, Region: "us-east-1", Verifier: &sigv4.Verifier{Lookup: lookup}, Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, srv: srv, ts: httptest.NewServer(srv)}
	t.Cleanup(e.close)
	return e
}

// wantRefused checks an error's code, HTTP status and that its message
// names the header.
func wantRefused(t *testing.T, err error, code string, status int, header string) {
	t.Helper()
	var ae smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code || re.HTTPStatusCode() != status || !strings.Contains(ae.ErrorMessage(), header) {
		t.Fatalf("got %s %d %q, want %s %d naming %s", ae.ErrorCode(), re.HTTPStatusCode(), ae.ErrorMessage(), code, status, header)
	}
}

// dataFiles returns the contents of every data file under the store.
func dataFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.Walk(filepath.Join(dir, "data"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			out[fi.Name()] = b
		}
		return nil
	})
	return out
}

// wantNoPlaintext fails if any data file holds a 64-byte run of plain.
func wantNoPlaintext(t *testing.T, dir string, plain []byte) {
	t.Helper()
	for off := 0; off+64 <= len(plain); off += max(64, len(plain)/16) {
		for name, b := range dataFiles(t, dir) {
			if bytes.Contains(b, plain[off:off+64]) {
				t.Fatalf("data file %s holds the plaintext at offset %d", name, off)
			}
		}
	}
}

func wantKMSKeyARN(t *testing.T, got *string) {
	t.Helper()
	want := "arn:aws:kms:us-east-1:" + alice.AccountID + ":key/" + testKMSKey
	if aws.ToString(got) != want {
		t.Fatalf("SSEKMSKeyId %q, want %q", aws.ToString(got), want)
	}
}

func TestSSEAtRest(t *testing.T) {
	dir, keyDir := t.TempDir(), t.TempDir()
	e := newKeyringEnv(t, dir, keyDir)
	c := e.client(alice, "")
	mkBucket(t, c, "enc")
	bkt := aws.String("enc")
	// Three chunks and a bit, text so that a leak would be easy to see.
	plain := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog. 0123456789\n"), 3*sseChunk/56+100)

	p1 := must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("s3"), Body: bytes.NewReader(plain),
		ServerSideEncryption: types.ServerSideEncryptionAes256}))
	if p1.ServerSideEncryption != types.ServerSideEncryptionAes256 || p1.SSEKMSKeyId != nil {
		t.Fatalf("PutObject SSE-S3 answered %q %v", p1.ServerSideEncryption, p1.SSEKMSKeyId)
	}
	if want := fmt.Sprintf(`"%x"`, md5.Sum(plain)); *p1.ETag != want {
		t.Fatalf("ETag %s, want the plaintext MD5 %s", *p1.ETag, want)
	}
	// The key may be named by id, alias, alias ARN or key ARN.
	for i, id := range []string{testKMSKey, "alias/ocellus-test", "arn:aws:kms:us-east-1:111111111111:alias/ocellus-test", "arn:aws:kms:us-east-1:111111111111:key/" + testKMSKey} {
		p := must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String(fmt.Sprint("kms", i)), Body: bytes.NewReader(plain),
			ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(id)}))
		if p.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
			t.Fatalf("PutObject SSE-KMS answered %q", p.ServerSideEncryption)
		}
		wantKMSKeyARN(t, p.SSEKMSKeyId)
	}
	// aws:kms without a key id uses the service-managed key.
	pm := must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("kms-default"), Body: bytes.NewReader(plain),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms}))
	if !strings.HasSuffix(aws.ToString(pm.SSEKMSKeyId), ":key/"+keyring.ServiceKey) {
		t.Fatalf("default KMS key %q", aws.ToString(pm.SSEKMSKeyId))
	}
	wantNoPlaintext(t, dir, plain)

	for _, k := range []string{"s3", "kms0", "kms3", "kms-default"} {
		got, g := get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String(k)})
		if !bytes.Equal(got, plain) {
			t.Fatalf("GET %s does not return the plaintext", k)
		}
		want := types.ServerSideEncryptionAwsKms
		if k == "s3" {
			want = types.ServerSideEncryptionAes256
		}
		if g.ServerSideEncryption != want {
			t.Fatalf("GET %s: SSE %q", k, g.ServerSideEncryption)
		}
	}
	h := must[*s3.HeadObjectOutput](t)(c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bkt, Key: aws.String("kms0")}))
	if h.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToInt64(h.ContentLength) != int64(len(plain)) {
		t.Fatalf("HEAD: %q %d", h.ServerSideEncryption, aws.ToInt64(h.ContentLength))
	}
	wantKMSKeyARN(t, h.SSEKMSKeyId)

	// Ranges inside a chunk, across chunk boundaries, suffix, open-ended.
	n := len(plain)
	for _, r := range [][2]int{{0, 0}, {10, 99}, {sseChunk - 5, sseChunk + 5}, {sseChunk - 1, 3*sseChunk + 1}, {2 * sseChunk, 2*sseChunk + 0}, {n - 7, n - 1}} {
		got, g := get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("kms1"), Range: aws.String(fmt.Sprintf("bytes=%d-%d", r[0], r[1]))})
		if !bytes.Equal(got, plain[r[0]:r[1]+1]) || g.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
			t.Fatalf("range %v differs", r)
		}
	}
	got, _ := get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("s3"), Range: aws.String("bytes=-100")})
	if !bytes.Equal(got, plain[n-100:]) {
		t.Fatal("suffix range differs")
	}
	got, _ = get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("s3"), Range: aws.String(fmt.Sprintf("bytes=%d-", sseChunk))})
	if !bytes.Equal(got, plain[sseChunk:]) {
		t.Fatal("open range differs")
	}
	// Empty and exactly-one-chunk objects.
	for _, body := range [][]byte{{}, plain[:sseChunk], plain[:2*sseChunk]} {
		must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("edge"), Body: bytes.NewReader(body),
			ServerSideEncryption: types.ServerSideEncryptionAes256}))
		if got, _ := get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("edge")}); !bytes.Equal(got, body) {
			t.Fatalf("%d-byte object differs", len(body))
		}
	}

	// Errors.
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("x"), Body: strings.NewReader("x"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String("no-such-key")})
	wantRefused(t, err, "KMS.NotFoundException", 400, "no-such-key")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("x"), Body: strings.NewReader("x"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKmsDsse})
	wantRefused(t, err, "NotImplemented", 501, "x-amz-server-side-encryption")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("x"), Body: strings.NewReader("x"), ServerSideEncryption: "AES128"})
	wantCode(t, err, "InvalidArgument")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("x"), Body: strings.NewReader("x"), SSEKMSKeyId: aws.String(testKMSKey)})
	wantCode(t, err, "InvalidArgument")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("x"), Body: strings.NewReader("x"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSEncryptionContext: aws.String(base64.StdEncoding.EncodeToString([]byte(`{"a":"b"}`)))})
	wantRefused(t, err, "NotImplemented", 501, "x-amz-server-side-encryption-context")
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bkt, Key: aws.String("x")})
	if code(err) != "NotFound" {
		t.Fatalf("a refused PUT stored something: %v", err)
	}

	// CopyObject: the destination headers choose; an encrypted source
	// without them gives an SSE-S3 copy; a plain source a plain copy.
	put(t, c, "enc", "plain", plain)
	cp := must[*s3.CopyObjectOutput](t)(c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("plain-to-kms"), CopySource: aws.String("enc/plain"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String("alias/ocellus-test")}))
	if cp.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
		t.Fatalf("CopyObject SSE %q", cp.ServerSideEncryption)
	}
	wantKMSKeyARN(t, cp.SSEKMSKeyId)
	cp = must[*s3.CopyObjectOutput](t)(c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("kms-copy"), CopySource: aws.String("enc/kms0")}))
	if cp.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("copy of an encrypted object without SSE headers: %q", cp.ServerSideEncryption)
	}
	// Changing the encryption of an object in place is a legal self-copy.
	must[*s3.CopyObjectOutput](t)(c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("plain"), CopySource: aws.String("enc/plain"),
		ServerSideEncryption: types.ServerSideEncryptionAes256}))
	for _, k := range []string{"plain-to-kms", "kms-copy", "plain"} {
		got, g := get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String(k)})
		if !bytes.Equal(got, plain) || g.ServerSideEncryption == "" {
			t.Fatalf("copy %s: %d bytes, SSE %q", k, len(got), g.ServerSideEncryption)
		}
	}
	must[*s3.CopyObjectOutput](t)(c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("decrypted"), CopySource: aws.String("enc/s3"),
		MetadataDirective: types.MetadataDirectiveReplace}))
	wantNoPlaintext(t, dir, plain[:len(plain)-1]) // "decrypted" got SSE-S3 too
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("s3"), SSECustomerAlgorithm: aws.String("AES256"),
		SSECustomerKey: aws.String(base64.StdEncoding.EncodeToString(randBytes(32))), SSECustomerKeyMD5: aws.String("x")})
	wantRefused(t, err, "NotImplemented", 501, "x-amz-server-side-encryption-customer-")

	// Everything reads back after a restart with the same keyring.
	e.close()
	e2 := newKeyringEnv(t, dir, keyDir)
	c = e2.client(alice, "")
	got, _ = get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("kms2")})
	if !bytes.Equal(got, plain) {
		t.Fatal("SSE-KMS object differs after restart")
	}
	// A keyring without the KMS key still opens SSE-S3 objects but not
	// those sealed by the missing key.
	e2.close()
	kr, err := keyring.Open(keyDir, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Dir: dir, Region: "us-east-1", Verifier: &sigv4.Verifier{Lookup: lookup}, Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	e4 := &env{t: t, dir: dir, srv: srv, ts: httptest.NewServer(srv)}
	if got, _ := get(t, e4.client(alice, ""), &s3.GetObjectInput{Bucket: bkt, Key: aws.String("s3")}); !bytes.Equal(got, plain) {
		t.Fatal("SSE-S3 object unreadable with the service key alone")
	}
	_, err = e4.client(alice, "").GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("kms0")})
	wantRefused(t, err, "KMS.NotFoundException", 400, testKMSKey)
	e4.close()
	// A server without a keyring refuses SSE rather than storing plain text.
	e3 := newEnv(t, dir)
	_, err = e3.client(alice, "").GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("s3")})
	wantRefused(t, err, "KMS.NotFoundException", 400, "without a keyring")
	_, err = e3.client(alice, "").PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("y"), Body: strings.NewReader("y"),
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	wantRefused(t, err, "NotImplemented", 501, "x-amz-server-side-encryption")
}

func TestSSEMultipart(t *testing.T) {
	dir := t.TempDir()
	e := newKeyringEnv(t, dir, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "mpe")
	bkt, key := aws.String("mpe"), aws.String("big")
	data := bytes.Repeat([]byte("multipart plaintext that must not reach the disk; "), (12<<20)/51)
	cr := must[*s3.CreateMultipartUploadOutput](t)(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bkt, Key: key,
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(testKMSKey)}))
	if cr.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
		t.Fatalf("CreateMultipartUpload SSE %q", cr.ServerSideEncryption)
	}
	wantKMSKeyARN(t, cr.SSEKMSKeyId)
	const partSize = 5 << 20
	var parts []types.CompletedPart
	for i, off := 1, 0; off < len(data); i, off = i+1, off+partSize {
		up := must[*s3.UploadPartOutput](t)(c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bkt, Key: key, UploadId: cr.UploadId,
			PartNumber: aws.Int32(int32(i)), Body: bytes.NewReader(data[off:min(off+partSize, len(data))])}))
		if up.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
			t.Fatalf("UploadPart SSE %q", up.ServerSideEncryption)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i)), ETag: up.ETag})
	}
	wantNoPlaintext(t, dir, data[:1<<20]) // the parts on disk
	done := must[*s3.CompleteMultipartUploadOutput](t)(c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bkt, Key: key, UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}))
	if done.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
		t.Fatalf("CompleteMultipartUpload SSE %q", done.ServerSideEncryption)
	}
	wantNoPlaintext(t, dir, data)
	got, g := get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: key})
	if !bytes.Equal(got, data) || g.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
		t.Fatal("multipart SSE-KMS object differs")
	}
	got, _ = get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: key, PartNumber: aws.Int32(2)})
	if !bytes.Equal(got, data[partSize:2*partSize]) {
		t.Fatal("partNumber=2 of an encrypted object differs")
	}
	got, _ = get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: key, Range: aws.String(fmt.Sprintf("bytes=%d-%d", partSize-3, partSize+3))})
	if !bytes.Equal(got, data[partSize-3:partSize+4]) {
		t.Fatal("range over a part boundary differs")
	}

	// UploadPartCopy from the encrypted object into a plain upload
	// decrypts; into an SSE-S3 upload re-encrypts.
	for _, enc := range []types.ServerSideEncryption{"", types.ServerSideEncryptionAes256} {
		k := aws.String("copy-" + string(enc))
		cu := must[*s3.CreateMultipartUploadOutput](t)(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bkt, Key: k, ServerSideEncryption: enc}))
		pc := must[*s3.UploadPartCopyOutput](t)(c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: bkt, Key: k, UploadId: cu.UploadId, PartNumber: aws.Int32(1),
			CopySource: aws.String("mpe/big"), CopySourceRange: aws.String("bytes=100-199")}))
		if pc.ServerSideEncryption != enc {
			t.Fatalf("UploadPartCopy SSE %q, want %q", pc.ServerSideEncryption, enc)
		}
		must[*s3.CompleteMultipartUploadOutput](t)(c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bkt, Key: k, UploadId: cu.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pc.CopyPartResult.ETag}}}}))
		got, g := get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: k})
		if !bytes.Equal(got, data[100:200]) || g.ServerSideEncryption != enc {
			t.Fatalf("part copy %q: %q SSE %q", enc, got, g.ServerSideEncryption)
		}
	}
}

// TestSealedFormat checks the chunk format itself: round trips at every
// size class, and that a flipped byte, swapped chunks or a truncated file
// fail instead of returning wrong bytes.
func TestSealedFormat(t *testing.T) {
	kr, err := keyring.Open(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	st := &store{dir: t.TempDir(), keys: kr}
	write := func(plain []byte) string {
		os.MkdirAll(filepath.Join(st.dir, "tmp"), 0o755)
		tmp, err := st.newTemp(&sseSpec{Alg: sseAlgAES256, KeyID: keyring.ServiceKey})
		if err != nil {
			t.Fatal(err)
		}
		tmp.Write(plain)
		id, err := tmp.Commit()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	read := func(id string, size, off, n int64) ([]byte, error) {
		r, err := st.section(id, size, off, n)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}
	for _, n := range []int{0, 1, sseChunk - 1, sseChunk, sseChunk + 1, 3*sseChunk + 17} {
		plain := randBytes(n)
		id := write(plain)
		if !strings.HasSuffix(id, sseSuffix) {
			t.Fatalf("encrypted data file id %q", id)
		}
		got, err := read(id, int64(n), 0, int64(n))
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: round trip %v", n, err)
		}
	}
	plain := randBytes(3 * sseChunk)
	id := write(plain)
	path := st.dataPath(id)
	orig, _ := os.ReadFile(path)
	hdr := len(orig) - 3*(sseChunk+16)
	tamper := func(what string, b []byte) {
		os.WriteFile(path, b, 0o600)
		if _, err := read(id, int64(len(plain)), 0, int64(len(plain))); err == nil {
			t.Fatalf("%s: read succeeded", what)
		}
	}
	flipped := bytes.Clone(orig)
	flipped[hdr+sseChunk+100] ^= 1
	tamper("flipped byte", flipped)
	swapped := bytes.Clone(orig)
	c0, c1 := orig[hdr:hdr+sseChunk+16], orig[hdr+sseChunk+16:hdr+2*(sseChunk+16)]
	copy(swapped[hdr:], c1)
	copy(swapped[hdr+sseChunk+16:], c0)
	tamper("swapped chunks", swapped)
	tamper("truncated", orig[:len(orig)-(sseChunk+16)])
	// The last full chunk presented as the end of a shorter object fails
	// too (the last-chunk flag is in the nonce).
	os.WriteFile(path, orig, 0o600)
	if _, err := read(id, 2*sseChunk, 0, 2*sseChunk); err == nil {
		t.Fatal("a chunk that is not the last was accepted as the last")
	}
}

func TestTagging(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	mkBucket(t, c, "tags")
	bkt := aws.String("tags")
	must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("k"), Body: strings.NewReader("v"),
		Tagging: aws.String("project=ocellus&note=two%20words&empty=")}))
	tagsOf := func(key string, version *string) map[string]string {
		t.Helper()
		out := must[*s3.GetObjectTaggingOutput](t)(c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: bkt, Key: aws.String(key), VersionId: version}))
		m := map[string]string{}
		for _, tg := range out.TagSet {
			m[*tg.Key] = *tg.Value
		}
		return m
	}
	if m := tagsOf("k", nil); len(m) != 3 || m["project"] != "ocellus" || m["note"] != "two words" || m["empty"] != "" {
		t.Fatalf("tags from x-amz-tagging: %v", m)
	}
	_, g := get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("k")})
	h := must[*s3.HeadObjectOutput](t)(c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bkt, Key: aws.String("k")}))
	if aws.ToInt32(g.TagCount) != 3 || aws.ToInt32(h.TagCount) != 3 {
		t.Fatalf("TagCount GET %v HEAD %v", g.TagCount, h.TagCount)
	}
	must[*s3.PutObjectTaggingOutput](t)(c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: bkt, Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("only"), Value: aws.String("one")}}}}))
	if m := tagsOf("k", nil); len(m) != 1 || m["only"] != "one" {
		t.Fatalf("after PutObjectTagging: %v", m)
	}
	must[*s3.DeleteObjectTaggingOutput](t)(c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: bkt, Key: aws.String("k")}))
	if m := tagsOf("k", nil); len(m) != 0 {
		t.Fatalf("after DeleteObjectTagging: %v", m)
	}
	if _, g := get(t, c, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("k")}); g.TagCount != nil {
		t.Fatalf("TagCount %v on an untagged object", *g.TagCount)
	}

	// Tags belong to a version.
	must[*s3.PutBucketVersioningOutput](t)(c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bkt,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}))
	v1 := must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("v"), Body: strings.NewReader("1"), Tagging: aws.String("gen=1")}))
	must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("v"), Body: strings.NewReader("2"), Tagging: aws.String("gen=2")}))
	pt := must[*s3.PutObjectTaggingOutput](t)(c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: bkt, Key: aws.String("v"), VersionId: v1.VersionId,
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("gen"), Value: aws.String("one")}}}}))
	if aws.ToString(pt.VersionId) != aws.ToString(v1.VersionId) {
		t.Fatalf("PutObjectTagging version %v", pt.VersionId)
	}
	if tagsOf("v", v1.VersionId)["gen"] != "one" || tagsOf("v", nil)["gen"] != "2" {
		t.Fatal("tags are not per version")
	}
	must[*s3.DeleteObjectOutput](t)(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bkt, Key: aws.String("v")}))
	_, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: bkt, Key: aws.String("v")})
	wantCode(t, err, "NoSuchKey")
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: bkt, Key: aws.String("none"), Tagging: &types.Tagging{TagSet: []types.Tag{}}})
	wantCode(t, err, "NoSuchKey")

	// CopyObject: COPY (default) keeps the source's tags, REPLACE takes
	// x-amz-tagging.
	must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("src"), Body: strings.NewReader("s"), Tagging: aws.String("a=1&b=2")}))
	must[*s3.CopyObjectOutput](t)(c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("c1"), CopySource: aws.String("tags/src")}))
	must[*s3.CopyObjectOutput](t)(c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("c2"), CopySource: aws.String("tags/src"),
		TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("z=26")}))
	if m := tagsOf("c1", nil); len(m) != 2 || m["a"] != "1" {
		t.Fatalf("COPY tags %v", m)
	}
	if m := tagsOf("c2", nil); len(m) != 1 || m["z"] != "26" {
		t.Fatalf("REPLACE tags %v", m)
	}
	// Multipart: tags given at creation land on the object.
	cr := must[*s3.CreateMultipartUploadOutput](t)(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bkt, Key: aws.String("mp"), Tagging: aws.String("mp=yes")}))
	up := must[*s3.UploadPartOutput](t)(c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bkt, Key: aws.String("mp"), UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("p")}))
	must[*s3.CompleteMultipartUploadOutput](t)(c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bkt, Key: aws.String("mp"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: up.ETag}}}}))
	if tagsOf("mp", nil)["mp"] != "yes" {
		t.Fatal("multipart tags lost")
	}

	// Limits.
	var eleven []string
	for i := range 11 {
		eleven = append(eleven, fmt.Sprintf("k%d=v", i))
	}
	for _, tc := range []struct{ tagging, code string }{
		{strings.Join(eleven, "&"), "BadRequest"},
		{strings.Repeat("k", 129) + "=v", "InvalidTag"},
		{"k=" + strings.Repeat("v", 257), "InvalidTag"},
		{"aws:reserved=v", "InvalidTag"},
		{"dup=1&dup=2", "InvalidTag"},
		{"=novalue", "InvalidTag"},
		{"bad%21char=v", "InvalidTag"},
	} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("lim"), Body: strings.NewReader("x"), Tagging: aws.String(tc.tagging)})
		wantCode(t, err, tc.code)
	}
	// The limits are Unicode characters, not bytes: 128 two-byte runes pass.
	must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("lim"), Body: strings.NewReader("x"),
		Tagging: aws.String(strings.Repeat("%C3%A9", 128) + "=" + strings.Repeat("%C3%A9", 256))}))
	tags := make([]types.Tag, 11)
	for i := range tags {
		tags[i] = types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")}
	}
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: bkt, Key: aws.String("lim"), Tagging: &types.Tagging{TagSet: tags}})
	wantCode(t, err, "BadRequest")
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: bkt, Key: aws.String("lim"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}}})
	wantCode(t, err, "InvalidTag")
	// Another account cannot read or write tags.
	_, err = e.client(bob, "").GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: bkt, Key: aws.String("src")})
	wantCode(t, err, "AccessDenied")
	// Bucket tagging is not served.
	_, err = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: bkt})
	wantCode(t, err, "NotImplemented")
}

func TestACLAndObjectLockRefused(t *testing.T) {
	e := newEnv(t, t.TempDir())
	c := e.client(alice, "")
	// Canned ACL private (and bucket-owner-full-control) is what every
	// bucket and object is: accepted.
	must[*s3.CreateBucketOutput](t)(c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acl"), ACL: types.BucketCannedACLPrivate,
		ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}))
	bkt := aws.String("acl")
	for _, acl := range []types.ObjectCannedACL{types.ObjectCannedACLPrivate, types.ObjectCannedACLBucketOwnerFullControl} {
		must[*s3.PutObjectOutput](t)(c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("k"), Body: strings.NewReader("v"), ACL: acl}))
	}
	must[*s3.CreateMultipartUploadOutput](t)(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bkt, Key: aws.String("m"), ACL: types.ObjectCannedACLPrivate}))
	must[*s3.CopyObjectOutput](t)(c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("c"), CopySource: aws.String("acl/k"), ACL: types.ObjectCannedACLPrivate}))

	body := func() io.Reader { return strings.NewReader("v") }
	for _, tc := range []struct {
		name   string
		call   func() error
		code   string
		status int
		header string
	}{
		{"PutObject public-read", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("r"), Body: body(), ACL: types.ObjectCannedACLPublicRead})
			return err
		}, "AccessControlListNotSupported", 400, "x-amz-acl: public-read"},
		{"PutObject grant-read", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("r"), Body: body(), GrantRead: aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)})
			return err
		}, "AccessControlListNotSupported", 400, "x-amz-grant-read"},
		{"CopyObject authenticated-read", func() error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("r"), CopySource: aws.String("acl/k"), ACL: types.ObjectCannedACLAuthenticatedRead})
			return err
		}, "AccessControlListNotSupported", 400, "x-amz-acl: authenticated-read"},
		{"CreateMultipartUpload grant-full-control", func() error {
			_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bkt, Key: aws.String("r"), GrantFullControl: aws.String(`id="someone"`)})
			return err
		}, "AccessControlListNotSupported", 400, "x-amz-grant-full-control"},
		{"CreateBucket public-read-write", func() error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acl2"), ACL: types.BucketCannedACLPublicReadWrite})
			return err
		}, "InvalidBucketAclWithObjectOwnership", 400, "x-amz-acl: public-read-write"},
		{"CreateBucket ObjectWriter", func() error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acl2"), ObjectOwnership: types.ObjectOwnershipObjectWriter})
			return err
		}, "NotImplemented", 501, "x-amz-object-ownership"},
		{"CreateBucket object lock", func() error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acl2"), ObjectLockEnabledForBucket: aws.Bool(true)})
			return err
		}, "NotImplemented", 501, "x-amz-bucket-object-lock-enabled"},
		{"PutObject retention", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("r"), Body: body(), ObjectLockMode: types.ObjectLockModeGovernance,
				ObjectLockRetainUntilDate: aws.Time(e.srv.now().Add(24 * 3600e9))})
			return err
		}, "NotImplemented", 501, "x-amz-object-lock-"},
		{"PutObject legal hold", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("r"), Body: body(), ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
			return err
		}, "NotImplemented", 501, "x-amz-object-lock-legal-hold"},
		{"PutObject SSE-C", func() error {
			key := randBytes(32)
			sum := md5.Sum(key)
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("r"), Body: body(), SSECustomerAlgorithm: aws.String("AES256"),
				SSECustomerKey: aws.String(base64.StdEncoding.EncodeToString(key)), SSECustomerKeyMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:]))})
			return err
		}, "NotImplemented", 501, "x-amz-server-side-encryption-customer-"},
		{"CopyObject SSE-C source", func() error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("r"), CopySource: aws.String("acl/k"), CopySourceSSECustomerAlgorithm: aws.String("AES256")})
			return err
		}, "NotImplemented", 501, "x-amz-copy-source-server-side-encryption-customer-algorithm"},
		{"PutObject SSE without a keyring", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("r"), Body: body(), ServerSideEncryption: types.ServerSideEncryptionAes256})
			return err
		}, "NotImplemented", 501, "x-amz-server-side-encryption"},
		{"GetObjectAcl", func() error {
			_, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: bkt, Key: aws.String("k")})
			return err
		}, "NotImplemented", 501, ""},
		{"PutBucketEncryption", func() error {
			_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: bkt, ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
				Rules: []types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAwsKms}}}}})
			return err
		}, "NotImplemented", 501, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { wantRefused(t, tc.call(), tc.code, tc.status, tc.header) })
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bkt, Key: aws.String("r")}); code(err) != "NotFound" {
		t.Fatalf("a refused request stored an object: %v", err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("acl2")}); code(err) != "NotFound" {
		t.Fatalf("a refused CreateBucket made the bucket: %v", err)
	}
}

// BenchmarkSealed measures the cost of encryption at rest: writing and
// reading back 8 MiB through the sealed format, against the plain file.
func BenchmarkSealed(b *testing.B) {
	kr, err := keyring.Open(b.TempDir(), "")
	if err != nil {
		b.Fatal(err)
	}
	st := &store{dir: b.TempDir(), keys: kr}
	os.MkdirAll(filepath.Join(st.dir, "tmp"), 0o755)
	plain := randBytes(8 << 20)
	for _, enc := range []*sseSpec{nil, {Alg: sseAlgAES256, KeyID: keyring.ServiceKey}} {
		name := "plain"
		if enc != nil {
			name = "sse"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			for range b.N {
				tmp, err := st.newTemp(enc)
				if err != nil {
					b.Fatal(err)
				}
				tmp.Write(plain)
				id, err := tmp.Commit()
				if err != nil {
					b.Fatal(err)
				}
				if err := st.copyRange(io.Discard, id, int64(len(plain)), 0, int64(len(plain))); err != nil {
					b.Fatal(err)
				}
				st.removeData(id)
			}
		})
	}
}
