package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// The side of the test images: small, so that the tests stay light.
const imgW, imgH = 320, 240

// writeImages writes n small JPEG images (each its own colour, with a
// bright square where a box would go) into a temporary folder and returns
// their paths.
func writeImages(t *testing.T, n int) []string {
	dir := t.TempDir()
	var paths []string
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, imgW, imgH))
		bg := color.RGBA{uint8(40 + 50*i), 90, uint8(200 - 40*i), 255}
		for y := range imgH {
			for x := range imgW {
				c := bg
				if x >= 40 && x < 200 && y >= 30 && y < 150 {
					c = color.RGBA{240, 220, 60, 255}
				}
				img.Set(x, y, c)
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("img%d.jpg", i))
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// waitPage runs actions that load a new page and waits until it has
// loaded and sel is on it: the old page is marked first, so that its
// elements are not taken for the new page's.
func (b *tab) waitPage(what, sel string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	eval[bool](b, `document.documentElement.dataset.old = "1", true`)
	b.do(what, actions...)
	probe := `!document.documentElement.dataset.old && document.readyState === "complete" && !!document.querySelector(` + jsString(sel) + `)`
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](probe))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			loc, _ := chromedp.Run(b.ctx, chromedp.Location())
			body, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("main")))
			b.t.Fatalf("%s: no new page with %s (at %s, %v):\n%s", what, sel, loc, err, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func jsString(s string) string {
	j, _ := json.Marshal(s)
	return string(j)
}

// screen is where the pixel x, y of the shown image is on the screen.
func (b *tab) screen(x, y float64) (float64, float64) {
	b.t.Helper()
	p := eval[[]float64](b, fmt.Sprintf(`(() => { const o = document.getElementById("overlay"); o.scrollIntoView({block: "center"}); const r = o.getBoundingClientRect();
		return [r.left + %g * r.width / %d, r.top + %g * r.height / %d]; })()`, x, imgW, y, imgH))
	return p[0], p[1]
}

// drag drags the mouse from one pixel of the image to another.
func (b *tab) drag(what string, x0, y0, x1, y1 float64) {
	b.t.Helper()
	sx0, sy0 := b.screen(x0, y0)
	sx1, sy1 := b.screen(x1, y1)
	b.waitPage(what, "#flash", chromedp.DragAndDropXY(sx0, sy0, sx1, sy1, 8))
	if f := b.text("#flash"); !strings.Contains(f, "Saved the labels") {
		b.t.Fatalf("%s: the page says %q", what, f)
	}
}

// click clicks a pixel of the image.
func (b *tab) click(what string, x, y float64) {
	b.t.Helper()
	sx, sy := b.screen(x, y)
	b.do(what, chromedp.MouseClickXY(sx, sy))
}

// savedLine is the stored JSON line of the entry whose source-ref ends in
// name, read through the Rekognition API.
func savedLine(t *testing.T, s *e2e.Server, dataset, name string) map[string]any {
	t.Helper()
	out, err := s.Rekognition(e2e.Alice).ListDatasetEntries(context.Background(), &rekognition.ListDatasetEntriesInput{
		DatasetArn: aws.String(dataset), SourceRefContains: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range out.DatasetEntries {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if ref, _ := m["source-ref"].(string); strings.HasSuffix(ref, "/"+name) {
			return m
		}
	}
	t.Fatalf("no entry %s in %v", name, out.DatasetEntries)
	return nil
}

// savedBoxes are the boxes of a stored line, as [left top width height].
func savedBoxes(line map[string]any) [][4]float64 {
	bb, _ := line["bounding-box"].(map[string]any)
	anns, _ := bb["annotations"].([]any)
	var out [][4]float64
	for _, a := range anns {
		m := a.(map[string]any)
		out = append(out, [4]float64{m["left"].(float64), m["top"].(float64), m["width"].(float64), m["height"].(float64)})
	}
	return out
}

// savedClasses are the image-level labels of a stored line.
func savedClasses(line map[string]any) []string {
	var out []string
	for k, v := range line {
		if md, ok := v.(map[string]any); ok && strings.HasSuffix(k, "-metadata") && md["type"] == "groundtruth/image-classification" {
			out = append(out, md["class-name"].(string))
		}
	}
	return out
}

func near(got, want [4]float64) bool {
	for i := range got {
		if math.Abs(got[i]-want[i]) > 3 {
			return false
		}
	}
	return true
}

// openFirstImage creates a project and an empty train dataset through the
// console, uploads images into the bucket and the dataset, and opens the
// first image; it returns the dataset's ARN.
func (b *tab) openFirstImage(product, project, bucket, label string, files []string) string {
	b.t.Helper()
	row := `tr[data-arn$=":project/` + project + `"], tr[data-arn*=":project/` + project + `/"]`
	b.do("create project "+project,
		chromedp.SetValue(chromedp.CSS("#product"), product),
		chromedp.SendKeys(chromedp.CSS("#name"), project),
		chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS(row)),
	)
	b.waitPage("open project "+project, "#dataset-form", chromedp.Click(chromedp.CSS(strings.ReplaceAll(row, `"]`, `"] a`))))
	b.waitPage("create the train dataset", "#dataset-train", chromedp.SetValue(chromedp.CSS("#ds-type"), "train"), chromedp.Click(chromedp.CSS("#create-dataset")))
	b.waitPage("open the train dataset", "#upload-form", chromedp.Click(chromedp.CSS("#dataset-train")))
	acts := []chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(chromedp.CSS("#up-bucket"), bucket),
		chromedp.SendKeys(chromedp.CSS("#up-prefix"), project+"/"),
		chromedp.SetUploadFiles(chromedp.CSS("#up-files"), files),
	}
	if label != "" {
		acts = append(acts, chromedp.SetValue(chromedp.CSS("#up-label"), label))
	}
	b.do("fill the upload form", acts...)
	b.accessible("dataset page")
	b.waitPage("upload the images", "#grid", chromedp.Click(chromedp.CSS("#upload")))
	if f := b.text("#flash"); !strings.Contains(f, fmt.Sprintf("Uploaded %d images", len(files))) {
		b.t.Fatalf("after the upload the page says %q", f)
	}
	if n := eval[int](b, `document.querySelectorAll("#grid li").length`); n != len(files) {
		b.t.Fatalf("the grid shows %d images, want %d", n, len(files))
	}
	arn := eval[string](b, `document.querySelector("input[name=dataset]").value`)
	b.waitPage("open the first image", "#entry-image", chromedp.Click(chromedp.CSS(`#grid a[data-ref$="/img0.jpg"]`)))
	return arn
}

// TestBrowserBoxes uploads images through the console and labels one by
// mouse: draw a box, move it, resize it by a corner, delete it; each
// change saved through UpdateDatasetEntries and read back through the
// Rekognition API. The drag hint shows only with the script.
func TestBrowserBoxes(t *testing.T) {
	s := e2e.Start(t, server.Config{})
	if _, err := s.S3(e2e.Alice).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("pics")}); err != nil {
		t.Fatal(err)
	}
	b := newTab(t, s, 60*time.Second)
	b.signIn(e2e.Alice)
	ds := b.openFirstImage("custom-labels", "boxes", "pics", "", writeImages(t, 2))
	if !eval[bool](b, `getComputedStyle(document.getElementById("draw-hint")).display !== "none"`) {
		t.Error("with the script, the drag hint is hidden")
	}
	eval[bool](b, `document.getElementById("box-label").value = "", true`)
	b.do("name the box label", chromedp.SendKeys(chromedp.CSS("#box-label"), "sticker"))

	b.drag("draw a box", 40, 30, 200, 150)
	got := savedBoxes(savedLine(t, s, ds, "img0.jpg"))
	if len(got) != 1 || !near(got[0], [4]float64{40, 30, 160, 120}) {
		t.Fatalf("after drawing, the boxes are %v, want [[40 30 160 120]]", got)
	}
	if n := eval[int](b, `document.querySelectorAll("#overlay g.box").length`); n != 1 {
		t.Errorf("the page draws %d boxes, want 1", n)
	}
	b.accessible("image view")
	b.shoot("entry-box")

	b.drag("move the box", 120, 90, 150, 110)
	if got := savedBoxes(savedLine(t, s, ds, "img0.jpg")); len(got) != 1 || !near(got[0], [4]float64{70, 50, 160, 120}) {
		t.Fatalf("after moving, the boxes are %v, want [[70 50 160 120]]", got)
	}

	b.click("select the box", 150, 110)
	if n := eval[int](b, `document.querySelectorAll("#overlay g.box.selected").length`); n != 1 {
		t.Fatalf("a click selects %d boxes, want 1", n)
	}
	b.drag("resize the box by its lower right corner", 230, 170, 260, 200)
	if got := savedBoxes(savedLine(t, s, ds, "img0.jpg")); len(got) != 1 || !near(got[0], [4]float64{70, 50, 190, 150}) {
		t.Fatalf("after resizing, the boxes are %v, want [[70 50 190 150]]", got)
	}
	if v, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#box-label"))); err != nil || v != "sticker" {
		t.Errorf("the box label field offers %q (%v), want the known label sticker", v, err)
	}

	b.click("select the box", 150, 120)
	b.waitPage("delete the box", "#flash", chromedp.KeyEvent(kb.Delete))
	if got := savedBoxes(savedLine(t, s, ds, "img0.jpg")); len(got) != 0 {
		t.Fatalf("after Delete, the boxes are %v, want none", got)
	}
	if n := eval[int](b, `document.querySelectorAll("#overlay g.box").length`); n != 0 {
		t.Errorf("the page draws %d boxes after Delete", n)
	}
}

// TestBrowserKeyboardLabeling labels images with the keyboard alone: a
// new label typed after l, the next image with →, a known label toggled
// with its digit, back with ←; and for Lookout for Vision, a (anomaly) and
// n (normal), each going on to the next image.
func TestBrowserKeyboardLabeling(t *testing.T) {
	s := e2e.Start(t, server.Config{})
	if _, err := s.S3(e2e.Alice).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("pics")}); err != nil {
		t.Fatal(err)
	}
	b := newTab(t, s, 60*time.Second)
	b.signIn(e2e.Alice)
	files := writeImages(t, 2)
	ds := b.openFirstImage("custom-labels", "keys", "pics", "", files)
	key := func(what, keys, sel string) {
		t.Helper()
		b.waitPage(what, sel, chromedp.KeyEvent(keys))
	}
	b.do("l focuses the new label", chromedp.KeyEvent("l"))
	if id := eval[string](b, `document.activeElement.id`); id != "new-label" {
		t.Fatalf("after l the focus is on %q, want new-label", id)
	}
	key("type a label and Enter", "cat"+kb.Enter, "#flash")
	if got := savedClasses(savedLine(t, s, ds, "img0.jpg")); len(got) != 1 || got[0] != "cat" {
		t.Fatalf("img0 labels %v, want [cat]", got)
	}
	key("→ goes to the next image", kb.ArrowRight, "#entry-image")
	if got := b.text("#entry-name"); got != "img1.jpg" {
		t.Fatalf("after → the page shows %q, want img1.jpg", got)
	}
	key("1 toggles the first known label", "1", "#flash")
	if got := savedClasses(savedLine(t, s, ds, "img1.jpg")); len(got) != 1 || got[0] != "cat" {
		t.Fatalf("img1 labels %v, want [cat]", got)
	}
	if p := eval[string](b, `document.querySelector("button[data-shortcut='1']").getAttribute("aria-pressed")`); p != "true" {
		t.Errorf("the cat toggle is aria-pressed=%q after 1", p)
	}
	key("← goes back", kb.ArrowLeft, "#entry-image")
	if got := b.text("#entry-name"); got != "img0.jpg" {
		t.Fatalf("after ← the page shows %q, want img0.jpg", got)
	}
	b.shoot("entry-keyboard")

	b.do("back to the projects", chromedp.Navigate(s.URL+"/_ocellus/console/projects"), chromedp.WaitVisible(chromedp.CSS("#create-form")))
	b.openFirstImage("lookout-vision", "boards", "pics", "normal", files)
	key("a marks anomaly and goes on", "a", "#flash")
	if got := b.text("#entry-name"); got != "img1.jpg" {
		t.Fatalf("after a the page shows %q, want img1.jpg", got)
	}
	key("← goes back", kb.ArrowLeft, "#entry-image")
	if got := b.text("#anomaly-class"); got != "anomaly" {
		t.Fatalf("img0 is %q after a, want anomaly", got)
	}
	key("n marks normal", "n", "#flash")
	key("← goes back again", kb.ArrowLeft, "#entry-image")
	if got := b.text("#anomaly-class"); got != "normal" {
		t.Fatalf("img0 is %q after n, want normal", got)
	}
	b.accessible("Lookout image view")
	b.shoot("entry-lookout")
}
