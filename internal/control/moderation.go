package control

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/moderation"
)

// Image limits of DetectModerationLabels (developer guide): 5 MB of raw
// bytes in the request; an S3 object has the DetectCustomLabels limit.
const maxModerationBytes = 5 << 20

// ModerationModelVersion is what DetectModerationLabels answers as
// ModerationModelVersion: Ocellus's base model, not AWS's "7.0".
const ModerationModelVersion = "ocellus-" + moderation.PackageName + "-" + moderation.PackageVersion

// defaultModerationConfidence is DetectModerationLabels' MinConfidence
// when the request has none (API reference).
const defaultModerationConfidence = 50.0

// ModerationInput is one DetectModerationLabels request.
type ModerationInput struct {
	Bytes         []byte
	S3            *ocellus.S3Location
	MinConfidence *float64
	// Adapter is the ProjectVersion ARN of a Custom Moderation adapter.
	Adapter string
	// HumanLoop is set when the request has a HumanLoopConfig.
	HumanLoop bool
}

// ModerationLabel is one label of a DetectModerationLabels answer.
type ModerationLabel struct {
	ocellus.ModerationLabel
	Confidence float64 // percent
}

// ContentType is one entry of a DetectModerationLabels answer's
// ContentTypes ("Animated", "Illustrated").
type ContentType struct {
	Name       string
	Confidence float64
}

// ModerationResult is the answer of DetectModerationLabels.
type ModerationResult struct {
	Labels       []ModerationLabel
	ContentTypes []ContentType
	ModelVersion string
	Adapter      string // the adapter that answered (ProjectVersion); "" for the base model
}

// moderationModel loads the base model once, on first use, and shares it.
// A model that is not installed (or cannot be opened) is tried again on
// the next request, so that `ocellus backbone pull` needs no restart.
type moderationModel struct {
	dir string // backbone directory; "" = none configured
	mu  sync.Mutex
	m   *moderation.Model
}

func (mm *moderationModel) get() (*moderation.Model, error) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.m != nil {
		return mm.m, nil
	}
	pull := "run `ocellus backbone pull " + moderation.BackboneName(moderation.DefaultVariant) + "` and retry"
	if mm.dir == "" {
		return nil, ocellus.Errorf(ocellus.NotReady, "The content moderation base model is not installed on this server (no backbone directory is configured); %s.", pull)
	}
	m, err := moderation.OpenInstalled(mm.dir, moderation.DefaultVariant, backbone.ORTConfig{})
	switch {
	case errors.Is(err, moderation.ErrNotInstalled):
		return nil, ocellus.Errorf(ocellus.NotReady, "The content moderation base model is not installed on this server: %v.", err)
	case errors.Is(err, backbone.ErrNoLibrary):
		return nil, ocellus.Errorf(ocellus.NotReady, "The content moderation base model needs ONNX Runtime, which this server cannot load: %v.", err)
	case err != nil:
		return nil, ocellus.Wrap(err, "open the content moderation base model")
	}
	mm.m = m
	return m, nil
}

func (mm *moderationModel) close() error {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.m == nil {
		return nil
	}
	err := mm.m.Close()
	mm.m = nil
	return err
}

// DetectModerationLabels runs the content moderation base model on an
// image, and the adapter ProjectVersion names on its answer and features
// (loaded on first use, no StartProjectVersion needed); human review
// (HumanLoopConfig, Amazon A2I) is not offered.
func (c *Control) DetectModerationLabels(ctx context.Context, account string, in ModerationInput) (*ModerationResult, error) {
	if in.HumanLoop {
		return nil, ocellus.Errorf(ocellus.Invalid, "HumanLoopConfig is not supported: this server has no Amazon Augmented AI human review.")
	}
	minConf := defaultModerationConfidence
	if in.MinConfidence != nil {
		minConf = *in.MinConfidence
	}
	var adapter *moderation.Adapter
	var adapterARN string
	if in.Adapter != "" {
		v, a, err := c.adapter(ctx, account, in.Adapter)
		if err != nil {
			return nil, err
		}
		adapter, adapterARN = a, v.ARN
	}
	img, err := c.requestImage(ctx, account, in.Bytes, in.S3, maxModerationBytes)
	if err != nil {
		return nil, err
	}
	m, err := c.moderation.get()
	if err != nil {
		return nil, err
	}
	scores, feats, err := m.Classify(ctx, moderation.Pixels(img, m.Size()), 1)
	if err != nil {
		return nil, ocellus.Wrap(err, "run the content moderation base model")
	}
	labels, types := moderationLabels(scores[0], minConf)
	if adapter != nil {
		labels = adapterLabelsOf(adapter, scores[0], feats[0], minConf)
	}
	return &ModerationResult{Labels: labels, ContentTypes: types, ModelVersion: ModerationModelVersion, Adapter: adapterARN}, nil
}

// nsfwjsLabels maps the base model's classes onto the v7 taxonomy. The
// model tells only whether an image is pornographic (Porn, Hentai: a drawn
// one), suggestive (Sexy) or neither (Neutral, Drawing), so it answers at
// the top level only: Explicit for Porn + Hentai, and Swimwear or
// Underwear for Sexy, nsfw_model's class of suggestive but not nude
// images (lingerie, swimwear), which is the v6.1 "Suggestive" category.
// Drawing + Hentai, the drawn images, is the Illustrated content type.
var nsfwjsLabels = []struct {
	label   string
	classes []string
}{
	{"Explicit", []string{"Porn", "Hentai"}},
	{"Swimwear or Underwear", []string{"Sexy"}},
}

// nsfwjsScore is the base model's probability (0..1) of any of classes.
func nsfwjsScore(s moderation.Scores, classes ...string) float64 {
	all := moderation.Classes()
	var p float64
	for _, n := range classes {
		p += float64(s[slices.Index(all, n)])
	}
	return p
}

// moderationLabels turns the base model's scores into the labels (each
// with its whole chain, deepest first) and content types at or above
// minConf percent, most confident first.
func moderationLabels(s moderation.Scores, minConf float64) ([]ModerationLabel, []ContentType) {
	score := func(names ...string) float64 { return min(100, 100*nsfwjsScore(s, names...)) }
	type found struct {
		chain []ocellus.ModerationLabel
		conf  float64
	}
	var hits []found
	for _, m := range nsfwjsLabels {
		conf := score(m.classes...)
		if conf < minConf {
			continue
		}
		chain, ok := ocellus.ModerationChain(m.label)
		if !ok {
			panic("control: " + m.label + " is not a v7 moderation label")
		}
		hits = append(hits, found{chain, conf})
	}
	slices.SortStableFunc(hits, func(a, b found) int {
		switch {
		case a.conf > b.conf:
			return -1
		case a.conf < b.conf:
			return 1
		}
		return 0
	})
	labels := []ModerationLabel{}
	for _, h := range hits {
		for _, l := range h.chain {
			labels = append(labels, ModerationLabel{ModerationLabel: l, Confidence: h.conf})
		}
	}
	types := []ContentType{}
	if conf := score("Drawing", "Hentai"); conf >= minConf {
		types = append(types, ContentType{Name: "Illustrated", Confidence: conf})
	}
	return labels, types
}
