package chunked

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"
)

var testSigning = &Signing{
	Key:     []byte("0123456789abcdef0123456789abcdef"),
	Seed:    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
	AmzDate: "20130524T000000Z",
	Scope:   "20130524/us-east-1/s3/aws4_request",
}

func encode(t testing.TB, data []byte, chunk int, s *Signing, trailers [][2]string) []byte {
	var b bytes.Buffer
	if err := Encode(&b, data, chunk, s, trailers); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte("hello world "), 10000)
	tr := [][2]string{{"x-amz-checksum-crc32", "AAAAAA=="}}
	for _, tc := range []struct {
		name     string
		s        *Signing
		trailers [][2]string
	}{
		{"unsigned", nil, nil},
		{"unsigned-trailer", nil, tr},
		{"signed", testSigning, nil},
		{"signed-trailer", testSigning, tr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := encode(t, data, 8192, tc.s, tc.trailers)
			r := NewReader(bytes.NewReader(body), Options{Signing: tc.s, Trailer: tc.trailers != nil})
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("data differs")
			}
			if tc.trailers != nil && r.Trailers()["x-amz-checksum-crc32"] != "AAAAAA==" {
				t.Fatalf("trailers %v", r.Trailers())
			}
		})
	}
}

// TestAWSExample checks the first chunk signature from the AWS
// documentation example (sigv4-streaming.html): a 64 KiB chunk of 'a'.
func TestAWSExample(t *testing.T) {
	// Signing key for secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY,
	// 20130524/us-east-1/s3.
	s := &Signing{
		Key:     signingKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"),
		Seed:    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
		AmzDate: "20130524T000000Z",
		Scope:   "20130524/us-east-1/s3/aws4_request",
	}
	body := encode(t, bytes.Repeat([]byte{'a'}, 65536), 65536, s, nil)
	want := "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
	if !strings.HasPrefix(string(body), want) {
		t.Fatalf("first chunk header %q", string(body[:100]))
	}
	if _, err := io.ReadAll(NewReader(bytes.NewReader(body), Options{Signing: s})); err != nil {
		t.Fatal(err)
	}
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacRaw([]byte("AWS4"+secret), date)
	k = hmacRaw(k, region)
	k = hmacRaw(k, service)
	return hmacRaw(k, "aws4_request")
}

func TestTampered(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 20000)
	body := encode(t, data, 4096, testSigning, [][2]string{{"x-amz-checksum-sha256", "abc"}})
	for _, mutate := range []func([]byte){
		func(b []byte) { b[bytes.Index(b, []byte("\r\n"))+10] ^= 1 },   // data
		func(b []byte) { b[len(b)-5] ^= 1 },                            // trailer signature
		func(b []byte) { b[bytes.Index(b, []byte("sha256:"))+7] ^= 1 }, // trailer value
	} {
		b := bytes.Clone(body)
		mutate(b)
		_, err := io.ReadAll(NewReader(bytes.NewReader(b), Options{Signing: testSigning, Trailer: true}))
		if !errors.Is(err, ErrSignature) {
			t.Fatalf("err = %v, want ErrSignature", err)
		}
	}
	// Truncated body.
	_, err := io.ReadAll(NewReader(bytes.NewReader(body[:len(body)/2]), Options{Signing: testSigning, Trailer: true}))
	if err == nil {
		t.Fatal("truncated body accepted")
	}
}

func FuzzChunked(f *testing.F) {
	f.Add(encode(f, []byte("hello"), 2, nil, nil), false, false)
	f.Add(encode(f, []byte("hello"), 2, nil, [][2]string{{"x-amz-checksum-crc32", "AAAAAA=="}}), false, true)
	f.Add(encode(f, []byte("hello world"), 4, testSigning, nil), true, false)
	f.Add(encode(f, []byte("hello world"), 4, testSigning, [][2]string{{"x-amz-checksum-crc32", "AAAAAA=="}}), true, true)
	f.Add([]byte("ffffffffffffffff\r\n"), false, false)
	f.Fuzz(func(t *testing.T, body []byte, signed, trailer bool) {
		opt := Options{Trailer: trailer}
		if signed {
			opt.Signing = testSigning
		}
		r := NewReader(bytes.NewReader(body), opt)
		got, err := io.ReadAll(r)
		if int64(len(got)) != r.N() {
			t.Fatalf("N %d != len %d", r.N(), len(got))
		}
		if len(got) > len(body) {
			t.Fatalf("decoded %d bytes from a %d byte body", len(got), len(body))
		}
		if err != nil {
			return
		}
		// A body that decodes cleanly must re-encode to something that
		// decodes to the same bytes.
		var tr [][2]string
		for k, v := range r.Trailers() {
			tr = append(tr, [2]string{k, v})
		}
		if len(tr) > 1 {
			return // map order makes the re-encoded signature differ; data is still checked above
		}
		again := encode(t, got, 7, opt.Signing, tr)
		got2, err := io.ReadAll(NewReader(bytes.NewReader(again), Options{Signing: opt.Signing, Trailer: trailer || len(tr) > 0}))
		if err != nil || !bytes.Equal(got, got2) {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

func hmacRaw(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
