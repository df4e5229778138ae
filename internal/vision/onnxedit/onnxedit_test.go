package onnxedit

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// tiny builds x -> Relu -> r -> Neg -> y, with an unused initializer.
func tiny() *Model {
	g := &Graph{Name: "tiny"}
	g.Inputs = []*ValueInfo{NewValueInfo("x", Float, 1, 3, 4, 4)}
	g.Outputs = []*ValueInfo{NewValueInfo("y", Float, 1, 3, 4, 4)}
	g.AddNode("Relu", "relu", []string{"x"}, []string{"r"})
	g.AddNode("Neg", "neg", []string{"r"}, []string{"y"})
	g.AddNode("Transpose", "t", []string{"r"}, []string{"unused"}, IntsAttr("perm", 0, 1, 3, 2))
	g.Initializers = []*Tensor{FloatTensor("w", []float32{1, 2}, 2), Int64Tensor("shape", []int64{-1, 3}, 2)}
	return &Model{IRVersion: 7, Opsets: map[string]int64{"": 13}, Graph: g}
}

func TestRoundTrip(t *testing.T) {
	m := tiny()
	b := m.Encode()
	d, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.IRVersion != 7 || d.Opsets[""] != 13 || len(d.Graph.Nodes) != 3 || d.Graph.Name != "tiny" {
		t.Fatalf("decoded %+v", d)
	}
	n := d.Graph.Nodes[2]
	if n.OpType != "Transpose" || !reflect.DeepEqual(n.Attrs[0].Ints, []int64{0, 1, 3, 2}) {
		t.Fatalf("attr %+v", n.Attrs[0])
	}
	w, err := d.Graph.Initializer("w").Floats()
	if err != nil || !reflect.DeepEqual(w, []float32{1, 2}) {
		t.Fatalf("w = %v %v", w, err)
	}
	if in := d.Graph.Inputs[0]; in.Shape[2].Value != 4 || in.ElemType != Float {
		t.Fatalf("input %+v", in)
	}
	// Encoding what was decoded is byte-identical.
	if b2 := d.Encode(); string(b2) != string(b) {
		t.Fatal("re-encoding changed the bytes")
	}
}

func TestEdits(t *testing.T) {
	m := tiny()
	g := m.Graph
	if err := g.AddOutput("r"); err != nil {
		t.Fatal(err)
	}
	if err := g.AddOutput("nope"); err == nil {
		t.Fatal("AddOutput accepted an unknown tensor")
	}
	// Cut the tail: only r is wanted; Neg, Transpose and initializers go.
	if err := g.SetOutputs("r"); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 1 || g.Nodes[0].OpType != "Relu" || len(g.Initializers) != 0 {
		t.Fatalf("after cut: %d nodes, %d initializers", len(g.Nodes), len(g.Initializers))
	}
	if err := g.SymbolicInput("x", map[int]string{0: "n", 2: "h", 3: "w"}); err != nil {
		t.Fatal(err)
	}
	d, err := Decode(m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	sh := d.Graph.Inputs[0].Shape
	if sh[0].Param != "n" || sh[1].Value != 3 || sh[2].Param != "h" || sh[3].Param != "w" {
		t.Fatalf("shape %+v", sh)
	}
	if d.Graph.Outputs[0].Name != "r" {
		t.Fatalf("outputs %+v", d.Graph.Outputs)
	}
}

func TestSharedModelRoundTrip(t *testing.T) {
	p := filepath.Join("..", "..", "..", "..", "shared", "models", "mobilenetv2-12-int8.onnx")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skip("shared model not present")
	}
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.Graph.Nodes) != len(m.Graph.Nodes) || len(m2.Graph.Initializers) != len(m.Graph.Initializers) {
		t.Fatal("round trip lost nodes or initializers")
	}
	if string(m2.Encode()) != string(m.Encode()) {
		t.Fatal("encoding is not stable")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(tiny().Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if _, err := Decode(m.Encode()); err != nil {
			t.Fatalf("re-encoded model does not decode: %v", err)
		}
	})
}
