package server

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"

	"github.com/ocellus/ocellus/internal/api/s3"
	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/blob"
	"github.com/ocellus/ocellus/internal/keyring"
	"github.com/ocellus/ocellus/internal/sigv4"
)

// openS3 starts the embedded S3 endpoint under <data-dir>/s3, or, with an
// external S3 (--s3-endpoint), serves none: S3 requests are refused
// saying where S3 is, and readiness asks the artifact bucket.
func (s *Server) openS3(v *sigv4.Verifier, kr *keyring.Keyring, artifacts *blob.Bucket) error {
	if s.cfg.S3Endpoint != "" {
		s.s3 = refuseS3(s.cfg.S3Endpoint)
		s.s3Ready = artifacts.Check
		return nil
	}
	srv, err := s3.New(s3.Config{Dir: filepath.Join(s.cfg.DataDir, "s3"), Region: s.cfg.Region, Verifier: v, Logger: s.log, Now: s.cfg.Now, Space: s.space, Keyring: kr})
	if err != nil {
		return err
	}
	s.s3 = srv
	s.s3Ready = srv.Ping
	s.close = append(s.close, srv.Close)
	return nil
}

// externalS3 checks the external S3 settings and returns the artifact
// bucket on it; nil without --s3-endpoint (the embedded endpoint), when
// the other S3 settings must be empty too, so that a mistyped endpoint
// never silently falls back to the data dir.
func (s *Server) externalS3() (*blob.Bucket, error) {
	c := s.cfg
	if c.S3Endpoint == "" {
		if c.ArtifactBucket != "" {
			return nil, errors.New("--artifact-bucket needs --s3-endpoint: with the embedded S3 endpoint, artifacts stay in the data dir")
		}
		return nil, nil
	}
	u, err := url.Parse(c.S3Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("--s3-endpoint %q: expected an http:// or https:// URL of an S3 service, such as http://127.0.0.1:7070 (path-style addressing; no credentials, path or query in it)", c.S3Endpoint)
	}
	if c.S3AccessKeyID == "" || c.S3SecretAccessKey == "" {
		return nil, errors.New("--s3-endpoint needs the service's S3 credentials: --s3-access-key-id and --s3-secret-access-key (or OCELLUS_S3_ACCESS_KEY_ID/OCELLUS_S3_SECRET_ACCESS_KEY, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
	}
	if c.ArtifactBucket == "" {
		return nil, errors.New("--s3-endpoint needs --artifact-bucket: the bucket of that S3 where trained models are kept (sealed), so that every node reads them")
	}
	return blob.NewBucket(c.S3Endpoint, c.S3Region, c.S3AccessKeyID, c.S3SecretAccessKey, c.ArtifactBucket), nil
}

// s3Error is S3's XML error document.
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
}

// refuseS3 answers every S3 request (signed for s3, or unsigned and
// S3-shaped) when Ocellus uses an external S3: it is not an S3 endpoint
// then, and says which one is, in the error shape S3 clients parse.
func refuseS3(endpoint string) http.Handler {
	msg := fmt.Sprintf("This Ocellus does not serve S3: its S3 is %s (--s3-endpoint). Send S3 requests to that endpoint, with credentials it knows; Ocellus reads your buckets there.", endpoint)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := awsproto.NewRequestID()
		awsproto.OutcomeOf(r.Context()).SetCode("InvalidRequest")
		body, _ := xml.Marshal(s3Error{Code: "InvalidRequest", Message: msg, Resource: r.URL.Path, RequestID: id})
		h := w.Header()
		h.Set("Content-Type", "application/xml")
		h.Set("x-amz-request-id", id)
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.Set("Content-Length", fmt.Sprint(len(xml.Header)+len(body)))
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(xml.Header))
		w.Write(body)
	})
}
