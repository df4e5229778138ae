package manifest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Options configure Validate. Zero values are the AWS defaults.
type Options struct {
	ParseOptions
	// Training applies the training-dataset rule on label counts: at
	// least 2 labels for image-level classification, 1 for detection.
	Training bool
	// Prober checks every image (and Lookout for Vision mask). Nil skips
	// the image checks (existence, format, 64..4096 px, 20:1).
	Prober ImageProber
	// Workers bounds concurrent probes; default 8.
	Workers int
	// Size is the manifest's size in bytes when known (S3 HeadObject), so
	// that an oversized manifest fails before it is read.
	Size int64
	// MaxLines, MaxBytes and MaxLabels default to AWS's 250,000 lines,
	// 1 GB and 250 labels.
	MaxLines  int
	MaxBytes  int64
	MaxLabels int
}

// DatasetStats are DescribeDataset's DatasetStats.
type DatasetStats struct {
	LabeledEntries int // entries with at least one label
	TotalEntries   int // entries kept in the dataset
	TotalLabels    int // distinct labels used by the entries
	ErrorEntries   int // entries with at least one error
}

// LabelStats are ListDatasetLabels' LabelStats for one label.
type LabelStats struct {
	EntryCount       int // images that use the label
	BoundingBoxCount int // images that have the label on a bounding box (AWS's definition)
	Boxes            int // bounding boxes with the label (not in the AWS API)
}

// Summary is the outcome of validating one manifest: the statistics AWS
// writes to the manifest summary, DescribeDataset's stats, and per-label
// counts.
type Summary struct {
	UseCase          UseCase
	TotalLines       int
	ValidLines       int
	InvalidLines     int
	IgnoredLines     int // valid but unused: no annotations, duplicates
	ErrorLineIndices []int
	// Errors are the dataset-level (terminal) errors found; Failure is
	// the first of them, nil when the dataset can be used.
	Errors  []Issue
	Failure *Issue
	Bytes   int64 // bytes read
	Stats   DatasetStats
	Labels  map[string]*LabelStats
	// Buckets are the S3 buckets of the kept entries' images.
	Buckets []string
}

// Failed reports whether a terminal error makes the dataset unusable.
func (s *Summary) Failed() bool { return s.Failure != nil }

// LabelNames returns the labels in the dataset, sorted.
func (s *Summary) LabelNames() []string {
	out := make([]string, 0, len(s.Labels))
	for l := range s.Labels {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

func (s *Summary) fail(code, msg string) {
	if msg == "" {
		msg = messages[code]
	}
	s.Errors = append(s.Errors, Issue{Code: code, Message: msg})
	if s.Failure == nil {
		s.Failure = &s.Errors[len(s.Errors)-1]
	}
}

type slot struct {
	e    *Entry
	done chan struct{}
	err  error
}

// Validate reads a manifest from r line by line, checks every line, probes
// its image, and calls emit with each entry in manifest order. Entries are
// not retained: memory is bounded by the line length limit, the probe
// window and the per-image set used to find duplicate source-refs (about
// 50 bytes per line), not by the manifest's size.
//
// Dataset-level rules are only known at the end, so emit sees every entry
// before Validate reports a terminal failure in Summary.Failure: a caller
// that stores entries as they come must discard them when the summary
// fails. Terminal conditions found while reading (too large, too many
// lines, binary content) stop the reading early.
//
// The error is non-nil only when validation itself could not finish: ctx
// was cancelled, emit returned an error, or the prober failed for a reason
// other than the image (see ImageProber). A manifest that cannot be read
// is a Summary failure (ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT).
func Validate(ctx context.Context, r io.Reader, opts Options, emit func(*Entry) error) (*Summary, error) {
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.MaxLines <= 0 {
		opts.MaxLines = DefaultMaxLines
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxLabels <= 0 {
		opts.MaxLabels = DefaultMaxLabels
	}
	s := &Summary{UseCase: UseCaseNotDetermined, Labels: map[string]*LabelStats{}}
	if opts.Size > opts.MaxBytes {
		s.fail(CodeManifestSizeTooLarge, fmt.Sprintf("The manifest file size exceeds the maximum supported size: %d bytes; the maximum is %d.", opts.Size, opts.MaxBytes))
		return s, nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pending := make(chan *slot, opts.Workers*4)
	work := make(chan *slot)
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sl := range work {
				sl.err = probeEntry(ctx, opts, sl.e)
				close(sl.done)
			}
		}()
	}
	// The producer reads and parses; results are consumed here in order.
	// readFail and the byte count are published by closing pending.
	var readFail *Issue
	go func() {
		defer close(work)
		defer close(pending)
		readFail = readLines(ctx, r, opts, s, func(e *Entry) bool {
			sl := &slot{e: e, done: make(chan struct{})}
			select {
			case pending <- sl:
			case <-ctx.Done():
				return false
			}
			if opts.Prober == nil || e.Image == "" || e.Invalid() {
				close(sl.done)
				return true
			}
			select {
			case work <- sl:
			case <-ctx.Done():
				close(sl.done)
				return false
			}
			return true
		})
	}()
	abort := func(err error) (*Summary, error) {
		cancel()
		for range pending {
		}
		wg.Wait()
		return nil, err
	}

	t := newTally()
	for sl := range pending {
		select {
		case <-sl.done:
		case <-ctx.Done():
			return abort(ctx.Err())
		}
		if sl.err != nil {
			return abort(sl.err)
		}
		t.add(s, sl.e)
		if emit != nil {
			if err := emit(sl.e); err != nil {
				return abort(err)
			}
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if readFail != nil {
		s.fail(readFail.Code, readFail.Message)
		return s, nil
	}
	t.finish(s, opts)
	return s, nil
}

// readLines reads lines with a bounded buffer: a line longer than the AWS
// limit is kept only up to the limit (and reported), never whole.
func readLines(ctx context.Context, r io.Reader, opts Options, s *Summary, send func(*Entry) bool) *Issue {
	br := bufio.NewReaderSize(r, 64<<10)
	maxBytes := MaxLineChars * utf8.UTFMax
	var buf []byte
	n := 0
	first := true
	for {
		if ctx.Err() != nil {
			return nil
		}
		buf = buf[:0]
		tooLong := false
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			s.Bytes += int64(len(chunk))
			if len(buf)+len(chunk) <= maxBytes {
				buf = append(buf, chunk...)
			} else {
				tooLong = true
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if s.Bytes > opts.MaxBytes {
			return &Issue{Code: CodeManifestSizeTooLarge, Message: fmt.Sprintf("The manifest file size exceeds the maximum supported size of %d bytes.", opts.MaxBytes)}
		}
		if err != nil && err != io.EOF {
			return &Issue{Code: CodeManifestInaccessibleOrUnsupportedFormat, Message: "The manifest file extension or contents are invalid: reading it failed."}
		}
		if first {
			first = false
			buf = bytes.TrimPrefix(buf, []byte("\xef\xbb\xbf")) // UTF-8 BOM
			if binary(buf) {
				return &Issue{Code: CodeManifestInaccessibleOrUnsupportedFormat, Message: "The manifest file extension or contents are invalid: it is not a JSON Lines text file."}
			}
		}
		if err == io.EOF && len(buf) == 0 && !tooLong {
			return nil // no final line after the last newline
		}
		line := bytes.TrimRight(buf, "\r\n")
		n++
		if n > opts.MaxLines {
			return &Issue{Code: CodeManifestRowsExceedsMaximum, Message: fmt.Sprintf("The manifest file has too many rows: the maximum is %d.", opts.MaxLines)}
		}
		var e *Entry
		if tooLong {
			e = &Entry{Raw: append([]byte(nil), line...), UseCase: UseCaseNotDetermined}
			e.lineError(CodeInvalidJSONLine, fmt.Sprintf("The JSON Line has an invalid format: it is longer than %d characters.", MaxLineChars))
		} else {
			e = ParseLine(line, opts.ParseOptions)
		}
		e.Line = n
		if !send(e) {
			return nil
		}
		if err == io.EOF {
			return nil
		}
	}
}

// binary tells a JSON Lines file from an image or archive uploaded by
// mistake, which AWS refuses as an unsupported format.
func binary(b []byte) bool {
	if len(b) > 512 {
		b = b[:512]
		// Do not mistake a rune cut at the boundary for bad UTF-8.
		for i := 0; i < utf8.UTFMax && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	return bytes.IndexByte(b, 0) >= 0 || !utf8.Valid(b)
}

// probeEntry checks the entry's image (and mask) with the prober. Only
// image problems become issues; other errors are returned.
func probeEntry(ctx context.Context, opts Options, e *Entry) error {
	info, err := opts.Prober.Probe(ctx, e.Image)
	if err != nil {
		if errors.Is(err, ErrInvalidImage) {
			e.lineError(CodeInvalidImage, "The image is invalid. Check S3 path and/or image properties: "+reason(err)+".")
			return nil
		}
		return err
	}
	e.ImageInfo = &info
	if code, msg := checkImage(info, len(e.Detections) > 0); code != "" {
		e.lineError(code, strings.TrimSuffix(messages[code], ".")+": "+msg+".")
		return nil
	}
	for _, d := range e.Detections {
		if d.ImageWidth != info.Width || d.ImageHeight != info.Height {
			e.lineError(CodeInvalidImageDimension, fmt.Sprintf("The image dimension(s) do not conform to allowed dimensions: image_size of %s is %dx%d but the image is %dx%d.",
				d.Attribute, d.ImageWidth, d.ImageHeight, info.Width, info.Height))
			return nil
		}
	}
	if a := e.Anomaly; a != nil && a.Mask != "" {
		mi, err := opts.Prober.Probe(ctx, a.Mask)
		switch {
		case errors.Is(err, ErrInvalidImage):
			e.lineError(CodeInvalidImage, "The image is invalid. Check S3 path and/or image properties: the anomaly mask: "+reason(err)+".")
		case err != nil:
			return err
		case mi.Format != "png":
			e.lineError(CodeInvalidImage, "The image is invalid. Check S3 path and/or image properties: the anomaly mask must be a PNG image.")
		case mi.Width != info.Width || mi.Height != info.Height:
			e.lineError(CodeInvalidImageDimension, fmt.Sprintf("The image dimension(s) do not conform to allowed dimensions: the anomaly mask is %dx%d but the image is %dx%d.",
				mi.Width, mi.Height, info.Width, info.Height))
		}
	}
	return nil
}

func reason(err error) string {
	return strings.TrimPrefix(err.Error(), ErrInvalidImage.Error()+": ")
}

// tally accumulates the summary in manifest order.
type tally struct {
	seen         map[[16]byte]struct{}
	usable       map[string]bool // labels of valid entries
	imageLevel   int
	localization int
	segmentation int
	anomaly      int
	otherBuckets map[string]bool
}

func newTally() *tally {
	return &tally{seen: map[[16]byte]struct{}{}, usable: map[string]bool{}, otherBuckets: map[string]bool{}}
}

func (t *tally) add(s *Summary, e *Entry) {
	s.TotalLines++
	if e.Kept() {
		key := e.Image
		if key == "" {
			key = e.SourceRef
		}
		h := sha256.Sum256([]byte(key))
		var k [16]byte
		copy(k[:], h[:16])
		if _, dup := t.seen[k]; dup {
			e.Duplicate = true
		} else {
			t.seen[k] = struct{}{}
		}
	}
	if e.HasErrors() {
		s.ErrorLineIndices = append(s.ErrorLineIndices, e.Line)
	}
	switch {
	case e.Invalid():
		s.InvalidLines++
	case e.Ignored() || e.Duplicate:
		s.IgnoredLines++
	default:
		s.ValidLines++
		for _, l := range e.Labels() {
			t.usable[l] = true
		}
		switch e.UseCase {
		case UseCaseImageLevelLabels:
			t.imageLevel++
		case UseCaseObjectLocalization:
			t.localization++
		case UseCaseAnomalySegmentation:
			t.segmentation++
		case UseCaseAnomalyClassification:
			t.anomaly++
		}
	}
	if !e.Kept() {
		return
	}
	if e.Bucket != "" {
		if len(s.Buckets) == 0 {
			s.Buckets = append(s.Buckets, e.Bucket)
		} else if e.Bucket != s.Buckets[0] && !t.otherBuckets[e.Bucket] {
			t.otherBuckets[e.Bucket] = true
			s.Buckets = append(s.Buckets, e.Bucket)
		}
	}
	st := &s.Stats
	st.TotalEntries++
	if e.Labeled() {
		st.LabeledEntries++
	}
	if e.HasErrors() {
		st.ErrorEntries++
	}
	boxes := map[string]int{}
	for _, d := range e.Detections {
		for _, b := range d.Boxes {
			if b.Valid {
				boxes[b.Label]++
			}
		}
	}
	for _, l := range e.Labels() {
		ls := s.Labels[l]
		if ls == nil {
			ls = &LabelStats{}
			s.Labels[l] = ls
		}
		ls.EntryCount++
		if n := boxes[l]; n > 0 {
			ls.BoundingBoxCount++
			ls.Boxes += n
		}
	}
	st.TotalLabels = len(s.Labels)
}

// finish applies the dataset-level rules of "Validation rules for manifest
// files" and "Guidelines and quotas".
func (t *tally) finish(s *Summary, opts Options) {
	switch {
	case t.segmentation > 0:
		s.UseCase = UseCaseAnomalySegmentation
	case t.anomaly > 0:
		s.UseCase = UseCaseAnomalyClassification
	case t.imageLevel > t.localization:
		s.UseCase = UseCaseImageLevelLabels
	case t.localization > t.imageLevel:
		s.UseCase = UseCaseObjectLocalization
	}
	if s.TotalLines == 0 {
		s.fail(CodeEmptyManifest, "")
		return
	}
	if n := len(s.Labels); n > opts.MaxLabels {
		s.fail(CodeManifestTooManyLabels, fmt.Sprintf("The manifest file has too many labels: %d; the maximum is %d.", n, opts.MaxLabels))
	}
	if len(s.Buckets) > 1 {
		s.fail(CodeImagesInMultipleS3Buckets, fmt.Sprintf("The manifest file contains images from multiple S3 buckets: %s.", strings.Join(s.Buckets, ", ")))
	}
	// "The 20% invalidity rules apply cumulatively across all validation
	// rules"; ignored lines do not count towards it.
	if s.InvalidLines*5 > s.TotalLines {
		s.fail(CodeTooManyInvalidRowsInManifest, fmt.Sprintf("The manifest file contains too many invalid rows: %d of %d lines are invalid; at most 20%% may be.", s.InvalidLines, s.TotalLines))
	}
	if opts.Training && opts.Service == CustomLabels {
		need := 2 // classification
		if s.UseCase == UseCaseObjectLocalization {
			need = 1
		}
		if len(t.usable) < need {
			s.fail(CodeManifestTooFewLabels, fmt.Sprintf("The manifest file has too few labels: %d usable; a training dataset for %s needs at least %d.", len(t.usable), s.UseCase, need))
		}
	}
}
