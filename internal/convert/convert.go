// Package convert turns annotations made with other tools into SageMaker
// Ground Truth manifests that Rekognition Custom Labels and Lookout for
// Vision import: Pascal VOC XML (CVAT, Label Studio, labelImg), COCO JSON,
// YOLO text labels (Roboflow, Ultralytics, darknet) into object-detection
// manifests, and MVTec AD folders into Lookout for Vision manifests with
// anomaly masks. DeepPCB's defect lists are read for the quality benchmark.
//
// A reader never fails on one bad annotation: each problem becomes a
// Problem carrying the AWS validation code the import would report for it
// (internal/manifest's codes), and the rest of the data set is converted.
// Box rules are not re-implemented here: every converted line is checked
// with manifest.ParseLine, and boxes the import would refuse are dropped
// and reported with the code ParseLine gives them. A reader fails only when
// nothing can be read at all (the directory or the COCO file is missing or
// not COCO).
package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/manifest"
)

// Object is one bounding box in pixels from the image's top-left corner.
type Object struct {
	Label                    string
	Left, Top, Width, Height float64
}

// Record is one image of a converted data set.
type Record struct {
	// Image is the image's path relative to the data set root, with
	// slashes; Path is where it is on disk.
	Image string
	Path  string
	// Width and Height are the image's size in pixels (the annotation's,
	// else the image header's).
	Width, Height int
	// Objects are the boxes that passed the checks (object detection).
	Objects []Object

	// Lookout for Vision: Anomalous and, when a mask exists, Mask (path
	// relative to the root, slashes) and the defect class it paints.
	Anomalous   bool
	Mask        string
	MaskPath    string
	DefectClass string

	// Split is the split the source layout puts the image in ("train",
	// "test"), "" when it has none.
	Split string
}

// Problem is one annotation the import would refuse, or that could not be
// converted.
type Problem struct {
	File    string // annotation file, relative to the root where possible
	Line    int    // 1-based line in File; 0 when the format has no lines
	Image   string // the image concerned, when known
	Code    string // AWS validation code (manifest.Code*)
	Message string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Code, p.Message)
}

// Dataset is the outcome of a reader: the usable records in a stable
// order and the problems found, in the order found.
type Dataset struct {
	Records  []Record
	Problems []Problem
}

func (d *Dataset) problem(file string, line int, image, code, format string, args ...any) {
	d.Problems = append(d.Problems, Problem{File: file, Line: line, Image: image, Code: code, Message: fmt.Sprintf(format, args...)})
}

// Labels returns the distinct object labels, sorted.
func (d *Dataset) Labels() []string {
	seen := map[string]bool{}
	for _, r := range d.Records {
		for _, o := range r.Objects {
			seen[o.Label] = true
		}
	}
	out := make([]string, 0, len(seen))
	for l := range seen {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Boxes returns the number of boxes in the records.
func (d *Dataset) Boxes() int {
	n := 0
	for _, r := range d.Records {
		n += len(r.Objects)
	}
	return n
}

// Filter returns a copy of d with only the records keep accepts.
func (d *Dataset) Filter(keep func(Record) bool) *Dataset {
	out := &Dataset{Problems: d.Problems}
	for _, r := range d.Records {
		if keep(r) {
			out.Records = append(out.Records, r)
		}
	}
	return out
}

// WriteOptions say how to write manifest lines.
type WriteOptions struct {
	// S3Prefix "s3://bucket/prefix" writes refs as the prefix plus the
	// path below the data set root; "" writes the relative paths (resolve
	// them against the root: `ocellus manifest validate --base ROOT`).
	S3Prefix string
	// Attribute names the label attribute: default "bounding-box" for
	// detection, "anomaly-label" (and "anomaly-mask-ref") for Lookout.
	Attribute string
	// Created is the creation-date written on every line; zero = now.
	Created time.Time
}

// CheckS3Prefix reports whether p is a usable --s3-prefix value.
func CheckS3Prefix(p string) error {
	rest, ok := strings.CutPrefix(p, "s3://")
	b, _, _ := strings.Cut(rest, "/")
	if !ok || b == "" || strings.ContainsAny(b, " \t\r\n") {
		return fmt.Errorf("%q is not an s3://bucket[/prefix] URI", p)
	}
	return nil
}

func (o WriteOptions) ref(rel string) string {
	if o.S3Prefix == "" {
		return rel
	}
	return strings.TrimSuffix(o.S3Prefix, "/") + "/" + rel
}

func (o WriteOptions) created() string {
	t := o.Created
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000")
}

// Wire shapes of the lines; struct field order is the member order Ground
// Truth writes.
type (
	gtImageSize struct {
		Width  int `json:"width"`
		Height int `json:"height"`
		Depth  int `json:"depth"`
	}
	gtBox struct {
		ClassID int     `json:"class_id"`
		Top     float64 `json:"top"`
		Left    float64 `json:"left"`
		Width   float64 `json:"width"`
		Height  float64 `json:"height"`
	}
	gtDetection struct {
		ImageSize   []gtImageSize `json:"image_size"`
		Annotations []gtBox       `json:"annotations"`
	}
	gtConfidence struct {
		Confidence float64 `json:"confidence"`
	}
	gtDetectionMeta struct {
		Objects        []gtConfidence    `json:"objects"`
		ClassMap       map[string]string `json:"class-map"`
		Type           string            `json:"type"`
		HumanAnnotated string            `json:"human-annotated"`
		CreationDate   string            `json:"creation-date"`
		JobName        string            `json:"job-name"`
	}
)

// detectionLine renders one object-detection line. ids maps labels to
// class ids; the class-map lists the ids the line uses.
func detectionLine(ref, attr string, w, h int, objs []Object, ids map[string]int, created string) []byte {
	det := gtDetection{ImageSize: []gtImageSize{{w, h, 3}}, Annotations: []gtBox{}}
	md := gtDetectionMeta{Objects: []gtConfidence{}, ClassMap: map[string]string{}, Type: "groundtruth/object-detection",
		HumanAnnotated: "yes", CreationDate: created, JobName: "labeling-job/" + attr}
	for _, o := range objs {
		id := ids[o.Label]
		det.Annotations = append(det.Annotations, gtBox{ClassID: id, Top: o.Top, Left: o.Left, Width: o.Width, Height: o.Height})
		md.Objects = append(md.Objects, gtConfidence{1})
		md.ClassMap[fmt.Sprint(id)] = o.Label
	}
	var b bytes.Buffer
	b.WriteString(`{"source-ref":`)
	b.Write(marshal(ref))
	b.WriteByte(',')
	b.Write(marshal(attr))
	b.WriteByte(':')
	b.Write(marshal(det))
	b.WriteByte(',')
	b.Write(marshal(attr + "-metadata"))
	b.WriteByte(':')
	b.Write(marshal(md))
	b.WriteByte('}')
	return b.Bytes()
}

func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only our own shapes, which always encode
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// WriteDetection writes one Custom Labels object-detection line per record
// and returns the number of lines. Class ids follow the sorted labels of
// the whole data set, so a label has the same id on every line.
func (d *Dataset) WriteDetection(w io.Writer, opts WriteOptions) (int, error) {
	attr := opts.Attribute
	if attr == "" {
		attr = "bounding-box"
	}
	ids := map[string]int{}
	for i, l := range d.Labels() {
		ids[l] = i
	}
	created := opts.created()
	n := 0
	for _, r := range d.Records {
		line := detectionLine(opts.ref(r.Image), attr, r.Width, r.Height, r.Objects, ids, created)
		if _, err := w.Write(append(line, '\n')); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// checkObjects applies the import's rules to the boxes of one image with
// manifest.ParseLine and returns the boxes it keeps. Boxes refused are
// reported with ParseLine's code; lines[i] is the source line of objs[i]
// (0 if none). ok is false when the import would refuse the whole image
// (too many boxes, bad image size): it is reported and left out.
func (d *Dataset) checkObjects(file string, lines []int, image string, w, h int, objs []Object) (kept []Object, ok bool) {
	for i := range objs {
		objs[i] = snap(objs[i], w, h)
	}
	ids := map[string]int{}
	for _, o := range objs {
		if _, seen := ids[o.Label]; !seen {
			ids[o.Label] = len(ids)
		}
	}
	e := manifest.ParseLine(detectionLine("s3://convert/"+image, "bounding-box", w, h, objs, ids, "2020-01-01T00:00:00"), manifest.ParseOptions{})
	bad := map[int]bool{}
	for _, is := range e.Issues {
		if is.Warning() {
			continue
		}
		msg := is.Message
		if msg == "" {
			msg = manifest.Message(is.Code)
		}
		switch {
		case is.Scope == manifest.ScopeAnnotation && is.Index < len(objs):
			line := 0
			if is.Index < len(lines) {
				line = lines[is.Index]
			}
			o := objs[is.Index]
			bad[is.Index] = true
			d.problem(file, line, image, is.Code, "%s box of %s: %s", o.Label, image, msg)
		case is.Code == manifest.CodeNoValidAnnotations:
			// Every box was refused: reported box by box above.
		default:
			d.problem(file, 0, image, is.Code, "%s: %s", image, msg)
			return nil, false
		}
	}
	for i, o := range objs {
		if !bad[i] {
			kept = append(kept, o)
		}
	}
	if len(objs) > 0 && len(kept) == 0 {
		return nil, false // nothing of it is left to learn from
	}
	return kept, true
}

// imageExts are the extensions the import accepts, lower-case.
var imageExts = []string{".jpg", ".jpeg", ".png"}

func isImage(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	for _, e := range imageExts {
		if ext == e {
			return true
		}
	}
	return false
}

// probe reads an image's header: its size, or the ERROR_INVALID_IMAGE
// message when it is missing, unreadable or not JPEG/PNG.
func probe(p string) (w, h int, msg string) {
	info, err := manifest.FSProber{}.Probe(context.Background(), p)
	if err != nil {
		return 0, 0, err.Error()
	}
	return info.Width, info.Height, ""
}

// dirIndex finds files in a directory by name ignoring case, so that an
// annotation naming IMG_1.jpg finds IMG_1.JPG (and the other way round).
type dirIndex map[string]map[string]string // dir -> lower-case name -> name

func (x dirIndex) find(dir, name string) (string, bool) {
	names, ok := x[dir]
	if !ok {
		names = map[string]string{}
		if ents, err := os.ReadDir(dir); err == nil {
			for _, e := range ents {
				if e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0 {
					lower := strings.ToLower(e.Name())
					if _, dup := names[lower]; !dup || e.Name() == name {
						names[lower] = e.Name()
					}
				}
			}
		}
		x[dir] = names
	}
	if _, err := os.Stat(filepath.Join(dir, name)); err == nil && name != "" {
		return filepath.Join(dir, name), true
	}
	if n, ok := names[strings.ToLower(name)]; ok {
		return filepath.Join(dir, n), true
	}
	return "", false
}

// rel returns p relative to root with slashes.
func rel(root, p string) string {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

// snap rounds a box to 1/1000 px and pulls an edge that overshoots the
// frame by less than half a pixel back onto it: fractions (YOLO) and float
// exports (COCO) put boxes that touch the border at 640.0000001, which the
// import would refuse as off-frame. A box further out is left for the
// check to report.
func snap(o Object, w, h int) Object {
	r := func(v float64) float64 { return math.Round(v*1000) / 1000 }
	o.Left, o.Top, o.Width, o.Height = r(o.Left), r(o.Top), r(o.Width), r(o.Height)
	if o.Left < 0 && o.Left > -0.5 {
		o.Width += o.Left
		o.Left = 0
	}
	if o.Top < 0 && o.Top > -0.5 {
		o.Height += o.Top
		o.Top = 0
	}
	o.Width = fit(o.Left, o.Width, float64(w))
	o.Height = fit(o.Top, o.Height, float64(h))
	return o
}

// fit shortens size so that start+size stays within limit when it
// overshoots by less than half a pixel.
func fit(start, size, limit float64) float64 {
	if over := start + size - limit; over > 0 && over < 0.5 {
		size = limit - start
		for size > 0 && start+size > limit {
			size = math.Nextafter(size, 0)
		}
	}
	return size
}
