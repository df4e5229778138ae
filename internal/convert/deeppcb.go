package convert

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ocellus/ocellus/internal/manifest"
)

// DeepPCBTypes are DeepPCB's defect types by their number in the files.
var DeepPCBTypes = []string{1: "open", 2: "short", 3: "mousebite", 4: "spur", 5: "spurious_copper", 6: "pin_hole"}

// DeepPCB reads the DeepPCB layout below root: groupG/N/NNNNNNNN_test.jpg
// (a board with defects), its aligned defect-free NNNNNNNN_temp.jpg, and
// groupG/N_not/NNNNNNNN.txt with one defect a line, "x1 y1 x2 y2 type"
// (corners in pixels). Records are the _test images with their defects as
// objects, in lexical order; DeepPCBTemplate gives each one's template.
func DeepPCB(root string) (*Dataset, error) {
	groups, err := filepath.Glob(filepath.Join(root, "group*", "*", "*_test.jpg"))
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("%s: no group*/*/*_test.jpg images", root)
	}
	d := &Dataset{}
	for _, p := range groups {
		image := rel(root, p)
		id := strings.TrimSuffix(filepath.Base(p), "_test.jpg")
		dir := filepath.Dir(p)
		txt := filepath.Join(dir+"_not", id+".txt")
		file := rel(root, txt)
		b, err := os.ReadFile(txt)
		if err != nil {
			d.problem(file, 0, image, manifest.CodeInvalidJSONLine, "the defect list of %s cannot be read: %v", image, err)
			continue
		}
		w, h, msg := probe(p)
		if msg != "" {
			d.problem(image, 0, image, manifest.CodeInvalidImage, "%s", msg)
			continue
		}
		var objs []Object
		var lines []int
		for i, l := range strings.Split(string(b), "\n") {
			f := strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\r' })
			if len(f) == 0 {
				continue
			}
			var v [5]int
			ok := len(f) == 5
			for j := 0; ok && j < 5; j++ {
				v[j], err = strconv.Atoi(f[j])
				ok = err == nil
			}
			if !ok || v[4] < 1 || v[4] >= len(DeepPCBTypes) {
				d.problem(file, i+1, image, manifest.CodeInvalidBoundingBox, "%s: %q is not \"x1 y1 x2 y2 type\" with type 1..6", image, clip(l))
				continue
			}
			objs = append(objs, Object{Label: DeepPCBTypes[v[4]], Left: float64(v[0]), Top: float64(v[1]), Width: float64(v[2] - v[0]), Height: float64(v[3] - v[1])})
			lines = append(lines, i+1)
		}
		kept, ok := d.checkObjects(file, lines, image, w, h, objs)
		if !ok {
			continue
		}
		d.Records = append(d.Records, Record{Image: image, Path: p, Width: w, Height: h, Objects: kept})
	}
	return d, nil
}

// DeepPCBTemplate returns the path of the defect-free template of a DeepPCB
// record.
func DeepPCBTemplate(r Record) string {
	return strings.TrimSuffix(r.Path, "_test.jpg") + "_temp.jpg"
}
