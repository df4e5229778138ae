package anomaly

import (
	"math/rand/v2"
	"testing"
)

// marginMaps builds n normal and n anomalous 12x12 score maps. Every map
// has background noise; normal maps also get a hot cell on the border ring
// of width border (none when border is 0), anomalous maps a hotter-than-
// background cell inside the centre, below the border's heat.
func marginMaps(r *rand.Rand, n, border int) []marginExample {
	const h, w = 12, 12
	var out []marginExample
	for i := range 2 * n {
		sm := make([]float32, h*w)
		for j := range sm {
			sm[j] = float32(r.Float64())
		}
		anomalous := i >= n
		if border > 0 && r.IntN(3) > 0 {
			// a border cell, in the outer ring of the given width
			y := r.IntN(border)
			if r.IntN(2) == 0 {
				y = h - 1 - y
			}
			sm[y*w+r.IntN(w)] = 5
		}
		if anomalous {
			sm[(4+r.IntN(4))*w+4+r.IntN(4)] = 3
		}
		out = append(out, marginExample{sm, anomalous})
	}
	return out
}

func TestChooseMargin(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// Normal images with hot borders: the defects are found only once the
	// border ring is left out.
	if got := chooseMargin(marginMaps(r, 20, 2), 12, 12); got != 2 {
		t.Errorf("hot border of 2 cells: margin %d, want 2", got)
	}
	if got := chooseMargin(marginMaps(r, 20, 1), 12, 12); got != 1 {
		t.Errorf("hot border of 1 cell: margin %d, want 1", got)
	}
	// Clean borders: every margin separates as well, the whole map stays.
	if got := chooseMargin(marginMaps(r, 20, 0), 12, 12); got != 0 {
		t.Errorf("clean borders: margin %d, want 0", got)
	}
	// A small grid keeps at least half of its shorter side.
	if got := chooseMargin(marginMaps(r, 20, 2), 12, 4); got > 1 {
		t.Errorf("4-cell-wide grid: margin %d, want at most 1", got)
	}
	// No anomalous example: nothing to choose by.
	normal := marginMaps(r, 10, 2)[:10]
	if got := chooseMargin(normal, 12, 12); got != 0 {
		t.Errorf("normal images only: margin %d, want 0", got)
	}
}
