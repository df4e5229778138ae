package moderation

import (
	"image"
	"image/color"
	"math"
	"testing"
)

// Pixels follows tf.image.resizeBilinear with alignCorners=true: corners
// land on corners, and a 2x2 image read at 3x3 puts the mean in the middle.
func TestPixelsAlignCorners(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 2, 2))
	src.Set(0, 0, color.RGBA{0, 0, 0, 255})
	src.Set(1, 0, color.RGBA{255, 0, 0, 255})
	src.Set(0, 1, color.RGBA{0, 255, 0, 255})
	src.Set(1, 1, color.RGBA{255, 255, 255, 255})
	x := Pixels(src, 3)
	at := func(c, y, xx int) float32 { return x[c*9+y*3+xx] }
	for _, tc := range []struct {
		c, y, x int
		want    float64
	}{
		{0, 0, 0, 0}, {0, 0, 2, 1}, {1, 2, 0, 1}, {2, 2, 2, 1}, {2, 0, 2, 0},
		{0, 1, 1, 0.5}, {1, 1, 1, 0.5}, {2, 1, 1, 0.25},
		{0, 0, 1, 0.5}, {1, 1, 0, 0.5},
	} {
		if got := at(tc.c, tc.y, tc.x); math.Abs(float64(got)-tc.want) > 1e-6 {
			t.Errorf("channel %d at (%d,%d) = %v, want %v", tc.c, tc.x, tc.y, got, tc.want)
		}
	}
	// Already at the model's side: only the division by 255.
	y := Pixels(src, 2)
	if y[1] != 1 || y[4+2] != 1 || y[8+3] != 1 || y[0] != 0 {
		t.Errorf("same-size image: %v", y)
	}
	// A decoded JPEG (YCbCr) of one grey reads as that grey everywhere.
	ycc := image.NewYCbCr(image.Rect(0, 0, 5, 7), image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = 128
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = 128, 128
	}
	for i, v := range Pixels(ycc, 4) {
		if math.Abs(float64(v)-128.0/255) > 1e-6 {
			t.Fatalf("grey JPEG pixel %d = %v", i, v)
		}
	}
}
