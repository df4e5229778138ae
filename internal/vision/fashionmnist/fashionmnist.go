// Package fashionmnist reads Fashion-MNIST's gzipped IDX files (Debian's
// dataset-fashion-mnist, /usr/share/datasets/fashion-mnist) as vision
// examples, for the benchmarks.
package fashionmnist

import (
	"compress/gzip"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"

	"github.com/ocellus/ocellus/internal/vision"
)

// Labels are the class names, by label index.
var Labels = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

const side = 28

// Read reads split ("train" or "t10k") from dir: perClass > 0 takes the
// first perClass images of each class, else the first limit images (all
// when limit is 0).
func Read(dir, split string, perClass, limit int) ([]vision.Example, error) {
	imgs, err := readIDX(filepath.Join(dir, split+"-images-idx3-ubyte.gz"))
	if err != nil {
		return nil, err
	}
	labs, err := readIDX(filepath.Join(dir, split+"-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, err
	}
	if len(imgs) != len(labs)*side*side {
		return nil, fmt.Errorf("fashion-mnist %s: %d image bytes for %d labels", split, len(imgs), len(labs))
	}
	count := make([]int, len(Labels))
	var out []vision.Example
	for i, l := range labs {
		if int(l) >= len(Labels) {
			return nil, fmt.Errorf("fashion-mnist %s: label %d at %d out of range", split, l, i)
		}
		if perClass > 0 {
			if count[l] >= perClass {
				continue
			}
			count[l]++
		} else if limit > 0 && len(out) >= limit {
			break
		}
		g := image.NewGray(image.Rect(0, 0, side, side))
		copy(g.Pix, imgs[i*side*side:(i+1)*side*side])
		out = append(out, vision.Example{Image: g, Labels: []string{Labels[l]}})
	}
	return out, nil
}

// readIDX returns the data of a gzipped IDX file after its header.
func readIDX(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) < 4 || len(b) < 4+4*int(b[3]) {
		return nil, fmt.Errorf("%s: short IDX header", path)
	}
	return b[4+4*int(b[3]):], nil
}
