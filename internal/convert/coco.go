package convert

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ocellus/ocellus/internal/manifest"
)

// COCOFile is the part of a COCO detection file (instances_*.json, as CVAT,
// Label Studio and Roboflow export it) that boxes need.
type COCOFile struct {
	Images      []COCOImage      `json:"images"`
	Annotations []COCOAnnotation `json:"annotations"`
	Categories  []COCOCategory   `json:"categories"`
}

type COCOImage struct {
	ID       json.Number `json:"id"`
	FileName string      `json:"file_name"`
	Width    json.Number `json:"width"`
	Height   json.Number `json:"height"`
}

type COCOAnnotation struct {
	ID         json.Number     `json:"id"`
	ImageID    json.Number     `json:"image_id"`
	CategoryID json.Number     `json:"category_id"`
	BBox       json.RawMessage `json:"bbox"`
}

type COCOCategory struct {
	ID   json.Number `json:"id"`
	Name string      `json:"name"`
}

// ParseCOCO reads a COCO JSON document. It fails when the document is not
// a JSON object with an images array; bad annotations are left to COCO.
func ParseCOCO(r io.Reader) (*COCOFile, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var c COCOFile
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("not a COCO JSON file: %w", err)
	}
	if c.Images == nil {
		return nil, fmt.Errorf("not a COCO JSON file: it has no \"images\" array")
	}
	return &c, nil
}

// COCO converts a COCO detection file. Image file_names are resolved
// below imagesDir (default: the file's directory), matching case as VOC
// does; records are in the order of the images array.
func COCO(file, imagesDir string) (*Dataset, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := ParseCOCO(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if imagesDir == "" {
		imagesDir = filepath.Dir(file)
	}
	return c.convert(filepath.Base(file), imagesDir), nil
}

func (c *COCOFile) convert(name, root string) *Dataset {
	d := &Dataset{}
	cats := map[string]string{}
	for _, k := range c.Categories {
		if k.Name != "" {
			cats[k.ID.String()] = k.Name
		}
	}
	anns := map[string][]COCOAnnotation{}
	for _, a := range c.Annotations {
		anns[a.ImageID.String()] = append(anns[a.ImageID.String()], a)
	}
	seen := map[string]bool{}
	idx := dirIndex{}
	for _, im := range c.Images {
		id := im.ID.String()
		seen[id] = true
		if im.FileName == "" {
			d.problem(name, 0, "", manifest.CodeMissingSourceRef, "image id %s has no file_name", id)
			continue
		}
		fn := filepath.FromSlash(strings.ReplaceAll(im.FileName, `\`, "/"))
		p, ok := idx.find(filepath.Join(root, filepath.Dir(fn)), filepath.Base(fn))
		if !ok || !isImage(p) || strings.HasPrefix(rel(root, p), "../") {
			d.problem(name, 0, im.FileName, manifest.CodeInvalidImage, "the image %q (id %s) does not exist below %s", im.FileName, id, root)
			continue
		}
		image := rel(root, p)
		w, h, msg := probe(p)
		if msg != "" {
			d.problem(name, 0, image, manifest.CodeInvalidImage, "%s", msg)
			continue
		}
		sx, sy := 1.0, 1.0
		if aw, ah := numInt(im.Width), numInt(im.Height); aw > 0 && ah > 0 && (aw != w || ah != h) {
			sx, sy = float64(w)/float64(aw), float64(h)/float64(ah)
		}
		var objs []Object
		for _, a := range anns[id] {
			label, ok := cats[a.CategoryID.String()]
			if !ok {
				d.problem(name, 0, image, manifest.CodeMissingClassMapID, "annotation id %s of %s: category_id %s is not in categories", a.ID, image, a.CategoryID)
				continue
			}
			var bb []float64
			if json.Unmarshal(a.BBox, &bb) != nil || len(bb) != 4 {
				d.problem(name, 0, image, manifest.CodeInvalidBoundingBox, "annotation id %s of %s: bbox %s is not [x, y, width, height]", a.ID, image, clip(string(a.BBox)))
				continue
			}
			objs = append(objs, Object{Label: label, Left: bb[0] * sx, Top: bb[1] * sy, Width: bb[2] * sx, Height: bb[3] * sy})
		}
		kept, ok := d.checkObjects(name, nil, image, w, h, objs)
		if !ok {
			continue
		}
		d.Records = append(d.Records, Record{Image: image, Path: p, Width: w, Height: h, Objects: kept})
	}
	var orphans []string
	for id := range anns {
		if !seen[id] {
			orphans = append(orphans, id)
		}
	}
	sort.Strings(orphans)
	for _, id := range orphans {
		d.problem(name, 0, "", manifest.CodeInvalidImage, "%d annotations name image_id %s, which is not in images", len(anns[id]), id)
	}
	return d
}

func numInt(n json.Number) int {
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e6 {
		return 0
	}
	return int(f)
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
