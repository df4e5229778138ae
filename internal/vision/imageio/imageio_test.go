package imageio

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"testing"
)

func TestCHWGolden(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	img.SetRGBA(0, 0, color.RGBA{255, 0, 128, 255})
	img.SetRGBA(1, 0, color.RGBA{0, 255, 64, 255})
	dst := make([]float32, 6)
	CHW(dst, img, ImageNet, false)
	want := []float32{
		(1 - 0.485) / 0.229, (0 - 0.485) / 0.229,
		(0 - 0.456) / 0.224, (1 - 0.456) / 0.224,
		(128.0/255 - 0.406) / 0.225, (64.0/255 - 0.406) / 0.225,
	}
	for i := range want {
		if math.Abs(float64(dst[i]-want[i])) > 1e-5 {
			t.Errorf("dst[%d] = %v, want %v", i, dst[i], want[i])
		}
	}
	CHW(dst, img, Unit, true)
	if dst[0] != 0 || dst[1] != 1 || dst[2] != 1 || dst[3] != 0 {
		t.Errorf("flip: got %v", dst)
	}
}

func TestResizeGolden(t *testing.T) {
	// A 2x2 image scaled to 4x4 with bilinear filtering: the corners keep
	// their colours and the centre is the mean of the four.
	img := image.NewGray(image.Rect(0, 0, 2, 2))
	img.Pix = []uint8{0, 100, 200, 40}
	r := Resize(img, 4, 4)
	if got := r.RGBAAt(0, 0).R; got != 0 {
		t.Errorf("corner (0,0) = %d, want 0", got)
	}
	if got := r.RGBAAt(3, 3).R; got != 40 {
		t.Errorf("corner (3,3) = %d, want 40", got)
	}
	c := (int(r.RGBAAt(1, 1).R) + int(r.RGBAAt(2, 2).R) + int(r.RGBAAt(1, 2).R) + int(r.RGBAAt(2, 1).R)) / 4
	if c < 80 || c > 90 { // mean of 0,100,200,40 = 85
		t.Errorf("centre mean = %d, want about 85", c)
	}
}

// exifJPEG returns a JPEG of a 3x2 image with an EXIF orientation tag.
func exifJPEG(t *testing.T, o uint16) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01")
	entry := make([]byte, 12)
	binary.BigEndian.PutUint16(entry[0:], 0x0112)
	binary.BigEndian.PutUint16(entry[2:], 3)
	binary.BigEndian.PutUint32(entry[4:], 1)
	binary.BigEndian.PutUint16(entry[8:], o)
	tiff = append(tiff, entry...)
	tiff = append(tiff, 0, 0, 0, 0)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	app1 = append(app1, seg...)
	out := append([]byte{0xff, 0xd8}, app1...)
	return append(out, b[2:]...)
}

func TestExifOrientation(t *testing.T) {
	for _, o := range []uint16{1, 3, 6, 8} {
		b := exifJPEG(t, o)
		if got := ExifOrientation(b); got != int(o) {
			t.Errorf("orientation = %d, want %d", got, o)
		}
		img, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		if o >= 5 && (w != 2 || h != 3) || o < 5 && (w != 3 || h != 2) {
			t.Errorf("orientation %d: size %dx%d", o, w, h)
		}
	}
}

func TestOrientPixels(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	img.SetRGBA(0, 0, color.RGBA{10, 0, 0, 255})
	img.SetRGBA(1, 0, color.RGBA{20, 0, 0, 255})
	// 6 = rotate 90 degrees clockwise: left pixel goes to the top.
	r := ToRGBA(Orient(img, 6))
	if r.Bounds().Dx() != 1 || r.RGBAAt(0, 0).R != 10 || r.RGBAAt(0, 1).R != 20 {
		t.Errorf("orient 6 wrong: %v", r.Pix)
	}
	r = ToRGBA(Orient(img, 2))
	if r.RGBAAt(0, 0).R != 20 {
		t.Errorf("orient 2 wrong: %v", r.Pix)
	}
}

func TestDecodeFormats(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode([]byte("GIF89a....")); err != ErrFormat {
		t.Fatalf("err = %v, want ErrFormat", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{0xff, 0xd8, 0xff, 0xe1, 0, 8, 'E', 'x', 'i', 'f', 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ExifOrientation(b)
		if img, err := Decode(b); err == nil && img.Bounds().Dx()*img.Bounds().Dy() < 1<<20 {
			Resize(img, 8, 8)
		}
	})
}

func TestShrinkGolden(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 2))
	for x := 0; x < 4; x++ {
		img.SetRGBA(x, 0, color.RGBA{uint8(10 * x), 0, 0, 255})
		img.SetRGBA(x, 1, color.RGBA{uint8(10*x + 1), 0, 0, 255})
	}
	s := Shrink(img, 2)
	// Block means: (0+10+1+11)/4 = 5.5 -> 6, (20+30+21+31)/4 = 25.5 -> 26.
	if s.Rect.Dx() != 2 || s.Rect.Dy() != 1 || s.RGBAAt(0, 0).R != 6 || s.RGBAAt(1, 0).R != 26 {
		t.Errorf("shrink = %v", s.Pix)
	}
}

func TestShrinkYCbCrMatchesRGBA(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			src.SetRGBA(x, y, color.RGBA{uint8(4 * x), uint8(5 * y), uint8(2*x + y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	a := ShrinkYCbCr(img.(*image.YCbCr), 4)
	b := Shrink(ToRGBA(img), 4)
	for i := range a.Pix {
		if d := int(a.Pix[i]) - int(b.Pix[i]); d > 3 || d < -3 {
			t.Fatalf("pixel byte %d: YCbCr path %d, RGBA path %d", i, a.Pix[i], b.Pix[i])
		}
	}
}
