// Package tfjs reads TensorFlow.js models (model.json and its weight shards,
// also in the browserify-wrapped .min.js form npm packages ship) and
// converts Keras layers models to ONNX, for exactly the layers the open
// moderation models use.
//
// Numerics follow TensorFlow: 'same' padding puts the odd pixel at the
// bottom/right, average pooling with 'same' padding leaves padded cells out
// of the mean, and Flatten after a channels-last tensor keeps NHWC order.
// The ONNX graph itself runs NCHW, the layout ONNX operators define.
package tfjs

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Model is a parsed model.json.
type Model struct {
	Format          string          `json:"format"` // "layers-model", "graph-model" or "" (old layers files)
	GeneratedBy     string          `json:"generatedBy"`
	ConvertedBy     string          `json:"convertedBy"`
	Topology        json.RawMessage `json:"modelTopology"`
	WeightsManifest []WeightGroup   `json:"weightsManifest"`
}

// WeightGroup is one entry of the weights manifest: shard files holding the
// listed weights back to back.
type WeightGroup struct {
	Paths   []string     `json:"paths"`
	Weights []WeightSpec `json:"weights"`
}

// WeightSpec describes one stored tensor.
type WeightSpec struct {
	Name         string        `json:"name"`
	Shape        []int         `json:"shape"`
	Dtype        string        `json:"dtype"`
	Quantization *Quantization `json:"quantization"`
}

// Quantization is tfjs's affine weight quantisation: w = q*scale + min.
type Quantization struct {
	Min   float64 `json:"min"`
	Scale float64 `json:"scale"`
	Dtype string  `json:"dtype"` // uint8 or uint16
}

// Tensor is a dequantized weight.
type Tensor struct {
	Shape []int
	Data  []float32
}

// maxElems bounds one tensor's element count (a hostile manifest must not
// make the parser allocate without limit); the largest nsfwjs tensor has
// about 2.4 M elements.
const maxElems = 1 << 28

// ParseModel parses a model.json, plain or wrapped in a browserify bundle.
func ParseModel(src []byte) (*Model, error) {
	v, err := exported(string(src))
	if err != nil {
		return nil, err
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, errors.New("tfjs: model file does not hold an object")
	}
	// The literal is plain data once parsed: JSON carries it into the typed
	// structs below.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("tfjs: model.json: %w", err)
	}
	if len(m.Topology) == 0 || string(m.Topology) == "null" {
		return nil, errors.New("tfjs: model.json has no modelTopology")
	}
	for _, g := range m.WeightsManifest {
		if len(g.Paths) == 0 {
			return nil, errors.New("tfjs: weights manifest group without paths")
		}
		for _, w := range g.Weights {
			if _, err := w.size(); err != nil {
				return nil, err
			}
		}
	}
	return &m, nil
}

// ParseShard returns the bytes of one weight shard: a raw .bin file as it
// is, or the base64 string a .min.js bundle exports.
func ParseShard(name string, src []byte) ([]byte, error) {
	if !strings.HasSuffix(name, ".js") {
		return src, nil
	}
	v, err := exported(string(src))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("tfjs: %s: shard bundle does not export a string", name)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %s: %w", name, err)
	}
	return b, nil
}

func (w WeightSpec) elems() (int, error) {
	n := 1
	for _, d := range w.Shape {
		if d < 0 || (d > 0 && n > maxElems/d) {
			return 0, fmt.Errorf("tfjs: weight %q has shape %v", w.Name, w.Shape)
		}
		n *= d
	}
	return n, nil
}

// size is the number of bytes the weight takes in its shard.
func (w WeightSpec) size() (int, error) {
	n, err := w.elems()
	if err != nil {
		return 0, err
	}
	if q := w.Quantization; q != nil {
		switch q.Dtype {
		case "uint8":
			return n, nil
		case "uint16":
			return 2 * n, nil
		}
		return 0, fmt.Errorf("tfjs: weight %q: unsupported quantization dtype %q", w.Name, q.Dtype)
	}
	switch w.Dtype {
	case "float32", "int32":
		return 4 * n, nil
	}
	return 0, fmt.Errorf("tfjs: weight %q: unsupported dtype %q", w.Name, w.Dtype)
}

// Weights decodes every weight of the manifest. shard returns the bytes of
// the shard file a manifest path names.
func (m *Model) Weights(shard func(path string) ([]byte, error)) (map[string]*Tensor, error) {
	out := map[string]*Tensor{}
	for _, g := range m.WeightsManifest {
		var buf []byte
		for _, p := range g.Paths {
			b, err := shard(p)
			if err != nil {
				return nil, err
			}
			buf = append(buf, b...)
		}
		off := 0
		for _, w := range g.Weights {
			sz, err := w.size()
			if err != nil {
				return nil, err
			}
			if off+sz > len(buf) {
				return nil, fmt.Errorf("tfjs: weight %q needs bytes %d..%d, shards of %v hold %d", w.Name, off, off+sz, g.Paths, len(buf))
			}
			t, err := decode(w, buf[off:off+sz])
			if err != nil {
				return nil, err
			}
			if _, dup := out[w.Name]; dup {
				return nil, fmt.Errorf("tfjs: weight %q listed twice", w.Name)
			}
			out[w.Name] = t
			off += sz
		}
		if off != len(buf) {
			return nil, fmt.Errorf("tfjs: shards of %v hold %d bytes, the manifest lists %d", g.Paths, len(buf), off)
		}
	}
	return out, nil
}

func decode(w WeightSpec, b []byte) (*Tensor, error) {
	n, _ := w.elems()
	t := &Tensor{Shape: append([]int(nil), w.Shape...), Data: make([]float32, n)}
	if q := w.Quantization; q != nil {
		if math.IsNaN(q.Scale) || math.IsNaN(q.Min) {
			return nil, fmt.Errorf("tfjs: weight %q: NaN quantization", w.Name)
		}
		// tfjs computes q*scale+min in double precision and stores float32.
		for i := range t.Data {
			var v float64
			if q.Dtype == "uint16" {
				v = float64(binary.LittleEndian.Uint16(b[2*i:]))
			} else {
				v = float64(b[i])
			}
			t.Data[i] = float32(v*q.Scale + q.Min)
		}
		return t, nil
	}
	for i := range t.Data {
		u := binary.LittleEndian.Uint32(b[4*i:])
		if w.Dtype == "int32" {
			t.Data[i] = float32(int32(u))
		} else {
			t.Data[i] = math.Float32frombits(u)
		}
	}
	return t, nil
}
