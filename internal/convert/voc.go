package convert

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ocellus/ocellus/internal/manifest"
)

// VOCFile is one Pascal VOC annotation file as written by labelImg, CVAT
// ("Pascal VOC 1.1"), Label Studio and Roboflow.
type VOCFile struct {
	Filename      string
	Path          string
	Width, Height int // 0 when absent or not a number
	Objects       []VOCObject
}

// VOCObject is one <object>. Err says why its box could not be read.
type VOCObject struct {
	Line                   int // line of the <object> element
	Name                   string
	XMin, YMin, XMax, YMax float64
	Difficult              bool
	Err                    string
}

// maxVOCObjects bounds what one file may declare; the import takes at most
// 50 boxes per image anyway.
const maxVOCObjects = 10_000

// ParseVOC reads one VOC XML document. It fails only when the document is
// not well-formed XML with an <annotation> root; a bad object is kept with
// its Err set.
func ParseVOC(b []byte) (*VOCFile, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	var out VOCFile
	depth := 0
	root := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				if t.Name.Local != "annotation" {
					return nil, fmt.Errorf("the root element is <%s>, not <annotation>", t.Name.Local)
				}
				root = true
				continue
			}
			if depth != 2 {
				continue
			}
			line, _ := dec.InputPos()
			switch t.Name.Local {
			case "filename":
				var s string
				if err := dec.DecodeElement(&s, &t); err != nil {
					return nil, err
				}
				out.Filename = strings.TrimSpace(s)
			case "path":
				var s string
				if err := dec.DecodeElement(&s, &t); err != nil {
					return nil, err
				}
				out.Path = strings.TrimSpace(s)
			case "size":
				var s struct {
					Width  string `xml:"width"`
					Height string `xml:"height"`
				}
				if err := dec.DecodeElement(&s, &t); err != nil {
					return nil, err
				}
				out.Width, out.Height = vocInt(s.Width), vocInt(s.Height)
			case "object":
				var o struct {
					Name      string `xml:"name"`
					Difficult string `xml:"difficult"`
					Box       *struct {
						XMin string `xml:"xmin"`
						YMin string `xml:"ymin"`
						XMax string `xml:"xmax"`
						YMax string `xml:"ymax"`
					} `xml:"bndbox"`
				}
				if err := dec.DecodeElement(&o, &t); err != nil {
					return nil, err
				}
				if len(out.Objects) >= maxVOCObjects {
					return nil, fmt.Errorf("more than %d objects", maxVOCObjects)
				}
				obj := VOCObject{Line: line, Name: strings.TrimSpace(o.Name), Difficult: strings.TrimSpace(o.Difficult) == "1"}
				if o.Box == nil {
					obj.Err = "the object has no <bndbox>"
				} else {
					var errs []string
					for _, f := range []struct {
						name string
						s    string
						v    *float64
					}{{"xmin", o.Box.XMin, &obj.XMin}, {"ymin", o.Box.YMin, &obj.YMin}, {"xmax", o.Box.XMax, &obj.XMax}, {"ymax", o.Box.YMax, &obj.YMax}} {
						v, err := strconv.ParseFloat(strings.TrimSpace(f.s), 64)
						if err != nil || v != v || v > 1e9 || v < -1e9 {
							errs = append(errs, fmt.Sprintf("%s %q is not a number", f.name, f.s))
						}
						*f.v = v
					}
					obj.Err = strings.Join(errs, ", ")
				}
				out.Objects = append(out.Objects, obj)
			default:
				if err := dec.Skip(); err != nil {
					return nil, err
				}
			}
			depth--
		case xml.EndElement:
			depth--
		}
	}
	if !root {
		return nil, errors.New("no <annotation> element")
	}
	return &out, nil
}

func vocInt(s string) int {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f > 1e6 {
		return 0
	}
	return int(f)
}

// VOCOptions narrow a VOC conversion.
type VOCOptions struct {
	// IDs keeps only the annotation files with these base names (a VOC
	// ImageSets/Main/*.txt list); nil keeps all.
	IDs []string
	// Labels, when set, are the only classes: other names are reported as
	// ERROR_MISSING_CLASS_MAP_ID and left out.
	Labels []string
}

// ReadIDs reads a VOC image-set file: one id a line, optionally followed
// by a flag ("2008_000008 -1"); ids flagged -1 are left out.
func ReadIDs(p string) ([]string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || (len(f) > 1 && f[1] == "-1") {
			continue
		}
		out = append(out, f[0])
	}
	return out, nil
}

// VOC converts every *.xml annotation below root. Images are looked up next
// to the XML file, in a JPEGImages folder beside Annotations (the VOC
// layout) and in root/JPEGImages, by <filename> ignoring case, then by the
// XML's base name with each image extension.
func VOC(root string, opts VOCOptions) (*Dataset, error) {
	if st, err := os.Stat(root); err != nil {
		return nil, err
	} else if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", root)
	}
	var ids map[string]bool
	if opts.IDs != nil {
		ids = map[string]bool{}
		for _, id := range opts.IDs {
			ids[id] = true
		}
	}
	var allowed map[string]bool
	if len(opts.Labels) > 0 {
		allowed = map[string]bool{}
		for _, l := range opts.Labels {
			allowed[l] = true
		}
	}
	d := &Dataset{}
	idx := dirIndex{}
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
		if !strings.EqualFold(filepath.Ext(p), ".xml") {
			return nil
		}
		base := strings.TrimSuffix(de.Name(), filepath.Ext(de.Name()))
		if ids != nil && !ids[base] {
			return nil
		}
		d.vocFile(root, p, base, allowed, idx)
		return nil
	})
	return d, err
}

func (d *Dataset) vocFile(root, p, base string, allowed map[string]bool, idx dirIndex) {
	file := rel(root, p)
	b, err := os.ReadFile(p)
	if err != nil {
		d.problem(file, 0, "", manifest.CodeInvalidJSONLine, "the annotation file cannot be read: %v", err)
		return
	}
	v, err := ParseVOC(b)
	if err != nil {
		d.problem(file, 0, "", manifest.CodeInvalidJSONLine, "the annotation file is not Pascal VOC XML: %v", err)
		return
	}
	img, ok := findVOCImage(root, filepath.Dir(p), base, v, idx)
	if !ok {
		d.problem(file, 0, v.Filename, manifest.CodeInvalidImage, "the image %q of %s does not exist", v.Filename, file)
		return
	}
	image := rel(root, img)
	w, h, msg := probe(img)
	if msg != "" {
		d.problem(file, 0, image, manifest.CodeInvalidImage, "%s", msg)
		return
	}
	// Boxes are in the annotation's pixel grid; an annotation made on a
	// resized copy is scaled to the image.
	sx, sy := 1.0, 1.0
	if v.Width > 0 && v.Height > 0 && (v.Width != w || v.Height != h) {
		sx, sy = float64(w)/float64(v.Width), float64(h)/float64(v.Height)
	}
	var objs []Object
	var lines []int
	for _, o := range v.Objects {
		switch {
		case o.Err != "":
			d.problem(file, o.Line, image, manifest.CodeInvalidBoundingBox, "%s: %s", image, o.Err)
			continue
		case o.Name == "":
			d.problem(file, o.Line, image, manifest.CodeMissingClassMapID, "%s: an object has no <name>", image)
			continue
		case allowed != nil && !allowed[o.Name]:
			d.problem(file, o.Line, image, manifest.CodeMissingClassMapID, "%s: class %q is not one of the labels", image, o.Name)
			continue
		}
		objs = append(objs, Object{Label: o.Name, Left: o.XMin * sx, Top: o.YMin * sy, Width: (o.XMax - o.XMin) * sx, Height: (o.YMax - o.YMin) * sy})
		lines = append(lines, o.Line)
	}
	kept, ok := d.checkObjects(file, lines, image, w, h, objs)
	if !ok {
		return
	}
	d.Records = append(d.Records, Record{Image: image, Path: img, Width: w, Height: h, Objects: kept})
}

func findVOCImage(root, dir, base string, v *VOCFile, idx dirIndex) (string, bool) {
	dirs := []string{dir}
	if strings.EqualFold(filepath.Base(dir), "Annotations") {
		dirs = append(dirs, filepath.Join(filepath.Dir(dir), "JPEGImages"))
	}
	dirs = append(dirs, filepath.Join(root, "JPEGImages"))
	var names []string
	for _, n := range []string{v.Filename, v.Path} {
		n = path.Base(strings.ReplaceAll(n, `\`, "/"))
		if n == "" || n == "." || n == "/" {
			continue
		}
		names = append(names, n)
		if !isImage(n) {
			for _, e := range imageExts {
				names = append(names, n+e)
			}
		}
	}
	for _, e := range imageExts {
		names = append(names, base+e)
	}
	for _, dd := range dirs {
		for _, n := range names {
			if p, ok := idx.find(dd, n); ok && isImage(p) {
				return p, true
			}
		}
	}
	return "", false
}
