package convert

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocellus/ocellus/internal/manifest"
)

// checkWritten asserts the invariant of every reader: what it keeps, the
// import accepts. Each record's line must parse without a single error.
func checkWritten(t *testing.T, d *Dataset) {
	t.Helper()
	var b bytes.Buffer
	if _, err := d.WriteDetection(&b, WriteOptions{S3Prefix: "s3://bucket/p"}); err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSuffix(b.Bytes(), []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if e := manifest.ParseLine(line, manifest.ParseOptions{}); e.HasErrors() {
			t.Fatalf("a written line has errors %v: %s", e.Codes(), line)
		}
	}
	for _, p := range d.Problems {
		if manifest.Message(p.Code) == "" {
			t.Fatalf("problem with an unknown code: %s", p)
		}
	}
}

// boxes runs parsed objects through the reader's checks for a 640x480 image.
func boxes(objs []Object, lines []int) *Dataset {
	d := &Dataset{}
	if kept, ok := d.checkObjects("f", lines, "img.jpg", 640, 480, objs); ok {
		d.Records = append(d.Records, Record{Image: "img.jpg", Width: 640, Height: 480, Objects: kept})
	}
	return d
}

func FuzzVOC(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "datasets", "bccd", "Annotations", "BloodImage_00338.xml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`<annotation><filename>a.jpg</filename><size><width>640</width><height>480</height></size><object><name>x</name><bndbox><xmin>1.5</xmin><ymin>2</ymin><xmax>600</xmax><ymax>480.2</ymax></bndbox></object></annotation>`))
	f.Add([]byte(`<annotation><object><name>x</name><bndbox><xmin>-1</xmin><ymin>NaN</ymin><xmax>1e308</xmax><ymax>5</ymax></bndbox></object></annotation>`))
	f.Add([]byte(`<?xml version="1.0"?><annotation><object><bndbox></bndbox></object><x><y/></x></annotation>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseVOC(data)
		if err != nil {
			return
		}
		var objs []Object
		var lines []int
		for _, o := range v.Objects {
			if o.Err == "" && o.Name != "" {
				objs = append(objs, Object{Label: o.Name, Left: o.XMin, Top: o.YMin, Width: o.XMax - o.XMin, Height: o.YMax - o.YMin})
				lines = append(lines, o.Line)
			}
		}
		checkWritten(t, boxes(objs, lines))
	})
}

func FuzzYOLO(f *testing.F) {
	f.Add([]byte("0 0.5 0.5 0.2 0.4\n1 0.875 0.75 0.25 0.5\n# c\n\n0 1 1 1 1\n"), 2)
	f.Add([]byte("3 0.1 0.1 0.3 0.1 0.3 0.3\n0 nan 0 0 0\n-1 0 0 0 0\n0 1e400 0 0 0\n"), 1)
	f.Add([]byte("0 0.9999999 0.5 0.0000002 1.0000001\r\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, nnames int) {
		bs, errs := ParseYOLO(data)
		for _, e := range errs {
			if e.Line <= 0 || e.Msg == "" {
				t.Fatalf("error without a line or reason: %+v", e)
			}
		}
		var objs []Object
		var lines []int
		for _, b := range bs {
			if nnames > 0 && b.Class >= nnames {
				continue
			}
			objs = append(objs, Object{Label: "c" + strings.Repeat("x", b.Class%300), Left: (b.CX - b.Width/2) * 640, Top: (b.CY - b.Height/2) * 480, Width: b.Width * 640, Height: b.Height * 480})
			lines = append(lines, b.Line)
		}
		checkWritten(t, boxes(objs, lines))
		ParseNames(data, true)
		ParseNames(data, false)
	})
}

func FuzzCOCO(f *testing.F) {
	root := f.TempDir()
	img := filepath.Join(root, "a.png")
	writeImage(f, img, 200, 100)
	if b, err := os.ReadFile("testdata/coco/instances.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"images":[{"id":"1","file_name":"A.PNG","width":400,"height":200}],"annotations":[{"id":1,"image_id":"1","category_id":1,"bbox":[0,0,400,200]}],"categories":[{"id":1,"name":"x"}]}`))
	f.Add([]byte(`{"images":[{"id":1,"file_name":"../a.png"},{"id":2,"file_name":"/etc/passwd"}],"annotations":[{"image_id":1,"bbox":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCOCO(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(c.Images) > 50 || len(c.Annotations) > 500 {
			return // keeps each input fast; size adds no new paths
		}
		d := c.convert("f.json", root)
		for _, r := range d.Records {
			if r.Path != img {
				t.Fatalf("a record outside the images directory: %+v", r)
			}
		}
		checkWritten(t, d)
	})
}
