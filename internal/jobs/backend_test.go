package jobs

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// backend is one database the queue runs on. Every test runs on each.
type backend struct {
	name string
	// store returns the location of a fresh, empty queue store for t.
	store func(t testing.TB) string
	// open opens a Queue on the store; close stops it and releases the
	// store, so that it can be opened again.
	open func(t testing.TB, store string, cfg Config) (q *Queue, close func())
}

func backends(t testing.TB) []backend {
	return []backend{sqliteBackend(), postgresBackend()}
}

func sqliteBackend() backend {
	return backend{
		name:  "sqlite",
		store: func(t testing.TB) string { return filepath.Join(t.TempDir(), "jobs.db") },
		open: func(t testing.TB, store string, cfg Config) (*Queue, func()) {
			db, err := OpenSQLiteDB(store)
			if err != nil {
				t.Fatal(err)
			}
			q, err := Open(context.Background(), db, cfg)
			if err != nil {
				db.Close()
				t.Fatal(err)
			}
			return q, closer(t, q, func() { db.Close() })
		},
	}
}

func postgresBackend() backend {
	return backend{
		name: "postgres",
		store: func(t testing.TB) string {
			admin := postgresURL(t)
			// One database per test, so that tests do not see each other's jobs.
			name := "jobs_" + strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_"))
			if len(name) > 60 {
				name = name[len(name)-60:]
			}
			pool, err := pgxpool.New(context.Background(), admin)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			if _, err := pool.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
				t.Fatal(err)
			}
			return strings.Replace(admin, "dbname=postgres", "dbname="+name, 1)
		},
		open: func(t testing.TB, store string, cfg Config) (*Queue, func()) {
			pool, err := pgxpool.New(context.Background(), store)
			if err != nil {
				t.Fatal(err)
			}
			q, err := OpenPostgres(context.Background(), pool, cfg)
			if err != nil {
				pool.Close()
				t.Fatal(err)
			}
			return q, closer(t, q, pool.Close)
		},
	}
}

// closer closes q then release, once, and at the end of t at the latest.
func closer(t testing.TB, q *Queue, release func()) func() {
	var once sync.Once
	f := func() {
		once.Do(func() {
			if err := q.Close(context.Background()); err != nil {
				t.Errorf("close: %v", err)
			}
			release()
		})
	}
	t.Cleanup(f)
	return f
}

// A private PostgreSQL cluster, started on first use by a test that needs
// it, and stopped by TestMain. OCELLUS_TEST_POSTGRES_URL (a keyword/value DSN
// with dbname=postgres) uses an existing server instead.
var pg struct {
	once sync.Once
	url  string
	dir  string
	err  error
}

const pgBin = "/usr/lib/postgresql/15/bin"

func postgresURL(t testing.TB) string {
	pg.once.Do(func() {
		if u := os.Getenv("OCELLUS_TEST_POSTGRES_URL"); u != "" {
			pg.url = u
			return
		}
		if _, err := os.Stat(filepath.Join(pgBin, "pg_ctl")); err != nil {
			pg.err = fmt.Errorf("skip: no PostgreSQL binaries in %s", pgBin)
			return
		}
		pg.url, pg.err = startPostgres()
	})
	if pg.err != nil {
		if strings.HasPrefix(pg.err.Error(), "skip:") {
			t.Skip(pg.err)
		}
		t.Fatal(pg.err)
	}
	return pg.url
}

func startPostgres() (string, error) {
	dir, err := os.MkdirTemp("", "ocellus-jobs-pg-")
	if err != nil {
		return "", err
	}
	pg.dir = dir
	// PostgreSQL refuses to run as root: run it as the postgres user then.
	var run func(name string, args ...string) *exec.Cmd = exec.Command
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", fmt.Errorf("skip: running as root and no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", err
		}
		run = func(name string, args ...string) *exec.Cmd {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := run(filepath.Join(pgBin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses='' -c fsync=off -c max_connections=200", port, dir)
	if out, err := run(filepath.Join(pgBin, "pg_ctl"), "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		return "", fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", dir, port), nil
}

func stopPostgres() {
	if pg.dir == "" {
		return
	}
	args := []string{filepath.Join(pgBin, "pg_ctl"), "-D", filepath.Join(pg.dir, "data"), "-m", "immediate", "stop"}
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "postgres", "--"}, args...)
		exec.Command("runuser", args...).Run()
	} else {
		exec.Command(args[0], args[1:]...).Run()
	}
	os.RemoveAll(pg.dir)
}

// freePort returns a TCP port nothing listens on: the socket is a Unix one,
// but its name carries the port number and must not collide.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopPostgres()
	os.Exit(code)
}
