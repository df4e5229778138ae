package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ImageProber looks at the image (or mask) at a resolved location
// ("s3://bucket/key" or a file path, as in Entry.Image) and reports its
// format and size. The server implements it over S3; FSProber serves the
// CLI and tests.
//
// A problem with the image itself (missing, not JPEG/PNG, corrupt) must be
// returned as an error wrapping ErrInvalidImage: it becomes the line's
// ERROR_INVALID_IMAGE. Any other error (S3 unreachable, context cancelled)
// aborts Validate, so that an outage does not mark every line invalid.
type ImageProber interface {
	Probe(ctx context.Context, location string) (ImageInfo, error)
}

// ErrInvalidImage marks prober errors that are the image's fault.
var ErrInvalidImage = errors.New("invalid image")

// InvalidImage returns an error wrapping ErrInvalidImage with a reason
// that is shown to the caller in the line's error message.
func InvalidImage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidImage, fmt.Sprintf(format, args...))
}

// ProbeReader reads an image header from r and reports its format and
// dimensions. It decodes only the header (image.DecodeConfig): a full
// decode of a 4096x4096 JPEG costs ~100 ms, which is too much for 250,000
// lines, and AWS itself reports corrupt image data at training time.
// With full set, the whole image is decoded as well, catching truncated
// or corrupt pixel data. size is the object size if known (0 if not).
func ProbeReader(r io.Reader, size int64, full bool) (ImageInfo, error) {
	if size > MaxImageBytes {
		return ImageInfo{}, InvalidImage("the image is %d bytes; the maximum is %d", size, MaxImageBytes)
	}
	// Sniff the magic bytes, then hand the decoder the stream unbuffered:
	// both decoders buffer what they need, and a probe per line must stay
	// cheap in allocations.
	var hb [8]byte
	hn, _ := io.ReadFull(r, hb[:])
	head := hb[:hn]
	br := io.MultiReader(bytes.NewReader(head), r)
	var format string
	switch {
	case bytes.HasPrefix(head, []byte("\xff\xd8")):
		format = "jpeg"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		format = "png"
	default:
		return ImageInfo{}, InvalidImage("the image is not a PNG or JPEG")
	}
	var cfg image.Config
	var err error
	if full {
		// The header first: a frame beyond the service's limits is reported
		// by its dimensions without allocating its pixels (a few-KB file
		// can declare gigapixels).
		b, rerr := io.ReadAll(io.LimitReader(br, MaxImageBytes+1))
		if rerr != nil {
			return ImageInfo{}, rerr
		}
		if len(b) > MaxImageBytes {
			// size was not known: the stream says it.
			return ImageInfo{}, InvalidImage("the image is larger than the maximum of %d bytes", MaxImageBytes)
		}
		if hc, _, herr := image.DecodeConfig(bytes.NewReader(b)); herr == nil && (hc.Width > MaxImageSide || hc.Height > MaxImageSide) {
			return ImageInfo{Format: format, Width: hc.Width, Height: hc.Height, Size: size}, nil
		}
		br = bytes.NewReader(b)
		var img image.Image
		if format == "jpeg" {
			img, err = jpeg.Decode(br)
		} else {
			img, err = png.Decode(br)
		}
		if err == nil {
			b := img.Bounds()
			cfg.Width, cfg.Height = b.Dx(), b.Dy()
		}
	} else if format == "jpeg" {
		cfg, err = jpeg.DecodeConfig(br)
	} else {
		cfg, err = png.DecodeConfig(br)
	}
	if err != nil {
		// Both errors are wrapped: a prober that fetched only a byte
		// range can tell a short read (io.ErrUnexpectedEOF) from a bad
		// image and fetch the whole object.
		return ImageInfo{}, fmt.Errorf("%w: the %s image cannot be decoded: %w", ErrInvalidImage, format, err)
	}
	return ImageInfo{Format: format, Width: cfg.Width, Height: cfg.Height, Size: size}, nil
}

// FSProber probes images on the local file system. File paths are used as
// they are; "s3://bucket/key" maps to Root/bucket/key, which lets tests and
// the CLI check manifests that name S3 objects mirrored on disk.
type FSProber struct {
	Root string
	// FullDecode decodes every image completely (see ProbeReader).
	FullDecode bool
}

var _ ImageProber = FSProber{}

// Probe implements ImageProber.
func (p FSProber) Probe(ctx context.Context, loc string) (ImageInfo, error) {
	if err := ctx.Err(); err != nil {
		return ImageInfo{}, err
	}
	name := loc
	if rest, ok := strings.CutPrefix(loc, "s3://"); ok {
		if p.Root == "" {
			return ImageInfo{}, InvalidImage("no local root for %s", loc)
		}
		name = filepath.Join(p.Root, filepath.FromSlash(rest))
	}
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ImageInfo{}, InvalidImage("the image %s does not exist", loc)
		}
		return ImageInfo{}, InvalidImage("the image %s cannot be read: %v", loc, errors.Unwrap(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return ImageInfo{}, InvalidImage("the image %s is not a file", loc)
	}
	return ProbeReader(f, st.Size(), p.FullDecode)
}

// checkImage applies the Custom Labels image limits ("Guidelines and
// quotas"): 64..4096 px per side, aspect ratio at most 20:1. Sides out of
// range are ERROR_INVALID_IMAGE_DIMENSION for images with bounding boxes
// and ERROR_INVALID_IMAGE otherwise ("Non-Terminal JSON Line Validation
// Errors").
func checkImage(info ImageInfo, boxes bool) (code, msg string) {
	w, h := info.Width, info.Height
	dim := CodeInvalidImage
	if boxes {
		dim = CodeInvalidImageDimension
	}
	switch {
	case w < MinImageSide || h < MinImageSide:
		return dim, fmt.Sprintf("the image is %dx%d px; the minimum is %dx%d", w, h, MinImageSide, MinImageSide)
	case w > MaxImageSide || h > MaxImageSide:
		return dim, fmt.Sprintf("the image is %dx%d px; the maximum is %dx%d", w, h, MaxImageSide, MaxImageSide)
	case float64(max(w, h)) > MaxAspectRatio*float64(min(w, h)):
		return CodeInvalidImage, fmt.Sprintf("the image is %dx%d px; the aspect ratio must be at most 20:1", w, h)
	}
	return "", ""
}
