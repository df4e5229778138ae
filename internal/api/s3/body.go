package s3

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// hashCheck passes a body through and, at EOF, fails the read if its
// SHA-256 differs from the one the client signed.
type hashCheck struct {
	r    io.Reader
	h    hash.Hash
	want string
}

func newHashCheck(r io.Reader, want string) *hashCheck {
	return &hashCheck{r: r, h: sha256.New(), want: want}
}

func (c *hashCheck) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	if err == io.EOF && hex.EncodeToString(c.h.Sum(nil)) != c.want {
		return n, errf("XAmzContentSHA256Mismatch", "")
	}
	return n, err
}

// lengthReader fails the read at EOF unless exactly want bytes came
// through (x-amz-decoded-content-length of an aws-chunked body).
type lengthReader struct {
	r    io.Reader
	want int64
	n    int64
}

func (l *lengthReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.want || (err == io.EOF && l.n != l.want) {
		return n, errf("IncompleteBody", "The decoded body length %d does not match x-amz-decoded-content-length %d", l.n, l.want)
	}
	return n, err
}

func parseInt(s string) (int64, error) { return strconv.ParseInt(strings.TrimSpace(s), 10, 64) }

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// Checksum algorithms S3 accepts in x-amz-checksum-<alg>, keyed by the
// upper-case name used in x-amz-sdk-checksum-algorithm and in XML.
var checksumAlgs = []string{"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"}

// crc64NVME is the bit-reversed CRC-64/NVME polynomial, as crc64.MakeTable
// expects (the same constant the AWS SDKs use).
const crc64NVME = 0x9a6c9329ac4bc9b5

func newChecksum(alg string) hash.Hash {
	switch alg {
	case "CRC32":
		return crc32.NewIEEE()
	case "CRC32C":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "CRC64NVME":
		return crc64.New(crc64.MakeTable(crc64NVME))
	case "SHA1":
		return sha1.New()
	case "SHA256":
		return sha256.New()
	}
	return nil
}

func checksumHeader(alg string) string { return "X-Amz-Checksum-" + strings.ToLower(alg) }

// digester computes MD5 (for the ETag) and any checksums the request asks
// for while the body is written.
type digester struct {
	md5  hash.Hash
	sums map[string]hash.Hash
	// want holds checksums declared in headers; trailers add theirs later.
	want map[string]string
	n    int64
}

// newDigester reads the checksum headers of r. algHeader names the header
// that selects an algorithm without a value (x-amz-sdk-checksum-algorithm on
// PutObject/UploadPart).
func newDigester(r *http.Request, extraAlg string) (*digester, error) {
	d := &digester{md5: md5.New(), sums: map[string]hash.Hash{}, want: map[string]string{}}
	add := func(alg string) error {
		alg = strings.ToUpper(alg)
		h := newChecksum(alg)
		if h == nil {
			return errf("InvalidRequest", "Value for x-amz-checksum-algorithm header is invalid.")
		}
		if d.sums[alg] == nil {
			d.sums[alg] = h
		}
		return nil
	}
	for _, alg := range checksumAlgs {
		if v := r.Header.Get(checksumHeader(alg)); v != "" {
			d.want[alg] = v
			add(alg)
		}
	}
	if a := r.Header.Get("X-Amz-Sdk-Checksum-Algorithm"); a != "" {
		if err := add(a); err != nil {
			return nil, err
		}
	}
	if extraAlg != "" {
		if err := add(extraAlg); err != nil {
			return nil, err
		}
	}
	// A trailer declares its algorithm up front: x-amz-trailer: x-amz-checksum-crc32.
	for _, t := range strings.Split(r.Header.Get("X-Amz-Trailer"), ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		if alg, ok := strings.CutPrefix(t, "x-amz-checksum-"); ok {
			if err := add(alg); err != nil {
				return nil, err
			}
		}
	}
	if len(d.want) > 1 {
		return nil, errf("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	}
	return d, nil
}

// newBareDigester computes MD5 and the given checksums of data the server
// itself produces (copies), where there is nothing declared to verify.
func newBareDigester(algs []string) *digester {
	d := &digester{md5: md5.New(), sums: map[string]hash.Hash{}, want: map[string]string{}}
	for _, a := range algs {
		if h := newChecksum(a); h != nil {
			d.sums[a] = h
		}
	}
	return d
}

func (d *digester) Write(p []byte) (int, error) {
	d.md5.Write(p)
	for _, h := range d.sums {
		h.Write(p)
	}
	d.n += int64(len(p))
	return len(p), nil
}

// finish verifies Content-MD5 and the declared checksums (headers and
// trailers) and returns the ETag and the checksums to store.
func (d *digester) finish(r *http.Request, trailers map[string]string) (etag string, sums map[string]string, err error) {
	sum := d.md5.Sum(nil)
	if vs, ok := r.Header["Content-Md5"]; ok {
		// A present but empty Content-MD5 is invalid, not absent.
		want, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.Join(vs, "")))
		if err != nil || len(want) != md5.Size {
			return "", nil, errf("InvalidDigest", "")
		}
		if string(want) != string(sum) {
			return "", nil, errf("BadDigest", "")
		}
	}
	for k, v := range trailers {
		if alg, ok := strings.CutPrefix(k, "x-amz-checksum-"); ok {
			d.want[strings.ToUpper(alg)] = v
		}
	}
	sums = map[string]string{}
	for alg, h := range d.sums {
		got := base64.StdEncoding.EncodeToString(h.Sum(nil))
		if w, ok := d.want[alg]; ok && w != got {
			return "", nil, errf("BadDigest", "The %s you specified did not match the calculated checksum.", alg)
		}
		sums[alg] = got
	}
	if len(sums) > 0 {
		sums["type"] = "FULL_OBJECT"
	}
	return `"` + hex.EncodeToString(sum) + `"`, sums, nil
}

// compositeChecksum is S3's checksum of a multipart object: the checksum of
// the concatenated binary part checksums, suffixed with -<parts>.
func compositeChecksum(alg string, parts []string) (string, bool) {
	h := newChecksum(alg)
	if h == nil {
		return "", false
	}
	for _, p := range parts {
		b, err := base64.StdEncoding.DecodeString(p)
		if err != nil || p == "" {
			return "", false
		}
		h.Write(b)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), true
}
