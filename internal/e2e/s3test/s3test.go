// Package s3test starts an independent S3 for a test: versitygw with its
// posix backend in a fresh directory, on 127.0.0.1 at a free port, with
// root credentials, stopped when the test ends. It is test support (only
// _test.go files import it; it sits under internal/e2e, which the layers
// test places above every production package), so that Ocellus's
// external-S3 mode (--s3-endpoint) is tested against an S3 it did not
// write.
//
// versitygw is built by scripts/install-deps.sh into the tools directory
// (OCELLUS_TOOLS_DIR, default ~/.cache/ocellus/tools); OCELLUS_VERSITYGW
// may name another binary, and PATH is tried last. Without it the test is
// skipped, saying why; under `make test` (OCELLUS_MAKE_TEST set) it fails
// instead, so that CI never passes without having run it.
package s3test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Gateway is a running versitygw owned by one test.
type Gateway struct {
	URL string // http://127.0.0.1:port
	// AccessKeyID and SecretAccessKey are the root credentials, which may
	// use every bucket.
	AccessKeyID, SecretAccessKey string
	Region                       string
	// Dir is the posix backend's root: one directory a bucket, one file an
	// object.
	Dir string

	cmd    *exec.Cmd
	exited chan struct{}
}

// readyTimeout bounds versitygw's start (about 50 ms when idle).
const readyTimeout = 15 * time.Second

// Start starts a gateway and stops it when t ends.
func Start(t testing.TB) *Gateway {
	t.Helper()
	bin, why := Binary()
	if why != "" {
		if os.Getenv("OCELLUS_MAKE_TEST") != "" {
			t.Fatalf("versitygw is needed under make test: %s (scripts/install-deps.sh builds it)", why)
		}
		t.Skipf("skipped: %s (run scripts/install-deps.sh, or set OCELLUS_VERSITYGW to a versitygw binary)", why)
	}
	root := t.TempDir()
	g := &Gateway{AccessKeyID: "ocellus-root", SecretAccessKey: "ocellus-root-secret", Region: "us-east-1",
		Dir: filepath.Join(root, "s3"), exited: make(chan struct{})}
	if err := os.Mkdir(g.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	g.URL = "http://" + addr
	logPath := filepath.Join(root, "versitygw.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	g.cmd = exec.Command(bin, "--access", g.AccessKeyID, "--secret", g.SecretAccessKey, "--region", g.Region,
		"--port", addr, "--quiet", "posix", g.Dir)
	// Its environment must not name other root keys or an IAM service.
	g.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + root}
	g.cmd.Stdout, g.cmd.Stderr = log, log
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { g.cmd.Wait(); close(g.exited) }()
	t.Cleanup(g.stop)
	if err := g.waitReady(); err != nil {
		out, _ := os.ReadFile(logPath)
		t.Fatalf("versitygw on %s: %v\n%s", addr, err, out)
	}
	return g
}

// waitReady polls until the gateway answers HTTP (any status: an unsigned
// request is refused, which shows it serves).
func (g *Gateway) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	wait := 5 * time.Millisecond
	for {
		select {
		case <-g.exited:
			return errors.New("exited before it was ready")
		default:
		}
		resp, err := http.Get(g.URL + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", readyTimeout, err)
		}
		time.Sleep(wait)
		wait = min(2*wait, 100*time.Millisecond)
	}
}

func (g *Gateway) stop() {
	select {
	case <-g.exited:
		return
	default:
	}
	g.cmd.Process.Signal(os.Interrupt)
	select {
	case <-g.exited:
	case <-time.After(5 * time.Second):
		g.cmd.Process.Kill()
		<-g.exited
	}
}

// Client is an aws-sdk-go-v2 S3 client on the gateway with the root
// credentials (path-style).
func (g *Gateway) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       g.Region,
		BaseEndpoint: aws.String(g.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(g.AccessKeyID, g.SecretAccessKey, ""),
	})
}

// CreateBuckets creates the named buckets with the root credentials.
func (g *Gateway) CreateBuckets(t testing.TB, names ...string) {
	t.Helper()
	c := g.Client()
	for _, n := range names {
		if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(n)}); err != nil {
			t.Fatalf("create bucket %s: %v", n, err)
		}
	}
}

// Binary finds versitygw: OCELLUS_VERSITYGW, then the tools directory
// (OCELLUS_TOOLS_DIR, default ~/.cache/ocellus/tools), then PATH. why
// says what was looked for when none is found.
func Binary() (path, why string) {
	if p := os.Getenv("OCELLUS_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Sprintf("OCELLUS_VERSITYGW=%s: %v", p, err)
		}
		return p, ""
	}
	dir := os.Getenv("OCELLUS_TOOLS_DIR")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".cache", "ocellus", "tools")
		}
	}
	if dir != "" {
		p := filepath.Join(dir, "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, ""
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, ""
	}
	return "", fmt.Sprintf("no versitygw in %s or in PATH", filepath.Join(dir, "versitygw"))
}

// freePort returns a TCP port of 127.0.0.1 nothing listens on.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
