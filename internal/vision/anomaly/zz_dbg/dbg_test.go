package dbg

import (
	"context"
	"fmt"
	"image/color"
	"os"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/anomaly/anomalydata"
	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

func TestDbg(t *testing.T) {
	bb, err := backbone.OpenORT("/work/shared/models/mobilenetv2-12-int8.onnx", backbone.ORTConfig{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("/usr/lib/python3/dist-packages/skimage/data/grass.png")
	tex, _ := imageio.Decode(b)
	s := uint64(100 + 10)
	train := append(anomalydata.Synthetic(tex, 30, 256, false, s+1), anomalydata.Synthetic(tex, 10, 256, true, s+2)...)
	test := append(anomalydata.Synthetic(tex, 20, 256, false, s+3), anomalydata.Synthetic(tex, 20, 256, true, s+4)...)
	m, _, err := anomaly.Train(context.Background(), anomaly.TrainConfig{Backbone: bb, Train: train, InputSize: 256, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range test {
		r, _ := m.Detect(context.Background(), e.Image)
		kind := ""
		if e.Mask != nil {
			mb := e.Mask.Bounds()
			for y := mb.Min.Y; y < mb.Max.Y && kind == ""; y++ {
				for x := mb.Min.X; x < mb.Max.X; x++ {
					c := color.RGBAModel.Convert(e.Mask.At(x, y)).(color.RGBA)
					if n, ok := anomalydata.SyntheticColorMap()[c]; ok {
						kind = n
						break
					}
				}
			}
		}
		// argmax location
		bi := 0
		for i, v := range r.Map {
			if v > r.Map[bi] {
				bi = i
			}
		}
		mt := m.Meta()
		fmt.Printf("%-12s %-8s score %.3f at (%d,%d) of %dx%d\n", e.Name, kind, r.Score, bi%mt.GridWidth, bi/mt.GridWidth, mt.GridWidth, mt.GridHeight)
	}
}
