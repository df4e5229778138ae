// Package chunked decodes the aws-chunked content encoding that S3 clients
// use to stream uploads: a sequence of length-prefixed chunks, optionally
// signed one by one (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), optionally followed
// by trailing headers such as x-amz-checksum-crc32 (the *-TRAILER variants).
//
// The decoder streams: it never buffers more than one chunk header line, so
// multi-gigabyte uploads pass through in constant memory. A chunk's data is
// handed to the caller before that chunk's signature has been checked (the
// check needs the whole chunk); the signature error then surfaces from the
// next Read. Callers must therefore treat any Read error as "discard
// everything read so far", which the S3 server does by writing to a temp file
// that is only renamed into place after a clean EOF.
//
// Format reference: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
// and sigv4-streaming-trailers.html.
package chunked

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
)

// emptySHA256 is the hex SHA-256 of no bytes; it is part of every chunk's
// string to sign.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// maxLine bounds a chunk header or trailer line so a hostile body cannot make
// us buffer without limit.
const maxLine = 4096

// maxTrailers bounds the number of trailing headers.
const maxTrailers = 16

// ErrSignature reports a chunk or trailer signature that does not match.
var ErrSignature = errors.New("chunked: signature does not match")

// ErrFormat reports a body that is not valid aws-chunked encoding.
var ErrFormat = errors.New("chunked: malformed aws-chunked body")

// Signing holds what is needed to verify signed chunks. Seed is the
// signature of the request headers; each chunk signature chains from the
// previous one.
type Signing struct {
	Key     []byte // SigV4 signing key of the request
	Seed    string // signature from the Authorization header
	AmzDate string // X-Amz-Date, yyyymmddThhmmssZ
	Scope   string // date/region/service/aws4_request
}

// Options selects the variant of aws-chunked being decoded.
type Options struct {
	// Signing, when non-nil, requires and checks chunk signatures.
	Signing *Signing
	// Trailer allows (and, for signed bodies, requires a signature over)
	// trailing headers after the final chunk.
	Trailer bool
}

// Reader decodes an aws-chunked body.
type Reader struct {
	br       *bufio.Reader
	opt      Options
	prevSig  string
	left     int64  // bytes of data left in the current chunk
	chunkSig string // declared signature of the current chunk
	h        hash.Hash
	err      error
	trailers map[string]string
	n        int64
}

// NewReader returns a Reader decoding r.
func NewReader(r io.Reader, opt Options) *Reader {
	cr := &Reader{br: bufio.NewReaderSize(r, 64<<10), opt: opt, trailers: map[string]string{}}
	if opt.Signing != nil {
		cr.prevSig = opt.Signing.Seed
		cr.h = sha256.New()
	}
	cr.left = -1
	return cr
}

// Trailers returns the trailing headers (lower-case names), complete once
// Read has returned io.EOF.
func (c *Reader) Trailers() map[string]string { return c.trailers }

// N returns the number of decoded bytes returned so far.
func (c *Reader) N() int64 { return c.n }

func (c *Reader) fail(err error) (int, error) {
	c.err = err
	return 0, err
}

// Read implements io.Reader.
func (c *Reader) Read(p []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		if c.left > 0 {
			if int64(len(p)) > c.left {
				p = p[:c.left]
			}
			n, err := c.br.Read(p)
			c.left -= int64(n)
			c.n += int64(n)
			if c.h != nil {
				c.h.Write(p[:n])
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				c.err = fmt.Errorf("%w: %v", ErrFormat, err)
				if n > 0 {
					return n, nil
				}
				return 0, c.err
			}
			return n, nil
		}
		if c.left == 0 {
			// End of a data chunk: CRLF, then check the signature.
			if err := c.expectCRLF(); err != nil {
				return c.fail(err)
			}
			if err := c.checkChunk(); err != nil {
				return c.fail(err)
			}
			c.left = -1
		}
		size, err := c.header()
		if err != nil {
			return c.fail(err)
		}
		if size == 0 {
			if err := c.checkChunk(); err != nil { // the final chunk is signed too
				return c.fail(err)
			}
			if err := c.readTrailers(); err != nil {
				return c.fail(err)
			}
			c.err = io.EOF
			return 0, io.EOF
		}
		c.left = size
	}
}

func (c *Reader) line() (string, error) {
	var b []byte
	for {
		frag, err := c.br.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > maxLine {
			return "", fmt.Errorf("%w: line too long", ErrFormat)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrFormat, io.ErrUnexpectedEOF)
		}
		break
	}
	s := string(b)
	if !strings.HasSuffix(s, "\r\n") {
		return "", fmt.Errorf("%w: line not terminated by CRLF", ErrFormat)
	}
	return s[:len(s)-2], nil
}

func (c *Reader) expectCRLF() error {
	l, err := c.line()
	if err != nil {
		return err
	}
	if l != "" {
		return fmt.Errorf("%w: chunk data longer than its declared size", ErrFormat)
	}
	return nil
}

// header parses "<hex-size>[;chunk-signature=<sig>]".
func (c *Reader) header() (int64, error) {
	l, err := c.line()
	if err != nil {
		return 0, err
	}
	sizeHex, ext, hasExt := strings.Cut(l, ";")
	if sizeHex == "" || len(sizeHex) > 16 {
		return 0, fmt.Errorf("%w: bad chunk size %q", ErrFormat, sizeHex)
	}
	size, err := strconv.ParseInt(sizeHex, 16, 64)
	if err != nil || size < 0 {
		return 0, fmt.Errorf("%w: bad chunk size %q", ErrFormat, sizeHex)
	}
	c.chunkSig = ""
	if hasExt {
		k, v, _ := strings.Cut(ext, "=")
		if k != "chunk-signature" {
			return 0, fmt.Errorf("%w: unknown chunk extension %q", ErrFormat, k)
		}
		c.chunkSig = v
	}
	if c.opt.Signing != nil && c.chunkSig == "" {
		return 0, fmt.Errorf("%w: missing chunk-signature", ErrSignature)
	}
	return size, nil
}

func (c *Reader) checkChunk() error {
	s := c.opt.Signing
	if s == nil {
		return nil
	}
	sum := hex.EncodeToString(c.h.Sum(nil))
	c.h.Reset()
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + s.AmzDate + "\n" + s.Scope + "\n" + c.prevSig + "\n" + emptySHA256 + "\n" + sum
	want := sign(s.Key, sts)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(c.chunkSig))) {
		return ErrSignature
	}
	c.prevSig = want
	return nil
}

// readTrailers reads "name:value" lines up to the empty line that ends the
// body. A signed trailer ends with x-amz-trailer-signature, which covers
// the canonical "name:value\n" lines before it.
func (c *Reader) readTrailers() error {
	var canon strings.Builder
	var trailerSig string
	for {
		l, err := c.line()
		if err != nil {
			if !c.opt.Trailer && c.opt.Signing == nil {
				// Some encoders omit the final CRLF of a trailer-less body.
				return nil
			}
			return err
		}
		if l == "" {
			break
		}
		if !c.opt.Trailer {
			return fmt.Errorf("%w: trailing headers not declared", ErrFormat)
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return fmt.Errorf("%w: bad trailer line", ErrFormat)
		}
		k = strings.TrimSpace(k)
		if !headerToken(k) {
			// A trailer is an HTTP header: its name is a token (RFC 9110).
			return fmt.Errorf("%w: bad trailer name", ErrFormat)
		}
		k = strings.ToLower(k)
		v = strings.TrimSpace(v)
		if k == "x-amz-trailer-signature" {
			trailerSig = v
			continue
		}
		if trailerSig != "" {
			return fmt.Errorf("%w: trailer after x-amz-trailer-signature", ErrFormat)
		}
		if len(c.trailers) >= maxTrailers {
			return fmt.Errorf("%w: too many trailers", ErrFormat)
		}
		c.trailers[k] = v
		canon.WriteString(k + ":" + v + "\n")
	}
	if s := c.opt.Signing; s != nil && c.opt.Trailer {
		if trailerSig == "" {
			return fmt.Errorf("%w: missing x-amz-trailer-signature", ErrSignature)
		}
		h := sha256.Sum256([]byte(canon.String()))
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + s.AmzDate + "\n" + s.Scope + "\n" + c.prevSig + "\n" + hex.EncodeToString(h[:])
		if !hmac.Equal([]byte(sign(s.Key, sts)), []byte(strings.ToLower(trailerSig))) {
			return ErrSignature
		}
	}
	return nil
}

// headerToken reports whether s is a non-empty HTTP token.
func headerToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func sign(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// Encoder helpers used by tests and tools that need to produce aws-chunked
// bodies (the AWS SDK for Go v2 only emits the unsigned variant).

// Encode writes data as aws-chunked with chunks of chunkSize bytes. When s is
// non-nil each chunk is signed; trailers (if any) are appended and, when s is
// non-nil, signed.
func Encode(w io.Writer, data []byte, chunkSize int, s *Signing, trailers [][2]string) error {
	prev := ""
	if s != nil {
		prev = s.Seed
	}
	writeChunk := func(b []byte) error {
		hdr := strconv.FormatInt(int64(len(b)), 16)
		if s != nil {
			h := sha256.Sum256(b)
			sig := sign(s.Key, "AWS4-HMAC-SHA256-PAYLOAD\n"+s.AmzDate+"\n"+s.Scope+"\n"+prev+"\n"+emptySHA256+"\n"+hex.EncodeToString(h[:]))
			prev = sig
			hdr += ";chunk-signature=" + sig
		}
		if _, err := io.WriteString(w, hdr+"\r\n"); err != nil {
			return err
		}
		if len(b) > 0 {
			if _, err := w.Write(b); err != nil {
				return err
			}
			_, err := io.WriteString(w, "\r\n")
			return err
		}
		return nil
	}
	for len(data) > 0 {
		n := min(chunkSize, len(data))
		if err := writeChunk(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	if err := writeChunk(nil); err != nil {
		return err
	}
	var canon strings.Builder
	for _, t := range trailers {
		canon.WriteString(t[0] + ":" + t[1] + "\n")
		if _, err := io.WriteString(w, t[0]+":"+t[1]+"\r\n"); err != nil {
			return err
		}
	}
	if s != nil && len(trailers) > 0 {
		h := sha256.Sum256([]byte(canon.String()))
		sig := sign(s.Key, "AWS4-HMAC-SHA256-TRAILER\n"+s.AmzDate+"\n"+s.Scope+"\n"+prev+"\n"+hex.EncodeToString(h[:]))
		if _, err := io.WriteString(w, "x-amz-trailer-signature:"+sig+"\r\n"); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "\r\n")
	return err
}
