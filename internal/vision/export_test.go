package vision

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/ocellus/ocellus/internal/vision/backbone"
)

func TestExportMatchesNative(t *testing.T) {
	bb := sharedORT(t)
	m, _ := trainSmall(t, bb, 1)
	onnx, err := Export(m)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(onnx, []string{bb.InputName()}, []string{ExportOutput}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Destroy()
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 3; i++ {
		x, err := m.Preprocess(shapes(i, r))
		if err != nil {
			t.Fatal(err)
		}
		want, err := m.ProbabilitiesTensor(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		s := int64(m.Backbone.Size)
		in, err := ort.NewTensor(ort.NewShape(1, 3, s, s), x)
		if err != nil {
			t.Fatal(err)
		}
		outs := []ort.Value{nil}
		if err := sess.Run([]ort.Value{in}, outs); err != nil {
			t.Fatal(err)
		}
		got := outs[0].(*ort.Tensor[float32]).GetData()
		if len(got) != len(want) {
			t.Fatalf("%d outputs, want %d", len(got), len(want))
		}
		for k := range want {
			if d := math.Abs(float64(got[k]) - want[k]); d > 1e-4 {
				t.Errorf("image %d label %d: exported %v native %v", i, k, got[k], want[k])
			}
		}
		in.Destroy()
		outs[0].Destroy()
	}
}

func TestExportNeedsONNX(t *testing.T) {
	m, _ := trainSmall(t, backbone.Builtin{}, 1)
	if _, err := Export(m); err == nil {
		t.Fatal("exported a built-in backbone model")
	}
}
