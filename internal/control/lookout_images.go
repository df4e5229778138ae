package control

import (
	"context"
	"errors"
	"image/color"
	"strconv"
	"strings"

	"github.com/ocellus/ocellus/internal/blob"
	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/vision"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// Reading a Lookout for Vision training set from S3: images, anomaly masks
// and their colour maps, with undecodable entries left out.

// badImage is an image (or its mask) that cannot be decoded or is gone
// from S3: the entry is left out of training.
type badImage struct {
	SourceRef string `json:"source-ref"`
	Reason    string `json:"error"`
}

func (b *badImage) Error() string { return b.SourceRef + ": " + b.Reason }

// decodeReason is imageio.Decode's error without the package prefixes
// ("imageio: png: png: invalid format" reads "png: invalid format").
func decodeReason(err error) string {
	msg := strings.TrimPrefix(err.Error(), "imageio: ")
	if rest, ok := strings.CutPrefix(msg, "png: "); ok && strings.HasPrefix(rest, "png: ") {
		msg = rest
	}
	return msg
}

// loadExamples reads images (and masks) from S3. Entries whose image
// cannot be decoded are left out and returned as bad; more than 20% of
// the set bad fails the training (the Custom Labels rule, which Lookout
// for Vision does not document; one broken file must not fail a model).
func (l *Lookout) loadExamples(ctx context.Context, account, set string, es []*manifest.Entry) ([]anomaly.Example, []badImage, error) {
	out := make([]anomaly.Example, len(es))
	errs := make([]error, len(es))
	forEach(len(es), s3Fetchers, func(i int) { out[i], errs[i] = l.example(ctx, account, es[i]) })
	var bad []badImage
	kept := out[:0]
	for i, err := range errs {
		var b *badImage
		switch {
		case err == nil:
			kept = append(kept, out[i])
		case errors.As(err, &b):
			bad = append(bad, *b)
		default:
			return nil, nil, errors.Join(errs...)
		}
	}
	if len(bad) > 0 && float64(len(bad)) > vision.MaxRejectedShare*float64(len(es)) {
		return nil, bad, failf("%d of the %d images of the %s dataset cannot be used (at most 20%% may be invalid); first: %v", len(bad), len(es), set, &bad[0])
	}
	for _, b := range bad {
		l.c.log.Warn("image left out of model training", "dataset", set, "image", b.SourceRef, "err", b.Reason)
	}
	return kept, bad, nil
}

func (l *Lookout) readObject(ctx context.Context, account, uri string) ([]byte, error) {
	bucket, key, err := blob.ParseURI(uri)
	if err != nil {
		return nil, failf("%s is not an S3 URI.", uri)
	}
	b, _, err := l.c.blobs.ReadAll(ctx, account, bucket, key, "", maxLookoutObjectBytes)
	if err != nil {
		var tl *blob.TooLargeError
		if errors.As(err, &tl) {
			return nil, &badImage{uri, "it is larger than " + strconv.Itoa(maxLookoutObjectBytes) + " bytes"}
		}
		if ocellus.KindOf(err) == ocellus.InvalidS3Object {
			return nil, &badImage{uri, "it cannot be read from S3: " + ocellus.MessageOf(err)}
		}
		if ocellus.KindOf(err) == ocellus.AccessDenied {
			return nil, failf("The image %s cannot be read from S3: %s", uri, ocellus.MessageOf(err))
		}
		return nil, err
	}
	return b, nil
}

// maxLookoutObjectBytes bounds a training image or mask read from S3
// (Lookout for Vision's own limit is 8 MB an image; the headroom keeps
// images that AWS's looser checks let through).
const maxLookoutObjectBytes = 16 << 20

func (l *Lookout) example(ctx context.Context, account string, e *manifest.Entry) (anomaly.Example, error) {
	ex := anomaly.Example{Name: e.SourceRef, Anomalous: e.Anomaly.Anomalous}
	b, err := l.readObject(ctx, account, e.Image)
	if err != nil {
		return ex, err
	}
	img, err := imageio.Decode(b)
	if err != nil {
		// Refused as DetectAnomalies refuses it (a truncated JPEG too:
		// see vision.Train).
		return ex, &badImage{e.SourceRef, "the image is not a readable JPEG or PNG: " + decodeReason(err)}
	}
	ex.Image = img
	if e.Anomaly.Anomalous && e.Anomaly.Mask != "" {
		mb, err := l.readObject(ctx, account, e.Anomaly.Mask)
		if err != nil {
			return ex, err
		}
		mask, err := imageio.Decode(mb)
		if err != nil {
			return ex, &badImage{e.SourceRef, "its anomaly mask " + e.Anomaly.MaskRef + " is not a readable PNG: " + decodeReason(err)}
		}
		if mask.Bounds().Size() != img.Bounds().Size() {
			return ex, failf("The anomaly mask %s is %dx%d pixels but its image %s is %dx%d.", e.Anomaly.MaskRef,
				mask.Bounds().Dx(), mask.Bounds().Dy(), e.SourceRef, img.Bounds().Dx(), img.Bounds().Dy())
		}
		ex.Mask = mask
		ex.ColorMap = map[color.RGBA]string{}
		for _, c := range e.Anomaly.Colors {
			rgba, err := anomaly.ParseHexColor(c.HexColor)
			if err != nil {
				return ex, failf("The colour %q of class %s in %s is not #RRGGBB.", c.HexColor, c.ClassName, e.SourceRef)
			}
			ex.ColorMap[rgba] = c.ClassName
		}
	}
	return ex, nil
}
