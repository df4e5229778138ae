package convert

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ocellus/ocellus/internal/manifest"
)

// MVTec converts an MVTec AD style folder (as anomalib and OpenVINO use it)
// for Lookout for Vision: ROOT/{train,test}/good/* are normal images,
// ROOT/{train,test}/<defect>/* anomalous ones, and
// ROOT/ground_truth/<defect>/<name>_mask.png (or <name>.png) their masks,
// black background and any other value the defect. Records carry the split
// of their folder, in lexical order. An anomalous image without a mask is
// kept as a classification-only anomaly; a mask that is not a PNG of the
// image's size is reported (ERROR_INVALID_IMAGE) and left out.
func MVTec(root string) (*Dataset, error) {
	d := &Dataset{}
	idx := dirIndex{}
	found := false
	for _, split := range []string{"train", "test"} {
		classes, err := os.ReadDir(filepath.Join(root, split))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		found = true
		for _, c := range classes {
			if !c.IsDir() || strings.HasPrefix(c.Name(), ".") {
				continue
			}
			files, err := os.ReadDir(filepath.Join(root, split, c.Name()))
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				if !isImage(f.Name()) {
					continue
				}
				d.mvtecImage(root, split, c.Name(), f.Name(), idx)
			}
		}
	}
	if !found {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(root, "train"), Err: os.ErrNotExist}
	}
	return d, nil
}

func (d *Dataset) mvtecImage(root, split, class, name string, idx dirIndex) {
	p := filepath.Join(root, split, class, name)
	image := rel(root, p)
	w, h, msg := probe(p)
	if msg != "" {
		d.problem(image, 0, image, manifest.CodeInvalidImage, "%s", msg)
		return
	}
	r := Record{Image: image, Path: p, Width: w, Height: h, Split: split}
	if !strings.EqualFold(class, "good") {
		r.Anomalous, r.DefectClass = true, class
		base := strings.TrimSuffix(name, filepath.Ext(name))
		dir := filepath.Join(root, "ground_truth", class)
		for _, n := range []string{base + "_mask.png", base + ".png"} {
			mp, ok := idx.find(dir, n)
			if !ok {
				continue
			}
			mask := rel(root, mp)
			info, err := manifest.FSProber{}.Probe(context.Background(), mp)
			switch {
			case err != nil:
				d.problem(mask, 0, image, manifest.CodeInvalidImage, "the mask of %s: %v; the image is kept without a mask", image, err)
			case info.Format != "png":
				d.problem(mask, 0, image, manifest.CodeInvalidImage, "the mask of %s is not a PNG; the image is kept without a mask", image)
			case info.Width != w || info.Height != h:
				d.problem(mask, 0, image, manifest.CodeInvalidImage, "the mask of %s is %dx%d px but the image is %dx%d; the image is kept without a mask", image, info.Width, info.Height, w, h)
			default:
				r.Mask, r.MaskPath = mask, mp
			}
			break
		}
	}
	d.Records = append(d.Records, r)
}

// Split returns the records of one split ("" = all).
func (d *Dataset) Split(name string) *Dataset {
	if name == "" {
		return d
	}
	return d.Filter(func(r Record) bool { return r.Split == name })
}

// MaskColor is the colour the written colour map gives to defects of MVTec
// masks (0/255 grey); black is BACKGROUND.
const MaskColor = "#FFFFFF"

type (
	gtClassMeta struct {
		ClassName      string  `json:"class-name"`
		Confidence     float64 `json:"confidence"`
		Type           string  `json:"type"`
		JobName        string  `json:"job-name"`
		HumanAnnotated string  `json:"human-annotated"`
		CreationDate   string  `json:"creation-date"`
	}
	gtColor struct {
		ClassName string `json:"class-name"`
		HexColor  string `json:"hex-color"`
	}
	gtMaskMeta struct {
		ColorMap       map[string]gtColor `json:"internal-color-map"`
		Type           string             `json:"type"`
		JobName        string             `json:"job-name"`
		HumanAnnotated string             `json:"human-annotated"`
		CreationDate   string             `json:"creation-date"`
	}
)

// WriteLookout writes one Lookout for Vision line per record: the
// normal/anomaly classification and, for anomalies with a mask, the
// anomaly-mask-ref with a colour map of BACKGROUND (#000000) and the
// record's defect class (MaskColor).
func (d *Dataset) WriteLookout(w io.Writer, opts WriteOptions) (int, error) {
	attr := opts.Attribute
	if attr == "" {
		attr = "anomaly-label"
	}
	created := opts.created()
	n := 0
	for _, r := range d.Records {
		var b bytes.Buffer
		b.WriteString(`{"source-ref":`)
		b.Write(marshal(opts.ref(r.Image)))
		class, val := "normal", "0"
		if r.Anomalous {
			class, val = "anomaly", "1"
		}
		b.WriteString("," + string(marshal(attr)) + ":" + val + "," + string(marshal(attr+"-metadata")) + ":")
		b.Write(marshal(gtClassMeta{ClassName: class, Confidence: 1, Type: "groundtruth/image-classification",
			JobName: "labeling-job/" + attr, HumanAnnotated: "yes", CreationDate: created}))
		if r.Anomalous && r.Mask != "" {
			defect := r.DefectClass
			if defect == "" {
				defect = "anomaly"
			}
			b.WriteString(`,"anomaly-mask-ref":`)
			b.Write(marshal(opts.ref(r.Mask)))
			b.WriteString(`,"anomaly-mask-ref-metadata":`)
			b.Write(marshal(gtMaskMeta{ColorMap: map[string]gtColor{"0": {"BACKGROUND", "#000000"}, "1": {defect, MaskColor}},
				Type: "groundtruth/semantic-segmentation", JobName: "labeling-job/anomaly-mask-ref", HumanAnnotated: "yes", CreationDate: created}))
		}
		b.WriteString("}\n")
		if _, err := w.Write(b.Bytes()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// DefectClasses returns the distinct defect classes of anomalous records.
func (d *Dataset) DefectClasses() []string {
	seen := map[string]bool{}
	for _, r := range d.Records {
		if r.Anomalous && r.DefectClass != "" {
			seen[r.DefectClass] = true
		}
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
