package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ocellus/ocellus/internal/vision"
)

// customLabel is the DetectCustomLabels wire shape of one label.
type customLabel struct {
	Name       string    `json:"Name"`
	Confidence float64   `json:"Confidence"`
	Geometry   *geometry `json:"Geometry,omitempty"`
}

type geometry struct {
	BoundingBox boundingBox `json:"BoundingBox"`
}

type boundingBox struct {
	Width  float64 `json:"Width"`
	Height float64 `json:"Height"`
	Left   float64 `json:"Left"`
	Top    float64 `json:"Top"`
}

type detectResponse struct {
	CustomLabels []customLabel `json:"CustomLabels"`
}

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := fs.String("model", "", "model file")
	bbPath := fs.String("backbone", "", "backbone file (default: found by the model's identity)")
	minConf := fs.Float64("min-confidence", -1, "minimum confidence 0-100 (default: each label's threshold)")
	maxResults := fs.Int("max-results", -1, "maximum labels per image (default: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelPath == "" || fs.NArg() == 0 {
		return errors.New("usage: ocellus predict --model MODEL [--min-confidence X] [--max-results N] IMAGE...")
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
	var opts vision.PredictOptions
	if *minConf >= 0 {
		if *minConf > 100 {
			return errors.New("--min-confidence must be 0-100")
		}
		opts.MinConfidence = minConf
	}
	if *maxResults >= 0 {
		opts.MaxResults = maxResults
	}
	enc := json.NewEncoder(stdout)
	for _, p := range fs.Args() {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		labels, err := m.PredictBytes(ctx, b, opts)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		resp := detectResponse{CustomLabels: []customLabel{}}
		for _, l := range labels {
			cl := customLabel{Name: l.Name, Confidence: l.Confidence}
			if l.Box != nil {
				cl.Geometry = &geometry{boundingBox{Width: l.Box.Width, Height: l.Box.Height, Left: l.Box.Left, Top: l.Box.Top}}
			}
			resp.CustomLabels = append(resp.CustomLabels, cl)
		}
		if err := enc.Encode(resp); err != nil {
			return err
		}
	}
	return nil
}
