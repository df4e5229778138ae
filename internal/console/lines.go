package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/manifest"
)

// labelJob is the job-name the console's labels carry, as a Ground Truth
// labeling job's would.
const labelJob = "labeling-job/ocellus-console"

// box is one bounding box, in pixels of the full image.
type box struct {
	Label                    string
	Left, Top, Width, Height int
}

// labels is what the console edits of an entry: image-level labels and
// boxes (Custom Labels), or normal/anomaly (Lookout for Vision).
type labels struct {
	Ref           string
	Classes       []string
	Boxes         []box
	Width, Height int    // image size, for the boxes' image_size
	Anomaly       string // "normal", "anomaly" or ""
}

// labelsOf reads the labels of a parsed line.
func labelsOf(e *manifest.Entry) labels {
	l := labels{Ref: e.SourceRef}
	for _, c := range e.Classes {
		if !slices.Contains(l.Classes, c.Name) {
			l.Classes = append(l.Classes, c.Name)
		}
	}
	for _, d := range e.Detections {
		if l.Width == 0 {
			l.Width, l.Height = d.ImageWidth, d.ImageHeight
		}
		for _, b := range d.Boxes {
			if b.Valid {
				l.Boxes = append(l.Boxes, box{Label: b.Label, Left: round(b.Left), Top: round(b.Top), Width: round(b.Width), Height: round(b.Height)})
			}
		}
	}
	if e.Anomaly != nil {
		l.Anomaly = strings.ToLower(e.Anomaly.ClassName)
	}
	return l
}

func round(v float64) int { return int(math.Round(v)) }

// obj writes a JSON object with its members in order.
type obj struct {
	b bytes.Buffer
}

func (o *obj) add(key string, v any) {
	if o.b.Len() == 0 {
		o.b.WriteByte('{')
	} else {
		o.b.WriteByte(',')
	}
	k, _ := json.Marshal(key)
	o.b.Write(k)
	o.b.WriteByte(':')
	if raw, ok := v.(json.RawMessage); ok {
		o.b.Write(raw)
		return
	}
	val, _ := json.Marshal(v)
	o.b.Write(val)
}

func (o *obj) bytes() []byte {
	if o.b.Len() == 0 {
		return []byte("{}")
	}
	return append(o.b.Bytes(), '}')
}

// customLabelsLine renders l as a Custom Labels Ground Truth line: each
// image-level label a classification attribute, the boxes one
// object-detection attribute, as AWS's console writes them.
func customLabelsLine(l labels, now time.Time) []byte {
	date := now.UTC().Format("2006-01-02T15:04:05.000")
	var o obj
	o.add("source-ref", l.Ref)
	for i, c := range l.Classes {
		attr := fmt.Sprintf("label-%d", i+1)
		o.add(attr, 1)
		o.add(attr+"-metadata", map[string]any{"confidence": 1, "class-name": c, "human-annotated": "yes",
			"creation-date": date, "type": "groundtruth/image-classification", "job-name": labelJob})
	}
	if len(l.Boxes) > 0 {
		classes := []string{}
		var anns, objs []map[string]any
		for _, b := range l.Boxes {
			id := slices.Index(classes, b.Label)
			if id < 0 {
				id = len(classes)
				classes = append(classes, b.Label)
			}
			anns = append(anns, map[string]any{"class_id": id, "left": b.Left, "top": b.Top, "width": b.Width, "height": b.Height})
			objs = append(objs, map[string]any{"confidence": 1})
		}
		classMap := map[string]string{}
		for i, c := range classes {
			classMap[fmt.Sprint(i)] = c
		}
		o.add("bounding-box", map[string]any{"image_size": []map[string]int{{"width": l.Width, "height": l.Height, "depth": 3}}, "annotations": anns})
		o.add("bounding-box-metadata", map[string]any{"objects": objs, "class-map": classMap, "type": "groundtruth/object-detection",
			"human-annotated": "yes", "creation-date": date, "job-name": labelJob})
	}
	return o.bytes()
}

// lookoutLine renders a Lookout for Vision classification line for ref.
// An anomalous entry keeps the segmentation mask old had (its attribute
// and metadata, as they were); a normal one drops it.
func lookoutLine(ref, class string, old *manifest.Entry, now time.Time) []byte {
	var o obj
	o.add("source-ref", ref)
	v := 0
	if class == "anomaly" {
		v = 1
	}
	o.add("anomaly-label", v)
	o.add("anomaly-label-metadata", map[string]any{"confidence": 1, "class-name": class, "human-annotated": "yes",
		"creation-date": now.UTC().Format("2006-01-02T15:04:05.000"), "type": "groundtruth/image-classification", "job-name": labelJob})
	if class == "anomaly" && old != nil && old.Anomaly != nil && old.Anomaly.MaskAttribute != "" {
		var m map[string]json.RawMessage
		if json.Unmarshal(old.Raw, &m) == nil {
			for _, k := range []string{old.Anomaly.MaskAttribute, old.Anomaly.MaskAttribute + "-metadata"} {
				if raw, ok := m[k]; ok && k != "anomaly-label" && k != "anomaly-label-metadata" {
					o.add(k, raw)
				}
			}
		}
	}
	return o.bytes()
}
