package imageio

import (
	"bytes"
	"image/jpeg"
	"math/rand/v2"
	"testing"
)

// TestBrokenJPEGVerdicts: a JPEG cut at any point is refused, by
// libjpeg-turbo itself and by image/jpeg (OCELLUS_JPEG_DECODER=go), so
// Decode's verdict does not depend on the decoder. libjpeg-turbo could
// decode a truncated file, filling the missing rows with grey after a
// "Premature end of JPEG file" warning; Ocellus runs it with
// TJFLAG_STOPONWARNING so that such a file is refused, as its missing part
// would otherwise be trained on as if it were real.
//
// Files with overwritten bytes inside the entropy-coded data are not held
// to the same rule: libjpeg-turbo decodes a few of them without a warning
// where image/jpeg reports a bad Huffman code (about 1 in 100 here; the
// count is logged). Making those agree would cost an image/jpeg decode of
// every image.
func TestBrokenJPEGVerdicts(t *testing.T) {
	for _, good := range [][]byte{testJPEG(t, 96, 80, false), testJPEG(t, 64, 64, true)} {
		var cases [][]byte
		for cut := 2; cut < len(good); cut += max(1, len(good)/97) {
			cases = append(cases, good[:cut])
		}
		r := rand.New(rand.NewPCG(7, 7))
		for range 300 {
			b := bytes.Clone(good)
			for range 1 + r.IntN(3) {
				b[2+r.IntN(len(b)-2)] = byte(r.IntN(256))
			}
			cases = append(cases, b)
		}
		accepted, refused := 0, 0
		differ := 0
		for i, b := range cases {
			_, jerr := jpeg.Decode(bytes.NewReader(b))
			img, err := Decode(b)
			if (err == nil) != (jerr == nil) {
				if len(b) < len(good) {
					t.Errorf("case %d (%d bytes): Decode error %v, image/jpeg error %v", i, len(b), err, jerr)
				}
				differ++
			}
			if err == nil && img == nil {
				t.Errorf("case %d: no image and no error", i)
			}
			if err == nil {
				accepted++
			} else {
				refused++
			}
		}
		// Every truncation (all but the whole file) is refused, by both.
		for _, b := range cases[:len(cases)-300] {
			if _, err := Decode(b); err == nil {
				t.Errorf("a JPEG cut to %d of %d bytes is accepted", len(b), len(good))
			}
			if JPEGDecoder() == "libjpeg-turbo" {
				if _, ok := decodeTurbo(b); ok {
					t.Errorf("libjpeg-turbo accepts a JPEG cut to %d of %d bytes", len(b), len(good))
				}
			}
		}
		t.Logf("%s: %d damaged files accepted, %d refused; %d overwritten files judged otherwise by image/jpeg", JPEGDecoder(), accepted, refused, differ)
	}
}
