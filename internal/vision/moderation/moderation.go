// Package moderation holds the open base model of Custom Moderation: the
// classifiers of the npm package nsfwjs (MIT), converted from TensorFlow.js
// to ONNX at install time (package tfjs) and run on ONNX Runtime through the
// backbone runtime.
//
// The model scores five classes (Classes); it sees nudity and sexual
// content only. Mapping its scores onto the Rekognition moderation taxonomy
// is the caller's business.
package moderation

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/onnxedit"
	"github.com/ocellus/ocellus/internal/vision/tfjs"
)

// The npm package the base model comes from, pinned like ONNX Runtime.
const (
	PackageName    = "nsfwjs"
	PackageVersion = "4.4.0"
	PackageURL     = "https://registry.npmjs.org/nsfwjs/-/nsfwjs-4.4.0.tgz"
	PackageSHA256  = "585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382"
	// PackageFile is the file name `npm pack` writes.
	PackageFile = "nsfwjs-4.4.0.tgz"
	// maxPackage bounds the tarball read into memory (it is 25 MB).
	maxPackage = 256 << 20
)

// Classes returns the model's classes in output order.
func Classes() []string { return []string{"Drawing", "Hentai", "Neutral", "Porn", "Sexy"} }

// Variant is one of the package's layers models.
type Variant struct {
	Name     string // "mobilenet_v2"
	Dir      string // folder under package/dist/models/
	Size     int    // square input side
	Features string // layer whose output is the frozen image feature vector
	FeatLen  int
}

// Variants lists the package's three models: two Keras layers models and
// mobilenet_v2_mid, a TensorFlow graph model (a 1.4-width MobileNetV2).
func Variants() []Variant {
	return []Variant{
		{Name: "mobilenet_v2", Dir: "mobilenet_v2", Size: 224, Features: "flatten_1", FeatLen: 1280},
		{Name: "mobilenet_v2_mid", Dir: "mobilenet_v2_mid", Size: 224, FeatLen: 1792,
			Features: "StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/feature_vector/SpatialSqueeze"},
		{Name: "inception_v3", Dir: "inception_v3", Size: 299, Features: "flatten_1", FeatLen: 2048},
	}
}

// DefaultVariant is the model nsfwjs loads by default.
const DefaultVariant = "mobilenet_v2"

// VariantByName finds a variant.
func VariantByName(name string) (Variant, error) {
	var names []string
	for _, v := range Variants() {
		if v.Name == name {
			return v, nil
		}
		names = append(names, v.Name)
	}
	return Variant{}, fmt.Errorf("moderation: unknown base model %q (known: %s)", name, strings.Join(names, ", "))
}

// CheckPackage verifies the tarball against the pinned SHA-256.
func CheckPackage(tgz []byte) error {
	s := sha256.Sum256(tgz)
	if got := hex.EncodeToString(s[:]); got != PackageSHA256 {
		return fmt.Errorf("moderation: %s SHA-256 %s does not match the pinned %s", PackageFile, got, PackageSHA256)
	}
	return nil
}

// Convert turns the variant's tfjs model inside the npm tarball into an ONNX
// file: input tfjs.InputName [N, 3, Size, Size] holding pixels/255 (RGB,
// channels first), output tfjs.OutputName [N, 5] softmax scores in Classes
// order. The tarball must match the pin.
func Convert(tgz []byte, variant string) ([]byte, error) {
	v, err := VariantByName(variant)
	if err != nil {
		return nil, err
	}
	if err := CheckPackage(tgz); err != nil {
		return nil, err
	}
	files, err := readModelDir(bytes.NewReader(tgz), "package/dist/models/"+v.Dir+"/")
	if err != nil {
		return nil, err
	}
	mj, ok := files["model.min.js"]
	if !ok {
		return nil, fmt.Errorf("moderation: %s has no dist/models/%s/model.min.js", PackageFile, v.Dir)
	}
	m, err := tfjs.ParseModel(mj)
	if err != nil {
		return nil, err
	}
	w, err := m.Weights(func(p string) ([]byte, error) {
		name := path.Base(p) + ".min.js"
		b, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("moderation: weight shard %s missing from %s", name, PackageFile)
		}
		return tfjs.ParseShard(name, b)
	})
	if err != nil {
		return nil, err
	}
	convert := tfjs.ConvertLayers
	if m.Format == "graph-model" {
		convert = tfjs.ConvertGraph
	}
	om, err := convert(m, w)
	if err != nil {
		return nil, err
	}
	return om.Encode(), nil
}

// readModelDir returns the regular files directly under dir in a .tgz.
func readModelDir(r io.Reader, dir string) (map[string][]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("moderation: %s: %w", PackageFile, err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	total := int64(0)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("moderation: %s: %w", PackageFile, err)
		}
		rest, ok := strings.CutPrefix(h.Name, dir)
		if !ok || rest == "" || strings.Contains(rest, "/") || h.Typeflag != tar.TypeReg {
			continue
		}
		total += h.Size
		if h.Size < 0 || total > maxPackage {
			return nil, fmt.Errorf("moderation: %s: model files larger than %d bytes", PackageFile, maxPackage)
		}
		b, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil {
			return nil, fmt.Errorf("moderation: %s: %w", PackageFile, err)
		}
		files[rest] = b
	}
}

// Model is a converted base model running on ONNX Runtime.
type Model struct {
	variant Variant
	ort     *backbone.ORT
}

// Scores are the five class probabilities of one image, in Classes order.
type Scores [5]float32

// Open prepares a converted ONNX file (see Convert) of the given variant.
// cfg.Size and cfg.Known are set by Open.
func Open(onnx []byte, variant string, cfg backbone.ORTConfig) (*Model, error) {
	v, err := VariantByName(variant)
	if err != nil {
		return nil, err
	}
	m, err := onnxedit.Decode(onnx)
	if err != nil {
		return nil, err
	}
	g := m.Graph
	if g.Producer(tfjs.OutputName) == nil || g.Producer(v.Features) == nil {
		return nil, fmt.Errorf("moderation: the ONNX file is not a converted %s (no %s or %s tensor)", v.Name, tfjs.OutputName, v.Features)
	}
	// The backbone runtime returns [N, C, H, W] maps: view both vectors as
	// C x 1 x 1.
	shape := "ocellus_nc11"
	g.Initializers = append(g.Initializers, onnxedit.Int64Tensor(shape, []int64{0, -1, 1, 1}, 4))
	g.AddNode("Reshape", "ocellus_scores4d", []string{tfjs.OutputName, shape}, []string{"ocellus_scores"})
	g.AddNode("Reshape", "ocellus_features4d", []string{v.Features, shape}, []string{"ocellus_features"})
	cfg.Size = 0
	cfg.Known = &backbone.Known{
		Name:  "nsfwjs_" + v.Name,
		Input: tfjs.InputName,
		Size:  v.Size,
		Std:   [3]float32{1, 1, 1}, // the model reads x/255
		Maps: []backbone.Map{
			{Name: "ocellus_scores", C: len(Classes()), H: 1, W: 1, Stride: v.Size, Grids: []int{1}},
			{Name: "ocellus_features", C: v.FeatLen, H: 1, W: 1, Stride: v.Size, Grids: []int{1}},
		},
	}
	o, err := backbone.NewORT("nsfwjs_"+v.Name, m.Encode(), cfg)
	if err != nil {
		return nil, err
	}
	return &Model{variant: v, ort: o}, nil
}

// Size is the square input side the model reads.
func (m *Model) Size() int { return m.variant.Size }

// FeatureLen is the length of the frozen feature vector Classify returns.
func (m *Model) FeatureLen() int { return m.variant.FeatLen }

// Classify runs n images, x = [n, 3, Size, Size] float32 holding RGB
// pixels/255, and returns each image's scores and its feature vector (the
// flattened pooled backbone output the classifier head reads).
func (m *Model) Classify(ctx context.Context, x []float32, n int) ([]Scores, [][]float32, error) {
	outs, err := m.ort.Forward(ctx, x, n)
	if err != nil {
		return nil, nil, err
	}
	if len(outs) != 2 || len(outs[0]) != n*len(Classes()) || len(outs[1]) != n*m.variant.FeatLen {
		return nil, nil, errors.New("moderation: unexpected output sizes from the model")
	}
	scores := make([]Scores, n)
	feats := make([][]float32, n)
	for i := range n {
		copy(scores[i][:], outs[0][i*5:])
		feats[i] = outs[1][i*m.variant.FeatLen : (i+1)*m.variant.FeatLen]
	}
	return scores, feats, nil
}

// Close releases the ONNX Runtime session.
func (m *Model) Close() error { return m.ort.Close() }

// InstallDir is the folder, under a backbone directory, converted base
// models are stored in: apart from the feature backbones, which are looked
// up by scanning the backbone directory's *.onnx files.
const InstallDir = "moderation"

// BackboneName is the name `ocellus backbone list/pull` gives a variant.
func BackboneName(variant string) string { return PackageName + "-" + variant }

// InstalledPath is where a converted variant is stored under a backbone
// directory.
func InstalledPath(backboneDir, variant string) string {
	return filepath.Join(backboneDir, InstallDir, PackageName+"_"+variant+".onnx")
}

// ErrNotInstalled is returned by OpenInstalled when the base model has not
// been converted on this machine.
var ErrNotInstalled = errors.New("moderation: the base model is not installed")

// OpenInstalled opens a variant converted into backboneDir.
func OpenInstalled(backboneDir, variant string, cfg backbone.ORTConfig) (*Model, error) {
	p := InstalledPath(backboneDir, variant)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s; run `ocellus backbone pull %s` (downloads the npm package %s@%s and converts it)",
			ErrNotInstalled, p, BackboneName(variant), PackageName, PackageVersion)
	}
	if err != nil {
		return nil, fmt.Errorf("moderation: %w", err)
	}
	return Open(b, variant, cfg)
}
