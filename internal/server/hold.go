package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// TestHoldEnv names the environment variable through which tests make the
// ocellus binary hold jobs: FOR TESTS ONLY, never set in production. Its
// value is a comma-separated list of kind:point (a job kind of package
// control, such as train-lookout-model, and a hold point, after-load or
// before-save), e.g. OCELLUS_TEST_HOLD=train-lookout-model:after-load;
// "record" holds nothing. See FileHold for what a held job does.
const TestHoldEnv = "OCELLUS_TEST_HOLD"

// HoldDir is where, under the data dir, a held job announces itself.
const HoldDir = "test-holds"

// FileHold returns a Config.Hold (a test hook) that holds every job of a
// kind listed in spec (as TestHoldEnv) at the listed point: the job writes
// the file <dataDir>/test-holds/<kind>.<point>, then blocks until a test
// removes that file (releasing it), the job's ctx ends (shutdown) or the
// process is killed. The file is written atomically, so a test that sees
// it knows the job is held. Whatever spec lists, every hold point any job
// reaches is appended to <dataDir>/test-holds/calls.log as "kind point",
// so that a test can count how often a job kind ran across restarts.
// It returns nil for an empty spec.
func FileHold(spec, dataDir string) (func(ctx context.Context, kind, point string), error) {
	if spec == "" {
		return nil, nil
	}
	want := map[string]bool{}
	for _, kp := range strings.Split(spec, ",") {
		if strings.TrimSpace(kp) == "record" {
			continue
		}
		kind, point, ok := strings.Cut(strings.TrimSpace(kp), ":")
		if !ok || kind == "" || point == "" || strings.ContainsAny(kind+point, `/\`) {
			return nil, fmt.Errorf("%s: %q is not kind:point", TestHoldEnv, kp)
		}
		want[kind+"."+point] = true
	}
	dir := filepath.Join(dataDir, HoldDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	record := func(kind, point string) {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(filepath.Join(dir, "calls.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return
		}
		defer f.Close()
		fmt.Fprintf(f, "%s %s\n", kind, point)
	}
	return func(ctx context.Context, kind, point string) {
		record(kind, point)
		name := kind + "." + point
		if !want[name] {
			return
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path+".tmp", []byte(time.Now().UTC().Format(time.RFC3339Nano)), 0o644); err != nil {
			return
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			return
		}
		// Polling a file: the test process has no other way to signal us.
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := os.Stat(path); os.IsNotExist(err) {
					return
				}
			}
		}
	}, nil
}
