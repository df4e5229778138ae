package fashionmnist

import (
	"compress/gzip"
	"encoding/binary"
	"image"
	"os"
	"path/filepath"
	"testing"
)

func writeIDX(t *testing.T, path string, dims []uint32, data []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	z := gzip.NewWriter(f)
	z.Write([]byte{0, 0, 8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(z, binary.BigEndian, d)
	}
	z.Write(data)
	z.Close()
	f.Close()
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	labels := []byte{0, 1, 0, 2, 0, 1}
	imgs := make([]byte, len(labels)*side*side)
	for i := range labels {
		imgs[i*side*side] = byte(10 + i) // first pixel tells the image apart
	}
	writeIDX(t, filepath.Join(dir, "train-images-idx3-ubyte.gz"), []uint32{uint32(len(labels)), side, side}, imgs)
	writeIDX(t, filepath.Join(dir, "train-labels-idx1-ubyte.gz"), []uint32{uint32(len(labels))}, labels)

	per, err := Read(dir, "train", 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Two of class 0 (images 0, 2), two of class 1 (1, 5), one of class 2 (3).
	want := []struct {
		first byte
		label string
	}{{10, Labels[0]}, {11, Labels[1]}, {12, Labels[0]}, {13, Labels[2]}, {15, Labels[1]}}
	if len(per) != len(want) {
		t.Fatalf("%d examples, want %d", len(per), len(want))
	}
	for i, w := range want {
		g := per[i].Image.(*image.Gray)
		if g.Pix[0] != w.first || per[i].Labels[0] != w.label || g.Bounds().Dx() != side {
			t.Errorf("example %d: first pixel %d label %q, want %d %q", i, g.Pix[0], per[i].Labels[0], w.first, w.label)
		}
	}
	first, err := Read(dir, "train", 0, 3)
	if err != nil || len(first) != 3 {
		t.Fatalf("limit 3: %d examples, %v", len(first), err)
	}
	all, err := Read(dir, "train", 0, 0)
	if err != nil || len(all) != len(labels) {
		t.Fatalf("all: %d examples, %v", len(all), err)
	}

	writeIDX(t, filepath.Join(dir, "bad-images-idx3-ubyte.gz"), []uint32{2, side, side}, imgs[:side*side])
	writeIDX(t, filepath.Join(dir, "bad-labels-idx1-ubyte.gz"), []uint32{2}, labels[:2])
	if _, err := Read(dir, "bad", 0, 0); err == nil {
		t.Error("mismatched image and label files accepted")
	}
	if _, err := Read(dir, "missing", 0, 0); err == nil {
		t.Error("missing split accepted")
	}
}
