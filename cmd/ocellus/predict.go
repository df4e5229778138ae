package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ocellus/ocellus/internal/vision"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
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
	modelPath := fs.String("model", "", "model file (a Custom Labels model, or a Lookout for Vision package's model.ocellus-anomaly)")
	bbPath := fs.String("backbone", "", "backbone file (default: found by the model's identity)")
	minConf := fs.Float64("min-confidence", -1, "minimum confidence 0-100 (default: each label's threshold)")
	maxResults := fs.Int("max-results", -1, "maximum labels per image (default: all)")
	maskDir := fs.String("mask-dir", "", "anomaly models: also write each mask as DIR/<image name>.mask.png")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelPath == "" || fs.NArg() == 0 {
		return errors.New("usage: ocellus predict --model MODEL [--min-confidence X] [--max-results N] [--mask-dir DIR] IMAGE...")
	}
	data, err := os.ReadFile(*modelPath)
	if err != nil {
		return err
	}
	if anomaly.IsModelFile(data) {
		return predictAnomalies(ctx, data, *bbPath, *maskDir, fs.Args(), stdout)
	}
	m, err := vision.Decode(bytes.NewReader(data))
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

// detectAnomaliesResponse is Lookout for Vision's DetectAnomalies wire shape.
type detectAnomaliesResponse struct {
	DetectAnomalyResult struct {
		Source      struct{ Type string } `json:"Source"`
		IsAnomalous bool                  `json:"IsAnomalous"`
		Confidence  float64               `json:"Confidence"`
		Anomalies   []anomalyOut          `json:"Anomalies,omitempty"`
		AnomalyMask []byte                `json:"AnomalyMask,omitempty"` // base64 in JSON, as on the wire
	} `json:"DetectAnomalyResult"`
}

type anomalyOut struct {
	Name         string `json:"Name"`
	PixelAnomaly struct {
		TotalPercentageArea float64 `json:"TotalPercentageArea"`
		Color               string  `json:"Color"`
	} `json:"PixelAnomaly"`
}

// predictAnomalies runs a Lookout for Vision model (e.g. from a model
// packaging job's output) on images, printing DetectAnomalies JSON lines.
func predictAnomalies(ctx context.Context, data []byte, bbPath, maskDir string, images []string, stdout io.Writer) error {
	meta, err := anomaly.ReadMeta(data)
	if err != nil {
		return err
	}
	bb, err := backboneFor(meta.BackboneIdentity, 0, bbPath)
	if err != nil {
		return err
	}
	defer bb.Close()
	m, err := anomaly.Load(data, bb, anomaly.LoadConfig{})
	if err != nil {
		return err
	}
	defer m.Close()
	if maskDir != "" {
		if err := os.MkdirAll(maskDir, 0o755); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(stdout)
	for _, p := range images {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r, err := m.DetectBytes(ctx, b)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		var resp detectAnomaliesResponse
		out := &resp.DetectAnomalyResult
		out.Source.Type = "direct"
		out.IsAnomalous, out.Confidence = r.IsAnomalous, r.Confidence
		for _, a := range r.Anomalies {
			var ao anomalyOut
			ao.Name, ao.PixelAnomaly.TotalPercentageArea, ao.PixelAnomaly.Color = a.Name, a.TotalPercentageArea, a.Color
			out.Anomalies = append(out.Anomalies, ao)
		}
		if out.AnomalyMask, err = r.EncodeMask(); err != nil {
			return err
		}
		if maskDir != "" && out.AnomalyMask != nil {
			if err := os.WriteFile(filepath.Join(maskDir, filepath.Base(p)+".mask.png"), out.AnomalyMask, 0o644); err != nil {
				return err
			}
		}
		if err := enc.Encode(&resp); err != nil {
			return err
		}
	}
	return nil
}
