package tfjs

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ocellus/ocellus/internal/vision/onnxedit"
)

// graphNode is one TensorFlow NodeDef of a graph model.
type graphNode struct {
	Name  string                     `json:"name"`
	Op    string                     `json:"op"`
	Input []string                   `json:"input"`
	Attr  map[string]json.RawMessage `json:"attr"`
}

// attrValue is the part of a TF AttrValue the supported ops use.
type attrValue struct {
	S    *string `json:"s"` // base64
	B    *bool   `json:"b"`
	I    *string `json:"i"` // int64 as a string
	F    *float64
	List *struct {
		I []string `json:"i"`
		S []string `json:"s"`
	} `json:"list"`
	Shape *struct {
		Dim []struct {
			Size string `json:"size"`
		} `json:"dim"`
	} `json:"shape"`
}

func (n *graphNode) attr(name string) (attrValue, bool) {
	var v attrValue
	raw, ok := n.Attr[name]
	if !ok {
		return v, false
	}
	if json.Unmarshal(raw, &v) != nil {
		return v, false
	}
	return v, true
}

func (n *graphNode) str(name string) string {
	v, ok := n.attr(name)
	if !ok || v.S == nil {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(*v.S)
	if err != nil {
		return ""
	}
	return string(b)
}

func (n *graphNode) strs(name string) []string {
	v, _ := n.attr(name)
	if v.List == nil {
		return nil
	}
	var out []string
	for _, s := range v.List.S {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return append(out, "?")
		}
		out = append(out, string(b))
	}
	return out
}

func (n *graphNode) ints(name string) ([]int, error) {
	v, _ := n.attr(name)
	if v.List == nil {
		return nil, nil
	}
	out := make([]int, len(v.List.I))
	for i, s := range v.List.I {
		x, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %q", name, s)
		}
		out[i] = x
	}
	return out, nil
}

func (n *graphNode) flag(name string) bool {
	v, _ := n.attr(name)
	return v.B != nil && *v.B
}

// nhwc4 reads a 4-element NHWC attribute (strides, dilations, ksize) whose
// batch and channel entries must be 1.
func (n *graphNode) nhwc4(name string, def int) ([2]int, error) {
	v, err := n.ints(name)
	if err != nil {
		return [2]int{}, err
	}
	if v == nil {
		return pair(nil, def, name)
	}
	if len(v) != 4 || v[0] != 1 || v[3] != 1 {
		return [2]int{}, fmt.Errorf("%s %v (NHWC, 1 on batch and channels)", name, v)
	}
	return pair(v[1:3], def, name)
}

// ConvertGraph converts a TensorFlow.js graph model (a frozen TF graph) to
// ONNX, for the ops an image classifier of the tfjs converter uses
// (convolutions with fused bias and ReLU/ReLU6, depthwise convolutions,
// pooling, element-wise Add/Sub/Mul, Squeeze, MatMul, Softmax). Input and
// output are named as ConvertLayers names them. Every weight must be used.
func ConvertGraph(m *Model, weights map[string]*Tensor) (*onnxedit.Model, error) {
	if m.Format != "graph-model" {
		return nil, fmt.Errorf("tfjs: format %q is not a graph model", m.Format)
	}
	var top struct {
		Node []graphNode `json:"node"`
	}
	if err := json.Unmarshal(m.Topology, &top); err != nil {
		return nil, fmt.Errorf("tfjs: modelTopology: %w", err)
	}
	nodes := map[string]*graphNode{}
	consumed := map[string]bool{}
	for i := range top.Node {
		n := &top.Node[i]
		if n.Name == "" {
			return nil, errors.New("tfjs: graph node without a name")
		}
		if _, dup := nodes[n.Name]; dup {
			return nil, fmt.Errorf("tfjs: graph node %q defined twice", n.Name)
		}
		nodes[n.Name] = n
		var ins []string
		for _, in := range n.Input {
			if strings.HasPrefix(in, "^") {
				continue // control dependency: no data
			}
			name, port, ok := strings.Cut(in, ":")
			if ok && port != "0" {
				return nil, fmt.Errorf("tfjs: node %q reads output %s of %q (one output a node)", n.Name, port, name)
			}
			ins = append(ins, name)
			consumed[name] = true
		}
		n.Input = ins
	}
	var outs []string
	for _, n := range top.Node {
		if !consumed[n.Name] && n.Op != "Const" && n.Op != "NoOp" && n.Op != "Placeholder" {
			outs = append(outs, n.Name)
		}
	}
	if len(outs) != 1 {
		return nil, fmt.Errorf("tfjs: graph has %d outputs %v; one is supported", len(outs), outs)
	}
	c := &converter{
		g:       &onnxedit.Graph{Name: "tfjs-graph"},
		weights: weights,
		used:    map[string]bool{},
		shapes:  map[string]shape{},
		alias:   map[string]string{},
	}
	gc := &graphConv{converter: c, nodes: nodes, state: map[string]int{}, consts: map[string]*Tensor{}}
	out, err := gc.visit(outs[0], 0)
	if err != nil {
		return nil, err
	}
	if err := c.finish(out); err != nil {
		return nil, err
	}
	return &onnxedit.Model{IRVersion: irVersion, Opsets: map[string]int64{"": opset}, Graph: c.g}, nil
}

type graphConv struct {
	*converter
	nodes  map[string]*graphNode
	state  map[string]int // 1 = visiting, 2 = done
	consts map[string]*Tensor
}

// visit converts the node and everything it reads, depth first (the node
// list of a graph model need not be in topological order). It returns the
// ONNX tensor holding the node's output, or "" for a constant (see consts).
func (gc *graphConv) visit(name string, depth int) (string, error) {
	if depth > 10000 {
		return "", errors.New("tfjs: graph deeper than 10000 nodes")
	}
	switch gc.state[name] {
	case 1:
		return "", fmt.Errorf("tfjs: graph has a cycle through %q", name)
	case 2:
		if _, ok := gc.consts[name]; ok {
			return "", nil
		}
		t, _ := gc.tensor(name)
		return t, nil
	}
	n, ok := gc.nodes[name]
	if !ok {
		return "", fmt.Errorf("tfjs: node %q is read but not defined", name)
	}
	gc.state[name] = 1
	for _, in := range n.Input {
		if _, err := gc.visit(in, depth+1); err != nil {
			return "", err
		}
	}
	if err := gc.node(n); err != nil {
		return "", fmt.Errorf("tfjs: node %q (%s): %w", n.Name, n.Op, err)
	}
	gc.state[name] = 2
	if _, ok := gc.consts[name]; ok {
		return "", nil
	}
	t, _ := gc.tensor(name)
	return t, nil
}

// operand is a node input: a graph tensor or a constant.
func (gc *graphConv) operand(name string) (string, *Tensor) {
	if t, ok := gc.consts[name]; ok {
		return "", t
	}
	t, _ := gc.tensor(name)
	return t, nil
}

func (gc *graphConv) image(n *graphNode, i int) (string, shape, error) {
	if len(n.Input) <= i {
		return "", nil, fmt.Errorf("has %d inputs", len(n.Input))
	}
	t, k := gc.operand(n.Input[i])
	if k != nil || len(gc.shapes[t]) != 3 {
		return "", nil, fmt.Errorf("input %q is not an image tensor", n.Input[i])
	}
	return t, gc.shapes[t], nil
}

func (gc *graphConv) constant(n *graphNode, i int) (*Tensor, error) {
	if len(n.Input) <= i {
		return nil, fmt.Errorf("has %d inputs", len(n.Input))
	}
	_, k := gc.operand(n.Input[i])
	if k == nil {
		return nil, fmt.Errorf("input %q is not a constant", n.Input[i])
	}
	return k, nil
}

func (gc *graphConv) node(n *graphNode) error {
	switch n.Op {
	case "Placeholder":
		v, _ := n.attr("shape")
		if v.Shape == nil || len(v.Shape.Dim) != 4 {
			return errors.New("a [N, H, W, C] image input is supported")
		}
		var d [4]int
		for i, x := range v.Shape.Dim {
			d[i], _ = strconv.Atoi(x.Size)
		}
		if d[1] <= 0 || d[2] <= 0 || d[3] <= 0 || d[1] > maxSide || d[2] > maxSide || d[3] > maxSide {
			return fmt.Errorf("input shape %v: a fixed image size is supported", d)
		}
		if len(gc.g.Inputs) > 0 {
			return errors.New("a second input")
		}
		vi := onnxedit.NewValueInfo(InputName, onnxedit.Float, -1, int64(d[3]), int64(d[1]), int64(d[2]))
		vi.Shape[0] = onnxedit.Dim{Param: "batch"}
		gc.g.Inputs = append(gc.g.Inputs, vi)
		gc.alias[n.Name] = InputName
		gc.shapes[InputName] = shape{d[1], d[2], d[3]}
		return nil

	case "Const":
		t, ok := gc.weights[n.Name]
		if !ok {
			return errors.New("no weight in the manifest")
		}
		gc.used[n.Name] = true
		gc.consts[n.Name] = t
		return nil

	case "Identity":
		if len(n.Input) != 1 {
			return fmt.Errorf("has %d inputs", len(n.Input))
		}
		if t, k := gc.operand(n.Input[0]); k != nil {
			gc.consts[n.Name] = k
		} else {
			gc.alias[n.Name] = t
		}
		return nil

	case "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative":
		in, s, err := gc.image(n, 0)
		if err != nil {
			return err
		}
		w, err := gc.constant(n, 1)
		if err != nil {
			return err
		}
		if len(w.Shape) != 4 || w.Shape[2] != s[2] {
			return fmt.Errorf("kernel of shape %v for %d input channels", w.Shape, s[2])
		}
		if df := n.str("data_format"); df != "" && df != "NHWC" {
			return fmt.Errorf("data_format %q (NHWC only)", df)
		}
		st, err := n.nhwc4("strides", 1)
		if err != nil {
			return err
		}
		d, err := n.nhwc4("dilations", 1)
		if err != nil {
			return err
		}
		padding := strings.ToLower(n.str("padding"))
		if padding != "same" && padding != "valid" {
			return fmt.Errorf("padding %q (SAME and VALID are supported)", n.str("padding"))
		}
		k := [2]int{w.Shape[0], w.Shape[1]}
		out, pads, err := window([2]int{s[0], s[1]}, k, st, d, padding)
		if err != nil {
			return err
		}
		var wt []float32
		var cout, group int
		if strings.Contains(n.Op, "Depthwise") {
			cout, group = s[2]*w.Shape[3], s[2]
			wt = depthwiseToOIHW(w.Data, k, s[2], w.Shape[3])
		} else {
			cout, group = w.Shape[3], 1
			wt = hwioToOIHW(w.Data, k, s[2], cout)
		}
		bias, acts, err := gc.fused(n, cout)
		if err != nil {
			return err
		}
		y := n.Name
		if len(acts) > 0 {
			y = gc.tmp(n.Name, "conv")
		}
		gc.conv(n.Name, in, y, wt, bias, cout, group, k, st, d, pads, out)
		return gc.acts(n.Name, y, acts)

	case "_FusedMatMul", "MatMul":
		if len(n.Input) < 2 {
			return fmt.Errorf("has %d inputs", len(n.Input))
		}
		x, k := gc.operand(n.Input[0])
		if k != nil || len(gc.shapes[x]) != 1 {
			return fmt.Errorf("input %q is not a vector batch", n.Input[0])
		}
		w, err := gc.constant(n, 1)
		if err != nil {
			return err
		}
		if n.flag("transpose_a") || n.flag("transpose_b") {
			return errors.New("transposed MatMul is not supported")
		}
		cin := gc.shapes[x][0]
		if len(w.Shape) != 2 || w.Shape[0] != cin {
			return fmt.Errorf("weights of shape %v for %d inputs", w.Shape, cin)
		}
		units := w.Shape[1]
		bias, acts, err := gc.fused(n, units)
		if err != nil {
			return err
		}
		y := n.Name
		if len(acts) > 0 {
			y = gc.tmp(n.Name, "gemm")
		}
		inputs := []string{x, gc.init(n.Name+"/W", w.Data, int64(cin), int64(units))}
		if bias != nil {
			inputs = append(inputs, gc.init(n.Name+"/B", bias, int64(units)))
		}
		gc.g.AddNode("Gemm", n.Name, inputs, []string{y})
		gc.shapes[y] = shape{units}
		return gc.acts(n.Name, y, acts)

	case "BiasAdd", "Add", "AddV2", "Sub", "Mul":
		if len(n.Input) != 2 {
			return fmt.Errorf("has %d inputs", len(n.Input))
		}
		op := map[string]string{"BiasAdd": "Add", "Add": "Add", "AddV2": "Add", "Sub": "Sub", "Mul": "Mul"}[n.Op]
		var ins []string
		var s shape
		for _, in := range n.Input {
			t, k := gc.operand(in)
			if k == nil {
				ins = append(ins, t)
				if s == nil {
					s = gc.shapes[t]
				} else if !equalShape(s, gc.shapes[t]) {
					return fmt.Errorf("operands of shapes %v and %v", s, gc.shapes[t])
				}
				continue
			}
			ins = append(ins, "")
		}
		if s == nil {
			return errors.New("operations on constants only are not supported")
		}
		for i, in := range n.Input {
			if ins[i] != "" {
				continue
			}
			k := gc.consts[in]
			switch {
			case len(k.Data) == 1: // a scalar broadcasts as it is
				ins[i] = gc.init(gc.tmp(n.Name, "k"), k.Data)
			case len(s) == 3 && len(k.Shape) == 1 && k.Shape[0] == s[2]:
				// A per-channel vector: [C] in NHWC is [C, 1, 1] in NCHW.
				ins[i] = gc.init(gc.tmp(n.Name, "k"), k.Data, int64(s[2]), 1, 1)
			case len(s) == 1 && len(k.Shape) == 1 && k.Shape[0] == s[0]:
				ins[i] = gc.init(gc.tmp(n.Name, "k"), k.Data, int64(s[0]))
			default:
				return fmt.Errorf("constant of shape %v against a tensor of shape %v", k.Shape, s)
			}
		}
		gc.g.AddNode(op, n.Name, ins, []string{n.Name})
		gc.shapes[n.Name] = s
		return nil

	case "Relu", "Relu6":
		if len(n.Input) != 1 {
			return fmt.Errorf("has %d inputs", len(n.Input))
		}
		x, k := gc.operand(n.Input[0])
		if k != nil {
			return errors.New("activation of a constant")
		}
		return gc.acts(n.Name, x, []string{n.Op})

	case "AvgPool", "MaxPool":
		in, _, err := gc.image(n, 0)
		if err != nil {
			return err
		}
		if df := n.str("data_format"); df != "" && df != "NHWC" {
			return fmt.Errorf("data_format %q (NHWC only)", df)
		}
		k, err := n.nhwc4("ksize", 0)
		if err != nil {
			return err
		}
		st, err := n.nhwc4("strides", 1)
		if err != nil {
			return err
		}
		padding := strings.ToLower(n.str("padding"))
		if padding != "same" && padding != "valid" {
			return fmt.Errorf("padding %q", n.str("padding"))
		}
		return gc.pool(n.Name, in, n.Op == "AvgPool", k, st, padding)

	case "Squeeze":
		in, s, err := gc.image(n, 0)
		if err != nil {
			return err
		}
		dims, err := n.ints("squeeze_dims")
		if err != nil {
			return err
		}
		if len(dims) != 2 || dims[0] != 1 || dims[1] != 2 || s[0] != 1 || s[1] != 1 {
			return fmt.Errorf("squeeze_dims %v of shape %v (the 1 x 1 spatial dims are supported)", dims, s)
		}
		gc.g.AddNode("Flatten", n.Name, []string{in}, []string{n.Name}, onnxedit.IntAttr("axis", 1))
		gc.shapes[n.Name] = shape{s[2]}
		return nil

	case "Softmax":
		if len(n.Input) != 1 {
			return fmt.Errorf("has %d inputs", len(n.Input))
		}
		x, k := gc.operand(n.Input[0])
		if k != nil {
			return errors.New("softmax of a constant")
		}
		return gc.activationTo(n.Name, x, "softmax", n.Name)
	}
	return fmt.Errorf("op %s is not supported", n.Op)
}

// fused reads a fused op's extra arguments: BiasAdd (its bias, the third
// input) then activations.
func (gc *graphConv) fused(n *graphNode, cout int) (bias []float32, acts []string, err error) {
	if !strings.HasPrefix(n.Op, "_Fused") && !strings.HasPrefix(n.Op, "Fused") {
		return nil, nil, nil
	}
	ops := n.strs("fused_ops")
	for i, op := range ops {
		switch {
		case i == 0 && op == "BiasAdd":
			b, err := gc.constant(n, 2)
			if err != nil {
				return nil, nil, err
			}
			if len(b.Data) != cout {
				return nil, nil, fmt.Errorf("bias of %d values for %d channels", len(b.Data), cout)
			}
			bias = b.Data
		case i > 0 && (op == "Relu" || op == "Relu6"):
			acts = append(acts, op)
		default:
			return nil, nil, fmt.Errorf("fused ops %v are not supported", ops)
		}
	}
	return bias, acts, nil
}

// acts applies TF activations to x; the last writes the node's own name.
func (gc *graphConv) acts(name, x string, acts []string) error {
	for i, a := range acts {
		out := name
		if i < len(acts)-1 {
			out = gc.tmp(name, "act")
		}
		if err := gc.activationTo(name, x, strings.ToLower(a), out); err != nil {
			return err
		}
		x = out
	}
	return nil
}

func equalShape(a, b shape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
