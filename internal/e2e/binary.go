package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/ocellus once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ocellus-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ocellus")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/ocellus/ocellus/cmd/ocellus").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/ocellus: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// process is the real binary serving one data dir.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once Wait returned
}

// readyTimeout bounds a binary's start-up: opening the store, recovering
// in-progress work and listening.
const readyTimeout = 60 * time.Second

// BinaryConfig configures StartBinary. Zero values are the defaults.
type BinaryConfig struct {
	DataDir string   // "" = a temporary directory
	Env     []string // "KEY=value" added to the test's environment (e.g. a test hook)
	Flags   []string // more flags of `ocellus serve`
}

// StartBinary runs `ocellus serve` on cfg.DataDir with an accounts file of
// Alice and Bob. The binary listens on 127.0.0.1:0 and prints its
// address; StartBinary returns once that address answers
// GET /_ocellus/health (with any status: a degraded node serves too). The
// process is killed when the test ends; Kill9 and Stop end it before.
func StartBinary(t testing.TB, cfg BinaryConfig) *Server {
	t.Helper()
	dataDir := cfg.DataDir
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	accounts := filepath.Join(t.TempDir(), "accounts.json")
	writeAccounts(t, accounts, Alice, Bob)
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--accounts", accounts}, cfg.Flags...)
	cmd := exec.Command(Binary(t), args...)
	if len(cfg.Env) > 0 {
		cmd.Env = append(os.Environ(), cfg.Env...)
	}
	cmd.Stderr = os.Stderr
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		t.Fatal(err)
	}
	pw.Close()
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.kill)

	// The binary listens before it announces the address, so once the line
	// is read the port is taken by it: no free-port race.
	addr := make(chan string, 1)
	go func() {
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		announced := false
		for sc.Scan() {
			line := sc.Text()
			if _, rest, ok := strings.Cut(line, "Ocellus listening on "); ok && !announced {
				announced = true
				url, _, _ := strings.Cut(rest, " ")
				addr <- url
			}
		}
		io.Copy(io.Discard, pr)
	}()
	var url string
	select {
	case url = <-addr:
	case <-p.exited:
		t.Fatalf("ocellus serve exited before listening: %v", cmd.ProcessState)
	case <-time.After(readyTimeout):
		p.kill()
		t.Fatalf("ocellus serve did not listen within %s", readyTimeout)
	}
	s := &Server{URL: url, DataDir: dataDir, t: t, proc: p}
	Poll(t, readyTimeout, "GET /_ocellus/health", func() (string, bool) {
		resp, err := http.Get(url + "/_ocellus/health")
		if err != nil {
			return err.Error(), false
		}
		resp.Body.Close()
		return resp.Status, true // any answer: a degraded node still serves
	})
	return s
}

func writeAccounts(t testing.TB, path string, accounts ...ocellus.Account) {
	t.Helper()
	type entry struct{ AccountId, AccessKeyId, SecretAccessKey string }
	var list []entry
	for _, a := range accounts {
		list = append(list, entry{a.ID, a.AccessKeyID, a.SecretAccessKey})
	}
	b, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Kill9 kills the binary with SIGKILL, as a crash or power cut would, and
// waits for it to be gone. Only a StartBinary server can be killed.
func (s *Server) Kill9() {
	s.t.Helper()
	if s.proc == nil {
		s.t.Fatal("e2e: Kill9 needs a server started with StartBinary")
	}
	s.proc.kill()
}

func (p *process) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop asks the binary to shut down cleanly (SIGTERM) and waits; it is
// killed if it has not exited within 30 s.
func (p *process) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}
