package convert

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ocellus/ocellus/internal/manifest"
)

// YOLOBox is one line of a YOLO label file: a class index and a box in
// fractions of the image (centre, width, height). Polygon lines (YOLO
// segmentation) are read as their bounding box.
type YOLOBox struct {
	Line                  int
	Class                 int
	CX, CY, Width, Height float64
}

// YOLOError is a label-file line that is not a box.
type YOLOError struct {
	Line int
	Text string
	Msg  string
}

// ParseYOLO reads a YOLO label file. Blank lines and # comments are
// skipped; every other line is a box or an error.
func ParseYOLO(b []byte) ([]YOLOBox, []YOLOError) {
	var boxes []YOLOBox
	var errs []YOLOError
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		bad := func(msg string) { errs = append(errs, YOLOError{Line: i + 1, Text: clip(l), Msg: msg}) }
		cls, err := strconv.Atoi(f[0])
		if err != nil || cls < 0 {
			bad(fmt.Sprintf("class %q is not a class index", clip(f[0])))
			continue
		}
		vals := make([]float64, 0, len(f)-1)
		ok := true
		for _, s := range f[1:] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				bad(fmt.Sprintf("%q is not a number", clip(s)))
				ok = false
				break
			}
			vals = append(vals, v)
		}
		if !ok {
			continue
		}
		switch {
		case len(vals) == 4:
			boxes = append(boxes, YOLOBox{Line: i + 1, Class: cls, CX: vals[0], CY: vals[1], Width: vals[2], Height: vals[3]})
		case len(vals) >= 6 && len(vals)%2 == 0:
			x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
			for j := 0; j < len(vals); j += 2 {
				x0, x1 = math.Min(x0, vals[j]), math.Max(x1, vals[j])
				y0, y1 = math.Min(y0, vals[j+1]), math.Max(y1, vals[j+1])
			}
			boxes = append(boxes, YOLOBox{Line: i + 1, Class: cls, CX: (x0 + x1) / 2, CY: (y0 + y1) / 2, Width: x1 - x0, Height: y1 - y0})
		default:
			bad(fmt.Sprintf("a box line is \"class cx cy width height\" (or a polygon of x y pairs); this one has %d numbers after the class", len(vals)))
		}
	}
	return boxes, errs
}

// ParseNames reads class names from a darknet names file (one a line) or
// an Ultralytics/Roboflow data.yaml (`names: [a, b]`, a `names:` block of
// `- a` items, or of `0: a` entries).
func ParseNames(b []byte, yaml bool) []string {
	if !yaml {
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(strings.TrimRight(l, " \t\r"), "names:")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		if strings.HasPrefix(rest, "[") {
			var out []string
			for _, s := range strings.Split(strings.Trim(rest, "[]"), ",") {
				if s = unquote(s); s != "" {
					out = append(out, s)
				}
			}
			return out
		}
		var out []string
		byIndex := map[int]string{}
		for _, l := range lines[i+1:] {
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			if l[0] != ' ' && l[0] != '\t' && l[0] != '-' {
				break // the next top-level key
			}
			if item, ok := strings.CutPrefix(t, "- "); ok {
				out = append(out, unquote(item))
			} else if k, v, ok := strings.Cut(t, ":"); ok {
				if n, err := strconv.Atoi(strings.TrimSpace(k)); err == nil && n >= 0 && n < 100_000 {
					byIndex[n] = unquote(v)
				}
			}
		}
		if len(byIndex) > 0 {
			out = make([]string, 0, len(byIndex))
			for n := 0; ; n++ {
				v, ok := byIndex[n]
				if !ok {
					break
				}
				out = append(out, v)
			}
		}
		return out
	}
	return nil
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, " #"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		s = s[1 : len(s)-1]
	}
	return s
}

// namesFiles are where exports keep the class names, in the order tried.
var namesFiles = []string{"data.yaml", "data.yml", "classes.txt", "obj.names", "classes.names", "_darknet.labels"}

// YOLO converts a YOLO data set below root: every image, with the label
// file of the same base name beside it or in the matching labels folder
// (.../images/x.jpg -> .../labels/x.txt, the Ultralytics and Roboflow
// layout). An image without a label file has no objects. names are the
// class names; nil reads them from root's data.yaml, classes.txt or
// obj.names, else uses the class indices as names.
func YOLO(root string, names []string) (*Dataset, error) {
	if st, err := os.Stat(root); err != nil {
		return nil, err
	} else if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", root)
	}
	if names == nil {
		for _, n := range namesFiles {
			if b, err := os.ReadFile(filepath.Join(root, n)); err == nil {
				names = ParseNames(b, strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml"))
				break
			}
		}
	}
	d := &Dataset{}
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() {
			if p != root && strings.HasPrefix(de.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !isImage(p) {
			return nil
		}
		d.yoloImage(root, p, names)
		return nil
	})
	return d, err
}

func yoloLabelFile(p string) string {
	base := strings.TrimSuffix(p, filepath.Ext(p)) + ".txt"
	if _, err := os.Stat(base); err == nil {
		return base
	}
	sep := string(filepath.Separator)
	if i := strings.LastIndex(base, sep+"images"+sep); i >= 0 {
		alt := base[:i] + sep + "labels" + sep + base[i+len(sep+"images"+sep):]
		if _, err := os.Stat(alt); err == nil {
			return alt
		}
	}
	return ""
}

func (d *Dataset) yoloImage(root, p string, names []string) {
	image := rel(root, p)
	w, h, msg := probe(p)
	if msg != "" {
		d.problem(image, 0, image, manifest.CodeInvalidImage, "%s", msg)
		return
	}
	var objs []Object
	var lines []int
	file := image
	if lf := yoloLabelFile(p); lf != "" {
		file = rel(root, lf)
		b, err := os.ReadFile(lf)
		if err != nil {
			d.problem(file, 0, image, manifest.CodeInvalidJSONLine, "the label file cannot be read: %v", err)
			return
		}
		boxes, errs := ParseYOLO(b)
		for _, e := range errs {
			d.problem(file, e.Line, image, manifest.CodeInvalidBoundingBox, "%s: %q: %s", image, e.Text, e.Msg)
		}
		for _, bx := range boxes {
			label := strconv.Itoa(bx.Class)
			if names != nil {
				if bx.Class >= len(names) || names[bx.Class] == "" {
					d.problem(file, bx.Line, image, manifest.CodeMissingClassMapID, "%s: class %d is not in the %d class names", image, bx.Class, len(names))
					continue
				}
				label = names[bx.Class]
			}
			fw, fh := float64(w), float64(h)
			objs = append(objs, Object{Label: label, Left: (bx.CX - bx.Width/2) * fw, Top: (bx.CY - bx.Height/2) * fh, Width: bx.Width * fw, Height: bx.Height * fh})
			lines = append(lines, bx.Line)
		}
	}
	kept, ok := d.checkObjects(file, lines, image, w, h, objs)
	if !ok {
		return
	}
	d.Records = append(d.Records, Record{Image: image, Path: p, Width: w, Height: h, Objects: kept})
}
