package manifest

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeImage writes a w x h JPEG or PNG (by extension) to dir/name.
func writeImage(t testing.TB, dir, name string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y += 7 {
		for x := 0; x < w; x += 5 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(name, ".png") {
		err = png.Encode(f, img)
	} else {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 80})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// testBucket lays out s3://bkt/... under a temp root for FSProber:
// img.jpg 640x480, img2.jpg, img3.png, tiny.jpg 32x32, wide.jpg 2100x100,
// notimage.jpg (text).
func testBucket(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "bkt")
	writeImage(t, dir, "img.jpg", 640, 480)
	writeImage(t, dir, "img2.jpg", 640, 480)
	writeImage(t, dir, "img3.png", 640, 480)
	writeImage(t, dir, "tiny.jpg", 32, 32)
	writeImage(t, dir, "wide.jpg", 2100, 100)
	if err := os.WriteFile(filepath.Join(dir, "notimage.jpg"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// cls returns a classification line; attr defaults to "animal".
func cls(ref, attr, label string) string {
	if attr == "" {
		attr = "animal"
	}
	return fmt.Sprintf(`{"source-ref":%q,%q:1,"%s-metadata":{"class-name":%q,"confidence":1,"type":"groundtruth/image-classification","human-annotated":"yes","creation-date":"2020-04-15T20:17:23.433061","job-name":"labeling-job/x"}}`,
		ref, attr, attr, label)
}

type box struct {
	id         int
	l, t, w, h float64
}

// det returns a detection line for a 640x480 image; conf is the number of
// confidence objects (-1 = one per box).
func det(ref string, classMap map[string]string, conf int, boxes ...box) string {
	anns := make([]map[string]any, len(boxes))
	for i, b := range boxes {
		anns[i] = map[string]any{"class_id": b.id, "left": b.l, "top": b.t, "width": b.w, "height": b.h}
	}
	if conf < 0 {
		conf = len(boxes)
	}
	objs := make([]map[string]any, conf)
	for i := range objs {
		objs[i] = map[string]any{"confidence": 0.9}
	}
	line := map[string]any{
		"source-ref":   ref,
		"bounding-box": map[string]any{"image_size": []map[string]int{{"width": 640, "height": 480, "depth": 3}}, "annotations": anns},
		"bounding-box-metadata": map[string]any{"objects": objs, "class-map": classMap, "type": "groundtruth/object-detection",
			"human-annotated": "yes", "creation-date": "2013-11-18T02:53:27", "job-name": "my job"},
	}
	b, _ := json.Marshal(line)
	return string(b)
}

var echo = map[string]string{"0": "Echo", "1": "Echo Dot"}

// validate runs Validate over lines and returns the entries and summary.
func validate(t testing.TB, root string, opts Options, lines ...string) ([]*Entry, *Summary) {
	t.Helper()
	if opts.Prober == nil && root != "" {
		opts.Prober = FSProber{Root: root}
	}
	var got []*Entry
	s, err := Validate(context.Background(), strings.NewReader(strings.Join(lines, "\n")+"\n"), opts, func(e *Entry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, s
}
