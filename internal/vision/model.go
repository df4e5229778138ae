package vision

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"sort"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/head"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// FormatVersion is the version of the model artifact format written by Save.
const FormatVersion = 1

// Model is a trained model: labels, per-label thresholds, the head, and the
// identity of the backbone it needs. Predict is safe for concurrent use.
type Model struct {
	Format     int
	Kind       Kind
	Backbone   backbone.Info // identity, preprocessing and feature maps
	Labels     []string
	Thresholds []float64 // per label, confidence 0-100 (used when MinConfidence is nil)
	Head       *head.MLP
	BoxHead    *head.MLP // detection: box regression (centre offset, log size)
	Evaluation *Evaluation

	bb    backbone.Backbone
	pools [][][]float32
}

// ErrBackboneMismatch is returned by Attach for a backbone other than the
// one the model was trained on.
var ErrBackboneMismatch = errors.New("vision: backbone does not match the model")

// Attach sets the backbone a loaded model runs on; it must be the one the
// model was trained with (same SHA-256 identity).
func (m *Model) Attach(bb backbone.Backbone) error {
	if bb.Info().Identity != m.Backbone.Identity {
		return fmt.Errorf("%w: model needs %s, got %s", ErrBackboneMismatch, m.Backbone.Identity, bb.Info().Identity)
	}
	if bb.Info().Size != m.Backbone.Size {
		return fmt.Errorf("%w: model runs it at %dx%d, got %d", ErrBackboneMismatch, m.Backbone.Size, m.Backbone.Size, bb.Info().Size)
	}
	got := bb.Info().Maps
	if len(got) != len(m.Backbone.Maps) {
		return fmt.Errorf("%w: %d feature maps, model expects %d", ErrBackboneMismatch, len(got), len(m.Backbone.Maps))
	}
	for i, g := range got {
		w := m.Backbone.Maps[i]
		if g.C != w.C || g.H != w.H || g.W != w.W || g.Stride != w.Stride || !slices.Equal(g.Grids, w.Grids) {
			return fmt.Errorf("%w: feature map %d is %+v, model expects %+v", ErrBackboneMismatch, i, g, w)
		}
	}
	m.bb = bb
	m.pools = backbone.Pools(m.Backbone)
	return nil
}

// PredictOptions are DetectCustomLabels' filters.
type PredictOptions struct {
	MinConfidence *float64 // nil = each label's threshold; 0 = everything
	MaxResults    *int     // nil = no limit
}

// PredictBytes decodes a PNG or JPEG and predicts.
func (m *Model) PredictBytes(ctx context.Context, b []byte, opts PredictOptions) ([]Label, error) {
	img, err := imageio.Decode(b)
	if err != nil {
		return nil, err
	}
	return m.Predict(ctx, img, opts)
}

// Predict returns the labels of an image, most confident first; detection
// models set each label's Box.
func (m *Model) Predict(ctx context.Context, img image.Image, opts PredictOptions) ([]Label, error) {
	if m.Kind == Detection {
		dets, err := m.detectImage(ctx, img)
		if err != nil {
			return nil, err
		}
		var out []Label
		for _, d := range dets {
			conf := 100 * d.score
			min := m.Thresholds[d.label]
			if opts.MinConfidence != nil {
				min = *opts.MinConfidence
			}
			if conf >= min {
				b := d.box
				out = append(out, Label{Name: m.Labels[d.label], Confidence: conf, Box: &b})
			}
		}
		if opts.MaxResults != nil && *opts.MaxResults >= 0 && len(out) > *opts.MaxResults {
			out = out[:*opts.MaxResults]
		}
		return out, nil
	}
	p, err := m.Probabilities(ctx, img)
	if err != nil {
		return nil, err
	}
	var out []Label
	for k, v := range p {
		conf := 100 * v
		min := m.Thresholds[k]
		if opts.MinConfidence != nil {
			min = *opts.MinConfidence
		}
		if conf >= min {
			out = append(out, Label{Name: m.Labels[k], Confidence: conf})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Confidence > out[j].Confidence })
	if opts.MaxResults != nil && *opts.MaxResults >= 0 && len(out) > *opts.MaxResults {
		out = out[:*opts.MaxResults]
	}
	return out, nil
}

// Probabilities returns each label's probability (0-1) for an image.
func (m *Model) Probabilities(ctx context.Context, img image.Image) ([]float64, error) {
	x, err := m.Preprocess(img)
	if err != nil {
		return nil, err
	}
	return m.ProbabilitiesTensor(ctx, x)
}

// Preprocess resizes and normalises an image into the backbone's input.
func (m *Model) Preprocess(img image.Image) ([]float32, error) {
	if m.Kind == Detection {
		return nil, errors.New("vision: Preprocess and Probabilities are for image-level models; a detection model answers with boxes through Predict")
	}
	s := m.Backbone.Size
	x := make([]float32, 3*s*s)
	imageio.CHW(x, imageio.Resize(img, s, s), imageio.Norm{Mean: m.Backbone.Mean, Std: m.Backbone.Std}, false)
	return x, nil
}

// ProbabilitiesTensor runs a preprocessed image ([3, Size, Size]).
func (m *Model) ProbabilitiesTensor(ctx context.Context, x []float32) ([]float64, error) {
	if m.bb == nil {
		return nil, errors.New("vision: model has no backbone attached")
	}
	maps, err := m.bb.Forward(ctx, x, 1)
	if err != nil {
		return nil, err
	}
	e := make([]float32, backbone.EmbeddingLen(m.Backbone))
	backbone.Embed(e, m.Backbone, maps, 0, m.pools)
	return m.Head.Predict(e), nil
}
