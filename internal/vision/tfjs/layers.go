package tfjs

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ocellus/ocellus/internal/vision/onnxedit"
)

// ONNX versions the converter writes: opset 13 has every operator used here
// with its inputs (Pad's pads) as tensors; ONNX Runtime 1.24 runs it.
const (
	irVersion = 7
	opset     = 13
)

// InputName is the graph input of a converted model: a batch [N, 3, H, W]
// of float32, channels first, preprocessed as the tfjs model expects.
const InputName = "input"

// OutputName is the graph output: the model's output layer, [N, units].
const OutputName = "output"

type kerasTopology struct {
	ModelConfig struct {
		ClassName string `json:"class_name"`
		Config    struct {
			Name         string          `json:"name"`
			Layers       []kerasLayer    `json:"layers"`
			InputLayers  [][]any         `json:"input_layers"`
			OutputLayers [][]any         `json:"output_layers"`
			Raw          json.RawMessage `json:"-"`
		} `json:"config"`
	} `json:"model_config"`
}

type kerasLayer struct {
	Name          string          `json:"name"`
	ClassName     string          `json:"class_name"`
	Config        json.RawMessage `json:"config"`
	InboundNodes  [][][]any       `json:"inbound_nodes"`
	inputs        []string
	configDecoded layerConfig
}

// layerConfig is the union of the config fields the supported layers use.
type layerConfig struct {
	BatchInputShape []*int          `json:"batch_input_shape"`
	DataFormat      string          `json:"data_format"`
	Filters         int             `json:"filters"`
	KernelSize      []int           `json:"kernel_size"`
	Strides         []int           `json:"strides"`
	PaddingRaw      json.RawMessage `json:"padding"`
	DilationRate    json.RawMessage `json:"dilation_rate"`
	DepthMultiplier int             `json:"depth_multiplier"`
	Activation      string          `json:"activation"`
	UseBias         *bool           `json:"use_bias"`
	Units           int             `json:"units"`
	Axis            json.RawMessage `json:"axis"`
	Epsilon         *float64        `json:"epsilon"`
	Center          *bool           `json:"center"`
	Scale           *bool           `json:"scale"`
	MaxValue        *float64        `json:"max_value"`
	NegativeSlope   *float64        `json:"negative_slope"`
	Threshold       *float64        `json:"threshold"`
	PoolSize        []int           `json:"pool_size"`
}

// maxSide bounds image sides and paddings, so that shapes of a hostile
// topology cannot overflow.
const maxSide = 1 << 15

// shape is a tensor's shape in Keras terms, without the batch: [H, W, C]
// for images, [C] for vectors.
type shape []int

type converter struct {
	g       *onnxedit.Graph
	weights map[string]*Tensor
	used    map[string]bool
	shapes  map[string]shape // ONNX tensor name -> Keras shape
	alias   map[string]string
	n       int
}

// ConvertLayers converts a Keras functional (layers) model to ONNX. The ONNX
// input is InputName ([N, 3, H, W], NCHW; the batch is symbolic) and the
// output OutputName. Every weight of the manifest must be used.
func ConvertLayers(m *Model, weights map[string]*Tensor) (*onnxedit.Model, error) {
	if m.Format == "graph-model" {
		return nil, errors.New("tfjs: a graph model is not a layers model")
	}
	var top kerasTopology
	if err := json.Unmarshal(m.Topology, &top); err != nil {
		return nil, fmt.Errorf("tfjs: modelTopology: %w", err)
	}
	mc := top.ModelConfig
	if mc.ClassName != "Model" && mc.ClassName != "Functional" {
		return nil, fmt.Errorf("tfjs: model class %q is not supported (functional models only)", mc.ClassName)
	}
	if len(mc.Config.InputLayers) != 1 || len(mc.Config.OutputLayers) != 1 {
		return nil, fmt.Errorf("tfjs: %d inputs and %d outputs; one of each is supported", len(mc.Config.InputLayers), len(mc.Config.OutputLayers))
	}
	c := &converter{
		g:       &onnxedit.Graph{Name: cmpOr(mc.Config.Name, "tfjs")},
		weights: weights,
		used:    map[string]bool{},
		shapes:  map[string]shape{},
		alias:   map[string]string{},
	}
	for i := range mc.Config.Layers {
		l := &mc.Config.Layers[i]
		if err := json.Unmarshal(l.Config, &l.configDecoded); err != nil {
			return nil, fmt.Errorf("tfjs: layer %q config: %w", l.Name, err)
		}
		if df := l.configDecoded.DataFormat; df != "" && df != "channels_last" {
			return nil, fmt.Errorf("tfjs: layer %q: data_format %q (channels_last only)", l.Name, df)
		}
		if len(l.InboundNodes) > 1 {
			return nil, fmt.Errorf("tfjs: layer %q is called %d times (shared layers are not supported)", l.Name, len(l.InboundNodes))
		}
		if len(l.InboundNodes) == 1 {
			for _, in := range l.InboundNodes[0] {
				if len(in) < 3 {
					return nil, fmt.Errorf("tfjs: layer %q: malformed inbound node", l.Name)
				}
				name, ok := in[0].(string)
				if !ok {
					return nil, fmt.Errorf("tfjs: layer %q: malformed inbound node", l.Name)
				}
				if ni, _ := in[1].(float64); ni != 0 {
					return nil, fmt.Errorf("tfjs: layer %q reads node %v of %q (shared layers are not supported)", l.Name, in[1], name)
				}
				if ti, _ := in[2].(float64); ti != 0 {
					return nil, fmt.Errorf("tfjs: layer %q reads output %v of %q (one output a layer)", l.Name, in[2], name)
				}
				l.inputs = append(l.inputs, name)
			}
		}
		if err := c.layer(l); err != nil {
			return nil, fmt.Errorf("tfjs: layer %q (%s): %w", l.Name, l.ClassName, err)
		}
	}
	var outLayer string
	if ol := mc.Config.OutputLayers[0]; len(ol) > 0 {
		outLayer, _ = ol[0].(string)
	}
	out, ok := c.tensor(outLayer)
	if !ok {
		return nil, fmt.Errorf("tfjs: output layer %q not found", outLayer)
	}
	if err := c.finish(out); err != nil {
		return nil, err
	}
	return &onnxedit.Model{IRVersion: irVersion, Opsets: map[string]int64{"": opset}, Graph: c.g}, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// tensor resolves a layer name to the ONNX tensor holding its output.
func (c *converter) tensor(layer string) (string, bool) {
	if a, ok := c.alias[layer]; ok {
		return a, true
	}
	_, ok := c.shapes[layer]
	return layer, ok
}

func (c *converter) weight(layer, name string, want ...int) (*Tensor, error) {
	key := layer + "/" + name
	t, ok := c.weights[key]
	if !ok {
		// Some converters prefix weight names with the model's scope.
		for k, v := range c.weights {
			if strings.HasSuffix(k, "/"+key) {
				key, t, ok = k, v, true
				break
			}
		}
	}
	if !ok {
		return nil, fmt.Errorf("weight %s missing", key)
	}
	if len(t.Shape) != len(want) {
		return nil, fmt.Errorf("weight %s has shape %v, want %v", key, t.Shape, want)
	}
	for i, d := range want {
		if t.Shape[i] != d {
			return nil, fmt.Errorf("weight %s has shape %v, want %v", key, t.Shape, want)
		}
	}
	c.used[key] = true
	return t, nil
}

func (c *converter) init(name string, data []float32, dims ...int64) string {
	c.g.Initializers = append(c.g.Initializers, onnxedit.FloatTensor(name, data, dims...))
	return name
}

func (c *converter) initInts(name string, data ...int64) string {
	c.g.Initializers = append(c.g.Initializers, onnxedit.Int64Tensor(name, data, int64(len(data))))
	return name
}

// tmp names an intermediate tensor of a layer.
func (c *converter) tmp(layer, what string) string {
	c.n++
	return fmt.Sprintf("%s/%s_%d", layer, what, c.n)
}

func (c *converter) one(l *kerasLayer) (string, shape, error) {
	if len(l.inputs) != 1 {
		return "", nil, fmt.Errorf("has %d inputs, want 1", len(l.inputs))
	}
	in, ok := c.tensor(l.inputs[0])
	if !ok {
		return "", nil, fmt.Errorf("input %q is not defined before it", l.inputs[0])
	}
	return in, c.shapes[in], nil
}

func (c *converter) image(l *kerasLayer) (string, shape, error) {
	in, s, err := c.one(l)
	if err == nil && len(s) != 3 {
		err = fmt.Errorf("input %q has shape %v, want [H, W, C]", l.inputs[0], s)
	}
	return in, s, err
}

func pair(v []int, def int, what string) ([2]int, error) {
	var p [2]int
	switch len(v) {
	case 0:
		p = [2]int{def, def}
	case 1:
		p = [2]int{v[0], v[0]}
	case 2:
		p = [2]int{v[0], v[1]}
	default:
		return p, fmt.Errorf("%s %v", what, v)
	}
	if p[0] <= 0 || p[1] <= 0 || p[0] > maxSide || p[1] > maxSide {
		return p, fmt.Errorf("%s %v", what, v)
	}
	return p, nil
}

func (lc *layerConfig) padding() (string, error) {
	var p string
	if err := json.Unmarshal(lc.PaddingRaw, &p); err != nil {
		return "", fmt.Errorf("padding %s", lc.PaddingRaw)
	}
	if p != "valid" && p != "same" {
		return "", fmt.Errorf("padding %q", p)
	}
	return p, nil
}

func (lc *layerConfig) dilation() ([2]int, error) {
	if len(lc.DilationRate) == 0 || string(lc.DilationRate) == "null" {
		return [2]int{1, 1}, nil
	}
	var one int
	if json.Unmarshal(lc.DilationRate, &one) == nil {
		return pair([]int{one}, 1, "dilation_rate")
	}
	var v []int
	if err := json.Unmarshal(lc.DilationRate, &v); err != nil {
		return [2]int{}, fmt.Errorf("dilation_rate %s", lc.DilationRate)
	}
	return pair(v, 1, "dilation_rate")
}

// window computes the output size and ONNX pads [top, left, bottom, right]
// of a sliding window. TF 'same' puts the odd padded pixel at the
// bottom/right.
func window(in [2]int, k, s, d [2]int, padding string) (out [2]int, pads [4]int64, err error) {
	for i := 0; i < 2; i++ {
		ek := (k[i]-1)*d[i] + 1
		if padding == "same" {
			out[i] = (in[i] + s[i] - 1) / s[i]
			total := max((out[i]-1)*s[i]+ek-in[i], 0)
			pads[i] = int64(total / 2)
			pads[i+2] = int64(total - total/2)
		} else {
			if in[i] < ek {
				return out, pads, fmt.Errorf("window %d larger than input %d", ek, in[i])
			}
			out[i] = (in[i]-ek)/s[i] + 1
		}
	}
	return out, pads, nil
}

func (c *converter) layer(l *kerasLayer) error {
	lc := &l.configDecoded
	switch l.ClassName {
	case "InputLayer":
		s := lc.BatchInputShape
		if len(s) != 4 || s[1] == nil || s[2] == nil || s[3] == nil || *s[1] <= 0 || *s[2] <= 0 || *s[3] <= 0 {
			return fmt.Errorf("batch_input_shape %v: a fixed [N, H, W, C] image input is supported", lc.BatchInputShape)
		}
		if len(c.g.Inputs) > 0 {
			return errors.New("a second input")
		}
		h, w, ch := *s[1], *s[2], *s[3]
		if h > maxSide || w > maxSide || ch > maxSide {
			return fmt.Errorf("batch_input_shape %v: sides up to %d are supported", lc.BatchInputShape, maxSide)
		}
		vi := onnxedit.NewValueInfo(InputName, onnxedit.Float, -1, int64(ch), int64(h), int64(w))
		vi.Shape[0] = onnxedit.Dim{Param: "batch"}
		c.g.Inputs = append(c.g.Inputs, vi)
		c.alias[l.Name] = InputName
		c.shapes[InputName] = shape{h, w, ch}
		return nil

	case "ZeroPadding2D":
		in, s, err := c.image(l)
		if err != nil {
			return err
		}
		var p [4]int // top, bottom, left, right
		var n int
		var nn [][]int
		var flat []int
		switch {
		case json.Unmarshal(lc.PaddingRaw, &n) == nil:
			p = [4]int{n, n, n, n}
		case json.Unmarshal(lc.PaddingRaw, &nn) == nil && len(nn) == 2 && len(nn[0]) == 2 && len(nn[1]) == 2:
			p = [4]int{nn[0][0], nn[0][1], nn[1][0], nn[1][1]}
		case json.Unmarshal(lc.PaddingRaw, &flat) == nil && len(flat) == 2:
			p = [4]int{flat[0], flat[0], flat[1], flat[1]}
		default:
			return fmt.Errorf("padding %s", lc.PaddingRaw)
		}
		for _, v := range p {
			if v < 0 || v > maxSide {
				return fmt.Errorf("padding %s", lc.PaddingRaw)
			}
		}
		pads := c.initInts(c.tmp(l.Name, "pads"), 0, 0, int64(p[0]), int64(p[2]), 0, 0, int64(p[1]), int64(p[3]))
		c.g.AddNode("Pad", l.Name, []string{in, pads}, []string{l.Name}, &onnxedit.Attribute{Name: "mode", Type: onnxedit.AttrString, S: []byte("constant")})
		c.shapes[l.Name] = shape{s[0] + p[0] + p[1], s[1] + p[2] + p[3], s[2]}
		return nil

	case "Conv2D", "DepthwiseConv2D":
		in, s, err := c.image(l)
		if err != nil {
			return err
		}
		k, err := pair(lc.KernelSize, 0, "kernel_size")
		if err != nil {
			return err
		}
		st, err := pair(lc.Strides, 1, "strides")
		if err != nil {
			return err
		}
		d, err := lc.dilation()
		if err != nil {
			return err
		}
		padding, err := lc.padding()
		if err != nil {
			return err
		}
		out, pads, err := window([2]int{s[0], s[1]}, k, st, d, padding)
		if err != nil {
			return err
		}
		cin := s[2]
		var wt []float32
		var cout, group int
		if l.ClassName == "Conv2D" {
			cout, group = lc.Filters, 1
			if cout <= 0 {
				return fmt.Errorf("filters %d", cout)
			}
			kt, err := c.weight(l.Name, "kernel", k[0], k[1], cin, cout)
			if err != nil {
				return err
			}
			wt = hwioToOIHW(kt.Data, k, cin, cout)
		} else {
			mult := max(lc.DepthMultiplier, 1)
			cout, group = cin*mult, cin
			kt, err := c.weight(l.Name, "depthwise_kernel", k[0], k[1], cin, mult)
			if err != nil {
				return err
			}
			wt = depthwiseToOIHW(kt.Data, k, cin, mult)
		}
		var bias []float32
		if lc.UseBias == nil || *lc.UseBias {
			b, err := c.weight(l.Name, "bias", cout)
			if err != nil {
				return err
			}
			bias = b.Data
		}
		conv := l.Name
		if a := lc.Activation; a != "" && a != "linear" {
			conv = c.tmp(l.Name, "conv")
		}
		c.conv(l.Name, in, conv, wt, bias, cout, group, k, st, d, pads, out)
		return c.activation(l.Name, conv, lc.Activation)

	case "BatchNormalization":
		in, s, err := c.one(l)
		if err != nil {
			return err
		}
		if err := checkChannelAxis(lc.Axis, len(s)); err != nil {
			return err
		}
		ch := s[len(s)-1]
		// The statistics come first: their lengths, real data, bound ch.
		mean, err := c.weight(l.Name, "moving_mean", ch)
		if err != nil {
			return err
		}
		vr, err := c.weight(l.Name, "moving_variance", ch)
		if err != nil {
			return err
		}
		gamma, beta := make([]float32, ch), make([]float32, ch)
		for i := range gamma {
			gamma[i] = 1
		}
		if lc.Scale == nil || *lc.Scale {
			t, err := c.weight(l.Name, "gamma", ch)
			if err != nil {
				return err
			}
			gamma = t.Data
		}
		if lc.Center == nil || *lc.Center {
			t, err := c.weight(l.Name, "beta", ch)
			if err != nil {
				return err
			}
			beta = t.Data
		}
		eps := 1e-3
		if lc.Epsilon != nil {
			eps = *lc.Epsilon
		}
		x := in
		if len(s) == 1 { // ONNX BatchNormalization wants [N, C, ...]
			return errors.New("batch normalisation of a vector is not supported")
		}
		c.g.AddNode("BatchNormalization", l.Name, []string{x,
			c.init(l.Name+"/gamma", gamma, int64(ch)), c.init(l.Name+"/beta", beta, int64(ch)),
			c.init(l.Name+"/mean", mean.Data, int64(ch)), c.init(l.Name+"/var", vr.Data, int64(ch))},
			[]string{l.Name}, onnxedit.FloatAttr("epsilon", float32(eps)))
		c.shapes[l.Name] = s
		return nil

	case "ReLU":
		in, s, err := c.one(l)
		if err != nil {
			return err
		}
		if (lc.NegativeSlope != nil && *lc.NegativeSlope != 0) || (lc.Threshold != nil && *lc.Threshold != 0) {
			return errors.New("ReLU with negative_slope or threshold is not supported")
		}
		if lc.MaxValue != nil {
			lo := c.init(c.tmp(l.Name, "min"), []float32{0})
			hi := c.init(c.tmp(l.Name, "max"), []float32{float32(*lc.MaxValue)})
			c.g.AddNode("Clip", l.Name, []string{in, lo, hi}, []string{l.Name})
		} else {
			c.g.AddNode("Relu", l.Name, []string{in}, []string{l.Name})
		}
		c.shapes[l.Name] = s
		return nil

	case "Activation":
		in, s, err := c.one(l)
		if err != nil {
			return err
		}
		if lc.Activation == "linear" {
			c.alias[l.Name] = in
			return nil
		}
		c.shapes[in] = s
		return c.activationTo(l.Name, in, lc.Activation, l.Name)

	case "Add", "Concatenate":
		if len(l.inputs) < 2 {
			return fmt.Errorf("has %d inputs, want 2 or more", len(l.inputs))
		}
		var ins []string
		var s0 shape
		for i, name := range l.inputs {
			t, ok := c.tensor(name)
			if !ok {
				return fmt.Errorf("input %q is not defined before it", name)
			}
			s := c.shapes[t]
			if i == 0 {
				s0 = append(shape(nil), s...)
			} else if len(s) != len(s0) {
				return fmt.Errorf("inputs of ranks %d and %d", len(s0), len(s))
			} else {
				for j := range s {
					if l.ClassName == "Concatenate" && j == len(s)-1 {
						s0[j] += s[j]
					} else if s[j] != s0[j] {
						return fmt.Errorf("input shapes %v and %v", c.shapes[ins[0]], s)
					}
				}
			}
			ins = append(ins, t)
		}
		if l.ClassName == "Add" {
			c.g.AddNode("Sum", l.Name, ins, []string{l.Name})
		} else {
			if err := checkChannelAxis(lc.Axis, len(s0)); err != nil {
				return err
			}
			c.g.AddNode("Concat", l.Name, ins, []string{l.Name}, onnxedit.IntAttr("axis", 1))
		}
		c.shapes[l.Name] = s0
		return nil

	case "AveragePooling2D", "MaxPooling2D":
		in, _, err := c.image(l)
		if err != nil {
			return err
		}
		k, err := pair(lc.PoolSize, 2, "pool_size")
		if err != nil {
			return err
		}
		st := k
		if len(lc.Strides) > 0 {
			if st, err = pair(lc.Strides, 1, "strides"); err != nil {
				return err
			}
		}
		padding, err := lc.padding()
		if err != nil {
			return err
		}
		return c.pool(l.Name, in, l.ClassName == "AveragePooling2D", k, st, padding)

	case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
		in, s, err := c.image(l)
		if err != nil {
			return err
		}
		op := "GlobalAveragePool"
		if l.ClassName == "GlobalMaxPooling2D" {
			op = "GlobalMaxPool"
		}
		p := c.tmp(l.Name, "pool")
		c.g.AddNode(op, l.Name+"/pool", []string{in}, []string{p})
		c.g.AddNode("Flatten", l.Name, []string{p}, []string{l.Name}, onnxedit.IntAttr("axis", 1))
		c.shapes[l.Name] = shape{s[2]}
		return nil

	case "Flatten":
		in, s, err := c.one(l)
		if err != nil {
			return err
		}
		n := 1
		for _, d := range s {
			n *= d
		}
		x := in
		if len(s) == 3 {
			// Keras flattens channels-last tensors in NHWC order; the graph
			// holds NCHW.
			x = c.tmp(l.Name, "nhwc")
			c.g.AddNode("Transpose", l.Name+"/nhwc", []string{in}, []string{x}, onnxedit.IntsAttr("perm", 0, 2, 3, 1))
		}
		c.g.AddNode("Flatten", l.Name, []string{x}, []string{l.Name}, onnxedit.IntAttr("axis", 1))
		c.shapes[l.Name] = shape{n}
		return nil

	case "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout":
		in, _, err := c.one(l) // identity at inference
		if err != nil {
			return err
		}
		c.alias[l.Name] = in
		return nil

	case "Dense":
		in, s, err := c.one(l)
		if err != nil {
			return err
		}
		if len(s) != 1 {
			return fmt.Errorf("input of shape %v; Dense on a vector is supported", s)
		}
		if lc.Units <= 0 {
			return fmt.Errorf("units %d", lc.Units)
		}
		kt, err := c.weight(l.Name, "kernel", s[0], lc.Units)
		if err != nil {
			return err
		}
		inputs := []string{in, c.init(l.Name+"/W", kt.Data, int64(s[0]), int64(lc.Units))}
		if lc.UseBias == nil || *lc.UseBias {
			b, err := c.weight(l.Name, "bias", lc.Units)
			if err != nil {
				return err
			}
			inputs = append(inputs, c.init(l.Name+"/B", b.Data, int64(lc.Units)))
		}
		mm := l.Name
		if a := lc.Activation; a != "" && a != "linear" {
			mm = c.tmp(l.Name, "gemm")
		}
		c.g.AddNode("Gemm", l.Name, inputs, []string{mm})
		c.shapes[mm] = shape{lc.Units}
		return c.activation(l.Name, mm, lc.Activation)
	}
	return fmt.Errorf("layer class %s is not supported", l.ClassName)
}

// checkChannelAxis accepts the channel axis of a channels-last tensor of
// rank r (without batch): -1 or r.
func checkChannelAxis(raw json.RawMessage, r int) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var a int
	if err := json.Unmarshal(raw, &a); err != nil {
		var as []int
		if json.Unmarshal(raw, &as) != nil || len(as) != 1 {
			return fmt.Errorf("axis %s", raw)
		}
		a = as[0]
	}
	if a != -1 && a != r {
		return fmt.Errorf("axis %d (the channel axis, -1, is supported)", a)
	}
	return nil
}

// activation applies a Keras activation to tensor x, naming the result after
// the layer.
func (c *converter) activation(layer, x, act string) error {
	if act == "" || act == "linear" {
		return nil
	}
	return c.activationTo(layer, x, act, layer)
}

func (c *converter) activationTo(layer, x, act, out string) error {
	s := c.shapes[x]
	switch act {
	case "relu":
		c.g.AddNode("Relu", layer+"/relu", []string{x}, []string{out})
	case "relu6":
		lo := c.init(c.tmp(layer, "min"), []float32{0})
		hi := c.init(c.tmp(layer, "max"), []float32{6})
		c.g.AddNode("Clip", layer+"/relu6", []string{x, lo, hi}, []string{out})
	case "sigmoid":
		c.g.AddNode("Sigmoid", layer+"/sigmoid", []string{x}, []string{out})
	case "tanh":
		c.g.AddNode("Tanh", layer+"/tanh", []string{x}, []string{out})
	case "softmax":
		// Over the channels: the last Keras axis is ONNX axis 1 of an image.
		axis := int64(-1)
		if len(s) == 3 {
			axis = 1
		}
		c.g.AddNode("Softmax", layer+"/softmax", []string{x}, []string{out}, onnxedit.IntAttr("axis", axis))
	default:
		return fmt.Errorf("activation %q is not supported", act)
	}
	c.shapes[out] = s
	return nil
}

// hwioToOIHW reorders a TF kernel [kh, kw, cin, cout] to ONNX's
// [cout, cin, kh, kw].
func hwioToOIHW(src []float32, k [2]int, cin, cout int) []float32 {
	wt := make([]float32, len(src))
	for y := 0; y < k[0]; y++ {
		for x := 0; x < k[1]; x++ {
			for ci := 0; ci < cin; ci++ {
				for co := 0; co < cout; co++ {
					wt[((co*cin+ci)*k[0]+y)*k[1]+x] = src[((y*k[1]+x)*cin+ci)*cout+co]
				}
			}
		}
	}
	return wt
}

// depthwiseToOIHW reorders a TF depthwise kernel [kh, kw, cin, mult] to
// ONNX's grouped [cin*mult, 1, kh, kw]; output channel ci*mult+m, as TF
// orders them.
func depthwiseToOIHW(src []float32, k [2]int, cin, mult int) []float32 {
	wt := make([]float32, len(src))
	for y := 0; y < k[0]; y++ {
		for x := 0; x < k[1]; x++ {
			for ci := 0; ci < cin; ci++ {
				for m := 0; m < mult; m++ {
					wt[((ci*mult+m)*k[0]+y)*k[1]+x] = src[((y*k[1]+x)*cin+ci)*mult+m]
				}
			}
		}
	}
	return wt
}

// conv emits an ONNX Conv writing out ([out[0], out[1], cout]); w is in
// OIHW order, bias may be nil.
func (c *converter) conv(name, in, outName string, w, bias []float32, cout, group int, k, st, d [2]int, pads [4]int64, out [2]int) {
	cin := c.shapes[in][2]
	inputs := []string{in, c.init(name+"/W", w, int64(cout), int64(cin/group), int64(k[0]), int64(k[1]))}
	if bias != nil {
		inputs = append(inputs, c.init(name+"/B", bias, int64(cout)))
	}
	c.g.AddNode("Conv", name, inputs, []string{outName},
		onnxedit.IntsAttr("kernel_shape", int64(k[0]), int64(k[1])),
		onnxedit.IntsAttr("strides", int64(st[0]), int64(st[1])),
		onnxedit.IntsAttr("dilations", int64(d[0]), int64(d[1])),
		onnxedit.IntsAttr("pads", pads[0], pads[1], pads[2], pads[3]),
		onnxedit.IntAttr("group", int64(group)))
	c.shapes[outName] = shape{out[0], out[1], cout}
}

// pool emits a TF max or average pooling of image tensor in, named name.
func (c *converter) pool(name, in string, avg bool, k, st [2]int, padding string) error {
	s := c.shapes[in]
	out, pads, err := window([2]int{s[0], s[1]}, k, st, [2]int{1, 1}, padding)
	if err != nil {
		return err
	}
	op := "MaxPool"
	attrs := []*onnxedit.Attribute{
		onnxedit.IntsAttr("kernel_shape", int64(k[0]), int64(k[1])),
		onnxedit.IntsAttr("strides", int64(st[0]), int64(st[1])),
		onnxedit.IntsAttr("pads", pads[0], pads[1], pads[2], pads[3]),
	}
	if avg {
		// TF leaves padded cells out of the mean.
		op = "AveragePool"
		attrs = append(attrs, onnxedit.IntAttr("count_include_pad", 0))
	}
	c.g.AddNode(op, name, []string{in}, []string{name}, attrs...)
	c.shapes[name] = shape{out[0], out[1], s[2]}
	return nil
}

// finish names the graph output after tensor out and checks that every
// weight of the manifest was used.
func (c *converter) finish(out string) error {
	c.g.AddNode("Identity", "output", []string{out}, []string{OutputName})
	os, ok := c.shapes[out]
	if !ok {
		return fmt.Errorf("tfjs: output %q has no shape", out)
	}
	dims := []int64{-1}
	for _, d := range os {
		dims = append(dims, int64(d))
	}
	if len(os) == 3 { // NCHW in the graph
		dims = []int64{-1, int64(os[2]), int64(os[0]), int64(os[1])}
	}
	c.g.Outputs = []*onnxedit.ValueInfo{onnxedit.NewValueInfo(OutputName, onnxedit.Float, dims...)}
	c.g.Outputs[0].Shape[0] = onnxedit.Dim{Param: "batch"}
	var unused []string
	for name := range c.weights {
		if !c.used[name] {
			unused = append(unused, name)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		return fmt.Errorf("tfjs: weights the model does not use: %s", strings.Join(unused, ", "))
	}
	return nil
}
