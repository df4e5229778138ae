// Package sigv4 verifies AWS Signature Version 4 on incoming requests.
//
// It rebuilds the canonical request the way the AWS SDKs build it when they
// sign (only the headers named in SignedHeaders, the raw request path, the
// payload hash the client declared) and compares signatures in constant time.
// Both the Authorization header form and the presigned query form are
// accepted. The front-ends map the error codes to each service's own errors.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// Header and query names used by SigV4.
const (
	HeaderDate          = "X-Amz-Date"
	HeaderContentSHA256 = "X-Amz-Content-Sha256"
	HeaderSecurityToken = "X-Amz-Security-Token"
	timeFormat          = "20060102T150405Z"
	dateFormat          = "20060102"
)

// Payload hash markers that are not a hex SHA-256 of the body.
const (
	UnsignedPayload                 = "UNSIGNED-PAYLOAD"
	StreamingPayload                = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingPayloadTrailer         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// DefaultMaxSkew is the clock skew AWS tolerates.
const DefaultMaxSkew = 15 * time.Minute

// Code classifies a verification failure.
type Code int

const (
	// ErrMissing: the request carries no SigV4 authentication at all.
	ErrMissing Code = iota + 1
	// ErrMalformed: the Authorization header or query is not valid SigV4.
	ErrMalformed
	// ErrUnknownKey: the access key id belongs to no account.
	ErrUnknownKey
	// ErrSignature: the signature does not match.
	ErrSignature
	// ErrSkewed: the request date is too far from the server's clock.
	ErrSkewed
	// ErrExpired: a presigned request whose expiry has passed.
	ErrExpired
	// ErrExpiresRange: a presigned request whose X-Amz-Expires is not a
	// number of seconds from 1 to 604800 (S3 answers 403 AccessDenied; the
	// JSON services treat it as malformed).
	ErrExpiresRange
)

// Error is a verification failure.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

func errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// Credential is one access key and the account it belongs to.
type Credential struct {
	AccountID       string
	AccessKeyID     string
	SecretAccessKey string
}

// Auth is what a request claims in its Authorization header or query.
type Auth struct {
	AccessKeyID   string
	Date          string // yyyymmdd of the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
	Presigned     bool
	AmzDate       time.Time     // X-Amz-Date
	Expires       time.Duration // presigned only
}

// Present reports whether r carries any SigV4 authentication.
func Present(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.URL.Query().Get("X-Amz-Algorithm") != ""
}

// Parse reads the SigV4 claims from the Authorization header, or from the
// query string of a presigned request.
func Parse(r *http.Request) (*Auth, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		a, err := ParseHeader(h)
		if err != nil {
			return nil, err
		}
		ds := r.Header.Get(HeaderDate)
		if ds == "" {
			ds = r.Header.Get("Date")
		}
		t, err := parseTime(ds)
		if err != nil {
			return nil, err
		}
		a.AmzDate = t
		return a, nil
	}
	q := r.URL.Query()
	if q.Get("X-Amz-Algorithm") == "" {
		return nil, errorf(ErrMissing, "Request is missing Authentication Token")
	}
	if q.Get("X-Amz-Algorithm") != Algorithm {
		return nil, errorf(ErrMalformed, "Unsupported algorithm %q", q.Get("X-Amz-Algorithm"))
	}
	a := &Auth{Presigned: true, Signature: q.Get("X-Amz-Signature")}
	if err := a.setCredential(q.Get("X-Amz-Credential")); err != nil {
		return nil, err
	}
	a.SignedHeaders = splitHeaders(q.Get("X-Amz-SignedHeaders"))
	t, err := parseTime(q.Get("X-Amz-Date"))
	if err != nil {
		return nil, err
	}
	a.AmzDate = t
	exp, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || exp < 1 || exp > 604800 {
		return nil, errorf(ErrExpiresRange, "X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	a.Expires = time.Duration(exp) * time.Second
	if a.Signature == "" || len(a.SignedHeaders) == 0 {
		return nil, errorf(ErrMalformed, "Presigned request is missing X-Amz-Signature or X-Amz-SignedHeaders")
	}
	return a, nil
}

// ParseHeader parses an Authorization header value:
//
//	AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex
func ParseHeader(h string) (*Auth, error) {
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || alg != Algorithm {
		return nil, errorf(ErrMalformed, "Authorization header requires the %s algorithm", Algorithm)
	}
	a := &Auth{}
	var haveCred, haveSigned, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, errorf(ErrMalformed, "Authorization header has a malformed element %q", strings.TrimSpace(part))
		}
		switch k {
		case "Credential":
			if err := a.setCredential(v); err != nil {
				return nil, err
			}
			haveCred = true
		case "SignedHeaders":
			a.SignedHeaders = splitHeaders(v)
			haveSigned = len(a.SignedHeaders) > 0
		case "Signature":
			a.Signature = v
			haveSig = v != ""
		}
	}
	if !haveCred || !haveSigned || !haveSig {
		return nil, errorf(ErrMalformed, "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
	}
	if len(a.Signature) != 64 {
		return nil, errorf(ErrMalformed, "Signature must be 64 hexadecimal characters")
	}
	return a, nil
}

func (a *Auth) setCredential(v string) error {
	parts := strings.Split(v, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[0] == "" {
		return errorf(ErrMalformed, "Credential should be scoped to a valid region and service: %q", v)
	}
	if _, err := time.Parse(dateFormat, parts[1]); err != nil {
		return errorf(ErrMalformed, "Credential has an invalid date %q", parts[1])
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func splitHeaders(v string) []string {
	if v == "" {
		return nil
	}
	hs := strings.Split(strings.ToLower(v), ";")
	out := hs[:0]
	for _, h := range hs {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errorf(ErrMalformed, "Request is missing the X-Amz-Date header")
	}
	if t, err := time.Parse(timeFormat, s); err == nil {
		return t, nil
	}
	if t, err := http.ParseTime(s); err == nil {
		return t, nil
	}
	return time.Time{}, errorf(ErrMalformed, "X-Amz-Date %q is not in ISO8601 basic format", s)
}

// Lookup finds the credential for an access key id.
type Lookup func(accessKeyID string) (Credential, bool)

// Verifier checks signatures against known credentials.
type Verifier struct {
	Lookup  Lookup
	Now     func() time.Time // zero: time.Now
	MaxSkew time.Duration    // zero: DefaultMaxSkew
}

// Result is a verified request's identity and signing material.
type Result struct {
	Auth       *Auth
	Credential Credential
	// SigningKey and Signature seed the chunk signatures of a streaming
	// (aws-chunked) S3 upload.
	SigningKey []byte
}

// Scope returns the credential scope string "date/region/service/aws4_request".
func (a *Auth) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
}

// Verify checks r's signature. payloadHash is the value to use as the last
// line of the canonical request: for S3 the X-Amz-Content-Sha256 header (or
// UNSIGNED-PAYLOAD for presigned URLs), for JSON services the hex SHA-256 of
// the body (see PayloadHash). The caller is responsible for checking that a
// declared hex hash matches the body it reads.
func (v *Verifier) Verify(r *http.Request, payloadHash string) (*Result, error) {
	a, err := Parse(r)
	if err != nil {
		return nil, err
	}
	cred, ok := v.Lookup(a.AccessKeyID)
	if !ok {
		return nil, errorf(ErrUnknownKey, "The security token included in the request is invalid.")
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew == 0 {
		skew = DefaultMaxSkew
	}
	t := now().UTC()
	if a.Presigned {
		if t.Before(a.AmzDate.Add(-skew)) {
			return nil, errorf(ErrSkewed, "Request is not yet valid")
		}
		if t.After(a.AmzDate.Add(a.Expires)) {
			return nil, errorf(ErrExpired, "Request has expired")
		}
	} else if d := t.Sub(a.AmzDate); d > skew || d < -skew {
		return nil, errorf(ErrSkewed, "Signature expired: %s is now earlier than %s (%s - 15 min.)",
			a.AmzDate.Format(timeFormat), t.Add(-skew).Format(timeFormat), t.Format(timeFormat))
	}
	if a.AmzDate.Format(dateFormat) != a.Date {
		return nil, errorf(ErrSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: %q != %q",
			a.Date, a.AmzDate.Format(dateFormat))
	}
	hasHost := false
	for _, h := range a.SignedHeaders {
		if h == "host" {
			hasHost = true
		}
	}
	if !hasHost {
		return nil, errorf(ErrSignature, "'Host' must be a signed header")
	}
	creq := CanonicalRequest(r, a, payloadHash)
	sts := StringToSign(a, creq)
	key := SigningKey(cred.SecretAccessKey, a.Date, a.Region, a.Service)
	want := hex.EncodeToString(hmacSHA256(key, []byte(sts)))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(a.Signature))) {
		return nil, errorf(ErrSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return &Result{Auth: a, Credential: cred, SigningKey: key}, nil
}

// PayloadHash returns the hex SHA-256 of body.
func PayloadHash(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}

// CanonicalRequest builds the canonical request string for r.
func CanonicalRequest(r *http.Request, a *Auth, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalPath(r, a.Service))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery, a.Presigned))
	b.WriteByte('\n')
	for _, h := range a.SignedHeaders {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(headerValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(a.SignedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// StringToSign builds the string to sign for a canonical request.
func StringToSign(a *Auth, canonicalRequest string) string {
	h := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + a.AmzDate.UTC().Format(timeFormat) + "\n" + a.Scope() + "\n" + hex.EncodeToString(h[:])
}

// SigningKey derives the SigV4 signing key.
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte("aws4_request"))
}

// Sign returns the hex HMAC-SHA256 of msg with key.
func Sign(key []byte, msg string) string {
	return hex.EncodeToString(hmacSHA256(key, []byte(msg)))
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		if h := r.Header.Get("Host"); h != "" {
			return h
		}
		return r.Host
	case "content-length":
		if vs := r.Header.Values("Content-Length"); len(vs) > 0 {
			return strings.TrimSpace(vs[0])
		}
		return strconv.FormatInt(r.ContentLength, 10)
	case "transfer-encoding":
		// net/http moves Transfer-Encoding out of the header map into
		// r.TransferEncoding; clients such as botocore 1.29 sign it.
		if len(r.TransferEncoding) > 0 && len(r.Header.Values("Transfer-Encoding")) == 0 {
			return strings.Join(r.TransferEncoding, ",")
		}
	}
	vs := r.Header.Values(name)
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// canonicalPath: S3 uses the path as sent (escaped once); other services
// escape each segment of the raw path once more.
func canonicalPath(r *http.Request, service string) string {
	p := r.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	if service == "s3" {
		return p
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s, false)
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(raw string, presigned bool) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var kvs []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		uk, err := url.QueryUnescape(k)
		if err != nil {
			uk = k
		}
		if presigned && uk == "X-Amz-Signature" {
			continue
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			uv = v
		}
		kvs = append(kvs, kv{uriEncode(uk, true), uriEncode(uv, true)})
	}
	sort.Slice(kvs, func(i, j int) bool {
		if kvs[i].k != kvs[j].k {
			return kvs[i].k < kvs[j].k
		}
		return kvs[i].v < kvs[j].v
	})
	parts := make([]string, len(kvs))
	for i, p := range kvs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

// uriEncode percent-encodes everything but the unreserved characters; '/'
// is kept unless encodeSlash.
func uriEncode(s string, encodeSlash bool) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}
