// Package manifest reads SageMaker Ground Truth manifests (JSON lines) into
// training examples: image classification (one attribute per label,
// `class-name` in its metadata) and object detection (pixel boxes with a
// class map). It is lenient, as the engine's command line needs; the
// server's full validation with AWS error codes lives elsewhere.
package manifest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Box is a pixel box from the top-left.
type Box struct {
	Label                    string
	Left, Top, Width, Height float64
}

// Entry is one usable manifest line.
type Entry struct {
	Line      int // 1-based
	SourceRef string
	Labels    []string // image-level labels
	Boxes     []Box
	Detection bool // the line has an object-detection attribute
	ImageW    int  // from image_size, 0 if absent
	ImageH    int
}

// Resolve maps a source-ref to a local path: s3://bucket/key becomes
// imagesRoot/bucket/key; anything else is relative to the manifest's
// directory (absolute paths stay).
func Resolve(ref, manifestDir, imagesRoot string) string {
	if rest, ok := strings.CutPrefix(ref, "s3://"); ok {
		return filepath.Join(imagesRoot, filepath.FromSlash(rest))
	}
	ref = strings.TrimPrefix(ref, "file://")
	if filepath.IsAbs(ref) {
		return ref
	}
	return filepath.Join(manifestDir, filepath.FromSlash(ref))
}

// Read parses a manifest. Lines without a source-ref or without any label
// attribute are skipped and reported in skipped (1-based line numbers).
func Read(r io.Reader) (entries []Entry, skipped []int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		e, ok := parseLine([]byte(line))
		if !ok {
			skipped = append(skipped, n)
			continue
		}
		e.Line = n
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

type metadata struct {
	ClassName string            `json:"class-name"`
	Type      string            `json:"type"`
	ClassMap  map[string]string `json:"class-map"`
}

type detection struct {
	ImageSize []struct {
		Width  int `json:"width"`
		Height int `json:"height"`
	} `json:"image_size"`
	Annotations []struct {
		ClassID json.RawMessage `json:"class_id"`
		Left    float64         `json:"left"`
		Top     float64         `json:"top"`
		Width   float64         `json:"width"`
		Height  float64         `json:"height"`
	} `json:"annotations"`
}

func parseLine(b []byte) (Entry, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return Entry{}, false
	}
	var e Entry
	if err := json.Unmarshal(obj["source-ref"], &e.SourceRef); err != nil || e.SourceRef == "" {
		return Entry{}, false
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	labelled := false
	for _, k := range keys {
		if k == "source-ref" || strings.HasSuffix(k, "-metadata") {
			continue
		}
		raw, ok := obj[k+"-metadata"]
		if !ok {
			continue
		}
		var md metadata
		if json.Unmarshal(raw, &md) != nil {
			continue
		}
		var det detection
		isDet := strings.Contains(md.Type, "object-detection") || (md.Type == "" && json.Unmarshal(obj[k], &det) == nil && det.Annotations != nil)
		switch {
		case isDet:
			if json.Unmarshal(obj[k], &det) != nil {
				continue
			}
			e.Detection = true
			labelled = true
			if len(det.ImageSize) > 0 {
				e.ImageW, e.ImageH = det.ImageSize[0].Width, det.ImageSize[0].Height
			}
			for _, a := range det.Annotations {
				id := strings.Trim(string(a.ClassID), `"`)
				name, ok := md.ClassMap[id]
				if !ok {
					if _, err := strconv.Atoi(id); err != nil {
						continue
					}
					name = id
				}
				if a.Width <= 0 || a.Height <= 0 {
					continue
				}
				e.Boxes = append(e.Boxes, Box{Label: name, Left: a.Left, Top: a.Top, Width: a.Width, Height: a.Height})
			}
		case md.ClassName != "":
			labelled = true
			if !contains(e.Labels, md.ClassName) {
				e.Labels = append(e.Labels, md.ClassName)
			}
		}
	}
	return e, labelled
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
