package convert

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ocellus/ocellus/internal/manifest"
)

// shared returns a data set of ../shared/datasets, skipping without it.
func shared(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "datasets", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not present", p)
	}
	return p
}

// writeImage writes a w x h PNG or JPEG (by extension) with some texture.
func writeImage(t testing.TB, p string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var b bytes.Buffer
	var err error
	if strings.EqualFold(filepath.Ext(p), ".png") {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies testdata/src to a temporary directory.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel(src, p))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// validate runs the project's own manifest validation over a written
// manifest with images on disk below root, as CreateDataset would.
func validate(t *testing.T, man []byte, root string, svc manifest.Service) *manifest.Summary {
	t.Helper()
	opts := manifest.Options{ParseOptions: manifest.ParseOptions{Service: svc, Base: root}, Training: svc == manifest.CustomLabels,
		Prober: manifest.FSProber{FullDecode: true}}
	var bad []string
	s, err := manifest.Validate(context.Background(), bytes.NewReader(man), opts, func(e *manifest.Entry) error {
		if e.HasErrors() || e.Invalid() {
			bad = append(bad, string(e.ValidationLine()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed() || s.InvalidLines > 0 || len(bad) > 0 {
		t.Fatalf("validation: failure %v, %d invalid lines: %.2000s", s.Failure, s.InvalidLines, strings.Join(bad, "\n"))
	}
	return s
}

func write(t *testing.T, d *Dataset, lookout bool, opts WriteOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	var n int
	var err error
	if lookout {
		n, err = d.WriteLookout(&b, opts)
	} else {
		n, err = d.WriteDetection(&b, opts)
	}
	if err != nil || n != len(d.Records) {
		t.Fatalf("wrote %d of %d lines: %v", n, len(d.Records), err)
	}
	return b.Bytes()
}

func TestVOCBCCD(t *testing.T) {
	root := shared(t, "bccd")
	d, err := VOC(root, VOCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// SOURCE.md: 364 images, 4,888 boxes, two of them degenerate.
	want := []string{
		"Annotations/BloodImage_00338.xml:158 ERROR_BOUNDING_BOX_TOO_SMALL",
		"Annotations/BloodImage_00343.xml:50 ERROR_BOUNDING_BOX_TOO_SMALL",
	}
	var got []string
	for _, p := range d.Problems {
		got = append(got, p.File+":"+strings.TrimPrefix(strings.SplitN(p.String(), ":", 3)[1], "")+" "+p.Code)
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(d.Records) != 364 || d.Boxes() != 4886 {
		t.Fatalf("%d records, %d boxes; want 364, 4886", len(d.Records), d.Boxes())
	}
	if l := strings.Join(d.Labels(), ","); l != "Platelets,RBC,WBC" {
		t.Fatalf("labels %s", l)
	}
	s := validate(t, write(t, d, false, WriteOptions{}), root, manifest.CustomLabels)
	if s.Labels["RBC"] == nil || s.Labels["RBC"].Boxes != 4153 || s.UseCase != manifest.UseCaseObjectLocalization {
		t.Fatalf("summary %+v, RBC %+v", s, s.Labels["RBC"])
	}

	// The authors' test split, by ImageSets id.
	ids, err := ReadIDs(filepath.Join(root, "ImageSets", "Main", "test.txt"))
	if err != nil {
		t.Fatal(err)
	}
	d, err = VOC(root, VOCOptions{IDs: ids, Labels: []string{"RBC", "WBC"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Records) != len(ids) {
		t.Fatalf("%d records for %d ids", len(d.Records), len(ids))
	}
	for _, p := range d.Problems {
		if p.Code != manifest.CodeMissingClassMapID || !strings.Contains(p.Message, `"Platelets"`) {
			t.Fatalf("unexpected problem %s", p)
		}
	}
	if len(d.Problems) == 0 || strings.Join(d.Labels(), ",") != "RBC,WBC" {
		t.Fatalf("%d problems, labels %v", len(d.Problems), d.Labels())
	}
}

func TestVOCPlayingCardsMixedCase(t *testing.T) {
	root := shared(t, "playing-cards")
	d, err := VOC(root, VOCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Problems) != 0 || len(d.Records) != 363 || d.Boxes() != 670 || len(d.Labels()) != 6 {
		t.Fatalf("%d records, %d boxes, labels %v, problems %v", len(d.Records), d.Boxes(), d.Labels(), d.Problems)
	}
	ext := map[string]int{}
	for _, r := range d.Records {
		ext[filepath.Ext(r.Image)]++
	}
	if ext[".jpg"] == 0 || ext[".JPG"] == 0 {
		t.Fatalf("extensions %v: want both .jpg and .JPG", ext)
	}
	man := write(t, d, false, WriteOptions{S3Prefix: "s3://cards/set/"})
	if !bytes.HasPrefix(man, []byte(`{"source-ref":"s3://cards/set/test/`)) {
		t.Fatalf("first line %.100s", man)
	}
	// s3://cards/set/x maps to <mirror>/cards/set/x.
	mirror := t.TempDir()
	if err := os.MkdirAll(filepath.Join(mirror, "cards"), 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(root)
	if err := os.Symlink(abs, filepath.Join(mirror, "cards", "set")); err != nil {
		t.Fatal(err)
	}
	opts := manifest.Options{Training: true, Prober: manifest.FSProber{Root: mirror}}
	s, err := manifest.Validate(context.Background(), bytes.NewReader(man), opts, func(*manifest.Entry) error { return nil })
	if err != nil || s.Failed() || s.InvalidLines != 0 || s.ValidLines != 363 {
		t.Fatalf("validation %+v %v", s, err)
	}
}

func TestCOCO(t *testing.T) {
	root := copyTree(t, "testdata/coco")
	for _, n := range []string{"a.png", "b.png", "empty.png"} {
		writeImage(t, filepath.Join(root, n), 200, 100)
	}
	d, err := COCO(filepath.Join(root, "instances.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range d.Problems {
		got = append(got, p.Code)
	}
	sort.Strings(got)
	want := []string{"ERROR_BOUNDING_BOX_TOO_SMALL", "ERROR_INVALID_BOUNDING_BOX", "ERROR_INVALID_BOUNDING_BOX",
		"ERROR_INVALID_IMAGE", "ERROR_INVALID_IMAGE", "ERROR_MISSING_CLASS_MAP_ID"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("problems %v\nwant %v\n%v", got, want, d.Problems)
	}
	if len(d.Records) != 3 || d.Boxes() != 3 || d.Records[1].Image != "b.png" || len(d.Records[2].Objects) != 0 {
		t.Fatalf("records %+v", d.Records)
	}
	validate(t, write(t, d, false, WriteOptions{}), root, manifest.CustomLabels)

	for _, bad := range []string{`[]`, `{"images": 3}`, `{"annotations": []}`, `{`, ``} {
		if _, err := ParseCOCO(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseCOCO(%q) did not fail", bad)
		}
	}
	if _, err := COCO(filepath.Join(root, "nope.json"), ""); err == nil {
		t.Error("a missing file did not fail")
	}
}

func TestYOLO(t *testing.T) {
	root := copyTree(t, "testdata/yolo")
	writeImage(t, filepath.Join(root, "train", "images", "a.png"), 200, 100)
	writeImage(t, filepath.Join(root, "train", "images", "b.jpg"), 200, 100)
	writeImage(t, filepath.Join(root, "train", "images", "c.jpg"), 200, 100) // no label file: no objects
	d, err := YOLO(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range d.Problems {
		got = append(got, p.File+":"+string(rune('0'+p.Line))+" "+p.Code)
	}
	want := []string{
		"train/labels/a.txt:8 ERROR_INVALID_BOUNDING_BOX",
		"train/labels/a.txt:5 ERROR_MISSING_CLASS_MAP_ID",
		"train/labels/a.txt:6 ERROR_BOUNDING_BOX_TOO_SMALL",
		"train/labels/a.txt:7 ERROR_INVALID_BOUNDING_BOX",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s\n%v", strings.Join(got, "\n"), strings.Join(want, "\n"), d.Problems)
	}
	if len(d.Records) != 3 || d.Boxes() != 4 || strings.Join(d.Labels(), ",") != "cat,dog" {
		t.Fatalf("records %+v", d.Records)
	}
	a := d.Records[0].Objects
	if a[1] != (Object{Label: "dog", Left: 150, Top: 50, Width: 50, Height: 50}) || a[2] != (Object{Label: "dog", Left: 20, Top: 10, Width: 40, Height: 20}) {
		t.Fatalf("boxes of a: %+v", a)
	}
	if b := d.Records[1].Objects[0]; b.Left != 0 || b.Width != 200 || b.Height != 100 {
		t.Fatalf("full-frame box %+v", b)
	}
	validate(t, write(t, d, false, WriteOptions{}), root, manifest.CustomLabels)
}

func TestParseNames(t *testing.T) {
	for in, want := range map[string]string{
		"names: ['a', \"b c\", d]\nnc: 3\n":             "a|b c|d",
		"train: x\nnames:\n  - a\n  - b # note\nval: y": "a|b",
		"names:\n  0: a\n  1: 'b'\n  2: c\nnc: 3":       "a|b|c",
		"nc: 1\n": "",
	} {
		if got := strings.Join(ParseNames([]byte(in), true), "|"); got != want {
			t.Errorf("ParseNames(%q) = %q, want %q", in, got, want)
		}
	}
	if got := strings.Join(ParseNames([]byte("a\n\nb\r\n"), false), "|"); got != "a|b" {
		t.Errorf("names file: %q", got)
	}
}

func TestMVTecHazelnut(t *testing.T) {
	root := shared(t, "hazelnut-toy")
	d, err := MVTec(root)
	if err != nil {
		t.Fatal(err)
	}
	train, test := d.Split("train"), d.Split("test")
	count := func(d *Dataset) (normal, anomalous, masks int) {
		for _, r := range d.Records {
			if r.Anomalous {
				anomalous++
			} else {
				normal++
			}
			if r.Mask != "" {
				masks++
			}
		}
		return
	}
	if n, a, m := count(train); n != 28 || a != 0 || m != 0 {
		t.Fatalf("train: %d normal, %d anomalous, %d masks", n, a, m)
	}
	if n, a, m := count(test); n != 6 || a != 17 || m != 17 || len(d.Problems) != 0 {
		t.Fatalf("test: %d normal, %d anomalous, %d masks, problems %v", n, a, m, d.Problems)
	}
	man := write(t, test, true, WriteOptions{})
	s := validate(t, man, root, manifest.LookoutForVision)
	if s.UseCase != manifest.UseCaseAnomalySegmentation && s.UseCase != manifest.UseCaseAnomalyClassification {
		t.Fatalf("use case %s", s.UseCase)
	}
	var masks int
	_, err = manifest.Validate(context.Background(), bytes.NewReader(man), manifest.Options{ParseOptions: manifest.ParseOptions{Service: manifest.LookoutForVision, Base: root}},
		func(e *manifest.Entry) error {
			if e.Anomaly != nil && e.Anomaly.Mask != "" {
				masks++
				if len(e.Anomaly.Colors) != 2 || e.Anomaly.Colors[1].ClassName != "colour" || e.Anomaly.Colors[1].HexColor != MaskColor {
					t.Errorf("colours %+v", e.Anomaly.Colors)
				}
			}
			return nil
		})
	if err != nil || masks != 17 {
		t.Fatalf("%d lines with masks: %v", masks, err)
	}

	// A mask of the wrong size is reported and the image kept without it.
	tmp := t.TempDir()
	writeImage(t, filepath.Join(tmp, "train", "good", "0.png"), 80, 80)
	writeImage(t, filepath.Join(tmp, "test", "crack", "1.png"), 80, 80)
	writeImage(t, filepath.Join(tmp, "ground_truth", "crack", "1_mask.png"), 64, 64)
	d, err = MVTec(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Records) != 2 || d.Records[1].Mask != "" || !d.Records[1].Anomalous || len(d.Problems) != 1 || d.Problems[0].Code != manifest.CodeInvalidImage {
		t.Fatalf("records %+v problems %v", d.Records, d.Problems)
	}
	if _, err := MVTec(t.TempDir()); err == nil {
		t.Fatal("an empty directory did not fail")
	}
}

func TestDeepPCB(t *testing.T) {
	root := shared(t, "deeppcb")
	d, err := DeepPCB(root)
	if err != nil {
		t.Fatal(err)
	}
	// SOURCE.md: 235 pairs; every defect list line is a valid box.
	if len(d.Records) != 235 || d.Boxes() != 1735 || len(d.Problems) != 0 || len(d.Labels()) != 6 {
		t.Fatalf("%d records, %d boxes, labels %v, problems %v", len(d.Records), d.Boxes(), d.Labels(), d.Problems)
	}
	if _, err := os.Stat(DeepPCBTemplate(d.Records[0])); err != nil {
		t.Fatal(err)
	}
	validate(t, write(t, d, false, WriteOptions{}), root, manifest.CustomLabels)
}

func TestVOCBadFiles(t *testing.T) {
	root := t.TempDir()
	writeImage(t, filepath.Join(root, "x.jpg"), 100, 100)
	files := map[string]string{
		"broken.xml": "<annotation><filename>x.jpg</filename><object>",
		"other.xml":  "<svg></svg>",
		"noimg.xml":  "<annotation><filename>nothere.jpg</filename></annotation>",
		"x.xml": `<annotation><filename>x.jpg</filename><size><width>100</width><height>100</height></size>
<object><name>a</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>50</xmax><ymax>50</ymax></bndbox></object>
<object><name></name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>50</xmax><ymax>50</ymax></bndbox></object>
<object><name>a</name><bndbox><xmin>x</xmin><ymin>1</ymin><xmax>50</xmax><ymax>50</ymax></bndbox></object>
<object><name>a</name></object>
<object><name>a</name><bndbox><xmin>60</xmin><ymin>1</ymin><xmax>120</xmax><ymax>50</ymax></bndbox></object>
</annotation>`,
	}
	for n, s := range files {
		if err := os.WriteFile(filepath.Join(root, n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := VOC(root, VOCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range d.Problems {
		got = append(got, p.File+" "+p.Code)
	}
	sort.Strings(got)
	want := []string{"broken.xml ERROR_INVALID_JSON_LINE", "noimg.xml ERROR_INVALID_IMAGE", "other.xml ERROR_INVALID_JSON_LINE",
		"x.xml ERROR_INVALID_BOUNDING_BOX", "x.xml ERROR_INVALID_BOUNDING_BOX", "x.xml ERROR_INVALID_BOUNDING_BOX", "x.xml ERROR_MISSING_CLASS_MAP_ID"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(d.Records) != 1 || len(d.Records[0].Objects) != 1 {
		t.Fatalf("records %+v", d.Records)
	}
	if d.Problems[len(d.Problems)-1].Line == 0 {
		t.Fatalf("no line numbers: %v", d.Problems)
	}
}
