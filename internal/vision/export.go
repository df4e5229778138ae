package vision

import (
	"errors"
	"fmt"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/head"
	"github.com/ocellus/ocellus/internal/vision/onnxedit"
)

// ExportOutput is the name of the exported graph's output: label
// probabilities [N, len(Labels)] in Model.Labels order.
const ExportOutput = "probabilities"

// Export returns one ONNX graph computing the model's label probabilities
// from a preprocessed batch [N, 3, Size, Size] (RGB, resized to Size x Size,
// normalised with the backbone's Mean/Std; (*Model).Preprocess makes it,
// letterboxed for a Letterbox model): the backbone, the pooling of its
// feature maps and the head. It computes one view: a FlipTest model's
// Probabilities also averages the mirrored image's, which the caller of the
// exported graph does by running the mirrored tensor too. Plain ONNX Runtime runs it. It needs an ONNX
// backbone attached (the built-in extractor has no ONNX form).
func Export(m *Model) ([]byte, error) {
	o, ok := m.bb.(*backbone.ORT)
	if !ok {
		return nil, errors.New("vision: export needs a model on an ONNX backbone (the built-in extractor cannot be exported)")
	}
	if m.Kind == Detection {
		return nil, errors.New("vision: exporting detection models is not supported")
	}
	g0, err := onnxedit.Decode(o.Model())
	if err != nil {
		return nil, err
	}
	if g0.Opsets[""] < 11 || g0.Opsets[""] > 17 {
		return nil, fmt.Errorf("vision: export supports backbones of opset 11-17, not %d", g0.Opsets[""])
	}
	g := g0.Graph
	info := m.Backbone
	maps := make([]string, len(g.Outputs))
	for i, out := range g.Outputs {
		maps[i] = out.Name
	}
	if len(maps) != len(info.Maps) {
		return nil, errors.New("vision: backbone outputs do not match the model's maps")
	}
	var parts []string
	for mi, mp := range info.Maps {
		for _, gr := range mp.Grids {
			name := fmt.Sprintf("ocellus_pool_%d_%d", mi, gr)
			if gr == 1 {
				g.AddNode("ReduceMean", name, []string{maps[mi]}, []string{name}, onnxedit.IntsAttr("axes", 2, 3), onnxedit.IntAttr("keepdims", 0))
			} else {
				hw := int64(mp.H * mp.W)
				gg := int64(gr * gr)
				g.Initializers = append(g.Initializers,
					onnxedit.Int64Tensor(name+"_s1", []int64{0, int64(mp.C), hw}, 3),
					onnxedit.FloatTensor(name+"_p", backbone.PoolMatrix(mp.H, mp.W, gr), hw, gg),
					onnxedit.Int64Tensor(name+"_s2", []int64{0, int64(mp.C) * gg}, 2))
				g.AddNode("Reshape", name+"_r1", []string{maps[mi], name + "_s1"}, []string{name + "_flat"})
				g.AddNode("MatMul", name+"_mm", []string{name + "_flat", name + "_p"}, []string{name + "_cells"})
				g.AddNode("Reshape", name+"_r2", []string{name + "_cells", name + "_s2"}, []string{name})
			}
			parts = append(parts, name)
		}
	}
	h := m.Head
	x := "ocellus_embedding"
	g.AddNode("Concat", x, parts, []string{x}, onnxedit.IntAttr("axis", 1))
	if m.SqrtEmbedding {
		g.AddNode("Abs", "ocellus_abs", []string{x}, []string{"ocellus_abs"})
		g.AddNode("Sqrt", "ocellus_sqrt", []string{"ocellus_abs"}, []string{"ocellus_sqrt"})
		g.AddNode("Sign", "ocellus_sign", []string{x}, []string{"ocellus_sign"})
		g.AddNode("Mul", "ocellus_signed_sqrt", []string{"ocellus_sqrt", "ocellus_sign"}, []string{"ocellus_embedding_sqrt"})
		x = "ocellus_embedding_sqrt"
	}
	g.Initializers = append(g.Initializers,
		onnxedit.FloatTensor("ocellus_mean", h.Mean, int64(h.In)),
		onnxedit.FloatTensor("ocellus_scale", h.Scale, int64(h.In)))
	g.AddNode("Sub", "ocellus_center", []string{x, "ocellus_mean"}, []string{"ocellus_centered"})
	g.AddNode("Mul", "ocellus_standardise", []string{"ocellus_centered", "ocellus_scale"}, []string{"ocellus_std"})
	cur, width := "ocellus_std", h.In
	if h.Hidden > 0 {
		g.Initializers = append(g.Initializers,
			onnxedit.FloatTensor("ocellus_w1", h.W1, int64(h.Hidden), int64(h.In)),
			onnxedit.FloatTensor("ocellus_b1", h.B1, int64(h.Hidden)))
		g.AddNode("Gemm", "ocellus_fc1", []string{cur, "ocellus_w1", "ocellus_b1"}, []string{"ocellus_h"}, onnxedit.IntAttr("transB", 1))
		g.AddNode("Relu", "ocellus_relu", []string{"ocellus_h"}, []string{"ocellus_hr"})
		cur, width = "ocellus_hr", h.Hidden
	}
	g.Initializers = append(g.Initializers,
		onnxedit.FloatTensor("ocellus_w2", h.W2, int64(h.Out), int64(width)),
		onnxedit.FloatTensor("ocellus_b2", h.B2, int64(h.Out)))
	g.AddNode("Gemm", "ocellus_fc2", []string{cur, "ocellus_w2", "ocellus_b2"}, []string{"ocellus_logits"}, onnxedit.IntAttr("transB", 1))
	act := "Softmax"
	attrs := []*onnxedit.Attribute{onnxedit.IntAttr("axis", 1)}
	if h.Output == head.Sigmoid {
		act, attrs = "Sigmoid", nil
	}
	g.AddNode(act, "ocellus_output", []string{"ocellus_logits"}, []string{ExportOutput}, attrs...)
	g.Outputs = []*onnxedit.ValueInfo{onnxedit.NewValueInfo(ExportOutput, onnxedit.Float, -1, int64(h.Out))}
	g.Prune()
	return g0.Encode(), nil
}
