// Package pgtest starts a private PostgreSQL cluster for a test: initdb in
// a fresh directory, a server on 127.0.0.1 at a free port, stopped when the
// test ends. It is test support (only _test.go files import it; it sits
// under internal/e2e, which the layers test places above every production
// package) and needs nothing but the standard library and the PostgreSQL
// server binaries (Debian package postgresql; scripts/install-deps.sh
// installs it).
//
// PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as the
// postgres user (runuser). The Unix socket goes to a short directory under
// /tmp, as a long path (t.TempDir) exceeds the socket name limit and stops
// the server starting.
//
// Without PostgreSQL the test is skipped, saying why; under `make test`
// (OCELLUS_MAKE_TEST set) it fails instead, so that CI never passes
// without having run it.
package pgtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Cluster is a running PostgreSQL server owned by one test.
type Cluster struct {
	// Host and Port are where it listens (TCP, trust authentication for
	// the superuser postgres).
	Host string
	Port int

	dir string // socket directory, holding data/ and log
	bin string
	dbs atomic.Int64
}

// Start starts a cluster and stops it (pg_ctl stop -m immediate, then the
// directory is removed) when t ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	c, err := start()
	if c != nil {
		t.Cleanup(c.stop)
	}
	check(t, err)
	return c
}

// Shared returns the one cluster of the test binary, started by the first
// test that asks (skipped or failed as Start would be, for that test and
// every later one). The package's TestMain calls StopShared after m.Run.
// It suits packages whose tests each take a fresh database (NewDatabase)
// and would otherwise pay a cluster start per test.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	shared.once.Do(func() { shared.c, shared.err = start() })
	check(t, shared.err)
	return shared.c
}

// StopShared stops the cluster Shared started, if any.
func StopShared() {
	if shared.c != nil {
		shared.c.stop()
	}
}

var shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// notInstalled is the error of start when this machine cannot run a
// cluster: a skip outside make test.
type notInstalled string

func (w notInstalled) Error() string { return string(w) }

// check skips or fails t for start's error.
func check(t testing.TB, err error) {
	t.Helper()
	var why notInstalled
	switch {
	case err == nil:
	case errors.As(err, &why) && os.Getenv("OCELLUS_MAKE_TEST") == "":
		t.Skipf("skipped: %s (apt-get install postgresql, or run scripts/install-deps.sh)", why)
	case errors.As(err, &why):
		t.Fatalf("PostgreSQL is needed under make test: %s (scripts/install-deps.sh installs the postgresql package)", why)
	default:
		t.Fatal(err)
	}
}

// start starts a cluster. On an error after the directory was made it
// returns the cluster too, for the caller to stop.
func start() (*Cluster, error) {
	bin, why := binDir()
	if why == "" && os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			why = "running as root (PostgreSQL refuses it) and there is no postgres user to run it as"
		}
	}
	if why != "" {
		return nil, notInstalled(why)
	}
	dir, err := os.MkdirTemp("/tmp", "ocpg")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Host: "127.0.0.1", dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, _ := user.Lookup("postgres")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return c, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.command("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C").CombinedOutput(); err != nil {
		return c, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if c.Port, err = freePort(); err != nil {
		return c, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", c.Port, dir)
	if out, err := c.command("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return c, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return c, nil
}

// URL is the postgres:// URL of database db on the cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@%s:%d/%s?sslmode=disable", c.Host, c.Port, db)
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// NewDatabase creates an empty database named after t (and a counter, so
// that each call gets its own) and returns its URL.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	name = fmt.Sprintf("t%d_%s", c.dbs.Add(1), name)
	if out, err := c.command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", c.Host, "-p", strconv.Itoa(c.Port), "-U", "postgres", "-d", "postgres",
		"-c", `CREATE DATABASE "`+name+`"`).CombinedOutput(); err != nil {
		t.Fatalf("create database %s: %v\n%s", name, err, out)
	}
	return c.URL(name)
}

func (c *Cluster) stop() {
	if _, err := os.Stat(filepath.Join(c.dir, "data", "postmaster.pid")); err == nil {
		c.command("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop").Run()
	}
	os.RemoveAll(c.dir)
}

// command runs a PostgreSQL program, as the postgres user when we are root.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	p := filepath.Join(c.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", p}, args...)...)
	}
	return exec.Command(p, args...)
}

// binDir finds the server binaries: Debian keeps them out of PATH, under
// /usr/lib/postgresql/<major>/bin (the newest is taken); else PATH.
func binDir() (dir, why string) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Slice(found, func(i, j int) bool { return major(found[i]) < major(found[j]) })
	if len(found) > 0 {
		return filepath.Dir(found[len(found)-1]), ""
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), ""
		}
	}
	return "", "no PostgreSQL server binaries (pg_ctl, initdb) under /usr/lib/postgresql/*/bin or in PATH"
}

func major(pgctl string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(pgctl))))
	return n
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
