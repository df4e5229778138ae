// Package onnxedit reads, edits and writes ONNX model files with nothing but
// protowire and the field numbers of onnx.proto3.
//
// Only the parts Ocellus edits are decoded (graph nodes, inputs, outputs,
// initializers, shapes); every other field is kept as raw bytes and written
// back unchanged, so a decode/encode round trip preserves the model.
package onnxedit

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// Tensor element types (onnx.TensorProto.DataType).
const (
	Float = 1
	Uint8 = 2
	Int8  = 3
	Int32 = 6
	Int64 = 7
)

// Attribute types (onnx.AttributeProto.AttributeType).
const (
	AttrFloat   = 1
	AttrInt     = 2
	AttrString  = 3
	AttrTensor  = 4
	AttrFloats  = 6
	AttrInts    = 7
	AttrStrings = 8
)

// raw is an undecoded field kept for re-encoding.
type raw struct {
	num protowire.Number
	typ protowire.Type
	b   []byte // the whole encoded field (tag included)
}

// Model is an ONNX ModelProto.
type Model struct {
	IRVersion int64
	Opsets    map[string]int64 // domain -> version
	Graph     *Graph
	other     []raw
}

// Graph is an ONNX GraphProto.
type Graph struct {
	Name         string
	Nodes        []*Node
	Initializers []*Tensor
	Inputs       []*ValueInfo
	Outputs      []*ValueInfo
	ValueInfo    []*ValueInfo
	other        []raw
}

// Node is an ONNX NodeProto.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string
	Outputs []string
	Attrs   []*Attribute
	other   []raw
}

// Attribute is an ONNX AttributeProto (the kinds Ocellus writes are decoded;
// the original bytes are kept for exact round trips).
type Attribute struct {
	Name   string
	Type   int
	F      float32
	I      int64
	S      []byte
	T      *Tensor
	Floats []float32
	Ints   []int64
	rawb   []byte // original encoding when decoded from a file
}

// Tensor is an ONNX TensorProto (initializer or constant).
type Tensor struct {
	Name      string
	DataType  int
	Dims      []int64
	FloatData []float32
	Int64Data []int64
	RawData   []byte
	rawb      []byte
}

// Dim is one dimension of a tensor shape: a fixed Value or a symbolic Param.
type Dim struct {
	Value int64
	Param string
}

// ValueInfo is a named, typed graph input/output/intermediate.
type ValueInfo struct {
	Name     string
	ElemType int
	Shape    []Dim // nil = unknown rank
	HasShape bool
	rawb     []byte // original bytes when not modified
}

// Decode parses an ONNX model file.
func Decode(b []byte) (*Model, error) {
	m := &Model{Opsets: map[string]int64{}}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64, whole []byte) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.IRVersion = int64(x)
		case num == 8 && typ == protowire.BytesType:
			var dom string
			var ver int64
			if err := walk(v, func(n protowire.Number, t protowire.Type, v []byte, x uint64, _ []byte) error {
				if n == 1 && t == protowire.BytesType {
					dom = string(v)
				} else if n == 2 && t == protowire.VarintType {
					ver = int64(x)
				}
				return nil
			}); err != nil {
				return err
			}
			m.Opsets[dom] = ver
		case num == 7 && typ == protowire.BytesType:
			g, err := decodeGraph(v)
			if err != nil {
				return fmt.Errorf("graph: %w", err)
			}
			m.Graph = g
		default:
			m.other = append(m.other, raw{num, typ, whole})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("onnxedit: %w", err)
	}
	if m.Graph == nil {
		return nil, errors.New("onnxedit: model has no graph")
	}
	return m, nil
}

// walk calls fn for each field of a message. v is the payload of a bytes
// field, x the value of a varint/fixed field, whole the field's full encoding.
func walk(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64, whole []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		whole := b[:n+m]
		val := b[n : n+m]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, _ = protowire.ConsumeVarint(val)
		case protowire.Fixed32Type:
			y, _ := protowire.ConsumeFixed32(val)
			x = uint64(y)
		case protowire.Fixed64Type:
			x, _ = protowire.ConsumeFixed64(val)
		case protowire.BytesType:
			v, _ = protowire.ConsumeBytes(val)
		}
		if err := fn(num, typ, v, x, whole); err != nil {
			return err
		}
		b = b[n+m:]
	}
	return nil
}

func decodeGraph(b []byte) (*Graph, error) {
	g := &Graph{}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64, whole []byte) error {
		var err error
		switch {
		case num == 1 && typ == protowire.BytesType:
			var n *Node
			n, err = decodeNode(v)
			g.Nodes = append(g.Nodes, n)
		case num == 2 && typ == protowire.BytesType:
			g.Name = string(v)
		case num == 5 && typ == protowire.BytesType:
			var t *Tensor
			t, err = decodeTensor(v)
			g.Initializers = append(g.Initializers, t)
		case num == 11 && typ == protowire.BytesType:
			var vi *ValueInfo
			vi, err = decodeValueInfo(v)
			g.Inputs = append(g.Inputs, vi)
		case num == 12 && typ == protowire.BytesType:
			var vi *ValueInfo
			vi, err = decodeValueInfo(v)
			g.Outputs = append(g.Outputs, vi)
		case num == 13 && typ == protowire.BytesType:
			var vi *ValueInfo
			vi, err = decodeValueInfo(v)
			g.ValueInfo = append(g.ValueInfo, vi)
		default:
			g.other = append(g.other, raw{num, typ, whole})
		}
		return err
	})
	return g, err
}

func decodeNode(b []byte) (*Node, error) {
	n := &Node{}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64, whole []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			n.Inputs = append(n.Inputs, string(v))
		case num == 2 && typ == protowire.BytesType:
			n.Outputs = append(n.Outputs, string(v))
		case num == 3 && typ == protowire.BytesType:
			n.Name = string(v)
		case num == 4 && typ == protowire.BytesType:
			n.OpType = string(v)
		case num == 7 && typ == protowire.BytesType:
			n.Domain = string(v)
		case num == 5 && typ == protowire.BytesType:
			a, err := decodeAttr(v)
			if err != nil {
				return err
			}
			n.Attrs = append(n.Attrs, a)
		default:
			n.other = append(n.other, raw{num, typ, whole})
		}
		return nil
	})
	return n, err
}

func decodeAttr(b []byte) (*Attribute, error) {
	a := &Attribute{rawb: append([]byte(nil), b...)}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64, whole []byte) error {
		switch num {
		case 1:
			a.Name = string(v)
		case 20:
			a.Type = int(x)
		case 2:
			a.F = math.Float32frombits(uint32(x))
		case 3:
			a.I = int64(x)
		case 4:
			a.S = append([]byte(nil), v...)
		case 5:
			t, err := decodeTensor(v)
			if err != nil {
				return err
			}
			a.T = t
		case 8:
			if typ == protowire.BytesType {
				for len(v) > 0 {
					y, n := protowire.ConsumeVarint(v)
					if n < 0 {
						return protowire.ParseError(n)
					}
					a.Ints = append(a.Ints, int64(y))
					v = v[n:]
				}
			} else {
				a.Ints = append(a.Ints, int64(x))
			}
		}
		return nil
	})
	return a, err
}

func decodeTensor(b []byte) (*Tensor, error) {
	t := &Tensor{rawb: append([]byte(nil), b...)}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64, whole []byte) error {
		switch num {
		case 1:
			if typ == protowire.BytesType {
				for len(v) > 0 {
					y, n := protowire.ConsumeVarint(v)
					if n < 0 {
						return protowire.ParseError(n)
					}
					t.Dims = append(t.Dims, int64(y))
					v = v[n:]
				}
			} else {
				t.Dims = append(t.Dims, int64(x))
			}
		case 2:
			t.DataType = int(x)
		case 8:
			t.Name = string(v)
		case 4:
			if typ == protowire.BytesType {
				for len(v) >= 4 {
					y, _ := protowire.ConsumeFixed32(v)
					t.FloatData = append(t.FloatData, math.Float32frombits(y))
					v = v[4:]
				}
			} else {
				t.FloatData = append(t.FloatData, math.Float32frombits(uint32(x)))
			}
		case 9:
			t.RawData = append([]byte(nil), v...)
		}
		return nil
	})
	return t, err
}

func decodeValueInfo(b []byte) (*ValueInfo, error) {
	vi := &ValueInfo{rawb: append([]byte(nil), b...)}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64, whole []byte) error {
		switch num {
		case 1:
			vi.Name = string(v)
		case 2: // TypeProto
			return walk(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64, whole []byte) error {
				if num != 1 { // tensor_type only
					return nil
				}
				return walk(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64, whole []byte) error {
					switch num {
					case 1:
						vi.ElemType = int(x)
					case 2:
						vi.HasShape = true
						vi.Shape = []Dim{}
						return walk(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64, whole []byte) error {
							if num != 1 {
								return nil
							}
							var d Dim
							err := walk(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64, whole []byte) error {
								switch num {
								case 1:
									d.Value = int64(x)
								case 2:
									d.Param = string(v)
								}
								return nil
							})
							vi.Shape = append(vi.Shape, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return vi, err
}

// Encode serialises the model.
func (m *Model) Encode() []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(m.IRVersion))
	for _, r := range m.other {
		b = append(b, r.b...)
	}
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendBytes(b, m.Graph.encode())
	doms := make([]string, 0, len(m.Opsets))
	for d := range m.Opsets {
		doms = append(doms, d)
	}
	sort.Strings(doms)
	for _, d := range doms {
		var o []byte
		if d != "" {
			o = appendString(o, 1, d)
		}
		o = protowire.AppendTag(o, 2, protowire.VarintType)
		o = protowire.AppendVarint(o, uint64(m.Opsets[d]))
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendBytes(b, o)
	}
	return b
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMsg(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func (g *Graph) encode() []byte {
	var b []byte
	for _, n := range g.Nodes {
		b = appendMsg(b, 1, n.encode())
	}
	if g.Name != "" {
		b = appendString(b, 2, g.Name)
	}
	for _, t := range g.Initializers {
		b = appendMsg(b, 5, t.encode())
	}
	for _, r := range g.other {
		b = append(b, r.b...)
	}
	for _, v := range g.Inputs {
		b = appendMsg(b, 11, v.encode())
	}
	for _, v := range g.Outputs {
		b = appendMsg(b, 12, v.encode())
	}
	for _, v := range g.ValueInfo {
		b = appendMsg(b, 13, v.encode())
	}
	return b
}

func (n *Node) encode() []byte {
	var b []byte
	for _, s := range n.Inputs {
		b = appendString(b, 1, s)
	}
	for _, s := range n.Outputs {
		b = appendString(b, 2, s)
	}
	if n.Name != "" {
		b = appendString(b, 3, n.Name)
	}
	b = appendString(b, 4, n.OpType)
	for _, a := range n.Attrs {
		b = appendMsg(b, 5, a.encode())
	}
	if n.Domain != "" {
		b = appendString(b, 7, n.Domain)
	}
	for _, r := range n.other {
		b = append(b, r.b...)
	}
	return b
}

func (a *Attribute) encode() []byte {
	if a.rawb != nil {
		return a.rawb
	}
	var b []byte
	b = appendString(b, 1, a.Name)
	switch a.Type {
	case AttrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	case AttrInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.I))
	case AttrString:
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, a.S)
	case AttrTensor:
		b = appendMsg(b, 5, a.T.encode())
	case AttrFloats:
		var p []byte
		for _, f := range a.Floats {
			p = protowire.AppendFixed32(p, math.Float32bits(f))
		}
		b = appendMsg(b, 7, p)
	case AttrInts:
		var p []byte
		for _, i := range a.Ints {
			p = protowire.AppendVarint(p, uint64(i))
		}
		b = appendMsg(b, 8, p)
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(a.Type))
	return b
}

func (t *Tensor) encode() []byte {
	if t.rawb != nil {
		return t.rawb
	}
	var b []byte
	if len(t.Dims) > 0 {
		var p []byte
		for _, d := range t.Dims {
			p = protowire.AppendVarint(p, uint64(d))
		}
		b = appendMsg(b, 1, p)
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.DataType))
	if len(t.FloatData) > 0 {
		p := make([]byte, 0, 4*len(t.FloatData))
		for _, f := range t.FloatData {
			p = protowire.AppendFixed32(p, math.Float32bits(f))
		}
		b = appendMsg(b, 4, p)
	}
	if len(t.Int64Data) > 0 {
		var p []byte
		for _, i := range t.Int64Data {
			p = protowire.AppendVarint(p, uint64(i))
		}
		b = appendMsg(b, 7, p)
	}
	b = appendString(b, 8, t.Name)
	if t.RawData != nil {
		b = appendMsg(b, 9, t.RawData)
	}
	return b
}

func (v *ValueInfo) encode() []byte {
	if v.rawb != nil {
		return v.rawb
	}
	var tt []byte
	tt = protowire.AppendTag(tt, 1, protowire.VarintType)
	tt = protowire.AppendVarint(tt, uint64(v.ElemType))
	if v.HasShape {
		var sh []byte
		for _, d := range v.Shape {
			var db []byte
			if d.Param != "" {
				db = appendString(db, 2, d.Param)
			} else {
				db = protowire.AppendTag(db, 1, protowire.VarintType)
				db = protowire.AppendVarint(db, uint64(d.Value))
			}
			sh = appendMsg(sh, 1, db)
		}
		tt = appendMsg(tt, 2, sh)
	}
	var b []byte
	b = appendString(b, 1, v.Name)
	b = appendMsg(b, 2, appendMsg(nil, 1, tt))
	return b
}
