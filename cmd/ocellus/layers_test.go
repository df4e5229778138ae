package main

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// The direction of imports documented in docs/ARCHITECTURE.md, checked on
// the real import graph (`go list`, non-test imports only):
//
//	cmd -> server -> api -> control -> adapters -> domain and plumbing
//
// A package may import a package of a lower layer, or one in its own
// subtree (store/sqlite -> store, api/s3 -> api/s3/chunked). Adapters do
// not import one another, and the API front-ends import only the control
// plane, the domain and the wire plumbing.
var layerOf = []struct {
	prefix string
	layer  int
}{
	{"internal/ocellus", 0}, // domain: standard library only
	{"internal/atomicfile", 0},
	{"internal/apimodel", 0},
	{"internal/sigv4", 0},
	{"internal/expect", 0},   // HTTP/1 request-head filter under the server
	{"internal/sqlitedb", 0}, // the one SQLite opener and migration scheme
	{"internal/pgtx", 0},     // one PostgreSQL transaction shared by the store and the queue
	{"internal/awsproto", 1},
	{"internal/store", 1},
	{"internal/blob", 1},
	{"internal/jobs", 1},
	{"internal/vision", 1},
	{"internal/vision/tfjs", 1},       // TensorFlow.js -> ONNX converter
	{"internal/vision/moderation", 1}, // moderation base model (nsfwjs on ONNX Runtime)
	{"internal/serve", 1},
	{"internal/keyring", 1},
	{"internal/policy", 1},
	{"internal/space", 1},
	{"internal/manifest", 0}, // Ground Truth manifest parsing: standard library only
	{"internal/control", 2},
	{"internal/convert", 2},             // label-format converters, used by commands
	{"internal/vision/cmd/", 5},         // benchmark commands
	{"internal/vision/anomaly/cmd/", 5}, // benchmark commands
	{"internal/api/", 3},
	{"internal/console", 3}, // web console: a front-end like the APIs
	{"internal/server", 4},
	{"cmd/", 5},
	// Test support: the end-to-end harness starts the whole server, so it
	// sits above it; at the top layer no production package can import it.
	{"internal/e2e", 6},
}

// apiMayImport is what the API front-ends (and the web console, a
// front-end in domain terms) may import besides their own subtree and
// layer 0.
var apiMayImport = []string{"internal/control", "internal/awsproto", "internal/space"}

// knownViolations are imports against the direction that the code still
// has, each with the work that removes it. The test fails when one of them
// disappears, so the list stays true.
var knownViolations = map[string]string{}

const modulePrefix = "github.com/ocellus/ocellus/"

func classify(pkg string) (string, int, bool) {
	best, layer := "", -1
	for _, l := range layerOf {
		if (pkg == strings.TrimSuffix(l.prefix, "/") || strings.HasPrefix(pkg, strings.TrimSuffix(l.prefix, "/")+"/")) && len(l.prefix) > len(best) {
			best, layer = l.prefix, l.layer
		}
	}
	return best, layer, layer >= 0
}

// component is the package's top-level unit: internal/api/s3 for
// internal/api/s3/chunked, internal/vision for internal/vision/head.
func component(pkg string) string {
	parts := strings.Split(pkg, "/")
	n := 2
	if strings.HasPrefix(pkg, "internal/api/") {
		n = 3
	}
	if len(parts) < n {
		return pkg
	}
	return strings.Join(parts[:n], "/")
}

func importViolation(from, to string) string {
	_, lf, okf := classify(from)
	_, lt, okt := classify(to)
	if !okf {
		return "package " + from + " has no layer in layers_test.go"
	}
	if !okt {
		return "package " + to + " has no layer in layers_test.go"
	}
	if component(from) == component(to) {
		return ""
	}
	if strings.HasPrefix(from, "internal/api/") || component(from) == "internal/console" {
		if lt == 0 {
			return ""
		}
		for _, p := range apiMayImport {
			if to == p || strings.HasPrefix(to, p+"/") {
				return ""
			}
		}
		return "an API front-end imports " + to + " (only control, the domain and the wire plumbing)"
	}
	if lt < lf {
		return ""
	}
	return "imports point the wrong way (layer " + string(rune('0'+lf)) + " -> layer " + string(rune('0'+lt)) + ")"
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	var bad []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		from := strings.TrimPrefix(f[0], modulePrefix)
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, modulePrefix) {
				continue
			}
			to := strings.TrimPrefix(imp, modulePrefix)
			why := importViolation(from, to)
			if why == "" {
				continue
			}
			key := from + " -> " + to
			if _, ok := knownViolations[key]; ok {
				seen[key] = true
				continue
			}
			bad = append(bad, key+": "+why)
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
	for k, why := range knownViolations {
		if !seen[k] {
			t.Errorf("known violation %q (%s) is gone: remove it from knownViolations", k, why)
		}
	}
}

func TestImportViolationRules(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"cmd/ocellus", "internal/server", true},
		{"internal/server", "internal/api/s3", true},
		{"internal/api/rekognition", "internal/control", true},
		{"internal/api/rekognition", "internal/store", false},
		{"internal/api/s3", "internal/api/s3/chunked", true},
		{"internal/control", "internal/store", true},
		{"internal/store", "internal/control", false},
		{"internal/store/sqlite", "internal/store", true},
		{"internal/keyring", "internal/store", false}, // adapters do not import one another
		{"internal/vision", "internal/atomicfile", true},
		{"internal/ocellus", "internal/store", false},
		{"internal/control", "internal/server", false},
		{"internal/newthing", "internal/ocellus", false}, // every package needs a layer
		{"internal/vision/cmd/qualitybench", "internal/convert", true},
		{"internal/vision", "internal/convert", false},
		{"internal/console", "internal/control", true},
		{"internal/console", "internal/apimodel", true},
		{"internal/console", "internal/api/rekognition", false}, // domain terms, not wire shapes
		{"internal/console", "internal/store", false},
		{"internal/server", "internal/console", true},
	} {
		if got := importViolation(c.from, c.to) == ""; got != c.ok {
			t.Errorf("%s -> %s allowed=%v, want %v (%s)", c.from, c.to, got, c.ok, importViolation(c.from, c.to))
		}
	}
}
