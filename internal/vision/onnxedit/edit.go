package onnxedit

import (
	"fmt"
	"math"
)

// NewValueInfo returns a float tensor value with the given shape; a dim < 0
// becomes symbolic, named after its position.
func NewValueInfo(name string, elemType int, shape ...int64) *ValueInfo {
	v := &ValueInfo{Name: name, ElemType: elemType, HasShape: shape != nil}
	for i, d := range shape {
		if d < 0 {
			v.Shape = append(v.Shape, Dim{Param: fmt.Sprintf("%s_d%d", name, i)})
		} else {
			v.Shape = append(v.Shape, Dim{Value: d})
		}
	}
	return v
}

// Producer returns the node that outputs the named tensor, or nil.
func (g *Graph) Producer(name string) *Node {
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == name {
				return n
			}
		}
	}
	return nil
}

// Consumers returns the nodes that read the named tensor.
func (g *Graph) Consumers(name string) []*Node {
	var out []*Node
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in == name {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// AddOutput exposes an intermediate tensor as a graph output (float, shape
// unknown). It is a no-op if the tensor is already an output.
func (g *Graph) AddOutput(name string) error {
	for _, o := range g.Outputs {
		if o.Name == name {
			return nil
		}
	}
	if g.Producer(name) == nil && !g.isInput(name) {
		return fmt.Errorf("onnxedit: no tensor %q in graph", name)
	}
	g.Outputs = append(g.Outputs, &ValueInfo{Name: name, ElemType: Float})
	return nil
}

func (g *Graph) isInput(name string) bool {
	for _, in := range g.Inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

// SetOutputs replaces the graph outputs by the named tensors, then removes the
// nodes and initializers nothing needs any more (cutting a classifier tail).
func (g *Graph) SetOutputs(names ...string) error {
	var outs []*ValueInfo
	for _, n := range names {
		if g.Producer(n) == nil && !g.isInput(n) {
			return fmt.Errorf("onnxedit: no tensor %q in graph", n)
		}
		var vi *ValueInfo
		for _, o := range g.Outputs {
			if o.Name == n {
				vi = o
			}
		}
		if vi == nil {
			vi = &ValueInfo{Name: n, ElemType: Float}
		}
		outs = append(outs, vi)
	}
	g.Outputs = outs
	g.Prune()
	return nil
}

// Prune removes nodes, initializers and value infos that no graph output
// depends on.
func (g *Graph) Prune() {
	need := map[string]bool{}
	for _, o := range g.Outputs {
		need[o.Name] = true
	}
	keep := make([]bool, len(g.Nodes))
	for i := len(g.Nodes) - 1; i >= 0; i-- { // nodes are topologically sorted
		n := g.Nodes[i]
		used := false
		for _, o := range n.Outputs {
			if need[o] {
				used = true
			}
		}
		if used {
			keep[i] = true
			for _, in := range n.Inputs {
				need[in] = true
			}
			for _, a := range n.Attrs { // subgraphs are not used by our backbones
				_ = a
			}
		}
	}
	var nodes []*Node
	for i, n := range g.Nodes {
		if keep[i] {
			nodes = append(nodes, n)
		}
	}
	g.Nodes = nodes
	var inits []*Tensor
	for _, t := range g.Initializers {
		if need[t.Name] {
			inits = append(inits, t)
		}
	}
	g.Initializers = inits
	var vis []*ValueInfo
	for _, v := range g.ValueInfo {
		if need[v.Name] {
			vis = append(vis, v)
		}
	}
	g.ValueInfo = vis
}

// SymbolicInput makes the given dimensions of the named graph input symbolic
// (e.g. batch, height and width) and drops stale value_info shapes, which
// ONNX Runtime would otherwise check against the new sizes.
func (g *Graph) SymbolicInput(name string, dims map[int]string) error {
	for _, in := range g.Inputs {
		if in.Name != name {
			continue
		}
		if !in.HasShape {
			return fmt.Errorf("onnxedit: input %q has no shape", name)
		}
		for i, p := range dims {
			if i < 0 || i >= len(in.Shape) {
				return fmt.Errorf("onnxedit: input %q has no dim %d", name, i)
			}
			in.Shape[i] = Dim{Param: p}
		}
		in.rawb = nil
		g.ValueInfo = nil
		for _, o := range g.Outputs {
			o.Shape, o.HasShape, o.rawb = nil, false, nil
		}
		return nil
	}
	return fmt.Errorf("onnxedit: no input %q", name)
}

// Initializer returns the named initializer, or nil.
func (g *Graph) Initializer(name string) *Tensor {
	for _, t := range g.Initializers {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// FloatTensor returns an initializer holding float32 values.
func FloatTensor(name string, data []float32, dims ...int64) *Tensor {
	raw := make([]byte, 4*len(data))
	for i, f := range data {
		u := math.Float32bits(f)
		raw[4*i], raw[4*i+1], raw[4*i+2], raw[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return &Tensor{Name: name, DataType: Float, Dims: dims, RawData: raw}
}

// Int64Tensor returns an initializer holding int64 values.
func Int64Tensor(name string, data []int64, dims ...int64) *Tensor {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		u := uint64(v)
		for k := 0; k < 8; k++ {
			raw[8*i+k] = byte(u >> (8 * k))
		}
	}
	return &Tensor{Name: name, DataType: Int64, Dims: dims, RawData: raw}
}

// Floats decodes a float initializer's values.
func (t *Tensor) Floats() ([]float32, error) {
	if t.DataType != Float {
		return nil, fmt.Errorf("onnxedit: tensor %q is type %d, not float", t.Name, t.DataType)
	}
	if t.FloatData != nil {
		return t.FloatData, nil
	}
	out := make([]float32, len(t.RawData)/4)
	for i := range out {
		r := t.RawData[4*i:]
		out[i] = math.Float32frombits(uint32(r[0]) | uint32(r[1])<<8 | uint32(r[2])<<16 | uint32(r[3])<<24)
	}
	return out, nil
}

// IntAttr returns an integer attribute.
func IntAttr(name string, v int64) *Attribute { return &Attribute{Name: name, Type: AttrInt, I: v} }

// IntsAttr returns an integer-list attribute.
func IntsAttr(name string, v ...int64) *Attribute {
	return &Attribute{Name: name, Type: AttrInts, Ints: v}
}

// FloatAttr returns a float attribute.
func FloatAttr(name string, v float32) *Attribute {
	return &Attribute{Name: name, Type: AttrFloat, F: v}
}

// AddNode appends a node.
func (g *Graph) AddNode(op, name string, inputs, outputs []string, attrs ...*Attribute) *Node {
	n := &Node{Name: name, OpType: op, Inputs: inputs, Outputs: outputs, Attrs: attrs}
	g.Nodes = append(g.Nodes, n)
	return n
}
