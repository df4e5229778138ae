package control

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	_ "image/png" // DecodeConfig of uploads

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// The web console shows a dataset's images and uploads new ones; these
// are its S3 reads and writes, always as the signed-in account, so that a
// console user sees and writes only what the account's S3 credentials
// allow.

// DatasetImage is an image of a dataset entry, for display: its bytes
// (a JPEG thumbnail when asked for one, else the object as stored), its
// content type and its size in pixels (the full image's).
type DatasetImage struct {
	Data          []byte
	ContentType   string
	Width, Height int
}

// EntryImage reads the image sourceRef of an entry of datasetARN as
// account. The entry must be in the dataset, and the dataset the
// account's: a session can show no other object through it. maxSide > 0
// scales the image down to a JPEG thumbnail whose longer side is at most
// maxSide pixels.
func (c *Control) EntryImage(ctx context.Context, account, datasetARN, sourceRef string, maxSide int) (*DatasetImage, error) {
	d, err := c.dataset(ctx, account, datasetARN)
	if err != nil {
		return nil, err
	}
	if !c.entryIn(ctx, d.ARN, sourceRef) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The dataset %s has no entry %s.", d.ARN, sourceRef)
	}
	return c.ObjectImage(ctx, account, sourceRef, maxSide)
}

// EntryMask reads the anomaly mask maskRef, which the entry sourceRef of
// datasetARN names, as account.
func (c *Control) EntryMask(ctx context.Context, account, datasetARN, sourceRef, maskRef string) (*DatasetImage, error) {
	d, err := c.dataset(ctx, account, datasetARN)
	if err != nil {
		return nil, err
	}
	es, _, err := c.store.ListEntries(ctx, storeEntryFilter(d.ARN, sourceRef))
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		if e.SourceRef == sourceRef && bytes.Contains([]byte(e.Line), []byte(`"`+maskRef+`"`)) {
			return c.ObjectImage(ctx, account, maskRef, 0)
		}
	}
	return nil, ocellus.Errorf(ocellus.NotFound, "The entry %s of dataset %s has no mask %s.", sourceRef, d.ARN, maskRef)
}

// entryIn reports whether the dataset has an entry with this source-ref.
func (c *Control) entryIn(ctx context.Context, datasetARN, sourceRef string) bool {
	es, _, err := c.store.ListEntries(ctx, storeEntryFilter(datasetARN, sourceRef))
	if err != nil {
		return false
	}
	for _, e := range es {
		if e.SourceRef == sourceRef {
			return true
		}
	}
	return false
}

// ObjectImage reads the image at uri ("s3://bucket/key") as account,
// decoded to learn its size; maxSide > 0 makes it a JPEG thumbnail.
func (c *Control) ObjectImage(ctx context.Context, account, uri string, maxSide int) (*DatasetImage, error) {
	l, err := parseS3URI(uri)
	if err != nil {
		return nil, err
	}
	data, err := c.readImage(ctx, account, &l)
	if err != nil {
		return nil, err
	}
	img, err := imageio.Decode(data)
	if errors.Is(err, imageio.ErrTooLarge) {
		return nil, ocellus.Errorf(ocellus.ImageTooLarge, "The image %s is too large: %v.", uri, err)
	}
	if err != nil {
		return nil, ocellus.Errorf(ocellus.InvalidImageFormat, "The image %s is not a JPEG or PNG image: %v", uri, err)
	}
	b := img.Bounds()
	out := &DatasetImage{Data: data, ContentType: "image/jpeg", Width: b.Dx(), Height: b.Dy()}
	if bytes.HasPrefix(data, []byte("\x89PNG")) {
		out.ContentType = "image/png"
	}
	if maxSide <= 0 || (b.Dx() <= maxSide && b.Dy() <= maxSide && out.ContentType == "image/jpeg") {
		return out, nil
	}
	w, h := b.Dx(), b.Dy()
	if w >= h && w > maxSide {
		w, h = maxSide, max(1, h*maxSide/w)
	} else if h > maxSide {
		w, h = max(1, w*maxSide/h), maxSide
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, imageio.Resize(img, w, h), &jpeg.Options{Quality: 80}); err != nil {
		return nil, err
	}
	out.Data, out.ContentType = buf.Bytes(), "image/jpeg"
	return out, nil
}

// PutImage writes a JPEG or PNG image to s3://bucket/key as account and
// returns its size in pixels. Anything else is refused before it is
// written.
func (c *Control) PutImage(ctx context.Context, account, bucket, key string, data []byte) (width, height int, err error) {
	if len(data) > maxS3ImageBytes {
		return 0, 0, ocellus.Errorf(ocellus.ImageTooLarge, "The image %s is %d bytes; the maximum is %d.", key, len(data), maxS3ImageBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || (format != "jpeg" && format != "png") {
		return 0, 0, ocellus.Errorf(ocellus.InvalidImageFormat, "The file %s is not a JPEG or PNG image.", key)
	}
	if err := c.blobs.Put(ctx, account, bucket, key, "image/"+format, bytes.NewReader(data)); err != nil {
		return 0, 0, err
	}
	return cfg.Width, cfg.Height, nil
}

func parseS3URI(uri string) (ocellus.S3Location, error) {
	rest, ok := bytes.CutPrefix([]byte(uri), []byte("s3://"))
	if ok {
		if b, k, ok := bytes.Cut(rest, []byte("/")); ok && len(b) > 0 && len(k) > 0 {
			return ocellus.S3Location{Bucket: string(b), Key: string(k)}, nil
		}
	}
	return ocellus.S3Location{}, ocellus.Errorf(ocellus.Invalid, "%q is not an s3://bucket/key URI.", uri)
}

// storeEntryFilter finds the entries whose source-ref contains ref (the
// callers keep the one that equals it).
func storeEntryFilter(datasetARN, ref string) store.EntryFilter {
	return store.EntryFilter{DatasetARN: datasetARN, SourceRefContains: ref, Limit: 100}
}
