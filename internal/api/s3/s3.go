// Package s3 is Ocellus's embedded S3-compatible endpoint: enough of the S3
// REST API (path-style only) for users to upload images and manifests with
// `aws s3 cp`/`sync`, boto3 or any SDK exactly as they would on AWS, and for
// Ocellus to read them back.
//
// Requests are authenticated with SigV4 (header or presigned), including the
// aws-chunked streaming variants; buckets belong to the account that created
// them. Object bytes live in immutable files under Config.Dir/data, written to
// a temp file, fsynced and renamed before the metadata that references them
// is committed to SQLite (Config.Dir/meta.db), so that a crash at any point
// leaves every acknowledged object intact and no partial object visible.
package s3

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/api/s3/chunked"
	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/sigv4"
	"github.com/ocellus/ocellus/internal/space"
)

// Config configures a Server. Zero values are documented defaults.
type Config struct {
	Dir      string           // persistent root, e.g. <data-dir>/s3 (required)
	Region   string           // reported by GetBucketLocation; "" means us-east-1
	Verifier *sigv4.Verifier  // required
	Logger   *slog.Logger     // nil: discard
	Now      func() time.Time // nil: time.Now
	// Space refuses writes (InsufficientStorage) that would eat into the
	// data volume's reserve; nil: no check.
	Space *space.Guard
	// Keyring holds the keys of server-side encryption (SSE-S3 uses its
	// service-managed key, SSE-KMS the key named by the request); nil:
	// requests for server-side encryption are refused (NotImplemented).
	// *keyring.Keyring implements it.
	Keyring Keys
}

// Server serves the S3 API. It is safe for concurrent use; several Servers
// may run in one process on different directories.
type Server struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	store *store
	ops   map[string]handler
}

// request is what every operation handler receives: the parsed route, the
// authenticated caller and the (verified) body.
type request struct {
	r       *http.Request
	ctx     context.Context
	id      string
	bucket  string
	key     string
	query   url.Values
	account string
	body    io.Reader
	// trailers returns trailing headers of an aws-chunked body once it has
	// been read to EOF; nil for other bodies.
	trailers func() map[string]string
}

type handler func(w http.ResponseWriter, q *request) error

// New opens (creating if needed) the store under cfg.Dir.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("s3: Config.Dir is required")
	}
	if cfg.Verifier == nil {
		return nil, errors.New("s3: Config.Verifier is required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	st, err := openStore(context.Background(), cfg.Dir)
	if err != nil {
		return nil, err
	}
	st.keys = cfg.Keyring
	s.store = st
	s.ops = map[string]handler{
		"ListBuckets":             s.listBuckets,
		"CreateBucket":            s.createBucket,
		"HeadBucket":              s.headBucket,
		"DeleteBucket":            s.deleteBucket,
		"GetBucketLocation":       s.getBucketLocation,
		"GetBucketVersioning":     s.getBucketVersioning,
		"PutBucketVersioning":     s.putBucketVersioning,
		"ListObjects":             s.listObjectsV1,
		"ListObjectsV2":           s.listObjectsV2,
		"ListObjectVersions":      s.listObjectVersions,
		"PutObject":               s.putObject,
		"GetObject":               s.getObject,
		"HeadObject":              s.getObject,
		"DeleteObject":            s.deleteObject,
		"DeleteObjects":           s.deleteObjects,
		"CopyObject":              s.copyObject,
		"CreateMultipartUpload":   s.createMultipartUpload,
		"UploadPart":              s.uploadPart,
		"UploadPartCopy":          s.uploadPartCopy,
		"CompleteMultipartUpload": s.completeMultipartUpload,
		"AbortMultipartUpload":    s.abortMultipartUpload,
		"ListParts":               s.listParts,
		"ListMultipartUploads":    s.listMultipartUploads,
		"GetObjectTagging":        s.getObjectTagging,
		"PutObjectTagging":        s.putObjectTagging,
		"DeleteObjectTagging":     s.deleteObjectTagging,
	}
	return s, nil
}

// Ping reports whether the endpoint could serve a request now: its
// database answers a read and its object directory is there (for the
// server's readiness check).
func (s *Server) Ping(ctx context.Context) error {
	var one int
	if err := s.store.db.QueryRowContext(ctx, "SELECT 1 FROM buckets LIMIT 1").Scan(&one); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("s3 metadata: %w", err)
	}
	if _, err := os.Stat(filepath.Join(s.store.dir, "data")); err != nil {
		return fmt.Errorf("s3 objects: %w", err)
	}
	return nil
}

// Close releases the database. In-flight requests should be drained first.
func (s *Server) Close() error { return s.store.close() }

// unsupported lists subresources we recognise but do not implement, so they
// get 501 NotImplemented rather than being mistaken for a plain GET/PUT.
var unsupported = []string{"acl", "policy", "tagging", "cors", "lifecycle", "encryption", "website",
	"logging", "notification", "replication", "requestPayment", "accelerate", "analytics", "inventory",
	"metrics", "intelligent-tiering", "object-lock", "ownershipControls", "publicAccessBlock",
	"policyStatus", "legal-hold", "retention", "torrent", "restore", "select", "attributes"}

// operation names the S3 operation a request is, from its method, whether
// it names a bucket and a key, and its subresource query parameters.
func operation(r *http.Request, bucket, key string, q url.Values) string {
	has := func(k string) bool { _, ok := q[k]; return ok }
	sub := func() bool {
		for _, k := range unsupported {
			if has(k) {
				return true
			}
		}
		return false
	}
	switch {
	case bucket == "":
		if r.Method == http.MethodGet {
			return "ListBuckets"
		}
	case key == "":
		if sub() {
			return ""
		}
		switch r.Method {
		case http.MethodGet:
			switch {
			case has("location"):
				return "GetBucketLocation"
			case has("versioning"):
				return "GetBucketVersioning"
			case has("versions"):
				return "ListObjectVersions"
			case has("uploads"):
				return "ListMultipartUploads"
			case q.Get("list-type") == "2":
				return "ListObjectsV2"
			}
			return "ListObjects"
		case http.MethodPut:
			if has("versioning") {
				return "PutBucketVersioning"
			}
			return "CreateBucket"
		case http.MethodHead:
			return "HeadBucket"
		case http.MethodDelete:
			return "DeleteBucket"
		case http.MethodPost:
			if has("delete") {
				return "DeleteObjects"
			}
		}
	default:
		if has("tagging") {
			switch r.Method {
			case http.MethodGet:
				return "GetObjectTagging"
			case http.MethodPut:
				return "PutObjectTagging"
			case http.MethodDelete:
				return "DeleteObjectTagging"
			}
			return ""
		}
		if sub() {
			return ""
		}
		copySrc := r.Header.Get("X-Amz-Copy-Source") != ""
		switch r.Method {
		case http.MethodGet:
			if has("uploadId") {
				return "ListParts"
			}
			return "GetObject"
		case http.MethodHead:
			return "HeadObject"
		case http.MethodPut:
			switch {
			case has("uploadId") && copySrc:
				return "UploadPartCopy"
			case has("uploadId"):
				return "UploadPart"
			case copySrc:
				return "CopyObject"
			}
			return "PutObject"
		case http.MethodPost:
			switch {
			case has("uploads"):
				return "CreateMultipartUpload"
			case has("uploadId"):
				return "CompleteMultipartUpload"
			}
		case http.MethodDelete:
			if has("uploadId") {
				return "AbortMultipartUpload"
			}
			return "DeleteObject"
		}
	}
	return ""
}

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// ServeHTTP serves one path-style S3 request: /bucket/key...
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := newRequestID()
	w.Header().Set("x-amz-request-id", id)
	w.Header().Set("x-amz-id-2", id)
	w.Header().Set("Server", "Ocellus")
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	op := operation(r, bucket, key, q)
	awsproto.OutcomeOf(r.Context()).SetOp(op)
	res, err := s.authenticate(r)
	if err != nil {
		s.writeError(w, r, id, err)
		return
	}
	h, ok := s.ops[op]
	if !ok {
		s.writeError(w, r, id, errf("NotImplemented", ""))
		return
	}
	if err := checkSecurityHeaders(op, r.Header); err != nil {
		s.writeError(w, r, id, err)
		return
	}
	if writeOps[op] {
		if err := s.cfg.Space.Check(declaredLength(r)); err != nil {
			s.writeError(w, r, id, err)
			return
		}
	}
	req := &request{r: r, ctx: r.Context(), id: id, bucket: bucket, key: key, query: q, account: res.Credential.AccountID}
	if err := s.setBody(req, res); err != nil {
		s.writeError(w, r, id, err)
		return
	}
	if bucket != "" && op != "CreateBucket" {
		if err := s.checkBucketAccess(req); err != nil {
			s.writeError(w, r, id, err)
			return
		}
	}
	if err := h(w, req); err != nil {
		s.writeError(w, r, id, err)
		return
	}
	s.log.Debug("s3", "request_id", id, "op", op, "bucket", bucket, "key", key)
}

// writeOps are the operations that need free space on the data volume;
// deletions and reads always run, so a full volume can be cleaned up.
var writeOps = map[string]bool{"CreateBucket": true, "PutBucketVersioning": true, "PutObject": true, "CopyObject": true,
	"CreateMultipartUpload": true, "UploadPart": true, "UploadPartCopy": true, "CompleteMultipartUpload": true,
	"PutObjectTagging": true}

// declaredLength is the body length a request announces (the decoded
// length of an aws-chunked body), 0 when unknown.
func declaredLength(r *http.Request) int64 {
	if v, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64); err == nil {
		return v
	}
	return max(r.ContentLength, 0)
}

// authenticate verifies the SigV4 signature. S3 signs the declared payload
// hash (X-Amz-Content-Sha256), not the body, so the body is checked against
// that declaration as it streams (see setBody).
func (s *Server) authenticate(r *http.Request) (*sigv4.Result, error) {
	if strings.HasPrefix(r.Header.Get("Authorization"), "AWS ") || r.URL.Query().Get("AWSAccessKeyId") != "" {
		// Signature Version 2, e.g. `aws s3 presign` from AWS CLI v1 unless
		// s3.signature_version is s3v4. AWS answers the same for new regions.
		return nil, errf("InvalidRequest", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
	}
	if !sigv4.Present(r) {
		return nil, errf("AccessDenied", "Anonymous access is not allowed.")
	}
	payload := r.Header.Get(sigv4.HeaderContentSHA256)
	if r.URL.Query().Get("X-Amz-Algorithm") != "" {
		if payload == "" {
			payload = sigv4.UnsignedPayload
		}
	} else if payload == "" {
		return nil, errf("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
	}
	res, err := s.cfg.Verifier.Verify(r, payload)
	if err != nil {
		var ve *sigv4.Error
		if !errors.As(err, &ve) {
			return nil, err
		}
		switch ve.Code {
		case sigv4.ErrUnknownKey:
			return nil, errf("InvalidAccessKeyId", "")
		case sigv4.ErrSignature:
			return nil, errf("SignatureDoesNotMatch", "%s", ve.Message)
		case sigv4.ErrSkewed:
			return nil, errf("RequestTimeTooSkewed", "%s", ve.Message)
		case sigv4.ErrExpired:
			return nil, errf("AccessDenied", "Request has expired")
		case sigv4.ErrExpiresRange:
			return nil, errf("AccessDenied", "%s", ve.Message)
		case sigv4.ErrMissing:
			return nil, errf("AccessDenied", "%s", ve.Message)
		default:
			if r.Header.Get("Authorization") != "" {
				return nil, errf("AuthorizationHeaderMalformed", "%s", ve.Message)
			}
			return nil, errf("InvalidArgument", "%s", ve.Message)
		}
	}
	if res.Auth.Service != "s3" {
		return nil, errf("AuthorizationHeaderMalformed", "The authorization header is malformed; incorrect service %q. This endpoint belongs to \"s3\".", res.Auth.Service)
	}
	return res, nil
}

// setBody builds the reader handlers consume: it decodes aws-chunked bodies
// (checking chunk signatures) and checks a declared hex SHA-256. Failures
// surface as read errors, and handlers only commit after a clean EOF, so a
// body that fails verification stores nothing.
func (s *Server) setBody(q *request, res *sigv4.Result) error {
	r := q.r
	mode := r.Header.Get(sigv4.HeaderContentSHA256)
	var body io.Reader = r.Body
	if r.Body == nil {
		body = http.NoBody
	}
	switch mode {
	case "", sigv4.UnsignedPayload:
	case sigv4.StreamingPayload, sigv4.StreamingPayloadTrailer, sigv4.StreamingUnsignedPayloadTrailer:
		opt := chunked.Options{Trailer: mode != sigv4.StreamingPayload}
		if mode != sigv4.StreamingUnsignedPayloadTrailer {
			if res.Auth.Presigned {
				return errf("InvalidRequest", "Streaming signed payloads require the Authorization header")
			}
			opt.Signing = &chunked.Signing{
				Key:     res.SigningKey,
				Seed:    strings.ToLower(res.Auth.Signature),
				AmzDate: res.Auth.AmzDate.UTC().Format("20060102T150405Z"),
				Scope:   res.Auth.Scope(),
			}
		}
		cr := chunked.NewReader(body, opt)
		body = cr
		q.trailers = cr.Trailers
		if dl := r.Header.Get("X-Amz-Decoded-Content-Length"); dl != "" {
			n, err := parseInt(dl)
			if err != nil || n < 0 {
				return errf("InvalidArgument", "Invalid x-amz-decoded-content-length %q", dl)
			}
			body = &lengthReader{r: body, want: n}
		} else if opt.Signing != nil {
			return errf("MissingContentLength", "You must provide the x-amz-decoded-content-length header.")
		}
	default:
		if len(mode) != 64 || !isHex(mode) {
			return errf("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-... or a hex SHA-256 of the payload")
		}
		body = newHashCheck(body, strings.ToLower(mode))
	}
	q.body = body
	return nil
}

// checkBucketAccess rejects callers who do not own an existing bucket. The
// answer is AccessDenied whatever the operation, so another account learns
// that the name is taken but never anything inside it.
func (s *Server) checkBucketAccess(q *request) error {
	b, err := getBucket(q.ctx, s.store.db, q.bucket)
	if err != nil {
		return err
	}
	if b != nil && b.Account != q.account {
		return errf("AccessDenied", "")
	}
	return nil
}

// bucketFor returns the caller's bucket or NoSuchBucket.
func (s *Server) bucketFor(q *request) (*bucketRow, error) {
	b, err := getBucket(q.ctx, s.store.db, q.bucket)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errf("NoSuchBucket", "")
	}
	if b.Account != q.account {
		return nil, errf("AccessDenied", "")
	}
	return b, nil
}
