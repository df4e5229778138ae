package expect_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ocellus/ocellus/internal/expect"
)

// serve starts net/http on a loopback listener, wrapped or not, with a
// handler that echoes the method, Expect header and body.
func serve(t *testing.T, wrap bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap {
		ln = expect.Listener(ln)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprintf(w, "%s expect=%q body=%q trailer=%q", r.Method, r.Header.Get("Expect"), b, r.Trailer.Get("X-T"))
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// exchange writes raw on one connection and reads n responses.
func exchange(t *testing.T, addr, raw string, n int) []string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		// one byte at a time: heads and bodies arrive fragmented
		for i := range len(raw) {
			if _, err := c.Write([]byte{raw[i]}); err != nil {
				return
			}
		}
	}()
	br := bufio.NewReader(c)
	var out []string
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", len(out)+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, fmt.Sprintf("%d %s", resp.StatusCode, b))
	}
	return out
}

const pipelined = "PUT /a HTTP/1.1\r\nHost: x\r\nExpect: 200\r\nContent-Length: 5\r\n\r\nhello" +
	"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nexpect:   200-ok \r\n\r\n" +
	"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: tv\r\n\r\n" +
	"GET /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n" +
	"PUT /d HTTP/1.1\r\nHost: x\r\nContent-Length: 24\r\n\r\nExpect: 200\r\nin a body\r\n" +
	"DELETE /e HTTP/1.1\r\nHost: x\r\nEXPECT: 200\r\n\r\n"

func TestUnknownExpectationsReachTheHandler(t *testing.T) {
	got := exchange(t, serve(t, true), pipelined, 5)
	want := []string{
		`200 PUT expect="" body="hello" trailer=""`,
		`200 POST expect="" body="abcde" trailer="tv"`,
		`200 GET expect="100-continue" body="" trailer=""`,
		`200 PUT expect="" body="Expect: 200\r\nin a body\r\n" trailer=""`,
		`200 DELETE expect="" body="" trailer=""`,
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("response %d: %s\nwant %s", i+1, got[i], want[i])
		}
	}
}

// TestPlainNetHTTPRefuses shows why the package exists: without it the
// same first request gets 417.
func TestPlainNetHTTPRefuses(t *testing.T) {
	got := exchange(t, serve(t, false), "PUT /a HTTP/1.1\r\nHost: x\r\nExpect: 200\r\nContent-Length: 5\r\n\r\nhello", 1)
	if !strings.HasPrefix(got[0], "417") {
		t.Fatalf("plain net/http answered %s, want 417", got[0])
	}
}

func TestContinueStillWorks(t *testing.T) {
	addr := serve(t, true)
	tr := &http.Transport{ExpectContinueTimeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	for range 3 { // same kept-alive connection
		req, _ := http.NewRequest("PUT", "http://"+addr+"/x", strings.NewReader("payload"))
		req.Header.Set("Expect", "100-continue")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := `PUT expect="100-continue" body="payload" trailer=""`; string(b) != want {
			t.Fatalf("got %s, want %s", b, want)
		}
	}
}

// TestOddStreamsPassThrough: what the reader does not understand reaches
// net/http unchanged, which answers as it always does.
func TestOddStreamsPassThrough(t *testing.T) {
	for _, raw := range []string{
		"PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nExpect: 200\r\n\r\n",
		"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\nExpect: 200\r\n\r\nab",
		"PUT /a HTTP/1.1\r\nHost: x\r\n folded\r\nExpect: 200\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	} {
		plain := readAll(t, raw, false)
		if got := readAll(t, raw, true); got != plain {
			t.Errorf("%q: filtered %q, want it unchanged", raw, got)
		}
	}
}

func readAll(t *testing.T, raw string, filter bool) string {
	t.Helper()
	if !filter {
		return raw
	}
	b, err := io.ReadAll(expect.NewReader(bufio.NewReader(iotest.OneByteReader(strings.NewReader(raw)))))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReaderRemovesOnlyHeadLines(t *testing.T) {
	want := strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(pipelined,
		"Expect: 200\r\nContent-Length: 5", "Content-Length: 5"),
		"expect:   200-ok \r\n", ""),
		"EXPECT: 200\r\n", "")
	if got := readAll(t, pipelined, true); got != want {
		t.Fatalf("filtered stream\n%q\nwant\n%q", got, want)
	}
}

// A read that fails mid-head (a deadline) loses nothing: the next read
// goes on where it stopped.
func TestPartialHeadSurvivesAnError(t *testing.T) {
	raw := "PUT /a HTTP/1.1\r\nHost: x\r\nExpect: 200\r\nContent-Length: 2\r\n\r\nok"
	src := &flaky{data: []byte(raw)}
	r := expect.NewReader(bufio.NewReaderSize(src, 16))
	var got []byte
	buf := make([]byte, 7)
	for range 1000 {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
	}
	if want := "PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok"; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// flaky returns a timeout error after every 3 bytes.
type flaky struct {
	data []byte
	n    int
}

type timeout struct{}

func (timeout) Error() string { return "i/o timeout" }

func (f *flaky) Read(p []byte) (int, error) {
	f.n++
	if f.n%2 == 0 {
		return 0, timeout{}
	}
	if len(f.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 3)], f.data)
	f.data = f.data[n:]
	return n, nil
}

func FuzzReader(f *testing.F) {
	f.Add([]byte(pipelined))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n\r\nGET / HTTP/1.1\r\nExpect: x\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, err := io.ReadAll(expect.NewReader(bufio.NewReader(bytes.NewReader(in))))
		if err != nil {
			t.Fatal(err)
		}
		bytewise, err := io.ReadAll(expect.NewReader(bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(in)), 16)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(whole, bytewise) {
			t.Fatalf("depends on fragmentation:\n%q\n%q", whole, bytewise)
		}
		if !bytes.Contains(bytes.ToLower(in), []byte("expect")) && !bytes.Equal(whole, in) {
			t.Fatalf("changed a stream without Expect:\n%q\n%q", in, whole)
		}
		// The output is the input with whole lines removed, each an Expect line.
		rest := whole
		for _, ln := range bytes.SplitAfter(in, []byte("\n")) {
			if bytes.HasPrefix(rest, ln) {
				rest = rest[len(ln):]
				continue
			}
			if !bytes.HasPrefix(bytes.ToLower(ln), []byte("expect:")) {
				t.Fatalf("removed a line that is not an Expect header: %q", ln)
			}
		}
		if len(rest) != 0 {
			t.Fatalf("output has %q beyond the input", rest)
		}
	})
}
