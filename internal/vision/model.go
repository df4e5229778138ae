package vision

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"sort"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/head"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// FormatVersion is the version of the model artifact format written by Save.
// Version 2 added the classification preprocessing switches (Letterbox,
// SqrtEmbedding, FlipTest); version 1 files load with them off, as trained.
// Version 3 added Tiles (detection); older files run untiled, as trained.
// Version 4 added the detection box classifier (ROIHead); older detection
// files run on the cell head alone, as trained. Version 5 added the box
// refinement (ROIBoxHead); older files report the cell head's boxes.
const FormatVersion = 5

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
	ROIHead    *head.MLP // detection: box classifier over pooled box features (format 4; nil = none)
	ROIBoxHead *head.MLP // detection: box refinement from the same features (format 5; nil = none)
	Evaluation *Evaluation
	// Image-level models (format 2): Letterbox resizes keeping the aspect
	// ratio and pads with the mean colour instead of stretching;
	// SqrtEmbedding applies a signed square root to the pooled embedding
	// before the head; FlipTest averages the probabilities of the image and
	// its horizontal mirror.
	Letterbox     bool
	SqrtEmbedding bool
	FlipTest      bool
	// Tiles (detection, format 3): the image is resized to Tiles times the
	// backbone's input side and run as Tiles x Tiles tiles; 0 or 1 = the
	// whole image at the input side.
	Tiles int

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
		// Grids are the model's pooling choice (stored with it), not the backbone's.
		if g.Name != w.Name || g.C != w.C || g.H != w.H || g.W != w.W || g.Stride != w.Stride {
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

// Probabilities returns each label's probability (0-1) for an image (the
// mean over the image and its mirror for a FlipTest model).
func (m *Model) Probabilities(ctx context.Context, img image.Image) ([]float64, error) {
	if m.Kind == Detection {
		return nil, errors.New("vision: Preprocess and Probabilities are for image-level models; a detection model answers with boxes through Predict")
	}
	if !m.FlipTest {
		x, err := m.Preprocess(img)
		if err != nil {
			return nil, err
		}
		return m.ProbabilitiesTensor(ctx, x)
	}
	n := m.Backbone.InputLen()
	x := make([]float32, 2*n)
	r := m.resized(img)
	norm := imageio.Norm{Mean: m.Backbone.Mean, Std: m.Backbone.Std}
	imageio.CHW(x[:n], r, norm, false)
	imageio.CHW(x[n:], r, norm, true)
	p, err := m.probabilitiesBatch(ctx, x, 2)
	if err != nil {
		return nil, err
	}
	for k := range p[0] {
		p[0][k] = (p[0][k] + p[1][k]) / 2
	}
	return p[0], nil
}

func (m *Model) resized(img image.Image) *image.RGBA {
	s := m.Backbone.Size
	if m.Letterbox {
		return letterbox(img, s, m.Backbone.Mean)
	}
	return imageio.Resize(img, s, s)
}

// letterbox resizes img to fit s x s keeping its aspect ratio, centred on
// a background of the normalisation mean (zero after normalisation).
func letterbox(img image.Image, s int, mean [3]float32) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	nw, nh := s, s
	if w > h {
		nh = max(1, (h*s+w/2)/w)
	} else if h > w {
		nw = max(1, (w*s+h/2)/h)
	}
	r := imageio.Resize(img, nw, nh)
	if nw == s && nh == s {
		return r
	}
	out := image.NewRGBA(image.Rect(0, 0, s, s))
	bg := [4]uint8{uint8(mean[0]*255 + 0.5), uint8(mean[1]*255 + 0.5), uint8(mean[2]*255 + 0.5), 255}
	for i := 0; i < len(out.Pix); i += 4 {
		copy(out.Pix[i:i+4], bg[:])
	}
	ox, oy := (s-nw)/2, (s-nh)/2
	for y := 0; y < nh; y++ {
		copy(out.Pix[(oy+y)*out.Stride+4*ox:], r.Pix[y*r.Stride:y*r.Stride+4*nw])
	}
	return out
}

// sqrtEmbedding applies the signed square root in place.
func sqrtEmbedding(e []float32) {
	for i, v := range e {
		if v < 0 {
			e[i] = -float32(math.Sqrt(float64(-v)))
		} else {
			e[i] = float32(math.Sqrt(float64(v)))
		}
	}
}

// Preprocess resizes and normalises an image into the backbone's input.
func (m *Model) Preprocess(img image.Image) ([]float32, error) {
	if m.Kind == Detection {
		return nil, errors.New("vision: Preprocess and Probabilities are for image-level models; a detection model answers with boxes through Predict")
	}
	x := make([]float32, m.Backbone.InputLen())
	imageio.CHW(x, m.resized(img), imageio.Norm{Mean: m.Backbone.Mean, Std: m.Backbone.Std}, false)
	return x, nil
}

// ProbabilitiesTensor runs a preprocessed image ([3, Size, Size]).
func (m *Model) ProbabilitiesTensor(ctx context.Context, x []float32) ([]float64, error) {
	if m.bb == nil {
		return nil, errors.New("vision: model has no backbone attached")
	}
	p, err := m.probabilitiesBatch(ctx, x, 1)
	if err != nil {
		return nil, err
	}
	return p[0], nil
}

func (m *Model) probabilitiesBatch(ctx context.Context, x []float32, n int) ([][]float64, error) {
	if m.bb == nil {
		return nil, errors.New("vision: model has no backbone attached")
	}
	maps, err := m.bb.Forward(ctx, x, n)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, n)
	for k := range out {
		e := make([]float32, backbone.EmbeddingLen(m.Backbone))
		backbone.Embed(e, m.Backbone, maps, k, m.pools)
		if m.SqrtEmbedding {
			sqrtEmbedding(e)
		}
		out[k] = m.Head.Predict(e)
	}
	return out, nil
}
