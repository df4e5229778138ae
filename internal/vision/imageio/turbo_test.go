package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// testJPEG encodes a smooth photo-like picture with texture and edges.
func testJPEG(t testing.TB, w, h int, gray bool) []byte {
	r := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255}
			if (x/16+y/16)%2 == 0 {
				c.R, c.B = c.B, 255-c.R
			}
			n := uint8(r.IntN(24))
			img.SetRGBA(x, y, color.RGBA{c.R/2 + n, c.G/2 + n, c.B/2 + n, 255})
		}
	}
	var src image.Image = img
	if gray {
		g := image.NewGray(img.Rect)
		draw.Draw(g, g.Rect, img, image.Point{}, draw.Src)
		src = g
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, src, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// compareDecoders checks libjpeg-turbo's pixels against image/jpeg's: the
// IDCTs round differently, so values may differ by a level or two.
func compareDecoders(t *testing.T, name string, b []byte) {
	t.Helper()
	fast, ok := decodeTurbo(b)
	if !ok {
		t.Fatalf("%s: libjpeg-turbo refused it", name)
	}
	ref, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if fast.Rect != ref.Bounds() {
		t.Fatalf("%s: bounds %v, image/jpeg %v", name, fast.Rect, ref.Bounds())
	}
	var sum, n, worst int
	for y := fast.Rect.Min.Y; y < fast.Rect.Max.Y; y++ {
		for x := fast.Rect.Min.X; x < fast.Rect.Max.X; x++ {
			a := fast.RGBAAt(x, y)
			r, g, bb, _ := ref.At(x, y).RGBA()
			for _, d := range []int{int(a.R) - int(r>>8), int(a.G) - int(g>>8), int(a.B) - int(bb>>8)} {
				d = max(d, -d)
				sum += d
				worst = max(worst, d)
				n++
			}
			if a.A != 255 {
				t.Fatalf("%s: alpha %d at %d,%d", name, a.A, x, y)
			}
		}
	}
	mean := float64(sum) / float64(n)
	t.Logf("%s: mean |difference| %.3f levels, max %d", name, mean, worst)
	if mean > 1 || worst > 12 {
		t.Errorf("%s: libjpeg-turbo differs from image/jpeg by %.3f levels on average, %d at most", name, mean, worst)
	}
}

func TestTurboMatchesImageJPEG(t *testing.T) {
	if JPEGDecoder() != "libjpeg-turbo" {
		t.Skip("libturbojpeg.so.0 not installed (scripts/install-deps.sh installs it)")
	}
	compareDecoders(t, "synthetic colour 4:2:0", testJPEG(t, 301, 207, false))
	compareDecoders(t, "synthetic grey", testJPEG(t, 128, 96, true))
	wd, _ := os.Getwd()
	cookies, _ := filepath.Glob(filepath.Join(wd, "..", "..", "..", "..", "shared", "datasets", "lookout-cookies", "test-images", "*.jpg"))
	for _, p := range cookies[:min(3, len(cookies))] {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		compareDecoders(t, filepath.Base(p), b)
	}
}

// TestTurboRefusesWhatImageJPEGRefuses: broken files fall through to
// image/jpeg, whose error is the answer.
func TestTurboRefusesWhatImageJPEGRefuses(t *testing.T) {
	good := testJPEG(t, 64, 64, false)
	for name, b := range map[string][]byte{
		"empty":      {},
		"SOI only":   {0xff, 0xd8},
		"truncated":  good[:len(good)/2],
		"no EOI":     good[:len(good)-2],
		"bad header": append([]byte{0xff, 0xd8, 0xff, 0xc0, 0, 2}, good[2:]...),
	} {
		_, jerr := jpeg.Decode(bytes.NewReader(b))
		img, err := Decode(b)
		if (err == nil) != (jerr == nil) {
			t.Errorf("%s: Decode error %v, image/jpeg error %v", name, err, jerr)
		}
		if err == nil && img == nil {
			t.Errorf("%s: no image and no error", name)
		}
	}
}

func BenchmarkDecodeJPEG(b *testing.B) {
	data := testJPEG(b, 768, 576, false)
	for _, dec := range []struct {
		name string
		fn   func() error
	}{
		{"image-jpeg", func() error { _, err := jpeg.Decode(bytes.NewReader(data)); return err }},
		{"libjpeg-turbo", func() error {
			if _, ok := decodeTurbo(data); !ok {
				b.Skip("libturbojpeg.so.0 not installed")
			}
			return nil
		}},
	} {
		b.Run(dec.name, func(b *testing.B) {
			for b.Loop() {
				if err := dec.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// bomb returns a valid small JPEG whose frame header claims w x h pixels.
func bomb(t testing.TB, w, h int) []byte {
	b := testJPEG(t, 64, 48, false)
	for i := 2; i+9 < len(b); i++ {
		if b[i] == 0xff && b[i+1] == 0xc0 { // SOF0: length(2) precision(1) height(2) width(2)
			b[i+5], b[i+6] = byte(h>>8), byte(h)
			b[i+7], b[i+8] = byte(w>>8), byte(w)
			return b
		}
	}
	t.Fatal("no SOF0 marker")
	return nil
}

// TestDecodeRefusesBombs: a 2 KB file declaring 65,000 x 65,000 pixels is
// refused from its header, before any pixel memory is allocated.
func TestDecodeRefusesBombs(t *testing.T) {
	b := bomb(t, 65000, 65000)
	allocs := testing.AllocsPerRun(1, func() {
		if _, err := Decode(b); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Decode: %v, want ErrTooLarge", err)
		}
	})
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	Decode(b)
	runtime.ReadMemStats(&ms)
	if grew := ms.TotalAlloc - before; grew > 1<<20 {
		t.Errorf("refusing the bomb allocated %d bytes (%v allocations)", grew, allocs)
	}
	// Just under the limit is decoded (here: refused as corrupt, since the
	// data is for 64x48, but not as too large).
	if _, err := Decode(bomb(t, 8000, 4000)); err == nil || errors.Is(err, ErrTooLarge) {
		t.Errorf("8000x4000 header: %v", err)
	}
}
