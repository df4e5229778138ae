package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ocellus/ocellus/internal/vision"
	"github.com/ocellus/ocellus/internal/vision/backbone"
)

func inputName(bb backbone.Backbone) string {
	if o, ok := bb.(*backbone.ORT); ok {
		return o.InputName()
	}
	return "input"
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := fs.String("model", "", "model file")
	out := fs.String("onnx", "", "ONNX file to write")
	bbPath := fs.String("backbone", "", "backbone file (default: found by the model's identity)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelPath == "" || *out == "" {
		return errors.New("usage: ocellus export --model MODEL --onnx OUT")
	}
	f, err := os.Open(*modelPath)
	if err != nil {
		return err
	}
	m, err := vision.Decode(f)
	f.Close()
	if err != nil {
		return err
	}
	bb, err := backboneFor(m.Backbone.Identity, m.Backbone.Size, *bbPath)
	if err != nil {
		return err
	}
	defer bb.Close()
	if err := m.Attach(bb); err != nil {
		return err
	}
	b, err := vision.Export(m)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: input %q float32 [N,3,%d,%d] (RGB, x/255, mean %v, std %v); output %q [N,%d] probabilities of %q\n",
		*out, inputName(bb), m.Backbone.Size, m.Backbone.Size, m.Backbone.Mean, m.Backbone.Std, vision.ExportOutput, len(m.Labels), m.Labels)
	return nil
}
