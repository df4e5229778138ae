package tfjs

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/onnxedit"
)

func TestParseJS(t *testing.T) {
	for _, c := range []struct {
		in   string
		want any
	}{
		{`{a:!0,b:!1,"c":.03,d:-1e-3,'e':'x\'y',f:[1,2,],g:null,h:void 0,1:"\u00e9\n"}`, map[string]any{
			"a": true, "b": false, "c": 0.03, "d": -0.001, "e": "x'y", "f": []any{1.0, 2.0}, "g": nil, "h": nil, "1": "é\n",
		}},
		{`[{},[],"",-0,5E+2]`, []any{map[string]any{}, []any{}, "", math.Copysign(0, -1), 500.0}},
		{` {"json": {"is": [true, false, null]}} `, map[string]any{"json": map[string]any{"is": []any{true, false, nil}}}},
	} {
		got, _, err := parseJS(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.in, got, c.want)
		}
	}
	for _, bad := range []string{``, `{`, `{a}`, `{a:1 b:2}`, `[1 2]`, `"abc`, `.`, `1e`, `!2`, `undefined`, `{a:window}`,
		strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2)} {
		if _, _, err := parseJS(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestExported(t *testing.T) {
	// The variable in front of .exports= differs from file to file, and the
	// UMD header's module.exports=e() must not be taken for the payload.
	const umd = `!function(e){if("object"==typeof exports&&"undefined"!=typeof module)module.exports=e();else{}}(function(){return function e(a,n,i){}({1:[function(e,%s,n){%s.exports=%s},{}]},{},[1])(1)});`
	v, err := exported(fmt.Sprintf(umd, "h", "h", `{modelTopology:{a:1}}`))
	if err != nil || !reflect.DeepEqual(v, map[string]any{"modelTopology": map[string]any{"a": 1.0}}) {
		t.Fatalf("object: %v %v", v, err)
	}
	v, err = exported(fmt.Sprintf(umd, "g", "g", `"AAEC"`))
	if err != nil || v != "AAEC" {
		t.Fatalf("string: %v %v", v, err)
	}
	if _, err := exported(`module.exports=e();`); err == nil {
		t.Fatal("no payload accepted")
	}
}

func TestWindowSame(t *testing.T) {
	for _, c := range []struct {
		in, k, s int
		out      int
		pads     [2]int64 // top, bottom
	}{
		{224, 3, 2, 112, [2]int64{0, 1}}, // the odd pixel goes to the bottom
		{6, 3, 2, 3, [2]int64{0, 1}},
		{5, 3, 2, 3, [2]int64{1, 1}},
		{7, 3, 1, 7, [2]int64{1, 1}},
		{3, 2, 2, 2, [2]int64{0, 1}},
		{8, 1, 2, 4, [2]int64{0, 0}},
	} {
		out, pads, err := window([2]int{c.in, c.in}, [2]int{c.k, c.k}, [2]int{c.s, c.s}, [2]int{1, 1}, "same")
		if err != nil || out[0] != c.out || pads[0] != c.pads[0] || pads[2] != c.pads[1] || pads[1] != pads[0] || pads[3] != pads[2] {
			t.Errorf("in %d k %d s %d: out %v pads %v %v, want %d %v", c.in, c.k, c.s, out, pads, err, c.out, c.pads)
		}
	}
	if _, _, err := window([2]int{2, 2}, [2]int{3, 3}, [2]int{1, 1}, [2]int{1, 1}, "valid"); err == nil {
		t.Error("a window larger than its valid input was accepted")
	}
}

// lcg is a deterministic weight source.
type lcg uint32

func (l *lcg) next() float32 {
	*l = 1664525*(*l) + 1013904223
	return float32(uint32(*l)>>8)/float32(1<<24)*2 - 1
}

// tinyModel is a Keras layers model exercising every semantic that matters:
// ZeroPadding2D, 'same' at stride 2 on an even input (odd pixel at the
// bottom/right), quantized and float weights, BatchNormalization,
// DepthwiseConv2D with a multiplier, ReLU(max_value), 'same' average pooling
// (padded cells out of the mean), max pooling, Add, Concatenate, Flatten
// (NHWC order), Dropout and Dense with softmax.
const tinyTopology = `{format:"layers-model",modelTopology:{keras_version:"2.2.4",backend:"tensorflow",model_config:{class_name:"Model",config:{name:"tiny",layers:[
{name:"input_1",class_name:"InputLayer",config:{batch_input_shape:[null,5,5,3],dtype:"float32",sparse:!1,name:"input_1"},inbound_nodes:[]},
{name:"pad",class_name:"ZeroPadding2D",config:{padding:[[0,1],[1,0]],data_format:"channels_last"},inbound_nodes:[[["input_1",0,0,{}]]]},
{name:"conv",class_name:"Conv2D",config:{filters:3,kernel_size:[3,3],strides:[2,2],padding:"same",data_format:"channels_last",dilation_rate:[1,1],activation:"relu",use_bias:!0},inbound_nodes:[[["pad",0,0,{}]]]},
{name:"bn",class_name:"BatchNormalization",config:{axis:-1,momentum:.99,epsilon:.001,center:!0,scale:!0},inbound_nodes:[[["conv",0,0,{}]]]},
{name:"dw",class_name:"DepthwiseConv2D",config:{kernel_size:[3,3],strides:[1,1],padding:"same",depth_multiplier:2,activation:"linear",use_bias:!1,data_format:"channels_last"},inbound_nodes:[[["bn",0,0,{}]]]},
{name:"relu",class_name:"ReLU",config:{max_value:.5,negative_slope:0,threshold:0},inbound_nodes:[[["dw",0,0,{}]]]},
{name:"avg",class_name:"AveragePooling2D",config:{pool_size:[2,2],padding:"same",strides:[2,2],data_format:"channels_last"},inbound_nodes:[[["relu",0,0,{}]]]},
{name:"mx",class_name:"MaxPooling2D",config:{pool_size:[2,2],padding:"same",strides:null,data_format:"channels_last"},inbound_nodes:[[["relu",0,0,{}]]]},
{name:"add",class_name:"Add",config:{},inbound_nodes:[[["avg",0,0,{}],["mx",0,0,{}]]]},
{name:"cat",class_name:"Concatenate",config:{axis:-1},inbound_nodes:[[["add",0,0,{}],["avg",0,0,{}]]]},
{name:"act",class_name:"Activation",config:{activation:"tanh"},inbound_nodes:[[["cat",0,0,{}]]]},
{name:"flat",class_name:"Flatten",config:{data_format:"channels_last"},inbound_nodes:[[["act",0,0,{}]]]},
{name:"drop",class_name:"Dropout",config:{rate:.5},inbound_nodes:[[["flat",0,0,{}]]]},
{name:"dense",class_name:"Dense",config:{units:4,activation:"softmax",use_bias:!0},inbound_nodes:[[["drop",0,0,{}]]]}
],input_layers:[["input_1",0,0]],output_layers:[["dense",0,0]]}}},
weightsManifest:[{paths:["group1-shard1of1"],weights:%s}]}`

type tinyWeight struct {
	name  string
	shape []int
	quant bool
}

var tinyWeights = []tinyWeight{
	{"conv/kernel", []int{3, 3, 3, 3}, true},
	{"conv/bias", []int{3}, false},
	{"bn/gamma", []int{3}, false},
	{"bn/beta", []int{3}, true},
	{"bn/moving_mean", []int{3}, false},
	{"bn/moving_variance", []int{3}, false},
	{"dw/depthwise_kernel", []int{3, 3, 3, 2}, false},
	{"dense/kernel", []int{48, 4}, true},
	{"dense/bias", []int{4}, false},
}

// tinyFiles returns the model file and its shard, both wrapped like the
// npm package's, and the dequantized weights the reference uses.
func tinyFiles() (model, shard []byte, want map[string][]float32) {
	rng := lcg(7)
	var specs []string
	var bin []byte
	want = map[string][]float32{}
	for _, w := range tinyWeights {
		n := 1
		for _, d := range w.shape {
			n *= d
		}
		sh := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(w.shape)), ","), "[]")
		vals := make([]float32, n)
		if w.quant {
			const lo, scale = -.75, .006
			specs = append(specs, fmt.Sprintf(`{name:"%s",shape:[%s],dtype:"float32",quantization:{min:%g,scale:%g,dtype:"uint8"}}`, w.name, sh, lo, scale))
			for i := range vals {
				q := byte(uint32(rng.next()*127 + 128))
				bin = append(bin, q)
				vals[i] = float32(float64(q)*scale + lo)
			}
		} else {
			specs = append(specs, fmt.Sprintf(`{name:"%s",shape:[%s],dtype:"float32"}`, w.name, sh))
			for i := range vals {
				v := rng.next()
				if strings.HasSuffix(w.name, "variance") || strings.HasSuffix(w.name, "gamma") {
					v = v*v + .5
				}
				vals[i] = v
				bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(v))
			}
		}
		want[w.name] = vals
	}
	wrap := func(payload string) []byte {
		return []byte(`!function(e){if("object"==typeof exports)module.exports=e()}(function(){return function e(a,n,i){}({1:[function(e,a,n){a.exports=` + payload + `},{}]},{},[1])(1)});`)
	}
	model = wrap(fmt.Sprintf(tinyTopology, "["+strings.Join(specs, ",")+"]"))
	shard = wrap(`"` + base64.StdEncoding.EncodeToString(bin) + `"`)
	return model, shard, want
}

func TestWeightsDecode(t *testing.T) {
	model, shard, want := tinyFiles()
	m, w := parse(t, model, shard)
	for name, v := range want {
		if !reflect.DeepEqual(w[name].Data, v) {
			t.Errorf("%s: %v, want %v", name, w[name].Data, v)
		}
	}
	// A shard of the wrong length is refused.
	if _, err := m.Weights(func(p string) ([]byte, error) {
		b, err := ParseShard(p+".min.js", shard)
		return append(b, 0), err
	}); err == nil {
		t.Error("a shard with a trailing byte was accepted")
	}
}

// The reference below computes the tiny model the way TensorFlow does, in
// NHWC, straight from the Keras semantics.
type nhwc struct {
	h, w, c int
	d       []float64
}

func (x nhwc) at(y, xx, c int) float64 { return x.d[(y*x.w+xx)*x.c+c] }

func refPad(x nhwc, t, b, l, r int) nhwc {
	o := nhwc{x.h + t + b, x.w + l + r, x.c, make([]float64, (x.h+t+b)*(x.w+l+r)*x.c)}
	for y := 0; y < x.h; y++ {
		for xx := 0; xx < x.w; xx++ {
			for c := 0; c < x.c; c++ {
				o.d[((y+t)*o.w+xx+l)*o.c+c] = x.at(y, xx, c)
			}
		}
	}
	return o
}

// samePads is TF's rule, written independently of window().
func samePads(in, k, s int) (out, before int) {
	out = int(math.Ceil(float64(in) / float64(s)))
	total := (out-1)*s + k - in
	if total < 0 {
		total = 0
	}
	return out, total / 2
}

// refConv: kernel [k, k, cin, cout] (depthwise: [k, k, cin, mult]).
func refConv(x nhwc, kern []float32, k, s, cout int, depthwise bool, bias []float32) nhwc {
	oh, pt := samePads(x.h, k, s)
	ow, pl := samePads(x.w, k, s)
	o := nhwc{oh, ow, cout, make([]float64, oh*ow*cout)}
	mult := cout / x.c
	for y := 0; y < oh; y++ {
		for xx := 0; xx < ow; xx++ {
			for co := 0; co < cout; co++ {
				var sum float64
				for ky := 0; ky < k; ky++ {
					for kx := 0; kx < k; kx++ {
						iy, ix := y*s+ky-pt, xx*s+kx-pl
						if iy < 0 || ix < 0 || iy >= x.h || ix >= x.w {
							continue
						}
						if depthwise {
							ci := co / mult
							sum += x.at(iy, ix, ci) * float64(kern[((ky*k+kx)*x.c+ci)*mult+co%mult])
						} else {
							for ci := 0; ci < x.c; ci++ {
								sum += x.at(iy, ix, ci) * float64(kern[((ky*k+kx)*x.c+ci)*cout+co])
							}
						}
					}
				}
				if bias != nil {
					sum += float64(bias[co])
				}
				o.d[(y*ow+xx)*cout+co] = sum
			}
		}
	}
	return o
}

func refPool(x nhwc, k int, avg bool) nhwc {
	oh, pt := samePads(x.h, k, k)
	ow, pl := samePads(x.w, k, k)
	o := nhwc{oh, ow, x.c, make([]float64, oh*ow*x.c)}
	for y := 0; y < oh; y++ {
		for xx := 0; xx < ow; xx++ {
			for c := 0; c < x.c; c++ {
				sum, n, mx := 0.0, 0, math.Inf(-1)
				for ky := 0; ky < k; ky++ {
					for kx := 0; kx < k; kx++ {
						iy, ix := y*k+ky-pt, xx*k+kx-pl
						if iy < 0 || ix < 0 || iy >= x.h || ix >= x.w {
							continue // padded cells: not in the mean, not in the max
						}
						v := x.at(iy, ix, c)
						sum, n, mx = sum+v, n+1, math.Max(mx, v)
					}
				}
				if avg {
					o.d[(y*ow+xx)*x.c+c] = sum / float64(n)
				} else {
					o.d[(y*ow+xx)*x.c+c] = mx
				}
			}
		}
	}
	return o
}

func mapf(x nhwc, f func(i int, v float64) float64) nhwc {
	o := nhwc{x.h, x.w, x.c, make([]float64, len(x.d))}
	for i, v := range x.d {
		o.d[i] = f(i, v)
	}
	return o
}

func refTiny(in nhwc, w map[string][]float32) []float64 {
	x := refPad(in, 0, 1, 1, 0)
	x = refConv(x, w["conv/kernel"], 3, 2, 3, false, w["conv/bias"])
	x = mapf(x, func(_ int, v float64) float64 { return math.Max(v, 0) })
	x = mapf(x, func(i int, v float64) float64 {
		c := i % 3
		return (v-float64(w["bn/moving_mean"][c]))/math.Sqrt(float64(w["bn/moving_variance"][c])+1e-3)*float64(w["bn/gamma"][c]) + float64(w["bn/beta"][c])
	})
	x = refConv(x, w["dw/depthwise_kernel"], 3, 1, 6, true, nil)
	x = mapf(x, func(_ int, v float64) float64 { return math.Min(math.Max(v, 0), .5) })
	avg, mx := refPool(x, 2, true), refPool(x, 2, false)
	add := mapf(avg, func(i int, v float64) float64 { return v + mx.d[i] })
	cat := nhwc{add.h, add.w, 12, nil}
	for i := 0; i < add.h*add.w; i++ {
		cat.d = append(cat.d, add.d[i*6:i*6+6]...)
		cat.d = append(cat.d, avg.d[i*6:i*6+6]...)
	}
	flat := mapf(cat, func(_ int, v float64) float64 { return math.Tanh(v) }).d // NHWC order
	return refDense(flat, w["dense/kernel"], w["dense/bias"])
}

// refDense is a Dense layer with softmax: kernel [len(x), len(bias)].
func refDense(x []float64, kernel, bias []float32) []float64 {
	units := len(bias)
	logits := make([]float64, units)
	m := math.Inf(-1)
	for j := range logits {
		logits[j] = float64(bias[j])
		for i, v := range x {
			logits[j] += v * float64(kernel[i*units+j])
		}
		m = math.Max(m, logits[j])
	}
	var z float64
	for j := range logits {
		logits[j] = math.Exp(logits[j] - m)
		z += logits[j]
	}
	for j := range logits {
		logits[j] /= z
	}
	return logits
}

// toNHWC takes image k of an NCHW batch of c x side x side.
func toNHWC(x []float32, k, c, side int) nhwc {
	hw := side * side
	in := nhwc{side, side, c, make([]float64, hw*c)}
	for ch := 0; ch < c; ch++ {
		for p := 0; p < hw; p++ {
			in.d[p*c+ch] = float64(x[(k*c+ch)*hw+p])
		}
	}
	return in
}

// parse reads a model and its single shard.
func parse(t *testing.T, model, shard []byte) (*Model, map[string]*Tensor) {
	t.Helper()
	m, err := ParseModel(model)
	if err != nil {
		t.Fatal(err)
	}
	w, err := m.Weights(func(p string) ([]byte, error) { return ParseShard(p+".min.js", shard) })
	if err != nil {
		t.Fatal(err)
	}
	return m, w
}

// runORT runs a converted model with a [N, classes] output on ONNX Runtime
// (skipping when the library is absent: the structural tests still run).
func runORT(t *testing.T, om *onnxedit.Model, side, classes int, x []float32, n int) []float32 {
	t.Helper()
	g := om.Graph
	g.Initializers = append(g.Initializers, onnxedit.Int64Tensor("nc11", []int64{0, -1, 1, 1}, 4))
	g.AddNode("Reshape", "out4d", []string{OutputName, "nc11"}, []string{"out4d"})
	o, err := backbone.NewORT("test", om.Encode(), backbone.ORTConfig{Known: &backbone.Known{
		Input: InputName, Size: side, Std: [3]float32{1, 1, 1},
		Maps: []backbone.Map{{Name: "out4d", C: classes, H: 1, W: 1, Stride: side, Grids: []int{1}}},
	}})
	if errors.Is(err, backbone.ErrNoLibrary) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	outs, err := o.Forward(context.Background(), x, n)
	if err != nil {
		t.Fatal(err)
	}
	return outs[0]
}

// TestConvertTinyOnORT converts the tiny model and runs it on ONNX Runtime
// against the NHWC reference: each semantic the converter must get right
// changes these outputs.
func TestConvertTinyOnORT(t *testing.T) {
	model, shard, want := tinyFiles()
	m, w := parse(t, model, shard)
	om, err := ConvertLayers(m, w)
	if err != nil {
		t.Fatal(err)
	}
	// Two images in one batch: the batch dimension is symbolic.
	rng := lcg(99)
	const n = 2
	x := make([]float32, n*3*5*5)
	for i := range x {
		x[i] = rng.next()
	}
	out := runORT(t, om, 5, 4, x, n)
	for k := 0; k < n; k++ {
		for j, r := range refTiny(toNHWC(x, k, 3, 5), want) {
			if got := float64(out[k*4+j]); math.Abs(got-r) > 1e-5 {
				t.Errorf("image %d class %d: ORT %.6f, reference %.6f", k, j, got, r)
			}
		}
	}
}
