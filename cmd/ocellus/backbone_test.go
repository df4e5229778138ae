package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/moderation"
	"github.com/ocellus/ocellus/internal/vision/onnxedit"
)

func TestPullBackbone(t *testing.T) {
	body := []byte("pretend onnx bytes")
	sum := sha256.Sum256(body)
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path == "/bad.onnx" {
			w.Write([]byte("tampered"))
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	known := []backbone.Known{
		{Name: "good", SHA256: hex.EncodeToString(sum[:]), URL: srv.URL + "/good.onnx"},
		{Name: "bad", SHA256: hex.EncodeToString(sum[:]), URL: srv.URL + "/bad.onnx"},
		{Name: "gone", SHA256: hex.EncodeToString(sum[:]), URL: srv.URL + "/missing"},
	}
	dir := t.TempDir()
	ctx := context.Background()
	p, err := pullBackbone(ctx, srv.Client(), known, "good", dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != string(body) || p != filepath.Join(dir, "good.onnx") {
		t.Fatalf("stored %q at %s", got, p)
	}
	// A second pull keeps the verified file without downloading.
	if _, err := pullBackbone(ctx, srv.Client(), known, "good", dir); err != nil || hits != 1 {
		t.Fatalf("second pull: %v, %d requests", err, hits)
	}
	if _, err := pullBackbone(ctx, srv.Client(), known, "bad", dir); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("tampered download: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.onnx")); err == nil {
		t.Fatal("tampered file kept")
	}
	if _, err := pullBackbone(ctx, srv.Client(), known, "nope", dir); err == nil {
		t.Fatal("unknown name accepted")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("leftover files: %v", ents)
	}
}

func TestBackboneFor(t *testing.T) {
	if bb, err := backboneFor(backbone.BuiltinIdentity, 0, ""); err != nil || bb.Info().Identity != backbone.BuiltinIdentity {
		t.Fatalf("builtin: %v", err)
	}
	t.Setenv("OCELLUS_BACKBONE_DIR", t.TempDir())
	t.Setenv("OCELLUS_BACKBONE", "")
	if _, err := backboneFor("sha256:0123", 0, ""); err == nil {
		t.Fatal("found a backbone that does not exist")
	}
}

func TestPulledDetectionBackbone(t *testing.T) {
	t.Setenv("OCELLUS_BACKBONE_DIR", filepath.Join(t.TempDir(), "backbones"))
	if p := pulledDetectionBackbone(); p != "" {
		t.Fatalf("found %q in an empty backbone directory", p)
	}
	if err := os.MkdirAll(backboneDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(backboneDir(), "yolox_nano.onnx")
	if err := os.WriteFile(want, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p := pulledDetectionBackbone(); p != want {
		t.Fatalf("pulledDetectionBackbone = %q, want %q", p, want)
	}
}

func TestPullModeration(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("not the pinned tarball"))
	}))
	dir := t.TempDir()
	var log strings.Builder
	if _, err := pullModeration(ctx, srv.Client(), srv.URL+"/x.tgz", "", "mobilenet_v2", dir, &log); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("tampered tarball: %v", err)
	}
	if _, err := pullModeration(ctx, srv.Client(), srv.URL, "", "resnet", dir, &log); err == nil || !strings.Contains(err.Error(), "unknown base model") {
		t.Fatalf("unknown variant: %v", err)
	}
	srv.Close() // offline
	if _, err := pullModeration(ctx, srv.Client(), srv.URL+"/x.tgz", "", "mobilenet_v2", dir, &log); err == nil || !strings.Contains(err.Error(), "--from") {
		t.Fatalf("offline: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("failed pulls left %v", ents)
	}
	if _, err := moderation.OpenInstalled(dir, "mobilenet_v2", backbone.ORTConfig{}); !errors.Is(err, moderation.ErrNotInstalled) || !strings.Contains(err.Error(), "ocellus backbone pull nsfwjs-mobilenet_v2") {
		t.Fatalf("not installed: %v", err)
	}

	// The real package, from a file as after `npm pack` (see
	// scripts/install-nsfwjs.sh); the golden test checks the numbers.
	wd, _ := os.Getwd()
	tgz := filepath.Join(backbone.ModuleRoot(wd), "lib", moderation.PackageFile)
	if _, err := os.Stat(tgz); err != nil {
		if os.Getenv("OCELLUS_MAKE_TEST") != "" {
			t.Fatalf("%s missing (scripts/install-nsfwjs.sh)", tgz)
		}
		t.Skipf("%s missing: run scripts/install-nsfwjs.sh", tgz)
	}
	p, err := pullModeration(ctx, http.DefaultClient, "http://127.0.0.1:1/unused", tgz, "mobilenet_v2", dir, &log)
	if err != nil {
		t.Fatal(err)
	}
	if p != moderation.InstalledPath(dir, "mobilenet_v2") {
		t.Fatalf("stored at %s", p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onnxedit.Decode(b); err != nil {
		t.Fatal(err)
	}
	// The feature-backbone scan of the directory does not see it.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 || ents[0].Name() != moderation.InstallDir {
		t.Fatalf("backbone directory holds %v", ents)
	}
	t.Log(strings.TrimSpace(log.String()))
}

// TestBackbonePullFlagsAfterName: `pull NAME --dir DIR`, as the usage line
// reads, uses DIR (flag parsing stops at the first argument otherwise).
func TestBackbonePullFlagsAfterName(t *testing.T) {
	dir := t.TempDir()
	var out, errb strings.Builder
	err := runBackbone(context.Background(), []string{"pull", "nsfwjs-nope", "--dir", dir}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "unknown base model") {
		t.Fatalf("got %v", err)
	}
	if err := runBackbone(context.Background(), []string{"pull", "a", "b"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("two names: %v", err)
	}
	src := filepath.Join(dir, "not-a-tarball.tgz")
	os.WriteFile(src, []byte("x"), 0o644)
	err = runBackbone(context.Background(), []string{"pull", "nsfwjs-mobilenet_v2", "--dir", dir, "--from", src}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("--from after NAME not used: %v", err)
	}
}
