package moderation

import (
	"image"
	"image/color"
	"math"
)

// Pixels is nsfwjs's own preprocessing of one image for a model of the
// given input side: RGB pixels divided by 255, then
// tf.image.resizeBilinear to size x size with alignCorners=true (the
// aspect ratio is not kept; corners map onto corners), skipped when the
// image is already size x size. The result is [1, 3, size, size],
// channels first, as Classify reads it.
func Pixels(img image.Image, size int) []float32 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	px := rgbReader(img)
	out := make([]float32, 3*size*size)
	plane := size * size
	if w == size && h == size {
		for y := range size {
			for x := range size {
				r, g, bl := px(b.Min.X+x, b.Min.Y+y)
				i := y*size + x
				out[i], out[plane+i], out[2*plane+i] = r/255, g/255, bl/255
			}
		}
		return out
	}
	// alignCorners: the source position of output index i is
	// i*(in-1)/(out-1); tfjs interpolates between floor and ceil of it.
	scale := func(in int) float64 {
		if size > 1 {
			return float64(in-1) / float64(size-1)
		}
		return float64(in) / float64(size)
	}
	sy, sx := scale(h), scale(w)
	for y := range size {
		fy := sy * float64(y)
		y0 := int(math.Floor(fy))
		y1 := min(h-1, int(math.Ceil(fy)))
		dy := float32(fy - float64(y0))
		for x := range size {
			fx := sx * float64(x)
			x0 := int(math.Floor(fx))
			x1 := min(w-1, int(math.Ceil(fx)))
			dx := float32(fx - float64(x0))
			tlr, tlg, tlb := px(b.Min.X+x0, b.Min.Y+y0)
			trr, trg, trb := px(b.Min.X+x1, b.Min.Y+y0)
			blr, blg, blb := px(b.Min.X+x0, b.Min.Y+y1)
			brr, brg, brb := px(b.Min.X+x1, b.Min.Y+y1)
			lerp := func(tl, tr, bl, br float32) float32 {
				tl, tr, bl, br = tl/255, tr/255, bl/255, br/255
				top := tl + (tr-tl)*dx
				bottom := bl + (br-bl)*dx
				return top + (bottom-top)*dy
			}
			i := y*size + x
			out[i] = lerp(tlr, trr, blr, brr)
			out[plane+i] = lerp(tlg, trg, blg, brg)
			out[2*plane+i] = lerp(tlb, trb, blb, brb)
		}
	}
	return out
}

// rgbReader returns a function reading one pixel's 8-bit RGB, with direct
// paths for the two types decoded photos come as.
func rgbReader(img image.Image) func(x, y int) (r, g, b float32) {
	switch m := img.(type) {
	case *image.RGBA:
		return func(x, y int) (float32, float32, float32) {
			i := m.PixOffset(x, y)
			return float32(m.Pix[i]), float32(m.Pix[i+1]), float32(m.Pix[i+2])
		}
	case *image.YCbCr:
		return func(x, y int) (float32, float32, float32) {
			yi, ci := m.YOffset(x, y), m.COffset(x, y)
			r, g, b := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			return float32(r), float32(g), float32(b)
		}
	}
	return func(x, y int) (float32, float32, float32) {
		c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
		return float32(c.R), float32(c.G), float32(c.B)
	}
}
