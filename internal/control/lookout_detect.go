package control

import (
	"bytes"
	"context"
	"errors"
	"image"
	"strings"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// DetectAnomalies on a hosted Lookout for Vision model.

// Detection is DetectAnomalies' answer.
type Detection struct {
	IsAnomalous bool
	Confidence  float64
	Anomalies   []anomaly.Anomaly
	Mask        []byte // PNG, segmentation models only
}

// DetectAnomalies runs a hosted model on one JPEG or PNG image.
func (l *Lookout) DetectAnomalies(ctx context.Context, account, project, version, contentType string, body []byte) (*Detection, error) {
	_, m, err := l.model(ctx, account, project, version)
	if err != nil {
		return nil, err
	}
	if m.Status != ocellus.ModelHosted {
		return nil, lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is %s; start it (StartModel) and wait for HOSTED before calling DetectAnomalies.", m.ARN, m.Status)
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	if ct != "image/jpeg" && ct != "image/png" {
		return nil, ocellus.Errorf(ocellus.Invalid, "ContentType must be image/jpeg or image/png, not %q.", contentType)
	}
	if len(body) > 8<<20 {
		return nil, ocellus.Errorf(ocellus.Invalid, "The image is %d bytes; the maximum is 8 MB.", len(body))
	}
	img, err := imageio.Decode(body)
	if errors.Is(err, imageio.ErrTooLarge) {
		return nil, ocellus.Errorf(ocellus.Invalid, "The image is too large (%v); Lookout for Vision takes images of at most 4096x4096 pixels.", err)
	}
	if err != nil {
		return nil, ocellus.Errorf(ocellus.Invalid, "The image is not a readable %s: %v", ct, err)
	}
	if got := formatOf(body); got != "" && "image/"+got != ct {
		return nil, ocellus.Errorf(ocellus.Invalid, "The image is a %s but ContentType says %s.", strings.ToUpper(got), ct)
	}
	out, err := l.detectLocal(ctx, m, img)
	if k := l.c.cluster.Load(); k != nil && forwardable(err) {
		out, err = k.detectAnomalies(ctx, account, m, ct, body, err)
	}
	if k := ocellus.KindOf(err); k == ocellus.NotReady || k == ocellus.NotFound {
		return nil, lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is not loaded yet; try again shortly.", m.ARN)
	}
	return out, err
}

// detectLocal runs the model hosted on this node (ocellus.NotReady when it
// is not loaded here).
func (l *Lookout) detectLocal(ctx context.Context, m *ocellus.Model, img image.Image) (*Detection, error) {
	var r *anomaly.Result
	err := l.pool.Do(ctx, m.ARN, func(ctx context.Context, model *anomaly.Model) (err error) {
		r, err = model.Detect(ctx, img)
		return err
	})
	if err != nil {
		var se *anomaly.ImageSizeError
		if errors.As(err, &se) {
			return nil, ocellus.Errorf(ocellus.Invalid, "The image is %dx%d pixels; model %s was trained on %dx%d images and only takes that size.",
				se.Width, se.Height, m.ARN, se.WantW, se.WantH)
		}
		return nil, err
	}
	out := &Detection{IsAnomalous: r.IsAnomalous, Confidence: r.Confidence, Anomalies: r.Anomalies}
	if r.Mask != nil {
		if out.Mask, err = r.EncodeMask(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func formatOf(b []byte) string {
	_, f, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return ""
	}
	return f
}
