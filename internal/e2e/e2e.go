// Package e2e is the end-to-end test harness: it starts a whole Ocellus
// service (in-process on 127.0.0.1:0, or the real cmd/ocellus binary so
// that a test can kill -9 it), hands out the real AWS SDK clients for each
// API (aws-sdk-go-v2 Rekognition and S3, aws-sdk-go v1 Lookout for Vision)
// and polls with a deadline instead of sleeping.
//
// It is test support: only _test.go files import it (cmd/ocellus's
// layers test places it above every other package, so no production
// package can).
package e2e

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	v1aws "github.com/aws/aws-sdk-go/aws"
	v1creds "github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	lv "github.com/aws/aws-sdk-go/service/lookoutforvision"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/server"
)

// The two test accounts every harness server knows, unless the test names
// its own.
var (
	Alice = ocellus.Account{ID: "111111111111", AccessKeyID: "AKIDALICE", SecretAccessKey: "alice-secret"}
	Bob   = ocellus.Account{ID: "222222222222", AccessKeyID: "AKIDBOB", SecretAccessKey: "bob-secret"}
)

// Region is the region the harness's servers and clients use.
const Region = "us-east-1"

// Server is a running Ocellus service: in-process (Start) or the real
// binary (StartBinary). It is stopped when the test ends.
type Server struct {
	URL     string // http://127.0.0.1:port
	DataDir string

	t testing.TB
	// In-process.
	srv    *server.Server
	cancel context.CancelFunc
	done   chan error
	// Real binary.
	proc *process
}

// Start opens a server with cfg and serves it on 127.0.0.1:0. An empty
// cfg.DataDir is a temporary directory; empty cfg.Accounts are Alice and
// Bob. The listener exists before Start returns, so the server can be
// called at once.
func Start(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if len(cfg.Accounts) == 0 {
		cfg.Accounts = []ocellus.Account{Alice, Bob}
	}
	// Listening first gives the address other nodes reach this one on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClusterURL == "" {
		cfg.ClusterURL = "http://" + ln.Addr().String()
	}
	srv, err := server.Open(context.Background(), cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{URL: "http://" + ln.Addr().String(), DataDir: cfg.DataDir, t: t, srv: srv, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(s.Stop)
	return s
}

// Stop shuts the server down as a clean shutdown would: an in-process
// server stops serving and closes its store and queue; the binary gets
// SIGTERM and is waited for. Stopping twice is a no-op.
func (s *Server) Stop() {
	switch {
	case s.srv != nil:
		s.cancel()
		<-s.done
		s.srv.Close()
		s.srv = nil
	case s.proc != nil:
		s.proc.stop()
	}
}

// Config is the aws-sdk-go-v2 configuration for account a (standard
// retryer, static credentials, the harness region). Tests that need other
// clients (STS, a wrong secret) build on it.
func Config(a ocellus.Account) aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(a.AccessKeyID, a.SecretAccessKey, ""),
		// The SDK's standard retryer, as users have it: among other things
		// it retries the net.ErrClosed that net/http can surface when a
		// loopback server answers before the client finished its write
		// (aws/aws-sdk-go-v2#2737). Client errors are never retried, so
		// tests' error assertions are unaffected.
	}
}

// Rekognition is the real aws-sdk-go-v2 Rekognition client on s, as a.
func (s *Server) Rekognition(a ocellus.Account) *rekognition.Client {
	return rekognition.NewFromConfig(Config(a), func(o *rekognition.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// S3 is the real aws-sdk-go-v2 S3 client on s (path-style), as a.
func (s *Server) S3(a ocellus.Account) *s3.Client {
	return s3.NewFromConfig(Config(a), func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.URL)
		o.UsePathStyle = true
	})
}

// LookoutVision is the real aws-sdk-go v1 Lookout for Vision client on s,
// as a (the v2 SDK has no Lookout for Vision client).
func (s *Server) LookoutVision(a ocellus.Account) *lv.LookoutForVision {
	sess := session.Must(session.NewSession(&v1aws.Config{
		Region: v1aws.String(Region), Endpoint: v1aws.String(s.URL),
		Credentials: v1creds.NewStaticCredentials(a.AccessKeyID, a.SecretAccessKey, ""),
	}))
	return lv.New(sess)
}

// Poll calls check until it reports done, and returns its last value. It
// waits 10 ms between calls at first, growing to 100 ms; once timeout has
// passed it fails the test with what (if not "") and the last value. check
// may itself call t.Fatal on an error that polling cannot cure.
func Poll[T any](t testing.TB, timeout time.Duration, what string, check func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := 10 * time.Millisecond
	for {
		v, done := check()
		if done {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %s: still %+v", timeout, what, v)
		}
		time.Sleep(wait)
		wait = min(2*wait, 100*time.Millisecond)
	}
}
