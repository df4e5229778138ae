package vision

import (
	"math"
	"sort"
	"testing"
)

// positives returns the grid indices cellTargets makes positives of
// object oi.
func positives(cls []int, oi int) []int {
	var out []int
	for c, v := range cls {
		if v == oi {
			out = append(out, c)
		}
	}
	sort.Ints(out)
	return out
}

// TestCellTargetsSmallBoxes checks the centre-sampling radius: a box
// smaller than a cell gets the cells nearest its centre as positives, with
// box targets pointing at its centre, and a large box keeps its central
// third.
func TestCellTargetsSmallBoxes(t *testing.T) {
	const side, stride, size = 20, 16, 320
	px := func(x, y, w, h float64) Object {
		return Object{Label: "o", Box: Box{Left: x / size, Top: y / size, Width: w / size, Height: h / size}}
	}
	// A 10 px box centred on a cell corner (160, 160): its four neighbours
	// (centres 8 px away on each axis) are positives although the box holds
	// none of their centres.
	cls, box := cellTargets([]Object{px(155, 155, 10, 10)}, side, stride, size)
	want := []int{9*side + 9, 9*side + 10, 10*side + 9, 10*side + 10}
	if got := positives(cls, 0); !equalInts(got, want) {
		t.Fatalf("corner-centred small box: positives %v, want %v", got, want)
	}
	for _, c := range want {
		gx, gy := float64(c%side), float64(c/side)
		cx := (gx+0.5)*stride + box[c][0]*stride
		cy := (gy+0.5)*stride + box[c][1]*stride
		if math.Abs(cx-160) > 1e-9 || math.Abs(cy-160) > 1e-9 || math.Abs(math.Exp(box[c][2])*detBoxScale-10) > 1e-9 {
			t.Errorf("cell %d regresses centre (%.2f, %.2f) width %.2f, want (160, 160) 10", c, cx, cy, math.Exp(box[c][2])*detBoxScale)
		}
	}
	// The next ring (centres 24 px away) stays background.
	if cls[8*side+8] != -1 || cls[11*side+11] != -1 {
		t.Errorf("cells beyond the radius: %d %d, want background", cls[8*side+8], cls[11*side+11])
	}
	// Centred on a cell centre (168, 168): the neighbours are 16 px away,
	// beyond 0.75 strides, so only the centre cell.
	cls, _ = cellTargets([]Object{px(163, 163, 10, 10)}, side, stride, size)
	if got := positives(cls, 0); !equalInts(got, []int{10*side + 10}) {
		t.Errorf("cell-centred small box: positives %v, want [%d]", got, 10*side+10)
	}
	// A 96 px box keeps the central third (32 px: cells within 16 px of
	// its centre on each axis, 2x2 here) and ignores the rest of its cells.
	cls, _ = cellTargets([]Object{px(112, 112, 96, 96)}, side, stride, size)
	if got := positives(cls, 0); !equalInts(got, want) {
		t.Errorf("large box: positives %v, want %v", got, want)
	}
	if cls[7*side+7] != -2 || cls[12*side+12] != -2 {
		t.Errorf("large box outer cells: %d %d, want ignored (-2)", cls[7*side+7], cls[12*side+12])
	}
	// A small box among large ones wins the cells it shares with them.
	cls, _ = cellTargets([]Object{px(112, 112, 96, 96), px(155, 155, 10, 10)}, side, stride, size)
	if got := positives(cls, 1); !equalInts(got, want) {
		t.Errorf("small box inside a large one: positives %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
