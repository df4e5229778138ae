package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/ocellus/ocellus/internal/blob"
	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
	"github.com/ocellus/ocellus/internal/vision"
)

// The examples a Custom Labels version trains on: read from its datasets or
// manifests, images fetched from S3, invalid lines counted as AWS counts them.

// examples turns dataset entries or manifest lines into training examples,
// reading images from S3 as the version's account.
type exampleSet struct {
	examples []vision.Example
	used     []*manifest.Entry // the entry of each example
	all      []*manifest.Entry // every entry read, for the validation manifest
	sum      manifest.Summary
	rejected map[*manifest.Entry]bool // images that cannot be read or decoded
}

// rejectShare is the share of the set's examples that may still fail to
// decode before more than 20% of its lines are invalid.
func (s *exampleSet) rejectShare() float64 {
	if len(s.examples) == 0 {
		return 0
	}
	return (vision.MaxRejectedShare*float64(s.sum.TotalLines) - float64(s.sum.InvalidLines)) / float64(len(s.examples))
}

// groundTruth is the manifest lines used, for the ground-truth output file.
func (s *exampleSet) groundTruth() []byte {
	var lines [][]byte
	for _, e := range s.used {
		if !s.rejected[e] {
			lines = append(lines, e.JSONLine())
		}
	}
	return bytes.Join(lines, []byte("\n"))
}

// validation is the validation manifest: every line with its errors.
func (s *exampleSet) validation() []byte {
	lines := make([][]byte, len(s.all))
	for i, e := range s.all {
		lines[i] = e.ValidationLine()
	}
	return bytes.Join(lines, []byte("\n"))
}

// rejectImage records that an entry's image cannot be decoded: the line
// becomes invalid with ERROR_INVALID_IMAGE, as AWS reports an image it
// cannot read during training, and its example is not used.
func (s *exampleSet) rejectImage(e *manifest.Entry, reason error) {
	if s.rejected[e] {
		return
	}
	if s.rejected == nil {
		s.rejected = map[*manifest.Entry]bool{}
	}
	s.rejected[e] = true
	msg := manifest.Message(manifest.CodeInvalidImage)
	if reason != nil {
		msg += " " + decodeReason(reason)
	}
	e.Issues = append(e.Issues, manifest.Issue{Code: manifest.CodeInvalidImage, Message: msg, Scope: manifest.ScopeLine})
	s.sum.ValidLines--
	s.sum.InvalidLines++
	if e.Line > 0 {
		s.sum.ErrorLineIndices = append(s.sum.ErrorLineIndices, e.Line)
		sort.Ints(s.sum.ErrorLineIndices)
	}
}

// tooManyInvalid reports whether more than AWS's 20% of the set's lines
// are invalid, and then marks the set's summary as failed.
func (s *exampleSet) tooManyInvalid() bool {
	if s.sum.TotalLines == 0 || float64(s.sum.InvalidLines) <= vision.MaxRejectedShare*float64(s.sum.TotalLines) {
		return false
	}
	s.sum.Errors = append(s.sum.Errors, manifest.Issue{Code: manifest.CodeTooManyInvalidRowsInManifest, Message: manifest.Message(manifest.CodeTooManyInvalidRowsInManifest)})
	s.sum.Failure = &s.sum.Errors[len(s.sum.Errors)-1]
	return true
}

// datasetExamples reads a stored dataset's usable entries.
func (c *Control) datasetExamples(ctx context.Context, account, datasetARN string) (exampleSet, error) {
	var set exampleSet
	var entries []*manifest.Entry
	after := ""
	for {
		es, next, err := c.store.ListEntries(ctx, store.EntryFilter{DatasetARN: datasetARN, After: after, Limit: 1000})
		if err != nil {
			return set, err
		}
		for _, e := range es {
			pe := manifest.ParseLine([]byte(e.Line), manifest.ParseOptions{Service: manifest.CustomLabels})
			pe.Line = len(entries) + 1 // its line in the validation manifest
			entries = append(entries, pe)
		}
		if next == "" {
			break
		}
		after = next
	}
	return c.examplesOf(ctx, account, entries)
}

// manifestExamples reads TrainingData/TestingData manifests from S3.
func (c *Control) manifestExamples(ctx context.Context, account string, locs []ocellus.S3Location) (exampleSet, error) {
	var entries []*manifest.Entry
	for _, l := range locs {
		rc, info, err := c.blobs.Open(ctx, account, l.Bucket, l.Key, l.Version)
		if err != nil {
			return exampleSet{}, err
		}
		sum, err := manifest.Validate(ctx, rc, manifest.Options{ParseOptions: manifest.ParseOptions{Service: manifest.CustomLabels},
			Prober: &s3Prober{blobs: c.blobs, account: account}, Size: info.Size}, func(e *manifest.Entry) error {
			if e.Kept() {
				entries = append(entries, e)
			}
			return nil
		})
		rc.Close()
		if err != nil {
			return exampleSet{}, err
		}
		if sum.Failed() {
			return exampleSet{}, ocellus.Errorf(ocellus.Invalid, "The manifest s3://%s/%s is invalid: %s: %s", l.Bucket, l.Key, sum.Failure.Code, sum.Failure.Message)
		}
	}
	return c.examplesOf(ctx, account, entries)
}

// examplesOf fetches the images of the usable entries, 8 at a time.
func (c *Control) examplesOf(ctx context.Context, account string, entries []*manifest.Entry) (exampleSet, error) {
	set := exampleSet{sum: manifest.Summary{UseCase: manifest.UseCaseNotDetermined}, all: entries}
	var usable []*manifest.Entry
	for _, e := range entries {
		set.sum.TotalLines++
		if e.Invalid() || !e.Labeled() {
			if e.Invalid() {
				set.sum.InvalidLines++
				if e.Line > 0 {
					set.sum.ErrorLineIndices = append(set.sum.ErrorLineIndices, e.Line)
				}
			} else {
				set.sum.IgnoredLines++
			}
			continue
		}
		set.sum.ValidLines++
		if e.UseCase != "" && e.UseCase != manifest.UseCaseNotDetermined {
			set.sum.UseCase = e.UseCase
		}
		usable = append(usable, e)
	}
	set.examples = make([]vision.Example, len(usable))
	errs := make([]error, len(usable))
	forEach(len(usable), s3Fetchers, func(i int) { set.examples[i], errs[i] = c.example(ctx, account, usable[i]) })
	// An image that is gone from S3 is an invalid line, as one that
	// cannot be decoded (vision.Train finds those).
	kept := set.examples[:0]
	for i, err := range errs {
		switch {
		case err == nil:
			kept = append(kept, set.examples[i])
			set.used = append(set.used, usable[i])
		case ocellus.KindOf(err) == ocellus.InvalidS3Object:
			set.rejectImage(usable[i], fmt.Errorf("%s cannot be read: %s", usable[i].SourceRef, ocellus.MessageOf(err)))
		default:
			return set, err
		}
	}
	set.examples = kept
	return set, nil
}

func countRejected(rs []vision.Rejected, test bool) int {
	n := 0
	for _, r := range rs {
		if r.Test == test {
			n++
		}
	}
	return n
}

// firstRejected names the set's first line with ERROR_INVALID_IMAGE.
func firstRejected(s *exampleSet) string {
	for _, e := range s.all {
		for _, is := range e.Issues {
			if is.Code == manifest.CodeInvalidImage {
				return "first " + e.SourceRef + ": " + is.Message
			}
		}
	}
	return "none"
}

func (c *Control) example(ctx context.Context, account string, e *manifest.Entry) (vision.Example, error) {
	bucket, key, err := blob.ParseURI(e.Image)
	if err != nil {
		return vision.Example{}, ocellus.Errorf(ocellus.Invalid, "The image %s is not an S3 object.", e.SourceRef)
	}
	// The manifest's validation refused larger images; this one grew since.
	data, _, err := c.blobs.ReadAll(ctx, account, bucket, key, "", manifest.MaxImageBytes)
	var tl *blob.TooLargeError
	if errors.As(err, &tl) {
		return vision.Example{}, ocellus.Errorf(ocellus.Invalid, "The image %s is larger than the maximum of %d bytes.", e.SourceRef, manifest.MaxImageBytes)
	}
	if err != nil {
		return vision.Example{}, err
	}
	ex := vision.Example{Data: data}
	for _, cl := range e.Classes {
		ex.Labels = append(ex.Labels, cl.Name)
	}
	for _, d := range e.Detections {
		if d.ImageWidth <= 0 || d.ImageHeight <= 0 {
			continue
		}
		w, h := float64(d.ImageWidth), float64(d.ImageHeight)
		for _, b := range d.Boxes {
			if b.Valid {
				ex.Objects = append(ex.Objects, vision.Object{Label: b.Label, Box: vision.Box{Left: b.Left / w, Top: b.Top / h, Width: b.Width / w, Height: b.Height / h}})
			}
		}
	}
	return ex, nil
}
