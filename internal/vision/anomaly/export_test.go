package anomaly

// NearestAll exposes the bank search to the tests.
func (b *Bank) NearestAll(q []float32) []float32 { return b.nearestAll(q) }

// SearchORT runs Detect's ONNX Runtime search once: x holds unrotated
// features and is rotated in place; it returns the distances and how many
// patches fell back to the exhaustive search.
func SearchORT(b *Bank, rot, x []float32) ([]float32, int, error) {
	s, err := newORTSearch(b, rot)
	if err != nil {
		return nil, 0, err
	}
	defer s.close()
	return s.run(x)
}

// PCARotation and Rotate expose the feature rotation.
func PCARotation(x []float32, d int) []float32 { return pcaRotation(x, d, 20000, 1) }
func Rotate(x []float32, d int, rot []float32) { rotate(x, d, rot) }
