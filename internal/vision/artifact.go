package vision

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/ocellus/ocellus/internal/atomicfile"
	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/head"
)

// The artifact is one file:
//
//	"OCELLUS-MODEL\n"            magic (14 bytes)
//	uint32 little-endian          length of the header
//	header                        JSON (artifactHeader)
//	tensor data                   float32 little-endian, in header.Tensors order
//
// The header is self-describing (format version, task, backbone identity
// and preprocessing, labels, thresholds, head shape, evaluation) and
// carries the SHA-256 of the tensor data.
const magic = "OCELLUS-MODEL\n"

type artifactHeader struct {
	Format     int           `json:"format"`
	Kind       Kind          `json:"kind"`
	Backbone   backbone.Info `json:"backbone"`
	Labels     []string      `json:"labels"`
	Thresholds []float64     `json:"thresholds"`
	Head       head.MLP      `json:"head"`
	BoxHead    *head.MLP     `json:"boxHead,omitempty"`
	Tensors    []tensorEntry `json:"tensors"`
	DataSHA256 string        `json:"dataSha256"`
	Evaluation *Evaluation   `json:"evaluation,omitempty"`
	// Format 2.
	Letterbox     bool `json:"letterbox,omitempty"`
	SqrtEmbedding bool `json:"sqrtEmbedding,omitempty"`
	FlipTest      bool `json:"flipTest,omitempty"`
	// Format 3.
	Tiles int `json:"tiles,omitempty"`
	// Format 4.
	ROIHead *head.MLP `json:"roiHead,omitempty"`
	// Format 5.
	ROIBoxHead *head.MLP `json:"roiBoxHead,omitempty"`
}

type tensorEntry struct {
	Name string `json:"name"`
	Len  int    `json:"len"`
}

// Save writes the model artifact.
func Save(w io.Writer, m *Model) error {
	if m.Head == nil {
		return errors.New("vision: model has no head")
	}
	h := artifactHeader{Format: FormatVersion, Kind: m.Kind, Backbone: m.Backbone, Labels: m.Labels, Thresholds: m.Thresholds, Head: *m.Head, Evaluation: m.Evaluation,
		Letterbox: m.Letterbox, SqrtEmbedding: m.SqrtEmbedding, FlipTest: m.FlipTest, Tiles: m.Tiles}
	tens := m.Head.Tensors()
	if m.BoxHead != nil {
		h.BoxHead = m.BoxHead
		for n, t := range m.BoxHead.Tensors() {
			tens["box."+n] = t
		}
	}
	if m.ROIHead != nil {
		h.ROIHead = m.ROIHead
		for n, t := range m.ROIHead.Tensors() {
			tens["roi."+n] = t
		}
	}
	if m.ROIBoxHead != nil {
		h.ROIBoxHead = m.ROIBoxHead
		for n, t := range m.ROIBoxHead.Tensors() {
			tens["roibox."+n] = t
		}
	}
	names := make([]string, 0, len(tens))
	for n := range tens {
		names = append(names, n)
	}
	sort.Strings(names)
	var data bytes.Buffer
	for _, n := range names {
		t := *tens[n]
		h.Tensors = append(h.Tensors, tensorEntry{Name: n, Len: len(t)})
		b := make([]byte, 4*len(t))
		for i, f := range t {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
		}
		data.Write(b)
	}
	sum := sha256.Sum256(data.Bytes())
	h.DataSHA256 = hex.EncodeToString(sum[:])
	hb, err := json.Marshal(h)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(magic)
	var l [4]byte
	binary.LittleEndian.PutUint32(l[:], uint32(len(hb)))
	bw.Write(l[:])
	bw.Write(hb)
	bw.Write(data.Bytes())
	return bw.Flush()
}

// SaveFile writes the artifact to path atomically and durably.
func SaveFile(path string, m *Model) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return Save(w, m) })
}

// ErrNotModel is returned when reading something that is not an artifact.
var ErrNotModel = errors.New("vision: not an Ocellus model file")

// Decode reads a model artifact. The model needs Attach before Predict.
func Decode(r io.Reader) (*Model, error) {
	br := bufio.NewReader(r)
	mg := make([]byte, len(magic))
	if _, err := io.ReadFull(br, mg); err != nil || string(mg) != magic {
		return nil, ErrNotModel
	}
	var l [4]byte
	if _, err := io.ReadFull(br, l[:]); err != nil {
		return nil, ErrNotModel
	}
	n := binary.LittleEndian.Uint32(l[:])
	if n > 64<<20 {
		return nil, fmt.Errorf("%w: header of %d bytes", ErrNotModel, n)
	}
	hb, err := io.ReadAll(io.LimitReader(br, int64(n))) // grows with the data present
	if err != nil || len(hb) != int(n) {
		return nil, fmt.Errorf("%w: truncated header", ErrNotModel)
	}
	var h artifactHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrNotModel, err)
	}
	if h.Format < 1 || h.Format > FormatVersion {
		return nil, fmt.Errorf("vision: model format %d not supported (this build reads 1 to %d)", h.Format, FormatVersion)
	}
	mlp := h.Head
	tens := mlp.Tensors()
	if h.BoxHead != nil {
		for n, t := range h.BoxHead.Tensors() {
			tens["box."+n] = t
		}
	}
	if h.ROIHead != nil {
		for n, t := range h.ROIHead.Tensors() {
			tens["roi."+n] = t
		}
	}
	if h.ROIBoxHead != nil {
		for n, t := range h.ROIBoxHead.Tensors() {
			tens["roibox."+n] = t
		}
	}
	hash := sha256.New()
	for _, te := range h.Tensors {
		dst, ok := tens[te.Name]
		if !ok || te.Len < 0 || te.Len > 1<<28 {
			return nil, fmt.Errorf("vision: model has unexpected tensor %q", te.Name)
		}
		// Read in bounded chunks so a corrupt length cannot make us
		// allocate more than the data actually present.
		t := make([]float32, 0, min(te.Len, 1<<16))
		chunk := make([]byte, 4<<16)
		for left := te.Len; left > 0; {
			n := min(left, 1<<16)
			b := chunk[:4*n]
			if _, err := io.ReadFull(br, b); err != nil {
				return nil, fmt.Errorf("vision: model truncated: %w", err)
			}
			hash.Write(b)
			for i := 0; i < n; i++ {
				t = append(t, math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
			}
			left -= n
		}
		*dst = t
	}
	if hex.EncodeToString(hash.Sum(nil)) != h.DataSHA256 {
		return nil, errors.New("vision: model data checksum mismatch")
	}
	if err := mlp.Validate(); err != nil {
		return nil, err
	}
	outs := len(h.Labels)
	if h.Kind == Detection {
		outs++ // background
		if h.BoxHead == nil || h.BoxHead.Validate() != nil || h.BoxHead.In != mlp.In || h.BoxHead.Out != 4 {
			return nil, errors.New("vision: detection model without a valid box regression")
		}
	}
	if r := h.ROIHead; r != nil && (h.Kind != Detection || r.Validate() != nil || r.Output != head.Softmax || r.In != roiLen(h.Backbone) || r.Out != outs) {
		return nil, errors.New("vision: model has an invalid box classifier")
	}
	if r := h.ROIBoxHead; r != nil && (h.ROIHead == nil || r.Validate() != nil || r.Output != head.Linear || r.In != roiLen(h.Backbone) || r.Out != 4) {
		return nil, errors.New("vision: model has an invalid box refinement")
	}
	if h.Tiles < 0 || h.Tiles > 8 || (h.Tiles > 1 && h.Kind != Detection) {
		return nil, fmt.Errorf("vision: model has an invalid tiling (%d)", h.Tiles)
	}
	if mlp.Out != outs || len(h.Thresholds) != len(h.Labels) {
		return nil, errors.New("vision: model labels do not match its head")
	}
	if h.Kind != Detection && backbone.EmbeddingLen(h.Backbone) != mlp.In {
		return nil, errors.New("vision: model head does not match its backbone maps")
	}
	return &Model{Format: h.Format, Kind: h.Kind, Backbone: h.Backbone, Labels: h.Labels, Thresholds: h.Thresholds, Head: &mlp, BoxHead: h.BoxHead, ROIHead: h.ROIHead, ROIBoxHead: h.ROIBoxHead, Evaluation: h.Evaluation,
		Letterbox: h.Letterbox, SqrtEmbedding: h.SqrtEmbedding, FlipTest: h.FlipTest, Tiles: h.Tiles}, nil
}

// Load reads a model file and attaches bb (which must match its identity).
func Load(path string, bb backbone.Backbone) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := Decode(f)
	if err != nil {
		return nil, err
	}
	if err := m.Attach(bb); err != nil {
		return nil, err
	}
	return m, nil
}
