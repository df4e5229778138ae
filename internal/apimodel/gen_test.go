package apimodel

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedUpToDate re-runs the generator and checks that the committed
// files are what it produces, so nobody edits them by hand and a model
// change cannot slip in without go generate.
func TestGeneratedUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-sdk-go").Output()
	dir := string(bytes.TrimSpace(out))
	if err != nil || dir == "" {
		t.Skip("github.com/aws/aws-sdk-go is not in the module cache")
	}
	if _, err := os.Stat(filepath.Join(dir, "models", "apis")); err != nil {
		t.Skip("aws-sdk-go models are not in the module cache")
	}
	tmp := t.TempDir()
	cmd := exec.Command(goBin, "run", "./gen", "-out", tmp)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./gen: %v\n%s", err, b)
	}
	for _, f := range []string{"rekognition_gen.go", "lookoutvision_gen.go"} {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(tmp, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./internal/apimodel", f)
		}
	}
}
