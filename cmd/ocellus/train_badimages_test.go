package main

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// badImagesManifest writes n good images and, at lines 2, 5 and 9 (of the
// manifest), a truncated JPEG, a 0-byte file and a text file named .jpg.
func badImagesManifest(t *testing.T, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	names := []string{"vertical", "horizontal"}
	line := 0
	add := func(rel string, c int) {
		line++
		fmt.Fprintf(&b, `{"source-ref":%q,"stripes":%d,"stripes-metadata":{"class-name":%q,"type":"groundtruth/image-classification"}}`+"\n", rel, c, names[c])
	}
	writeImage(t, filepath.Join(dir, "good.png"), 0, 99)
	f, _ := os.ReadFile(filepath.Join(dir, "good.png"))
	img, err := png.Decode(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	var jb bytes.Buffer
	jpeg.Encode(&jb, img, nil)
	bad := map[int][]byte{2: jb.Bytes()[:jb.Len()/2], 5: {}, 9: []byte("not an image\n")}
	for i := 0; line < n+len(bad); i++ {
		if data, ok := bad[line+1]; ok {
			rel := fmt.Sprintf("bad-%d.jpg", line+1)
			os.WriteFile(filepath.Join(dir, rel), data, 0o644)
			add(rel, 0)
			continue
		}
		rel := fmt.Sprintf("img%02d.png", i)
		writeImage(t, filepath.Join(dir, rel), i%2, i)
		add(rel, i%2)
	}
	p := filepath.Join(dir, "train.manifest")
	os.WriteFile(p, []byte(b.String()), 0o644)
	return p
}

// TestTrainWarnsOnBadImages: `ocellus train` prints a warning for each
// image that cannot be decoded and trains without it; more than 20% of
// them fails with ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST.
func TestTrainWarnsOnBadImages(t *testing.T) {
	t.Setenv("OCELLUS_BACKBONE", "builtin")
	dir := t.TempDir()
	man := badImagesManifest(t, dir, 16) // 3 of 19
	model := filepath.Join(dir, "m.ocm")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"train", "--manifest", man, "--out", model, "--epochs", "10", "--hidden", "16", "--quiet"}, &out, &errb)
	if code != 0 {
		t.Fatalf("train exit %d: %s %s", code, out.String(), errb.String())
	}
	warnings := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if len(warnings) != 3 {
		t.Fatalf("stderr:\n%s", errb.String())
	}
	for i, want := range []string{"line 2 (bad-2.jpg): ERROR_INVALID_IMAGE: jpeg:", "line 5 (bad-5.jpg): ERROR_INVALID_IMAGE: unsupported image format",
		"line 9 (bad-9.jpg): ERROR_INVALID_IMAGE: unsupported image format"} {
		if !strings.HasPrefix(warnings[i], "warning: "+man+" ") || !strings.Contains(warnings[i], want) || !strings.HasSuffix(warnings[i], "; the image is left out") {
			t.Errorf("warning %d: %q, want it to contain %q", i, warnings[i], want)
		}
	}
	if _, err := os.Stat(model); err != nil {
		t.Fatal(err)
	}

	dir = t.TempDir()
	man = badImagesManifest(t, dir, 8) // 3 of 11
	out.Reset()
	errb.Reset()
	code = run(context.Background(), []string{"train", "--manifest", man, "--out", filepath.Join(dir, "m.ocm"), "--epochs", "10", "--hidden", "16", "--quiet"}, &out, &errb)
	if code == 0 || strings.Count(errb.String(), "warning: ") != 3 ||
		!strings.Contains(errb.String(), "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST: vision: 3 of the 11 training images cannot be decoded") {
		t.Fatalf("3 of 11 bad: exit %d, stderr:\n%s", code, errb.String())
	}
}
