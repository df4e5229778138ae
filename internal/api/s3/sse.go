package s3

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// Keys is what server-side encryption needs of a keyring (the local
// stand-in for KMS, internal/keyring, implements it).
type Keys interface {
	// Resolve maps a KMS key id as users write it (id, ARN, alias) to a
	// key id; "" is the service-managed key. An error means no such key.
	Resolve(kmsKeyID string) (string, error)
	// Seal encrypts with a key id; the sealed data names its key.
	Seal(id string, plaintext []byte) ([]byte, error)
	Unseal(sealed []byte) ([]byte, error)
}

// Server-side encryption at rest (SSE-S3 and SSE-KMS), with the local
// keyring standing in for KMS.
//
// Every encrypted data file has its own random 256-bit data key, sealed by
// the keyring key the request chose (the service-managed key for AES256 and
// for aws:kms without a key id) and stored at the head of the file. The
// object follows in chunks of sseChunk plaintext bytes, each sealed with
// AES-256-GCM under a nonce made of the chunk index and a last-chunk flag,
// so a range read decrypts only the chunks it covers, and reordering,
// swapping or truncating chunks fails authentication. Encrypted data files
// are named <hex>.sse, so every reader of a data file knows how to open it.

// sseChunk is the plaintext size of one sealed chunk.
const sseChunk = 64 << 10

const sseSuffix = ".sse"

var sseMagic = []byte("OCSSE1\n\x00")

// sseSpec is the encryption an object (or upload) is stored with.
type sseSpec struct {
	Alg   string // "AES256" or "aws:kms"
	KeyID string // keyring key id
}

// Header names, canonical form.
const (
	hdrSSE           = "X-Amz-Server-Side-Encryption"
	hdrSSEKMSKeyID   = "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"
	hdrSSEContext    = "X-Amz-Server-Side-Encryption-Context"
	hdrSSEBucketKey  = "X-Amz-Server-Side-Encryption-Bucket-Key-Enabled"
	sseCustomerPfx   = "X-Amz-Server-Side-Encryption-Customer-"
	sseCopyCustPfx   = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-"
	sseAlgAES256     = "AES256"
	sseAlgKMS        = "aws:kms"
	sseAlgKMSDSSE    = "aws:kms:dsse"
	notImplementedBy = "Ocellus does not implement %s (header %s); nothing was stored."
)

// sseWriteOps take x-amz-server-side-encryption on the request.
var sseWriteOps = map[string]bool{"PutObject": true, "CopyObject": true, "CreateMultipartUpload": true}

// checkSSEHeaders refuses the encryption headers Ocellus does not
// implement (SSE-C, DSSE-KMS, an encryption context) and those an
// operation does not take. It runs before any handler.
func checkSSEHeaders(op string, h http.Header) error {
	for k := range h {
		switch {
		case strings.HasPrefix(k, sseCustomerPfx), strings.HasPrefix(k, sseCopyCustPfx):
			return errf("NotImplemented", notImplementedBy, "server-side encryption with customer-provided keys (SSE-C)", strings.ToLower(k))
		case k == hdrSSEContext:
			return errf("NotImplemented", notImplementedBy, "a KMS encryption context", strings.ToLower(k))
		}
	}
	v := h.Get(hdrSSE)
	if v == "" {
		if h.Get(hdrSSEKMSKeyID) != "" && sseWriteOps[op] {
			return errf("InvalidArgument", "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms")
		}
		return nil
	}
	if !sseWriteOps[op] {
		if op == "GetObject" || op == "HeadObject" {
			return errf("InvalidArgument", "x-amz-server-side-encryption header is not supported for this operation.")
		}
		return nil
	}
	switch v {
	case sseAlgAES256:
		if h.Get(hdrSSEKMSKeyID) != "" {
			return errf("InvalidArgument", "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms")
		}
	case sseAlgKMS:
	case sseAlgKMSDSSE:
		return errf("NotImplemented", notImplementedBy, "dual-layer server-side encryption (aws:kms:dsse)", "x-amz-server-side-encryption")
	default:
		return errf("InvalidArgument", "The encryption method specified is not supported")
	}
	return nil
}

// sseFromRequest resolves the encryption a write asks for; nil: none.
func (s *Server) sseFromRequest(r *http.Request) (*sseSpec, error) {
	alg := r.Header.Get(hdrSSE)
	if alg == "" {
		return nil, nil
	}
	if s.store.keys == nil {
		return nil, errf("NotImplemented", "Server-side encryption needs a keyring; this S3 endpoint was started without one (header x-amz-server-side-encryption).")
	}
	if alg == sseAlgAES256 {
		return s.serviceKey()
	}
	given := r.Header.Get(hdrSSEKMSKeyID)
	id, err := s.store.keys.Resolve(given)
	if err != nil {
		return nil, errf("KMS.NotFoundException", "Key '%s' does not exist", given)
	}
	return &sseSpec{Alg: sseAlgKMS, KeyID: id}, nil
}

// setSSEHeaders reports an object's encryption as S3 does: the algorithm
// and, for aws:kms, the ARN of the key.
func (s *Server) setSSEHeaders(h http.Header, e *sseSpec, account string) {
	if e == nil || e.Alg == "" {
		return
	}
	h.Set(hdrSSE, e.Alg)
	if e.Alg == sseAlgKMS {
		h.Set(hdrSSEKMSKeyID, fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", s.cfg.Region, account, e.KeyID))
	}
}

// sseOf returns the spec stored in a row (nil when plain).
func sseOf(alg, key string) *sseSpec {
	if alg == "" {
		return nil
	}
	return &sseSpec{Alg: alg, KeyID: key}
}

func (e *sseSpec) alg() string {
	if e == nil {
		return ""
	}
	return e.Alg
}

func (e *sseSpec) key() string {
	if e == nil {
		return ""
	}
	return e.KeyID
}

func chunkNonce(i uint64, last bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n, i)
	if last {
		n[11] = 1
	}
	return n
}

// sealWriter encrypts what is written to w in chunks; Close seals the last
// (possibly empty) chunk.
type sealWriter struct {
	w    io.Writer
	aead cipher.AEAD
	buf  []byte
	out  []byte
	i    uint64
}

func newSealWriter(w io.Writer, keys Keys, keyID string) (*sealWriter, error) {
	if keys == nil {
		return nil, errors.New("s3: encryption without a keyring")
	}
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return nil, err
	}
	sealed, err := keys.Seal(keyID, dek)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	hdr := append([]byte(nil), sseMagic...)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(sealed)))
	hdr = append(hdr, sealed...)
	if _, err := w.Write(hdr); err != nil {
		return nil, err
	}
	return &sealWriter{w: w, aead: aead, buf: make([]byte, 0, sseChunk)}, nil
}

func (sw *sealWriter) flush(last bool) error {
	sw.out = sw.aead.Seal(sw.out[:0], chunkNonce(sw.i, last), sw.buf, nil)
	sw.i++
	sw.buf = sw.buf[:0]
	_, err := sw.w.Write(sw.out)
	return err
}

func (sw *sealWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(sw.buf) == sseChunk {
			// Only now is it known that this chunk is not the last.
			if err := sw.flush(false); err != nil {
				return 0, err
			}
		}
		c := copy(sw.buf[len(sw.buf):sseChunk], p)
		sw.buf = sw.buf[:len(sw.buf)+c]
		p = p[c:]
	}
	return n, nil
}

func (sw *sealWriter) Close() error { return sw.flush(true) }

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// openSealed reads the header of an encrypted data file and returns the
// chunk cipher and the offset of the first chunk.
func openSealed(f io.ReaderAt, keys Keys) (cipher.AEAD, int64, error) {
	if keys == nil {
		return nil, 0, errors.New("s3: encrypted data file but no keyring")
	}
	hdr := make([]byte, len(sseMagic)+2)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		return nil, 0, fmt.Errorf("s3: encrypted data file header: %w", err)
	}
	if string(hdr[:len(sseMagic)]) != string(sseMagic) {
		return nil, 0, errors.New("s3: encrypted data file has a bad header")
	}
	n := int(binary.BigEndian.Uint16(hdr[len(sseMagic):]))
	sealed := make([]byte, n)
	if _, err := f.ReadAt(sealed, int64(len(hdr))); err != nil {
		return nil, 0, fmt.Errorf("s3: encrypted data file header: %w", err)
	}
	dek, err := keys.Unseal(sealed)
	if err != nil {
		return nil, 0, fmt.Errorf("s3: unwrap data key: %w", err)
	}
	aead, err := newAEAD(dek)
	if err != nil {
		return nil, 0, err
	}
	return aead, int64(len(hdr) + n), nil
}

// openReader is length plaintext bytes at offset of one data file, whose
// plaintext is size bytes long.
type openReader struct {
	f      *os.File
	aead   cipher.AEAD
	base   int64
	size   int64
	off    int64 // next plaintext offset
	end    int64
	plain  []byte // decrypted chunk holding off
	chunk  int64  // index of plain, -1 none
	cipher []byte
}

// section opens length bytes at offset of data file id (size bytes of
// plaintext in all), decrypting encrypted files.
func (s *store) section(id string, size, offset, length int64) (io.ReadCloser, error) {
	f, err := s.open(id)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(id, sseSuffix) {
		return struct {
			io.Reader
			io.Closer
		}{io.NewSectionReader(f, offset, length), f}, nil
	}
	aead, base, err := openSealed(f, s.keys)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &openReader{f: f, aead: aead, base: base, size: size, off: offset, end: offset + length, chunk: -1}, nil
}

func (o *openReader) Read(p []byte) (int, error) {
	if o.off >= o.end {
		return 0, io.EOF
	}
	c := o.off / sseChunk
	if c != o.chunk {
		last := (o.size+sseChunk-1)/sseChunk - 1
		if o.size == 0 {
			last = 0
		}
		plen := int64(sseChunk)
		if c == last {
			plen = o.size - c*sseChunk
		}
		o.cipher = append(o.cipher[:0], make([]byte, plen+int64(o.aead.Overhead()))...)
		if _, err := o.f.ReadAt(o.cipher, o.base+c*(sseChunk+int64(o.aead.Overhead()))); err != nil {
			return 0, fmt.Errorf("s3: encrypted data file chunk %d: %w", c, err)
		}
		plain, err := o.aead.Open(o.plain[:0], chunkNonce(uint64(c), c == last), o.cipher, nil)
		if err != nil {
			return 0, fmt.Errorf("s3: encrypted data file chunk %d does not authenticate: %w", c, err)
		}
		o.plain, o.chunk = plain, c
	}
	in := o.off - c*sseChunk
	n := copy(p, o.plain[in:min(int64(len(o.plain)), in+o.end-o.off)])
	o.off += int64(n)
	return n, nil
}

func (o *openReader) Close() error { return o.f.Close() }

// copyEncryption is the destination encryption of CopyObject: what its
// x-amz-server-side-encryption headers ask for; without them an encrypted
// source gives an SSE-S3 copy (AWS applies the bucket default, SSE-S3 for
// every bucket since 2023) and a plain source a plain copy.
func (s *Server) copyEncryption(r *http.Request, src *versionRow) (*sseSpec, error) {
	enc, err := s.sseFromRequest(r)
	if err != nil || enc != nil {
		return enc, err
	}
	if src.SSE != nil {
		return s.serviceKey()
	}
	return nil, nil
}

// serviceKey is SSE-S3: the keyring's service-managed key.
func (s *Server) serviceKey() (*sseSpec, error) {
	if s.store.keys == nil {
		return nil, errf("NotImplemented", "Server-side encryption needs a keyring; this S3 endpoint was started without one (header x-amz-server-side-encryption).")
	}
	id, err := s.store.keys.Resolve("")
	if err != nil {
		return nil, err
	}
	return &sseSpec{Alg: sseAlgAES256, KeyID: id}, nil
}

// checkReadable refuses to read an encrypted version whose key is not in
// the keyring (removed from --keyring since, or no keyring at all), as
// AWS refuses an object whose KMS key is gone.
func (s *Server) checkReadable(v *versionRow) error {
	if v.SSE == nil {
		return nil
	}
	if s.store.keys == nil {
		return errf("KMS.NotFoundException", "The object is encrypted at rest and this S3 endpoint was started without a keyring.")
	}
	if _, err := s.store.keys.Resolve(v.SSE.KeyID); err != nil {
		return errf("KMS.NotFoundException", "The KMS key %s that encrypted this object is no longer in the keyring.", v.SSE.KeyID)
	}
	return nil
}
