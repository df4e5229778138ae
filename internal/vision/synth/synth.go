// Package synth generates object-detection scenes for tests and
// benchmarks: objects cut from real photographs are pasted onto real
// background photographs at random positions and scales, and the boxes are
// recorded. With the Debian packages python3-skimage, opencv-doc and
// gnome-backgrounds installed, DebianSources gives six object classes and a
// dozen backgrounds.
package synth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // gnome-backgrounds are WebP

	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// Source is one object class: photographs whose pixels are the object.
type Source struct {
	Label  string
	Images []image.Image
}

// Object is a pasted object's box in pixels.
type Object struct {
	Label           string
	Left, Top, W, H int
}

// Scene is one generated image with its ground truth.
type Scene struct {
	Image   *image.RGBA
	Objects []Object
}

// Config controls generation; zero values are defaults.
type Config struct {
	Width, Height int     // default 480x360
	MinObjects    int     // default 1
	MaxObjects    int     // default 5
	MinScale      float64 // object's longer side / shorter image side, default 0.1
	MaxScale      float64 // default 0.5
	MaxOverlap    float64 // max IoU between pasted objects, default 0.2
}

func (c Config) withDefaults() Config {
	if c.Width == 0 {
		c.Width, c.Height = 480, 360
	}
	if c.MinObjects == 0 {
		c.MinObjects = 1
	}
	if c.MaxObjects == 0 {
		c.MaxObjects = 5
	}
	if c.MinScale == 0 {
		c.MinScale = 0.1
	}
	if c.MaxScale == 0 {
		c.MaxScale = 0.5
	}
	if c.MaxOverlap == 0 {
		c.MaxOverlap = 0.2
	}
	return c
}

// Generate makes n scenes, deterministically for a seed.
func Generate(cfg Config, objects []Source, backgrounds []image.Image, n int, seed uint64) ([]Scene, error) {
	cfg = cfg.withDefaults()
	if len(objects) == 0 || len(backgrounds) == 0 {
		return nil, errors.New("synth: no objects or backgrounds")
	}
	r := rand.New(rand.NewPCG(seed, 0x5ce7e))
	out := make([]Scene, 0, n)
	for i := 0; i < n; i++ {
		bg := backgrounds[r.IntN(len(backgrounds))]
		img := background(bg, cfg.Width, cfg.Height, r)
		var objs []Object
		want := cfg.MinObjects + r.IntN(cfg.MaxObjects-cfg.MinObjects+1)
		for tries := 0; len(objs) < want && tries < 50; tries++ {
			src := objects[r.IntN(len(objects))]
			patch := src.Images[r.IntN(len(src.Images))]
			pb := patch.Bounds()
			// A random 85-100% crop of the object photo.
			cf := 0.85 + 0.15*r.Float64()
			cw, ch := int(float64(pb.Dx())*cf), int(float64(pb.Dy())*cf)
			cx := pb.Min.X + r.IntN(pb.Dx()-cw+1)
			cy := pb.Min.Y + r.IntN(pb.Dy()-ch+1)
			crop := image.Rect(cx, cy, cx+cw, cy+ch)
			side := (cfg.MinScale + (cfg.MaxScale-cfg.MinScale)*r.Float64()) * float64(min(cfg.Width, cfg.Height))
			var w, h int
			if cw >= ch {
				w, h = int(side), int(side*float64(ch)/float64(cw))
			} else {
				w, h = int(side*float64(cw)/float64(ch)), int(side)
			}
			if w < 8 || h < 8 || w > cfg.Width || h > cfg.Height {
				continue
			}
			o := Object{Label: src.Label, Left: r.IntN(cfg.Width - w + 1), Top: r.IntN(cfg.Height - h + 1), W: w, H: h}
			ok := true
			for _, p := range objs {
				if iou(o, p) > cfg.MaxOverlap || inside(o, p) || inside(p, o) {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			dst := image.Rect(o.Left, o.Top, o.Left+w, o.Top+h)
			xdraw.ApproxBiLinear.Scale(img, dst, patch, crop, xdraw.Src, nil)
			if r.IntN(2) == 0 {
				mirror(img, dst)
			}
			objs = append(objs, o)
		}
		// Objects pasted later may hide parts of earlier ones; boxes that
		// lost more than half their area are dropped from the ground truth.
		out = append(out, Scene{Image: img, Objects: visible(objs)})
	}
	return out, nil
}

func visible(objs []Object) []Object {
	var out []Object
	for i, o := range objs {
		hidden := 0
		for _, p := range objs[i+1:] {
			hidden += interArea(o, p)
		}
		if float64(hidden) <= 0.5*float64(o.W*o.H) {
			out = append(out, o)
		}
	}
	return out
}

func interArea(a, b Object) int {
	x0, y0 := max(a.Left, b.Left), max(a.Top, b.Top)
	x1, y1 := min(a.Left+a.W, b.Left+b.W), min(a.Top+a.H, b.Top+b.H)
	if x1 <= x0 || y1 <= y0 {
		return 0
	}
	return (x1 - x0) * (y1 - y0)
}

func iou(a, b Object) float64 {
	in := float64(interArea(a, b))
	return in / (float64(a.W*a.H+b.W*b.H) - in)
}

func inside(a, b Object) bool {
	return interArea(a, b) >= a.W*a.H*9/10
}

func mirror(img *image.RGBA, r image.Rectangle) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[y*img.Stride:]
		for l, rr := r.Min.X, r.Max.X-1; l < rr; l, rr = l+1, rr-1 {
			for c := 0; c < 4; c++ {
				row[4*l+c], row[4*rr+c] = row[4*rr+c], row[4*l+c]
			}
		}
	}
}

// background returns a random crop (at least half of each side) of bg,
// resized to w x h.
func background(bg image.Image, w, h int, r *rand.Rand) *image.RGBA {
	b := bg.Bounds()
	f := 0.5 + 0.5*r.Float64()
	aspect := float64(w) / float64(h)
	cw := int(f * float64(b.Dx()))
	ch := int(float64(cw) / aspect)
	if ch > b.Dy() {
		ch = int(f * float64(b.Dy()))
		cw = int(math.Min(float64(b.Dx()), float64(ch)*aspect))
	}
	x := b.Min.X + r.IntN(b.Dx()-cw+1)
	y := b.Min.Y + r.IntN(b.Dy()-ch+1)
	sub := imageio.ToRGBA(bg).SubImage(image.Rect(x, y, x+cw, y+ch))
	return imageio.Resize(sub, w, h)
}

// DebianSources loads six object classes and the background photographs
// from Debian packages (python3-skimage, opencv-doc, gnome-backgrounds).
// Large backgrounds are downscaled once to at most 1280 px wide.
func DebianSources() ([]Source, []image.Image, error) {
	const sk = "/usr/lib/python3/dist-packages/skimage/data"
	const cv = "/usr/share/doc/opencv-doc/examples/data"
	const gn = "/usr/share/backgrounds/gnome"
	objs := []struct{ label, path string }{
		{"cat", sk + "/chelsea.png"},
		{"coffee", sk + "/coffee.png"},
		{"rocket", sk + "/rocket.jpg"},
		{"astronaut", sk + "/astronaut.png"},
		{"butterfly", cv + "/butterfly.jpg"},
		{"baboon", cv + "/baboon.jpg"},
	}
	var sources []Source
	for _, o := range objs {
		img, err := load(o.path, 512)
		if err != nil {
			return nil, nil, err
		}
		sources = append(sources, Source{Label: o.label, Images: []image.Image{img}})
	}
	bgPaths := []string{cv + "/building.jpg", cv + "/home.jpg", cv + "/aero1.jpg", cv + "/aero3.jpg", cv + "/leuvenA.jpg",
		cv + "/starry_night.jpg", cv + "/board.jpg", sk + "/brick.png", sk + "/grass.png", sk + "/gravel.png",
		gn + "/adwaita-l.webp", gn + "/wood-l.webp", gn + "/licorice-l.webp"}
	var bgs []image.Image
	for _, p := range bgPaths {
		img, err := load(p, 1280)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, nil, err
		}
		bgs = append(bgs, img)
	}
	if len(bgs) == 0 {
		return nil, nil, errors.New("synth: no background images found")
	}
	return sources, bgs, nil
}

func load(path string, maxW int) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("synth: %s: %w", filepath.Base(path), err)
	}
	if b := img.Bounds(); b.Dx() > maxW {
		img = imageio.Resize(img, maxW, b.Dy()*maxW/b.Dx())
	}
	return imageio.ToRGBA(img), nil
}

// Write stores scenes as JPEGs under dir/images and returns the Ground
// Truth object-detection manifest lines, with source-refs
// s3://bucket/images/NAME (use dir as the images root of bucket, i.e. lay
// dir out as ROOT/bucket).
func Write(dir, bucket, prefix string, scenes []Scene) ([]byte, error) {
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		return nil, err
	}
	labels := map[string]int{}
	var names []string
	for _, s := range scenes {
		for _, o := range s.Objects {
			if _, ok := labels[o.Label]; !ok {
				labels[o.Label] = len(names)
				names = append(names, o.Label)
			}
		}
	}
	classMap := map[string]string{}
	for i, n := range names {
		classMap[strconv.Itoa(i)] = n
	}
	var out bytes.Buffer
	for i, s := range scenes {
		name := fmt.Sprintf("%s%04d.jpg", prefix, i)
		var b bytes.Buffer
		if err := jpeg.Encode(&b, s.Image, &jpeg.Options{Quality: 90}); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "images", name), b.Bytes(), 0o644); err != nil {
			return nil, err
		}
		type ann struct {
			ClassID int `json:"class_id"`
			Top     int `json:"top"`
			Left    int `json:"left"`
			Width   int `json:"width"`
			Height  int `json:"height"`
		}
		var anns []ann
		var confs []map[string]float64
		for _, o := range s.Objects {
			anns = append(anns, ann{labels[o.Label], o.Top, o.Left, o.W, o.H})
			confs = append(confs, map[string]float64{"confidence": 1})
		}
		line := map[string]any{
			"source-ref": "s3://" + bucket + "/images/" + name,
			"bounding-box": map[string]any{
				"image_size":  []map[string]int{{"width": s.Image.Rect.Dx(), "height": s.Image.Rect.Dy(), "depth": 3}},
				"annotations": anns,
			},
			"bounding-box-metadata": map[string]any{
				"objects": confs, "class-map": classMap, "type": "groundtruth/object-detection", "human-annotated": "yes",
			},
		}
		lb, err := json.Marshal(line)
		if err != nil {
			return nil, err
		}
		out.Write(lb)
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}
