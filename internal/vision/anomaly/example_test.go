package anomaly_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"

	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// entry is what a server knows about one dataset line after reading the
// manifest and fetching the objects from S3.
type entry struct {
	sourceRef string
	image     []byte            // JPEG/PNG bytes of source-ref
	class     string            // "normal" or "anomaly"
	mask      []byte            // PNG bytes of anomaly-mask-ref, or nil
	colorMap  map[string]string // internal-color-map: hex colour -> class-name
}

// detectAnomalyResult mirrors Lookout for Vision's wire shape.
type detectAnomalyResult struct {
	Source      struct{ Type string }
	IsAnomalous bool
	Confidence  float64
	Anomalies   []struct {
		Name         string
		PixelAnomaly struct {
			TotalPercentageArea float64
			Color               string
		}
	}
	AnomalyMask string // base64 PNG
}

// Example shows the server's use: train from a manifest's entries (one
// dataset: calibration is automatic), save the model, load it when the
// model is started, and answer DetectAnomalies from raw request bytes.
func Example() {
	ctx := context.Background()
	var train []entry // from the train dataset's manifest
	bb := backbone.Builtin{}
	// or: bb, err := backbone.OpenORT("mobilenetv2-12-int8.onnx", backbone.ORTConfig{})

	exs := make([]anomaly.Example, 0, len(train))
	for _, e := range train {
		ex := anomaly.Example{Name: e.sourceRef, Bytes: e.image, Anomalous: e.class == "anomaly"}
		if e.mask != nil {
			m, err := decodePNG(e.mask)
			if err != nil {
				return
			}
			ex.Mask, ex.ColorMap = m, map[color.RGBA]string{}
			for hex, name := range e.colorMap {
				c, err := anomaly.ParseHexColor(hex)
				if err != nil {
					return // ValidationException: bad hex-color
				}
				ex.ColorMap[c] = name
			}
		}
		exs = append(exs, ex)
	}
	model, eval, err := anomaly.Train(ctx, anomaly.TrainConfig{
		Backbone: bb, Train: exs, Seed: 1, Logger: slog.Default(),
		// Calibration: test dataset examples, when the project has one.
	})
	var sizeErr *anomaly.ImageSizeError
	if errors.As(err, &sizeErr) {
		return // TRAINING_FAILED with sizeErr.Error() as StatusMessage
	}
	if err != nil {
		return
	}
	defer model.Close()
	// DescribeModel's Performance and the evaluation result:
	fmt.Println(eval.F1, eval.Precision, eval.Recall)

	blob, _ := model.MarshalBinary() // store with the model version
	hosted, err := anomaly.Load(blob, bb, anomaly.LoadConfig{})
	if err != nil {
		return
	}
	defer hosted.Close()

	var body []byte // DetectAnomalies request body
	res, err := hosted.DetectBytes(ctx, body)
	if err != nil {
		return // ValidationException (bad image, or not the training images' size)
	}
	var out detectAnomalyResult
	out.Source.Type = "direct"
	out.IsAnomalous, out.Confidence = res.IsAnomalous, res.Confidence
	for _, a := range res.Anomalies { // nil for a classification model
		var w struct {
			Name         string
			PixelAnomaly struct {
				TotalPercentageArea float64
				Color               string
			}
		}
		w.Name, w.PixelAnomaly.TotalPercentageArea, w.PixelAnomaly.Color = a.Name, a.TotalPercentageArea, a.Color
		out.Anomalies = append(out.Anomalies, w)
	}
	if png, err := res.EncodeMask(); err == nil && png != nil {
		out.AnomalyMask = base64.StdEncoding.EncodeToString(png)
	}
}

func decodePNG(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
