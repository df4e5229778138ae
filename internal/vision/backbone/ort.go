package backbone

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/ocellus/ocellus/internal/vision/onnxedit"
)

// Known describes a pretrained network Ocellus knows how to tap.
type Known struct {
	Name   string
	SHA256 string
	URL    string // official download location
	Input  string
	Size   int
	Mean   [3]float32
	Std    [3]float32
	Maps   []Map // Name = tensor to expose (quantized tensors are dequantized)
	// BGR: the network reads its channels blue, green, red; the edited
	// graph swaps them so that callers always feed RGB.
	BGR bool
	// DetectionSize is the input side for detection models (0 =
	// DefaultDetectionSize).
	DetectionSize int
	// Detection: the network's maps are trained for boxes (a detector's
	// neck or head features); it is meant as a detection backbone.
	Detection bool
}

// KnownBackbones lists the networks Ocellus has verified, by file digest.
// An ONNX file not in the list is used through its global-average-pool input.
func KnownBackbones() []Known {
	imagenetMean := [3]float32{0.485, 0.456, 0.406}
	imagenetStd := [3]float32{0.229, 0.224, 0.225}
	return []Known{{
		Name:   "mobilenetv2-12-int8",
		SHA256: "cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f",
		URL:    "https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx",
		Input:  "input",
		Size:   224,
		Mean:   imagenetMean,
		Std:    imagenetStd,
		Maps: []Map{
			{Name: "365_quantized", C: 32, H: 28, W: 28, Stride: 8, Grids: []int{1}},
			{Name: "426_quantized", C: 96, H: 14, W: 14, Stride: 16, Grids: []int{1}},
			{Name: "627", C: 1280, H: 7, W: 7, Stride: 32, Grids: []int{1}},
		},
	}, {
		// YOLOX-nano (COCO detector, Megvii, Apache-2.0). The taps are its
		// decoupled head's last classification and regression features
		// (64 channels each) at strides 8, 16 and 32: features trained to
		// find and box objects. It reads raw 0-255 BGR pixels.
		Name:          "yolox_nano",
		SHA256:        "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14",
		URL:           "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx",
		Input:         "images",
		Size:          416,
		Mean:          [3]float32{0, 0, 0},
		Std:           [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255},
		BGR:           true,
		Detection:     true,
		DetectionSize: 416,
		Maps: []Map{
			{Name: "1044", C: 64, H: 52, W: 52, Stride: 8, Grids: []int{1}},
			{Name: "1061", C: 64, H: 52, W: 52, Stride: 8, Grids: []int{1}},
			{Name: "1086", C: 64, H: 26, W: 26, Stride: 16, Grids: []int{1}},
			{Name: "1103", C: 64, H: 26, W: 26, Stride: 16, Grids: []int{1}},
			{Name: "1128", C: 64, H: 13, W: 13, Stride: 32, Grids: []int{1}},
			{Name: "1145", C: 64, H: 13, W: 13, Stride: 32, Grids: []int{1}},
		},
	}}
}

// ORTConfig configures an ONNX Runtime backbone. Zero values are defaults.
type ORTConfig struct {
	// Threads is ORT's intra-op thread count (default 1: callers run one
	// backbone call per core for throughput).
	Threads int
	// LibraryPath is the ONNX Runtime shared library (default: FindLibrary).
	LibraryPath string
	// Size runs the network at Size x Size instead of its native input size
	// (detection uses larger inputs). It must be a multiple of 32.
	Size int
	// Detection opens the network for a detection model: when Size is 0 it
	// runs at the network's DetectionSize (a detection network's native
	// size, else DefaultDetectionSize).
	Detection bool
	// Known describes the network when the caller knows it but its digest
	// is not pinned in KnownBackbones (a model converted at install time);
	// nil = look the file up by digest.
	Known *Known
}

// DefaultDetectionSize is the input side detection models run a
// classification backbone at: finer feature maps than its native 224 help
// small objects.
const DefaultDetectionSize = 320

// ORT runs an ONNX backbone with ONNX Runtime.
type ORT struct {
	info    Info
	model   []byte // edited ONNX: the taps are the outputs
	outputs []string
	input   string
	sess    *ort.DynamicAdvancedSession
}

var _ Backbone = (*ORT)(nil)

// The ONNX Runtime environment is process-wide in the C library; this
// reference count is the one piece of package state, mirroring it.
var (
	envMu   sync.Mutex
	envRefs int
)

func acquireEnv(lib string) error {
	envMu.Lock()
	defer envMu.Unlock()
	if envRefs == 0 && !ort.IsInitialized() {
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			return fmt.Errorf("backbone: starting ONNX Runtime from %s: %w", lib, err)
		}
	}
	envRefs++
	return nil
}

func releaseEnv() {
	envMu.Lock()
	defer envMu.Unlock()
	envRefs--
	// The environment is kept for the life of the process: re-initialising
	// ONNX Runtime after destroying it is not supported by the C library.
}

// ErrNoLibrary is returned when the ONNX Runtime library cannot be found.
var ErrNoLibrary = errors.New("backbone: ONNX Runtime library not found (run scripts/install-onnxruntime.sh or set OCELLUS_ORT_LIB)")

// FindLibrary locates libonnxruntime.so.1: $OCELLUS_ORT_LIB, then beside the
// executable (<exe dir>/../lib, <exe dir>/lib), then lib/ of the enclosing
// Go module of the working directory (for tests and `go run`).
func FindLibrary() (string, error) {
	const name = "libonnxruntime.so.1"
	var cands []string
	if p := os.Getenv("OCELLUS_ORT_LIB"); p != "" {
		cands = append(cands, p)
	}
	if exe, err := os.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		d := filepath.Dir(exe)
		cands = append(cands, filepath.Join(d, "..", "lib", name), filepath.Join(d, "lib", name))
	}
	if wd, err := os.Getwd(); err == nil {
		if root := ModuleRoot(wd); root != "" {
			cands = append(cands, filepath.Join(root, "lib", name))
		}
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	return "", ErrNoLibrary
}

// ModuleRoot walks up from dir to the directory holding go.mod ("" if none).
func ModuleRoot(dir string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		p := filepath.Dir(dir)
		if p == dir {
			return ""
		}
		dir = p
	}
}

// Digest returns "sha256:<hex>" of b.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// OpenORT loads an ONNX backbone file.
func OpenORT(path string, cfg ORTConfig) (*ORT, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	return NewORT(filepath.Base(path), b, cfg)
}

// NewORT prepares an ONNX backbone from the file's bytes: the feature taps
// become graph outputs (dequantized when needed), the classifier tail is cut
// and the batch dimension made symbolic.
func NewORT(name string, onnx []byte, cfg ORTConfig) (*ORT, error) {
	id := Digest(onnx)
	m, err := onnxedit.Decode(onnx)
	if err != nil {
		return nil, err
	}
	if len(m.Graph.Inputs) == 0 {
		return nil, errors.New("backbone: ONNX graph has no input")
	}
	var known *Known
	if cfg.Known != nil {
		k := *cfg.Known // NewORT fills in Input; the caller's value stays as it is
		known = &k
	}
	for _, k := range KnownBackbones() {
		if known == nil && "sha256:"+k.SHA256 == id {
			known = &k
		}
	}
	if known == nil {
		known, err = guessTaps(m)
		if err != nil {
			return nil, err
		}
	}
	in := m.Graph.Inputs[0]
	for _, init := range m.Graph.Initializers { // skip initializers listed as inputs (old IR)
		if init.Name == in.Name {
			return nil, errors.New("backbone: first graph input is an initializer")
		}
	}
	if known.Input == "" {
		known.Input = in.Name
	}
	info := Info{Name: strings.TrimSuffix(name, ".onnx"), Identity: id, Size: known.Size, Mean: known.Mean, Std: known.Std}
	var outs []string
	for _, mp := range known.Maps {
		t := mp.Name
		if base, ok := strings.CutSuffix(t, "_quantized"); ok {
			sc, zp := base+"_scale", base+"_zero_point"
			if m.Graph.Initializer(sc) == nil || m.Graph.Initializer(zp) == nil {
				return nil, fmt.Errorf("backbone: no scale/zero point for %s", t)
			}
			f := base + "_ocellus_f"
			m.Graph.AddNode("DequantizeLinear", "ocellus_dq_"+base, []string{t, sc, zp}, []string{f})
			t = f
		}
		outs = append(outs, t)
		mp.Name = t
		info.Maps = append(info.Maps, mp)
	}
	if err := m.Graph.SetOutputs(outs...); err != nil {
		return nil, err
	}
	if known.BGR {
		swapChannels(m.Graph, known.Input)
	}
	if cfg.Detection && cfg.Size == 0 {
		cfg.Size = DefaultDetectionSize
		if known.DetectionSize > 0 {
			cfg.Size = known.DetectionSize
		}
	}
	dims := map[int]string{0: "batch"}
	if cfg.Size > 0 && cfg.Size != info.Size {
		if cfg.Size%32 != 0 {
			return nil, fmt.Errorf("backbone: size %d is not a multiple of 32", cfg.Size)
		}
		dims[2], dims[3] = "height", "width"
		for i := range info.Maps {
			mp := &info.Maps[i]
			if mp.C == 0 {
				return nil, errors.New("backbone: resizing an unknown network is not supported")
			}
			mp.H, mp.W = cfg.Size/mp.Stride, cfg.Size/mp.Stride
		}
		info.Size = cfg.Size
	}
	if err := m.Graph.SymbolicInput(known.Input, dims); err != nil {
		return nil, err
	}
	edited := m.Encode()

	lib := cfg.LibraryPath
	if lib == "" {
		if lib, err = FindLibrary(); err != nil {
			return nil, err
		}
	}
	if err := acquireEnv(lib); err != nil {
		return nil, err
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		releaseEnv()
		return nil, fmt.Errorf("backbone: %w", err)
	}
	defer opts.Destroy()
	th := cfg.Threads
	if th <= 0 {
		th = 1
	}
	if err := opts.SetIntraOpNumThreads(th); err != nil {
		releaseEnv()
		return nil, fmt.Errorf("backbone: %w", err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		releaseEnv()
		return nil, fmt.Errorf("backbone: %w", err)
	}
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(edited, []string{known.Input}, outs, opts)
	if err != nil {
		releaseEnv()
		return nil, fmt.Errorf("backbone: creating session: %w", err)
	}
	o := &ORT{info: info, model: edited, outputs: outs, input: known.Input, sess: sess}
	if info.Maps[0].C == 0 { // unknown network: learn the map shapes once
		if _, err := o.Forward(context.Background(), make([]float32, info.InputLen()), 1); err != nil {
			o.Close()
			return nil, err
		}
	}
	return o, nil
}

// swapChannels makes the graph read RGB where it read BGR: every consumer
// of the input reads a channel-reversed copy (Gather on axis 1).
func swapChannels(g *onnxedit.Graph, input string) {
	const idx, swapped = "ocellus_rgb_to_bgr_idx", "ocellus_bgr_input"
	for _, n := range g.Consumers(input) {
		for i, in := range n.Inputs {
			if in == input {
				n.Inputs[i] = swapped
			}
		}
	}
	g.Initializers = append(g.Initializers, onnxedit.Int64Tensor(idx, []int64{2, 1, 0}, 3))
	// The new node must come before its consumers: ONNX wants nodes in
	// topological order.
	g.AddNode("Gather", "ocellus_rgb_to_bgr", []string{input, idx}, []string{swapped}, onnxedit.IntAttr("axis", 1))
	last := len(g.Nodes) - 1
	g.Nodes = append(g.Nodes[last:], g.Nodes[:last]...)
}

// guessTaps uses the input of the last global average pool of an unknown
// network as its single feature map. Its size is discovered at first use.
func guessTaps(m *onnxedit.Model) (*Known, error) {
	in := m.Graph.Inputs[0]
	if !in.HasShape || len(in.Shape) != 4 || in.Shape[2].Value <= 0 || in.Shape[2].Value != in.Shape[3].Value {
		return nil, errors.New("backbone: unknown ONNX file needs a square [N,3,S,S] input")
	}
	for i := len(m.Graph.Nodes) - 1; i >= 0; i-- {
		n := m.Graph.Nodes[i]
		if n.OpType == "GlobalAveragePool" || n.OpType == "QLinearGlobalAveragePool" {
			return &Known{
				Input: in.Name,
				Size:  int(in.Shape[2].Value),
				Mean:  [3]float32{0.485, 0.456, 0.406},
				Std:   [3]float32{0.229, 0.224, 0.225},
				Maps:  []Map{{Name: n.Inputs[0], Stride: 32, Grids: []int{1}}},
			}, nil
		}
	}
	return nil, errors.New("backbone: unknown ONNX file without a global average pool; cannot find features")
}

// Info implements Backbone.
func (o *ORT) Info() Info {
	i := o.info
	i.Maps = append([]Map(nil), o.info.Maps...)
	return i
}

// Model returns the edited ONNX graph (input: the preprocessed batch;
// outputs: the feature maps), e.g. to build an exported graph on top of it.
func (o *ORT) Model() []byte { return o.model }

// InputName is the graph input name of Model.
func (o *ORT) InputName() string { return o.input }

// Forward implements Backbone.
func (o *ORT) Forward(ctx context.Context, x []float32, n int) ([][]float32, error) {
	if err := checkInput(o.info, x, n); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := int64(o.info.Size)
	in, err := ort.NewTensor(ort.NewShape(int64(n), 3, s, s), x)
	if err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(o.outputs))
	if err := o.sess.Run([]ort.Value{in}, outs); err != nil {
		return nil, fmt.Errorf("backbone: run: %w", err)
	}
	res := make([][]float32, len(outs))
	for i, v := range outs {
		t, ok := v.(*ort.Tensor[float32])
		if !ok {
			v.Destroy()
			return nil, fmt.Errorf("backbone: output %s is not float32", o.outputs[i])
		}
		sh := t.GetShape()
		if len(sh) != 4 {
			t.Destroy()
			return nil, fmt.Errorf("backbone: output %s has shape %v, want [N,C,H,W]", o.outputs[i], sh)
		}
		mp := &o.info.Maps[i]
		if mp.C == 0 { // discovered on first use for unknown networks
			mp.C, mp.H, mp.W = int(sh[1]), int(sh[2]), int(sh[3])
		}
		res[i] = append([]float32(nil), t.GetData()...)
		t.Destroy()
	}
	return res, nil
}

// Close implements Backbone.
func (o *ORT) Close() error {
	if o.sess == nil {
		return nil
	}
	err := o.sess.Destroy()
	o.sess = nil
	releaseEnv()
	return err
}
