package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestRaceSkippedTestsRunInMakeTest: a test that skips itself under the
// race detector (an `if raceBuild` or `if raceEnabled` block that calls
// Skip) must run in a non-race `go test` line of the Makefile's test
// target, so that every test runs in some pass of `make test`.
func TestRaceSkippedTestsRunInMakeTest(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	passes := nonRacePasses(t, string(mk))
	if len(passes) == 0 {
		t.Fatal("the Makefile's test target has no non-race go test line with -run")
	}
	skipped := raceSkippedTests(t, "../..")
	if len(skipped) < 4 {
		t.Fatalf("found only %d tests that skip under -race (%v); the scan is broken", len(skipped), skipped)
	}
	for _, s := range skipped {
		ok := false
		for _, p := range passes {
			ok = ok || p.pkgs[s.pkg] && p.run.MatchString(s.name)
		}
		if !ok {
			t.Errorf("%s in ./%s skips under -race and no non-race line of `make test` runs it: add it to HEAVY_TESTS in the Makefile", s.name, s.pkg)
		}
	}
}

type pass struct {
	run  *regexp.Regexp
	pkgs map[string]bool // ./internal/server/ -> internal/server
}

// nonRacePasses reads the go test lines of the Makefile's test target that
// run without -race, with $(VAR) references expanded.
func nonRacePasses(t *testing.T, mk string) []pass {
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_]+) *[:?]?= *(.*)$`).FindAllStringSubmatch(mk, -1) {
		vars[m[1]] = strings.ReplaceAll(m[2], "$$", "$")
	}
	expand := func(s string) string {
		return regexp.MustCompile(`\$\(([A-Z_]+)\)`).ReplaceAllStringFunc(s, func(v string) string { return vars[v[2:len(v)-1]] })
	}
	_, body, ok := strings.Cut(mk, "\ntest:")
	if !ok {
		t.Fatal("no test target in the Makefile")
	}
	var out []pass
	for _, line := range strings.Split(body, "\n")[1:] {
		if !strings.HasPrefix(line, "\t") {
			break // end of the recipe
		}
		f := strings.Fields(expand(line))
		start := -1 // the field after `go test`, past any VAR=value prefix
		for i := 1; i < len(f); i++ {
			if f[i] == "test" && f[i-1] == "go" {
				start = i + 1
				break
			}
		}
		if start < 0 || strings.Contains(line, "-race") {
			continue
		}
		p := pass{pkgs: map[string]bool{}}
		for i := start; i < len(f); i++ {
			switch {
			case f[i] == "-run" && i+1 < len(f):
				i++
				re, err := regexp.Compile(strings.Trim(f[i], "'"))
				if err != nil {
					t.Fatalf("Makefile: -run %s: %v", f[i], err)
				}
				p.run = re
			case strings.HasPrefix(f[i], "./"):
				p.pkgs[strings.Trim(strings.TrimPrefix(f[i], "./"), "/")] = true
			}
		}
		if p.run != nil {
			out = append(out, p)
		}
	}
	return out
}

type testFunc struct{ pkg, name string }

// raceSkippedTests finds, in the _test.go files under root, the Test
// functions with a top-level `if raceBuild {...}` or `if raceEnabled {...}`
// whose block calls a Skip method, or that call (at any depth, within
// their package) a helper that does.
func raceSkippedTests(t *testing.T, root string) []testFunc {
	bodies := map[string]map[string]*ast.BlockStmt{} // package dir -> func -> body
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "lib" || d.Name() == "bin" || d.Name() == "data" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkg, _ := filepath.Rel(root, filepath.Dir(path))
		pkg = filepath.ToSlash(pkg)
		if bodies[pkg] == nil {
			bodies[pkg] = map[string]*ast.BlockStmt{}
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Body != nil && fn.Recv == nil {
				bodies[pkg][fn.Name.Name] = fn.Body
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []testFunc
	for pkg, fns := range bodies {
		skippers := map[string]bool{}
		for name, body := range fns {
			if skipsUnderRace(body) {
				skippers[name] = true
			}
		}
		for grew := true; grew; {
			grew = false
			for name, body := range fns {
				if !skippers[name] && callsAny(body, skippers) {
					skippers[name], grew = true, true
				}
			}
		}
		for name := range skippers {
			if strings.HasPrefix(name, "Test") {
				out = append(out, testFunc{pkg, name})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pkg+"."+out[i].name < out[j].pkg+"."+out[j].name })
	return out
}

func skipsUnderRace(body *ast.BlockStmt) bool {
	for _, st := range body.List {
		is, ok := st.(*ast.IfStmt)
		if !ok || !mentions(is.Cond, "raceBuild", "raceEnabled") {
			continue
		}
		found := false
		ast.Inspect(is.Body, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Skip") {
				found = true
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

func mentions(e ast.Expr, names ...string) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			for _, name := range names {
				found = found || id.Name == name
			}
		}
		return !found
	})
	return found
}

func callsAny(body *ast.BlockStmt, fns map[string]bool) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if id, ok := c.Fun.(*ast.Ident); ok && fns[id.Name] {
				found = true
			}
		}
		return !found
	})
	return found
}
