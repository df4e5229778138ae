package anomaly

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// FormatVersion is the version of the saved model file this package writes.
const FormatVersion = 1

// magic starts every saved anomaly model.
const magic = "OCELLUS-ANOMALY\x00"

// IsModelFile reports whether b starts like a saved anomaly model.
func IsModelFile(b []byte) bool { return bytes.HasPrefix(b, []byte(magic)) }

// The file: magic, uint32 format version, uint32 header length, the JSON
// Meta, then little-endian arrays: Dim*Dim float32 feature rotation, uint32 k, k+1 uint32 cluster starts,
// k float32 radii, k*Dim float32 centres, BankSize*Dim float32 bank
// vectors, then for segmentation models the classifier (uint32 inputs F,
// uint32 classes K1, F means, F standard deviations, K1*F weights, K1
// biases), and finally the SHA-256 of everything before it.

// MarshalBinary saves the model (everything but the backbone, which is
// identified by Meta.BackboneIdentity).
func (m *Model) MarshalBinary() ([]byte, error) {
	hdr, err := json.Marshal(m.meta)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(magic)
	u32 := func(v int) { binary.Write(&b, binary.LittleEndian, uint32(v)) }
	f32s := func(v []float32) { binary.Write(&b, binary.LittleEndian, v) }
	u32(FormatVersion)
	u32(len(hdr))
	b.Write(hdr)
	f32s(m.rot)
	k := len(m.bank.radius)
	u32(k)
	for _, s := range m.bank.start {
		u32(s)
	}
	f32s(m.bank.radius)
	f32s(m.bank.centre)
	f32s(m.bank.V)
	if h := m.head; h != nil {
		u32(h.F)
		u32(h.K1)
		f32s(h.Mean)
		f32s(h.Std)
		f32s(h.W)
		f32s(h.B)
	}
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes(), nil
}

// ReadMeta returns the header of a saved model without loading it (e.g. to
// find which backbone it needs).
func ReadMeta(data []byte) (Meta, error) {
	var mt Meta
	if len(data) < len(magic)+8+sha256.Size || string(data[:len(magic)]) != magic {
		return mt, errors.New("anomaly: not an Ocellus anomaly model")
	}
	p := data[len(magic):]
	if v := binary.LittleEndian.Uint32(p); v != FormatVersion {
		return mt, fmt.Errorf("anomaly: model format %d, this build reads %d", v, FormatVersion)
	}
	n := int(binary.LittleEndian.Uint32(p[4:]))
	if n > len(p)-8 {
		return mt, errors.New("anomaly: truncated model header")
	}
	if err := json.Unmarshal(p[8:8+n], &mt); err != nil {
		return mt, fmt.Errorf("anomaly: model header: %w", err)
	}
	return mt, nil
}

// LoadConfig configures Load. Zero values are defaults.
type LoadConfig struct {
	Threads int // ONNX Runtime intra-op threads (default: all CPUs)
}

// Load restores a saved model on bb, which must be the backbone it was
// trained with (same identity). Close the model when done; bb stays the
// caller's.
func Load(data []byte, bb backbone.Backbone, cfg LoadConfig) (*Model, error) {
	mt, err := ReadMeta(data)
	if err != nil {
		return nil, err
	}
	body := data[:len(data)-sha256.Size]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], data[len(body):]) {
		return nil, errors.New("anomaly: model file is corrupt (checksum mismatch)")
	}
	if id := bb.Info().Identity; id != mt.BackboneIdentity {
		return nil, fmt.Errorf("anomaly: model needs backbone %s (%s), got %s", mt.Backbone, mt.BackboneIdentity, id)
	}
	p := body[len(magic)+8+int(binary.LittleEndian.Uint32(body[len(magic)+4:])):]
	rd := func(n int) ([]byte, error) {
		if n < 0 || n > len(p) {
			return nil, errors.New("anomaly: truncated model file")
		}
		v := p[:n]
		p = p[n:]
		return v, nil
	}
	u32s := func(n int) ([]int, error) {
		v, err := rd(4 * n)
		if err != nil {
			return nil, err
		}
		out := make([]int, n)
		for i := range out {
			out[i] = int(binary.LittleEndian.Uint32(v[4*i:]))
		}
		return out, nil
	}
	f32s := func(n int) ([]float32, error) {
		v, err := rd(4 * n)
		if err != nil {
			return nil, err
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(v[4*i:]))
		}
		return out, nil
	}
	d := mt.Dim
	if d <= 0 || mt.BankSize <= 0 || mt.ImageWidth <= 0 || mt.ImageHeight <= 0 {
		return nil, errors.New("anomaly: model header is incomplete")
	}
	rot, err := f32s(d * d)
	if err != nil {
		return nil, err
	}
	kk, err := u32s(1)
	if err != nil {
		return nil, err
	}
	k := kk[0]
	if k <= 0 || k > mt.BankSize {
		return nil, errors.New("anomaly: bad bank index in model file")
	}
	bank := &Bank{D: d}
	if bank.start, err = u32s(k + 1); err != nil {
		return nil, err
	}
	if bank.radius, err = f32s(k); err != nil {
		return nil, err
	}
	if bank.centre, err = f32s(k * d); err != nil {
		return nil, err
	}
	if bank.V, err = f32s(mt.BankSize * d); err != nil {
		return nil, err
	}
	for i := 1; i <= k; i++ {
		if bank.start[i] < bank.start[i-1] || bank.start[i] > mt.BankSize {
			return nil, errors.New("anomaly: bad bank index in model file")
		}
	}
	var head *segHead
	if mt.Segmentation {
		fk, err := u32s(2)
		if err != nil {
			return nil, err
		}
		if fk[0] != d+2 || fk[1] != len(mt.Classes)+1 {
			return nil, errors.New("anomaly: bad segmentation head in model file")
		}
		head = &segHead{F: fk[0], K1: fk[1]}
		for _, a := range []struct {
			dst *[]float32
			n   int
		}{{&head.Mean, head.F}, {&head.Std, head.F}, {&head.W, head.F * head.K1}, {&head.B, head.K1}} {
			if *a.dst, err = f32s(a.n); err != nil {
				return nil, err
			}
		}
	}
	if len(p) != 0 {
		return nil, errors.New("anomaly: trailing data in model file")
	}
	feat, err := newFeaturizer(bb, mt.InputWidth, mt.InputHeight, cfg.Threads)
	if err != nil {
		return nil, err
	}
	if feat.dim() != d || feat.neighbours != mt.Neighbourhood {
		feat.close()
		return nil, fmt.Errorf("anomaly: backbone gives %d-d patch features, model has %d", feat.dim(), d)
	}
	bank.index()
	feat.rot = rot
	m := &Model{meta: mt, bank: bank, head: head, rot: rot, feat: feat, owned: true}
	if err := m.prepareSearch(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}
