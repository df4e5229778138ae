package tfjs

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// tinyGraph is a graph model shaped like nsfwjs's mobilenet_v2_mid: input
// scaling, a fused SAME convolution at stride 2 on an even input (bias,
// ReLU6), a fused depthwise convolution (bias), a residual AddV2, VALID
// average pooling to 1 x 1, Squeeze, a fused MatMul and Softmax. The node
// list is not in topological order.
func tinyGraph() (model, shard []byte, w map[string][]float32) {
	attr4 := func(a, b int) string { return fmt.Sprintf(`{list:{i:["1","%d","%d","1"]}}`, a, b) }
	nhwc := `{s:"` + b64("NHWC") + `"}`
	fused := func(ops ...string) string {
		var q []string
		for _, o := range ops {
			q = append(q, `"`+b64(o)+`"`)
		}
		return `{list:{s:[` + strings.Join(q, ",") + `]}}`
	}
	nodes := []string{
		`{name:"Identity",op:"Identity",input:["prob"]}`,
		`{name:"prob",op:"Softmax",input:["logits"]}`,
		`{name:"logits",op:"_FusedMatMul",input:["sq","fc/w","fc/b"],attr:{transpose_a:{b:!1},transpose_b:{b:!1},fused_ops:` + fused("BiasAdd") + `}}`,
		`{name:"sq",op:"Squeeze",input:["pool"],attr:{squeeze_dims:{list:{i:["1","2"]}}}}`,
		`{name:"pool",op:"AvgPool",input:["res"],attr:{ksize:` + attr4(3, 3) + `,strides:` + attr4(1, 1) + `,padding:{s:"` + b64("VALID") + `"},data_format:` + nhwc + `}}`,
		`{name:"res",op:"AddV2",input:["dw","conv"]}`,
		`{name:"dw",op:"FusedDepthwiseConv2dNative",input:["conv","dw/w","dw/b"],attr:{strides:` + attr4(1, 1) + `,dilations:` + attr4(1, 1) + `,padding:{s:"` + b64("SAME") + `"},data_format:` + nhwc + `,fused_ops:` + fused("BiasAdd") + `}}`,
		`{name:"conv",op:"_FusedConv2D",input:["sub","conv/w","conv/b"],attr:{strides:` + attr4(2, 2) + `,dilations:` + attr4(1, 1) + `,padding:{s:"` + b64("SAME") + `"},data_format:` + nhwc + `,explicit_paddings:{list:{}},num_args:{i:"1"},fused_ops:` + fused("BiasAdd", "Relu6") + `}}`,
		`{name:"sub",op:"Sub",input:["mul","sub/y"]}`,
		`{name:"mul",op:"Mul",input:["mul/y","input"]}`,
		`{name:"input",op:"Placeholder",attr:{shape:{shape:{dim:[{size:"-1"},{size:"6"},{size:"6"},{size:"3"}]}},dtype:{type:"DT_FLOAT"}}}`,
	}
	specs := []tinyWeight{
		{"mul/y", nil, false}, {"sub/y", nil, false},
		{"conv/w", []int{3, 3, 3, 4}, true}, {"conv/b", []int{4}, false},
		{"dw/w", []int{3, 3, 4, 1}, false}, {"dw/b", []int{4}, false},
		{"fc/w", []int{4, 5}, false}, {"fc/b", []int{5}, false},
	}
	rng := lcg(3)
	var man []string
	var bin []byte
	w = map[string][]float32{}
	for _, s := range specs {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		nodes = append(nodes, `{name:"`+s.name+`",op:"Const",attr:{value:{tensor:{dtype:"DT_FLOAT"}}}}`)
		sh := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(s.shape)), ","), "[]")
		vals := make([]float32, n)
		if s.quant {
			man = append(man, fmt.Sprintf(`{name:"%s",shape:[%s],dtype:"float32",quantization:{min:-.5,scale:.004,dtype:"uint8"}}`, s.name, sh))
			for i := range vals {
				q := byte(uint32(rng.next()*127 + 128))
				bin = append(bin, q)
				vals[i] = float32(float64(q)*.004 - .5)
			}
		} else {
			man = append(man, fmt.Sprintf(`{name:"%s",shape:[%s],dtype:"float32"}`, s.name, sh))
			for i := range vals {
				vals[i] = rng.next()
				bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(vals[i]))
			}
		}
		w[s.name] = vals
	}
	model = []byte(`e.exports={format:"graph-model",generatedBy:"2.2.0",convertedBy:"test",modelTopology:{node:[` + strings.Join(nodes, ",") +
		`],versions:{producer:175}},weightsManifest:[{paths:["g1"],weights:[` + strings.Join(man, ",") + `]}]}`)
	return model, []byte(`h.exports="` + base64.StdEncoding.EncodeToString(bin) + `"`), w
}

func refGraph(in nhwc, w map[string][]float32) []float64 {
	x := mapf(in, func(_ int, v float64) float64 { return float64(w["mul/y"][0])*v - float64(w["sub/y"][0]) })
	conv := refConv(x, w["conv/w"], 3, 2, 4, false, w["conv/b"])
	conv = mapf(conv, func(_ int, v float64) float64 { return math.Min(math.Max(v, 0), 6) })
	dw := refConv(conv, w["dw/w"], 3, 1, 4, true, w["dw/b"])
	res := mapf(dw, func(i int, v float64) float64 { return v + conv.d[i] })
	feat := make([]float64, 4)
	for i, v := range res.d { // 3 x 3 VALID average pool to 1 x 1
		feat[i%4] += v / 9
	}
	return refDense(feat, w["fc/w"], w["fc/b"])
}

func TestConvertGraphOnORT(t *testing.T) {
	model, shard, want := tinyGraph()
	m, w := parse(t, model, shard)
	if _, err := ConvertLayers(m, w); err == nil {
		t.Fatal("a graph model converted as a layers model")
	}
	om, err := ConvertGraph(m, w)
	if err != nil {
		t.Fatal(err)
	}
	rng := lcg(5)
	x := make([]float32, 3*36)
	for i := range x {
		x[i] = rng.next()
	}
	out := runORT(t, om, 6, 5, x, 1)
	for j, r := range refGraph(toNHWC(x, 0, 3, 6), want) {
		if got := float64(out[j]); math.Abs(got-r) > 1e-5 {
			t.Errorf("class %d: ORT %.6f, reference %.6f", j, got, r)
		}
	}
}

func TestConvertGraphRefuses(t *testing.T) {
	model, shard, _ := tinyGraph()
	for _, c := range []struct{ from, to, want string }{
		{`op:"Softmax"`, `op:"LogSoftmax"`, "not supported"},
		{`input:["prob"]`, `input:["prob:1"]`, "one output"},
		{`input:["mul/y","input"]`, `input:["mul/y","sub"]`, "cycle"},
		{`{name:"Identity",op:"Identity",input:["prob"]},`, `{name:"Identity",op:"Identity",input:["prob"]},{name:"extra",op:"Identity",input:["prob"]},`, "2 outputs"},
	} {
		src := strings.Replace(string(model), c.from, c.to, 1)
		m, w := parse(t, []byte(src), shard)
		if _, err := ConvertGraph(m, w); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s -> %s: %v, want an error with %q", c.from, c.to, err, c.want)
		}
	}
}
