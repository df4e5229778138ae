package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/atomicfile"
	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/moderation"
)

// backboneDir is where `ocellus backbone pull` stores files and where
// predict looks for the backbone a model names.
func backboneDir() string {
	if d := os.Getenv("OCELLUS_BACKBONE_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "ocellus", "backbones")
	}
	return filepath.Join(os.TempDir(), "ocellus-backbones")
}

// openBackbone opens the backbone named by --backbone, else
// $OCELLUS_BACKBONE, else the built-in extractor. "builtin" selects the
// built-in extractor explicitly.
func openBackbone(flagPath string, size int) (backbone.Backbone, error) {
	p := flagPath
	if p == "" {
		p = os.Getenv("OCELLUS_BACKBONE")
	}
	if p == "" || p == "builtin" {
		return backbone.Builtin{}, nil
	}
	return backbone.OpenORT(p, backbone.ORTConfig{Size: size})
}

// pulledDetectionBackbone returns the pulled yolox_nano file in the
// backbone directory ("" if absent): a detection network, trained for
// boxes, is the default detection backbone when it is there.
func pulledDetectionBackbone() string {
	p := filepath.Join(backboneDir(), "yolox_nano.onnx")
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return p
	}
	return ""
}

// openDetectionBackbone opens the backbone detection models train on:
// --detection-backbone, else $OCELLUS_DETECTION_BACKBONE, else a pulled
// yolox_nano, else the one openBackbone picks, at size (0 = the network's
// detection size).
func openDetectionBackbone(detFlag, flagPath string, size int) (backbone.Backbone, error) {
	p := cmp.Or(detFlag, os.Getenv("OCELLUS_DETECTION_BACKBONE"), pulledDetectionBackbone(), flagPath, os.Getenv("OCELLUS_BACKBONE"))
	if p == "" || p == "builtin" {
		return backbone.Builtin{}, nil
	}
	return backbone.OpenORT(p, backbone.ORTConfig{Size: size, Detection: true})
}

// backboneFor opens the backbone a model was trained on: the built-in one,
// --backbone/$OCELLUS_BACKBONE when its digest matches, or a pulled file
// in the backbone directory with that digest.
func backboneFor(identity string, size int, flagPath string) (backbone.Backbone, error) {
	if identity == backbone.BuiltinIdentity {
		return backbone.Builtin{}, nil
	}
	var cands []string
	for _, p := range []string{flagPath, os.Getenv("OCELLUS_BACKBONE"), os.Getenv("OCELLUS_DETECTION_BACKBONE")} {
		if p != "" && p != "builtin" {
			cands = append(cands, p)
		}
	}
	if ents, err := os.ReadDir(backboneDir()); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".onnx") {
				cands = append(cands, filepath.Join(backboneDir(), e.Name()))
			}
		}
	}
	for _, p := range cands {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if backbone.Digest(b) == identity {
			return backbone.NewORT(filepath.Base(p), b, backbone.ORTConfig{Size: size})
		}
	}
	return nil, fmt.Errorf("no backbone with identity %s: pass --backbone PATH or run `ocellus backbone pull`", identity)
}

func runBackbone(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: ocellus backbone list | pull NAME [--dir DIR]")
	}
	switch args[0] {
	case "list":
		for _, k := range backbone.KnownBackbones() {
			fmt.Fprintf(stdout, "%s\tsha256:%s\t%s\n", k.Name, k.SHA256, k.URL)
		}
		fmt.Fprintf(stdout, "builtin\t%s\t(weight-free, lower accuracy)\n", backbone.BuiltinIdentity)
		for _, v := range moderation.Variants() {
			fmt.Fprintf(stdout, "%s\tsha256:%s\t%s (moderation base model, converted to ONNX on pull)\n",
				moderation.BackboneName(v.Name), moderation.PackageSHA256, moderation.PackageURL)
		}
		return nil
	case "pull":
		fs := flag.NewFlagSet("backbone pull", flag.ContinueOnError)
		fs.SetOutput(stderr)
		dir := fs.String("dir", backboneDir(), "directory to store the backbone in")
		from := fs.String("from", "", "for "+moderation.PackageName+"-*: the npm tarball (`npm pack "+moderation.PackageName+"@"+moderation.PackageVersion+"`) instead of downloading it")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		// Flags may also follow NAME, as the usage line shows.
		name := fs.Arg(0)
		if fs.NArg() > 0 {
			if err := fs.Parse(fs.Args()[1:]); err != nil {
				return err
			}
		}
		if name == "" || fs.NArg() != 0 {
			return errors.New("usage: ocellus backbone pull NAME [--dir DIR] [--from NPM_TGZ]")
		}
		var path string
		var err error
		if variant, ok := strings.CutPrefix(name, moderation.PackageName+"-"); ok {
			path, err = pullModeration(ctx, http.DefaultClient, moderation.PackageURL, *from, variant, *dir, stderr)
		} else {
			path, err = pullBackbone(ctx, http.DefaultClient, backbone.KnownBackbones(), name, *dir)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, path)
		return nil
	}
	return fmt.Errorf("unknown backbone subcommand %q", args[0])
}

// pullBackbone downloads a known backbone, checks its pinned SHA-256 and
// stores it as DIR/NAME.onnx. An existing file with the right digest is kept.
func pullBackbone(ctx context.Context, c *http.Client, known []backbone.Known, name, dir string) (string, error) {
	var k *backbone.Known
	for i := range known {
		if known[i].Name == name {
			k = &known[i]
		}
	}
	if k == nil {
		var names []string
		for _, x := range known {
			names = append(names, x.Name)
		}
		return "", fmt.Errorf("unknown backbone %q (known: %s)", name, strings.Join(names, ", "))
	}
	dst := filepath.Join(dir, name+".onnx")
	if b, err := os.ReadFile(dst); err == nil && backbone.Digest(b) == "sha256:"+k.SHA256 {
		return dst, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.URL, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", k.URL, resp.Status)
	}
	// The download only replaces dst once its digest matches the pin.
	err = atomicfile.Write(dst, 0o644, func(w io.Writer) error {
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(resp.Body, 1<<30)); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != k.SHA256 {
			return fmt.Errorf("%s: SHA-256 %s does not match the pinned %s", k.URL, got, k.SHA256)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return dst, nil
}

// pullModeration installs a moderation base model: the pinned npm tarball
// (from a file, else downloaded from url) is checked, converted to ONNX and
// written to moderation.InstalledPath atomically. Nothing is written when
// any step fails.
func pullModeration(ctx context.Context, c *http.Client, url, from, variant, dir string, log io.Writer) (string, error) {
	if _, err := moderation.VariantByName(variant); err != nil {
		return "", err
	}
	var tgz []byte
	var err error
	if from != "" {
		if tgz, err = os.ReadFile(from); err != nil {
			return "", err
		}
	} else if tgz, err = download(ctx, c, url, 1<<28); err != nil {
		return "", fmt.Errorf("%w (offline? `npm pack %s@%s` where the registry is reachable, then pull with --from FILE)", err, moderation.PackageName, moderation.PackageVersion)
	}
	start := time.Now()
	onnx, err := moderation.Convert(tgz, variant)
	if err != nil {
		return "", err
	}
	dst := moderation.InstalledPath(dir, variant)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(dst, onnx, 0o644); err != nil {
		return "", err
	}
	fmt.Fprintf(log, "converted %s@%s %s to ONNX in %s (%d bytes)\n", moderation.PackageName, moderation.PackageVersion, variant, time.Since(start).Round(time.Millisecond), len(onnx))
	return dst, nil
}

// download GETs url into memory, refusing bodies over limit bytes.
func download(ctx context.Context, c *http.Client, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("GET %s: more than %d bytes", url, limit)
	}
	return b, nil
}
