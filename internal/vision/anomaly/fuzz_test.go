package anomaly_test

import (
	"context"
	"crypto/sha256"
	"image"
	"image/color"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/anomaly/anomalydata"
	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// FuzzLoad feeds model files to ReadMeta and Load (ocellus predict reads
// them from packaging jobs' output, i.e. from anywhere). The fuzzed bytes
// are the file body; the SHA-256 trailer is appended so that the parser
// behind the checksum is reached. Nothing may panic or allocate beyond the
// input's size; a file that loads must describe itself consistently.
func FuzzLoad(f *testing.F) {
	tex := image.NewRGBA(image.Rect(0, 0, 128, 128))
	for y := 0; y < 128; y++ {
		for x := 0; x < 128; x++ {
			v := uint8(100 + (x*7+y*3)%50)
			tex.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	train := append(anomalydata.Synthetic(tex, 6, 64, false, 1), anomalydata.Synthetic(tex, 2, 64, true, 2)...)
	m, _, err := anomaly.Train(context.Background(), anomaly.TrainConfig{Backbone: backbone.Builtin{}, Train: train, Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	blob, err := m.MarshalBinary()
	m.Close()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob[:len(blob)-sha256.Size])
	f.Add([]byte("OCELLUS-ANOMALY\x00"))
	f.Fuzz(func(t *testing.T, body []byte) {
		sum := sha256.Sum256(body)
		data := append(append([]byte(nil), body...), sum[:]...)
		mt, err := anomaly.ReadMeta(data)
		if err != nil {
			return
		}
		m, err := anomaly.Load(data, backbone.Builtin{}, anomaly.LoadConfig{})
		if err != nil {
			return
		}
		defer m.Close()
		if got := m.Meta(); got.Dim != mt.Dim || got.ImageWidth != mt.ImageWidth {
			t.Fatalf("loaded meta %+v differs from the header %+v", got, mt)
		}
	})
}
