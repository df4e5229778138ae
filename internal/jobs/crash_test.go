package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
)

const crashChildEnv = "OCELLUS_JOBS_CRASH_CHILD"

// crashSpec tells the child process what to open.
type crashSpec struct {
	Backend     string // "sqlite" or "postgres"
	Store       string
	Dir         string // where the child reports that the job started
	ID          string
	MaxAttempts int
}

// TestCrashChild is the child process of TestKill9: it enqueues a job whose
// handler blocks, reports that the handler started, and waits to be killed.
// It does nothing in a normal test run.
func TestCrashChild(t *testing.T) {
	env := os.Getenv(crashChildEnv)
	if env == "" {
		t.Skip("child process of TestKill9")
	}
	var spec crashSpec
	if err := json.Unmarshal([]byte(env), &spec); err != nil {
		t.Fatal(err)
	}
	b := sqliteBackend()
	if spec.Backend == "postgres" {
		b = postgresBackend()
	}
	q, _ := b.open(t, spec.Store, Config{ID: spec.ID, MaxAttempts: spec.MaxAttempts, Handlers: map[string]Handler{
		"train": func(ctx context.Context, p []byte) error {
			// Publish atomically: the parent polls for the file.
			os.WriteFile(filepath.Join(spec.Dir, "started.tmp"), p, 0o644)
			os.Rename(filepath.Join(spec.Dir, "started.tmp"), filepath.Join(spec.Dir, "started"))
			<-ctx.Done()
			return ctx.Err()
		},
	}})
	if err := q.Enqueue(context.Background(), "train", "m1", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	// Wait for SIGKILL; the bound only reaps a child whose parent died.
	time.Sleep(2 * time.Minute)
}

// crashChild runs TestCrashChild on spec until the job's handler has started,
// then kills it with SIGKILL.
func crashChild(t *testing.T, spec crashSpec) {
	t.Helper()
	env, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+string(env))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill() // SIGKILL
		cmd.Wait()
	}()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(filepath.Join(spec.Dir, "started")); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child's job did not start; child output:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond) // polling a file the child writes; there is no event to wait on
	}
}

// TestKill9 kills a process in the middle of a job, then opens the queue
// again: the job must run again at once, not after River's rescue delay.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	forEach(t, func(t *testing.T, b backend) {
		spec := crashSpec{Backend: b.name, Store: b.store(t), Dir: t.TempDir(), ID: "node-a"}
		crashChild(t, spec)

		if b.name == "postgres" {
			// Another node must leave the job alone: it may be running.
			q, closeQ := b.open(t, spec.Store, Config{ID: "node-b", Handlers: map[string]Handler{
				"train": func(ctx context.Context, p []byte) error { t.Error("node-b ran node-a's job"); return nil },
			}})
			if s := lastState(t, q, "train", "m1"); s != rivertype.JobStateRunning {
				t.Errorf("node-b changed node-a's running job to %s", s)
			}
			closeQ()
		}

		got := make(chan string, 1)
		start := time.Now()
		q, _ := b.open(t, spec.Store, Config{ID: spec.ID, Handlers: map[string]Handler{
			"train": func(ctx context.Context, p []byte) error { got <- string(p); return nil },
		}})
		select {
		case p := <-got:
			if p != "hello" {
				t.Errorf("payload %q", p)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the interrupted job did not run again within 10 s of Open")
		}
		t.Logf("interrupted job ran again %s after Open started", time.Since(start).Round(time.Millisecond))
		waitFor(t, "completed", func() bool { return lastState(t, q, "train", "m1") == rivertype.JobStateCompleted })
		rows := jobRows(t, q, "train", "m1")
		if len(rows) != 1 || rows[0].Attempt != 2 || len(rows[0].Errors) != 1 ||
			!strings.Contains(rows[0].Errors[0].Error, "interrupted by process exit") {
			t.Errorf("job after rescue: %+v", rows[0])
		}
	})
}

// TestKill9AttemptsExhausted: a job that was running each time the process
// died is not run forever (work that crashes the process would crash-loop
// it): once its attempts are spent, Open reports it to OnFailed.
func TestKill9AttemptsExhausted(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	forEach(t, func(t *testing.T, b backend) {
		spec := crashSpec{Backend: b.name, Store: b.store(t), Dir: t.TempDir(), ID: "node-a", MaxAttempts: 1}
		crashChild(t, spec)
		f := newFailures()
		q, _ := b.open(t, spec.Store, Config{ID: spec.ID, MaxAttempts: 1, OnFailed: f.on, Handlers: map[string]Handler{
			"train": func(ctx context.Context, p []byte) error { t.Error("ran a job with no attempts left"); return nil },
		}})
		// Reported during Open.
		if f.count() != 1 || f.list[0].key != "m1" || f.list[0].payload != "hello" || !errors.Is(f.list[0].err, ErrInterrupted) {
			t.Errorf("OnFailed calls: %+v", f.list)
		}
		if s := lastState(t, q, "train", "m1"); s != rivertype.JobStateDiscarded {
			t.Errorf("state %s", s)
		}
	})
}
