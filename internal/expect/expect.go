// Package expect lets requests with an unknown Expect header through.
//
// Go's net/http answers any request whose Expect header is not
// "100-continue" with 417 Expectation Failed before a handler sees it.
// S3 ignores the expectations it does not know (a PutObject with
// "Expect: 200" is stored and answered 200), and S3 clients and test
// suites rely on that. Listener wraps a listener so that, on each
// connection, such an Expect header line is removed from every HTTP/1.x
// request head before net/http parses it; "100-continue" is kept.
//
// To find each request head in a kept-alive connection the reader follows
// the message framing (Content-Length, chunked transfer coding with its
// trailer). Anything it does not understand (obsolete line folding, an
// unknown transfer coding, a head over the size limit, conflicting
// lengths, an HTTP/2 preface) switches the connection to pass-through:
// from then on the bytes reach net/http unchanged, which answers them as
// it would have without this package. Expect is not a signed header for
// SigV4 clients (botocore and the AWS SDKs leave it out), so removing it
// does not break a signature.
package expect

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
)

// MaxHead bounds a request head (request line and header lines) the reader
// inspects; longer heads pass through unchanged. It is above net/http's
// default limit (1 MiB plus 4 KiB), which then refuses them.
const MaxHead = 1<<20 + 8<<10

// maxLine bounds a chunk-size or trailer line.
const maxLine = 8 << 10

// Listener returns ln with every accepted connection's request heads
// cleaned of Expect headers other than 100-continue.
func Listener(ln net.Listener) net.Listener { return &listener{ln} }

type listener struct{ net.Listener }

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return NewConn(c), nil
}

// NewConn wraps one connection.
func NewConn(c net.Conn) net.Conn {
	return &conn{Conn: c, r: &Reader{src: bufio.NewReaderSize(c, 16<<10)}}
}

type conn struct {
	net.Conn
	r *Reader
}

func (c *conn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite keeps net/http's half-close of TCP connections.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

type state int

const (
	stHead        state = iota // reading a request head
	stBody                     // n bytes of a Content-Length body left
	stChunkSize                // reading a chunk-size line
	stChunkData                // n bytes of chunk data left
	stChunkEnd                 // reading the CRLF after chunk data
	stTrailer                  // reading trailer lines up to an empty one
	stPassThrough              // no more framing: bytes pass unchanged
)

// Reader is the request-stream filter; NewReader makes one over any
// bufio.Reader (the tests and fuzz target use it directly).
type Reader struct {
	src  *bufio.Reader
	st   state
	n    int64  // bytes left in the body or chunk
	line []byte // a partial head or line kept across Read calls
	out  []byte // filtered bytes not yet returned
}

// NewReader filters the request stream read from src.
func NewReader(src *bufio.Reader) *Reader { return &Reader{src: src} }

// Read returns the filtered stream. A read error (a deadline, say) while a
// head is only partly read keeps what was read, so the next call goes on
// from there, as net/http expects of a connection.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		switch r.st {
		case stPassThrough:
			if len(r.line) > 0 {
				r.out, r.line = r.line, nil
				continue
			}
			return r.src.Read(p)
		case stBody, stChunkData:
			if len(p) == 0 {
				return 0, nil
			}
			q := p
			if int64(len(q)) > r.n {
				q = q[:r.n]
			}
			n, err := r.src.Read(q)
			r.n -= int64(n)
			if r.n == 0 {
				if r.st == stBody {
					r.st = stHead
				} else {
					r.st = stChunkEnd
				}
			}
			return n, err
		default:
			if err := r.step(); err != nil {
				if len(r.out) > 0 {
					break
				}
				return 0, err
			}
		}
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// step reads one line of a head, chunk header or trailer and, once a unit
// is complete, moves it to out.
func (r *Reader) step() error {
	limit := maxLine
	if r.st == stHead {
		limit = MaxHead
	}
	for {
		frag, err := r.src.ReadSlice('\n')
		r.line = append(r.line, frag...)
		if len(r.line) > limit {
			r.st = stPassThrough
			return nil
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(r.line) > 0 {
				// The peer ended mid-unit: hand over what came.
				r.st = stPassThrough
				return nil
			}
			return err
		}
		if r.st != stHead {
			return r.lineDone()
		}
		if !bytes.HasSuffix(r.line, []byte("\n\n")) && !bytes.HasSuffix(r.line, []byte("\n\r\n")) {
			if isBlank(r.line) {
				// Blank lines before a request line: net/http skips
				// them, so must the head boundary.
				r.out, r.line = r.line, nil
				return nil
			}
			continue
		}
		head := r.line
		r.line = nil
		r.out = r.head(head)
		return nil
	}
}

// lineDone handles one complete chunk-size, chunk-end or trailer line.
func (r *Reader) lineDone() error {
	l := r.line
	r.line = nil
	r.out = l
	switch r.st {
	case stChunkSize:
		s := bytes.TrimRight(l, "\r\n")
		if i := bytes.IndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(s)), 16, 64)
		if err != nil || n < 0 {
			r.st = stPassThrough
			return nil
		}
		if n == 0 {
			r.st = stTrailer
		} else {
			r.st, r.n = stChunkData, n
		}
	case stChunkEnd:
		if !isBlank(l) {
			r.st = stPassThrough
			return nil
		}
		r.st = stChunkSize
	case stTrailer:
		if isBlank(l) {
			r.st = stHead
		}
	}
	return nil
}

// head parses a complete request head, sets the framing of what follows
// and returns the head without its unknown Expect lines.
func (r *Reader) head(head []byte) []byte {
	lines := splitLines(head)
	if len(lines) == 0 || bytes.HasPrefix(lines[0], []byte("PRI * HTTP/2")) {
		r.st = stPassThrough
		return head
	}
	var (
		length  int64 = -1
		chunked bool
		drop    []int
	)
	for i, ln := range lines[1:] {
		i++
		if isBlank(ln) {
			break
		}
		if ln[0] == ' ' || ln[0] == '\t' {
			r.st = stPassThrough // obsolete line folding
			return head
		}
		name, value, ok := bytes.Cut(bytes.TrimRight(ln, "\r\n"), []byte(":"))
		if !ok {
			r.st = stPassThrough
			return head
		}
		value = bytes.Trim(value, " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || (length >= 0 && n != length) {
				r.st = stPassThrough
				return head
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			codings := bytes.Split(value, []byte(","))
			last := bytes.Trim(codings[len(codings)-1], " \t")
			if !bytes.EqualFold(last, []byte("chunked")) || len(codings) > 1 {
				r.st = stPassThrough
				return head
			}
			chunked = true
		case bytes.EqualFold(name, []byte("Expect")):
			if !bytes.EqualFold(value, []byte("100-continue")) {
				drop = append(drop, i)
			}
		}
	}
	switch {
	case chunked && length >= 0:
		r.st = stPassThrough // net/http refuses both
		return head
	case chunked:
		r.st = stChunkSize
	case length > 0:
		r.st, r.n = stBody, length
	default:
		r.st = stHead
	}
	if len(drop) == 0 {
		return head
	}
	out := make([]byte, 0, len(head))
	for i, ln := range lines {
		if len(drop) > 0 && drop[0] == i {
			drop = drop[1:]
			continue
		}
		out = append(out, ln...)
	}
	return out
}

// splitLines splits b after each '\n', keeping the line ends.
func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

func isBlank(l []byte) bool { return len(bytes.TrimRight(l, "\r\n")) == 0 }
