package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/vision"
	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/head"
)

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	man := fs.String("manifest", "", "training manifest (Ground Truth JSON lines)")
	testMan := fs.String("test-manifest", "", "test manifest")
	autoSplit := fs.Bool("auto-split", false, "hold out 20% of the training manifest as the test set (the default without --test-manifest)")
	root := fs.String("images-root", "", "directory holding bucket/key for s3:// source-refs (relative refs: the manifest's directory, then this)")
	bbPath := fs.String("backbone", "", "ONNX backbone file (default $OCELLUS_BACKBONE, else the built-in extractor)")
	seed := fs.Uint64("seed", 1, "random seed (training is deterministic for a seed)")
	out := fs.String("out", "", "model file to write")
	epochs := fs.Int("epochs", 0, "head training epochs (0 = default)")
	hidden := fs.Int("hidden", 0, "head hidden units (0 = default, -1 = linear)")
	quiet := fs.Bool("quiet", false, "no progress output")
	detBBPath := fs.String("detection-backbone", "", "ONNX file detection models are trained on (default $OCELLUS_DETECTION_BACKBONE, else a pulled yolox_nano, else the --backbone one)")
	detSize := fs.Int("detection-size", 0, "input size of detection models (multiple of 32; 0 = the backbone's detection size: 416 for yolox_nano, else 320)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *man == "" || *out == "" {
		return errors.New("--manifest and --out are required")
	}
	if *testMan != "" && *autoSplit {
		return errors.New("--test-manifest and --auto-split are exclusive")
	}
	train, trainRefs, err := readExamples(*man, *root, stderr)
	if err != nil {
		return err
	}
	var test []vision.Example
	var testRefs []string
	if *testMan != "" {
		if test, testRefs, err = readExamples(*testMan, *root, stderr); err != nil {
			return err
		}
	}
	// An image that cannot be decoded is left out with a warning, as
	// Custom Labels reports it as an invalid line (ERROR_INVALID_IMAGE);
	// more than 20% of a manifest so fails the training.
	warn := func(r vision.Rejected) {
		ref, ex := trainRefs[r.Index], train[r.Index]
		if r.Test {
			ref, ex = testRefs[r.Index], test[r.Index]
		}
		msg := strings.TrimPrefix(r.Err.Error(), ex.Path+": ")
		fmt.Fprintf(stderr, "warning: %s: ERROR_INVALID_IMAGE: %s; the image is left out\n", ref, strings.TrimPrefix(msg, "imageio: "))
	}
	detection := false
	for _, e := range train {
		if len(e.Objects) > 0 {
			detection = true
			break
		}
	}
	var bb backbone.Backbone
	if detection {
		bb, err = openDetectionBackbone(*detBBPath, *bbPath, *detSize)
	} else {
		bb, err = openBackbone(*bbPath, 0)
	}
	if err != nil {
		return err
	}
	defer bb.Close()
	lvl := slog.LevelInfo
	if *quiet {
		lvl = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	m, ev, err := vision.Train(ctx, vision.TrainConfig{Backbone: bb, Train: train, Test: test, Seed: *seed, Logger: log, Head: head.Config{Epochs: *epochs, Hidden: *hidden},
		OnReject: warn})
	var tooMany *vision.TooManyRejectedError
	if errors.As(err, &tooMany) {
		for _, r := range tooMany.Rejected {
			warn(r)
		}
		return fmt.Errorf("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST: %w", err)
	}
	if err != nil {
		return err
	}
	if err := vision.SaveFile(*out, m); err != nil {
		return err
	}
	sum := evaluationPath(*out)
	if err := os.WriteFile(sum, ev.Summary("", m.Kind).JSON(), 0o644); err != nil {
		return err
	}
	r := ev.Report
	fmt.Fprintf(stdout, "model %s (%s, %d labels, backbone %s)\n", *out, m.Kind, len(m.Labels), m.Backbone.Name)
	fmt.Fprintf(stdout, "test images %d: F1 %.4f precision %.4f recall %.4f", r.TestImages, r.F1, r.Precision, r.Recall)
	if m.Kind == vision.Classification {
		fmt.Fprintf(stdout, " accuracy %.4f", r.Accuracy)
	}
	fmt.Fprintf(stdout, "\nevaluation summary %s\n", sum)
	return nil
}

// evaluationPath is where train writes the evaluation summary of MODEL.
func evaluationPath(model string) string {
	return model + ".evaluation.json"
}

// readExamples reads a manifest into examples with local image paths,
// and for each "MANIFEST line N (SOURCE-REF)" to name it in messages.
func readExamples(path, root string, stderr io.Writer) ([]vision.Example, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	entries, skipped, err := manifest.Read(f, manifest.ParseOptions{Service: manifest.CustomLabels, AllowFilePaths: true})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(stderr, "%s: skipped %d unusable lines (first: line %d)\n", path, len(skipped), skipped[0])
	}
	dir := filepath.Dir(path)
	var out []vision.Example
	var refs []string
	for _, e := range entries {
		p := manifest.LocalPath(e.SourceRef, dir, root)
		if _, err := os.Stat(p); err != nil && root != "" && !strings.HasPrefix(e.SourceRef, "s3://") {
			// Lenient: relative refs may be relative to the images root
			// (AWS's own Lookout for Vision sample is laid out that way).
			if alt := filepath.Join(root, filepath.FromSlash(e.SourceRef)); alt != p {
				if _, err := os.Stat(alt); err == nil {
					p = alt
				}
			}
		}
		ex := vision.Example{Path: p, Labels: e.ClassNames()}
		objects, err := objectsOf(e)
		if err != nil {
			return nil, nil, fmt.Errorf("%s line %d: %w", path, e.Line, err)
		}
		ex.Objects = objects
		out = append(out, ex)
		refs = append(refs, fmt.Sprintf("%s line %d (%s)", path, e.Line, e.SourceRef))
	}
	return out, refs, nil
}

// objectsOf returns the usable boxes of an entry's detection attributes.
func objectsOf(e *manifest.Entry) ([]vision.Object, error) {
	boxes, err := e.RelBoxes()
	var out []vision.Object
	for _, b := range boxes {
		out = append(out, vision.Object{Label: b.Label, Box: vision.Box{Left: b.Left, Top: b.Top, Width: b.Width, Height: b.Height}})
	}
	return out, err
}
