package manifest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Read reads a whole manifest for the engine's command line (`ocellus
// train`) and the benchmarks, leniently: each line is parsed by ParseLine
// (the server's own reading), and a line is used when it has a source-ref
// and at least one label attribute that parsed (image-level labels, a
// detection attribute, whose refused boxes are dropped, or a Lookout for
// Vision class). Other non-blank lines are reported in skipped (1-based).
// A line's source-ref need not resolve under opts (map it with LocalPath);
// a Lookout for Vision mask ref is read only when it does (set opts.Base to
// the folder refs are relative to). It fails only on a read error or when
// no line is usable.
func Read(r io.Reader, opts ParseOptions) (entries []*Entry, skipped []int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		e := ParseLine(line, opts)
		e.Line = n
		if !e.usable() {
			skipped = append(skipped, n)
			continue
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("manifest: line %d: %w", n+1, err)
	}
	if len(entries) == 0 {
		return nil, skipped, errors.New("manifest: no usable line")
	}
	return entries, skipped, nil
}

// usable is Read's rule: a source-ref and a label attribute that parsed.
func (e *Entry) usable() bool {
	if e.SourceRef == "" {
		return false
	}
	if e.Anomaly != nil {
		return e.Anomaly.ClassName != ""
	}
	return len(e.Classes) > 0 || len(e.Detections) > 0
}

// ClassNames returns the entry's image-level labels, without repeats, in
// manifest order.
func (e *Entry) ClassNames() []string {
	var out []string
	for _, c := range e.Classes {
		if c.Name != "" && !contains(out, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// RelBox is a box as fractions of its image's width and height, from the
// top-left corner.
type RelBox struct {
	Label                    string
	Left, Top, Width, Height float64
}

// RelBoxes returns the valid boxes of the entry's detection attributes as
// fractions of their image_size; a valid box without an image size is an
// error.
func (e *Entry) RelBoxes() ([]RelBox, error) {
	var out []RelBox
	for _, d := range e.Detections {
		for _, b := range d.Boxes {
			if !b.Valid {
				continue
			}
			if d.ImageWidth <= 0 || d.ImageHeight <= 0 {
				return nil, fmt.Errorf("bounding boxes of %s without image_size", d.Attribute)
			}
			w, h := float64(d.ImageWidth), float64(d.ImageHeight)
			out = append(out, RelBox{Label: b.Label, Left: b.Left / w, Top: b.Top / h, Width: b.Width / w, Height: b.Height / h})
		}
	}
	return out, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// LocalPath maps a source-ref (or mask ref) to a local file for reading
// from disk: s3://bucket/key becomes imagesRoot/bucket/key; file:// URIs
// and absolute paths stay; anything else is relative to manifestDir.
func LocalPath(ref, manifestDir, imagesRoot string) string {
	if rest, ok := strings.CutPrefix(ref, "s3://"); ok {
		return filepath.Join(imagesRoot, filepath.FromSlash(rest))
	}
	ref = strings.TrimPrefix(ref, "file://")
	if filepath.IsAbs(ref) {
		return ref
	}
	return filepath.Join(manifestDir, filepath.FromSlash(ref))
}
