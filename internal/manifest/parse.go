package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Service selects whose rules apply to label attributes.
type Service int

const (
	// CustomLabels: image-level labels and object detection.
	CustomLabels Service = iota
	// LookoutForVision: normal/anomaly classification, optionally with a
	// semantic-segmentation mask.
	LookoutForVision
)

// Limits from the Custom Labels developer guide ("Guidelines and quotas",
// "Validation rules for manifest files", "Terminal errors").
const (
	MaxLineChars      = 100_000 // a longer JSON line is a terminal content error
	MaxBoxesPerImage  = 50
	MaxLabelsPerImage = 50
	MaxLabelNameChars = 256
	MinImageSide      = 64
	MaxImageSide      = 4096
	MaxAspectRatio    = 20.0
	MaxImageBytes     = 15 << 20
	DefaultMaxLines   = 250_000
	DefaultMaxBytes   = 1 << 30
	DefaultMaxLabels  = 250
	// trainingResize: during training AWS scales images whose larger side
	// exceeds 1280 px; boxes must stay larger than 1x1 px after that.
	trainingResize = 1280
)

// ParseOptions say how to read a line.
type ParseOptions struct {
	Service Service
	// Base resolves relative source-refs (and mask refs): an S3 URI
	// ("s3://bucket/prefix/") or a directory. Without it a relative ref is
	// ERROR_INVALID_SOURCE_REF_FORMAT, as on AWS.
	Base string
	// AllowFilePaths accepts absolute file paths and file:// URIs as
	// source-refs (manifests made by `ocellus manifest from-folders --dir`).
	AllowFilePaths bool
}

// member is one name/value pair of a JSON object, kept in order.
type member struct {
	key string
	raw json.RawMessage
}

var errNotObject = errors.New("not a JSON object")

// members splits a JSON object into its members, in order. Trailing data
// after the object is an error.
func members(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := tok.(string)
		if !ok {
			return nil, errNotObject
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{k, v})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// ParseLine parses and checks one manifest line (without its newline) by
// itself: everything but the image probe and the dataset-level rules. The
// entry keeps a copy of line. It never fails: problems become Issues.
func ParseLine(line []byte, opts ParseOptions) *Entry {
	e := &Entry{Raw: append([]byte(nil), line...), UseCase: UseCaseNotDetermined}
	if len(bytes.TrimSpace(line)) == 0 {
		// "Blank/invalid lines are also counted as dataset objects"
		// (Validation rules for manifest files).
		e.lineError(CodeInvalidJSONLine, "The JSON Line has an invalid format: the line is empty.")
		return e
	}
	if n := utf8.RuneCount(line); n > MaxLineChars {
		e.lineError(CodeInvalidJSONLine, fmt.Sprintf("The JSON Line has an invalid format: it has %d characters; the maximum is %d.", n, MaxLineChars))
		return e
	}
	ms, err := members(e.Raw)
	if err != nil {
		e.lineError(CodeInvalidJSONLine, "The JSON Line has an invalid format: "+jsonReason(err))
		return e
	}
	e.members = ms
	obj := map[string]json.RawMessage{}
	for _, m := range ms {
		obj[m.key] = m.raw
	}

	// source-ref
	rawRef, ok := obj["source-ref"]
	if !ok {
		e.lineError(CodeMissingSourceRef, "")
	} else if err := json.Unmarshal(rawRef, &e.SourceRef); err != nil || e.SourceRef == "" {
		e.lineError(CodeInvalidSourceRefFormat, "The format of the source-ref value is invalid: it must be a string such as s3://bucket/path/image.jpg.")
	} else if loc, bucket, ok := resolve(e.SourceRef, opts); !ok {
		e.lineError(CodeInvalidSourceRefFormat, fmt.Sprintf("The format of the source-ref value is invalid: %q is not an s3://bucket/key URI.", e.SourceRef))
	} else {
		e.Image, e.Bucket = loc, bucket
	}

	// Label attributes come in pairs: "x" and "x-metadata". Members we
	// write ourselves are not attributes.
	var attrs, orphans []string
	for _, m := range ms {
		k := m.key
		switch k {
		case "source-ref", "errors", "cl-errors", "warnings", "cl-metadata":
			continue
		}
		if base, ok := strings.CutSuffix(k, "-metadata"); ok {
			if _, paired := obj[base]; !paired {
				orphans = append(orphans, k)
			}
			continue
		}
		if _, paired := obj[k+"-metadata"]; paired {
			attrs = append(attrs, k)
		} else if looksLikeAttribute(m.raw) {
			orphans = append(orphans, k)
		}
	}
	if len(attrs) == 0 {
		if len(orphans) > 0 {
			e.lineError(CodeNoLabelAttributes, fmt.Sprintf("No label attributes found: %s has no matching attribute/-metadata pair.", strings.Join(orphans, ", ")))
		} else if !e.Invalid() {
			e.addIssue(Issue{Code: CodeWarnUnannotatedRecord, Scope: ScopeLine})
		}
		return e
	}

	p := parser{e: e, opts: opts, obj: obj}
	for _, a := range attrs {
		p.attribute(a)
	}
	p.finish()
	return e
}

func jsonReason(err error) string {
	if errors.Is(err, errNotObject) {
		return "it is not a JSON object."
	}
	return err.Error() + "."
}

// looksLikeAttribute tells a label attribute that lost its metadata from
// an unrelated extra member (which AWS tolerates): a number or an object
// with annotations.
func looksLikeAttribute(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return false
	}
	if t[0] == '-' || (t[0] >= '0' && t[0] <= '9') {
		return true
	}
	if t[0] == '{' {
		var v struct {
			Annotations json.RawMessage `json:"annotations"`
			ImageSize   json.RawMessage `json:"image_size"`
		}
		return json.Unmarshal(t, &v) == nil && (v.Annotations != nil || v.ImageSize != nil)
	}
	return false
}

// resolve turns a source-ref into a location the prober understands and
// reports the bucket of S3 refs.
func resolve(ref string, opts ParseOptions) (loc, bucket string, ok bool) {
	if len(ref) >= 5 && strings.EqualFold(ref[:5], "s3://") {
		rest := ref[5:]
		b, key, found := strings.Cut(rest, "/")
		if !found || b == "" || key == "" || strings.ContainsAny(b, " \t\r\n") {
			return "", "", false
		}
		return "s3://" + b + "/" + key, b, true
	}
	if strings.HasPrefix(ref, "file://") {
		if !opts.AllowFilePaths {
			return "", "", false
		}
		p := strings.TrimPrefix(ref, "file://")
		return p, "", p != ""
	}
	if strings.Contains(ref, "://") {
		return "", "", false // https:// and friends: AWS's own example of a bad ref
	}
	if filepath.IsAbs(ref) || strings.HasPrefix(ref, "/") {
		if opts.AllowFilePaths {
			return ref, "", true
		}
		return "", "", false
	}
	if opts.Base == "" {
		return "", "", false
	}
	if len(opts.Base) >= 5 && strings.EqualFold(opts.Base[:5], "s3://") {
		b, prefix, _ := strings.Cut(opts.Base[5:], "/")
		key := strings.TrimPrefix(path.Join(prefix, ref), "/")
		if b == "" || key == "" || strings.HasPrefix(key, "../") {
			return "", "", false
		}
		return "s3://" + b + "/" + key, b, true
	}
	p := filepath.Join(opts.Base, filepath.FromSlash(ref))
	if rel, err := filepath.Rel(opts.Base, p); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", "", false // a relative ref stays under its base
	}
	return p, "", true
}

// metadata holds the members of a -metadata object we look at. Everything
// is optional and decoded leniently: extra keys are ignored.
type metadata struct {
	Type           string                     `json:"type"`
	ClassName      *string                    `json:"class-name"`
	Confidence     json.RawMessage            `json:"confidence"`
	HumanAnnotated string                     `json:"human-annotated"`
	CreationDate   json.RawMessage            `json:"creation-date"`
	ClassMap       map[string]json.RawMessage `json:"class-map"`
	Objects        []json.RawMessage          `json:"objects"`
	ColorMap       map[string]json.RawMessage `json:"internal-color-map"`
}

type parser struct {
	e    *Entry
	opts ParseOptions
	obj  map[string]json.RawMessage
	// unsupported counts attributes of a kind this service does not use.
	unsupported int
	// l4vClass is the Lookout for Vision classification attribute found.
	l4vClass *Anomaly
	masks    []*Anomaly
}

func (p *parser) attrErr(attr, code, msg string) {
	p.e.addIssue(Issue{Code: code, Message: msg, Scope: ScopeAttribute, Attribute: attr})
}

func (p *parser) metaErr(attr, code, msg string) {
	p.e.addIssue(Issue{Code: code, Message: msg, Scope: ScopeMetadata, Attribute: attr})
}

func (p *parser) attribute(attr string) {
	val, rawMeta := p.obj[attr], p.obj[attr+"-metadata"]
	var md metadata
	if !isObject(rawMeta) || json.Unmarshal(rawMeta, &md) != nil {
		p.metaErr(attr, CodeInvalidLabelAttributeMetadataFormat,
			fmt.Sprintf("The format of the label attribute metadata %s-metadata is invalid: it must be an object with type, class-name or class-map, and the Ground Truth fields.", attr))
		return
	}
	kind := strings.ToLower(md.Type)
	switch {
	case strings.Contains(kind, "image-classification-multilabel"):
		kind = "multilabel"
	case strings.Contains(kind, "image-classification"):
		kind = "classification"
	case strings.Contains(kind, "object-detection"):
		kind = "detection"
	case strings.Contains(kind, "semantic-segmentation"):
		kind = "segmentation"
	case kind == "":
		// No type: infer from the shape, as lenient readers of Ground
		// Truth output do.
		t := bytes.TrimSpace(val)
		switch {
		case len(t) > 0 && t[0] == '[':
			kind = "multilabel"
		case len(t) > 0 && t[0] == '{':
			kind = "detection"
		case len(t) > 0 && t[0] == '"' && md.ColorMap != nil:
			kind = "segmentation"
		default:
			kind = "classification"
		}
	default:
		p.unsupport(attr) // e.g. groundtruth/video-object-tracking
		return
	}
	switch kind {
	case "classification":
		p.classification(attr, val, md)
	case "multilabel":
		p.multilabel(attr, val, md)
	case "detection":
		if p.opts.Service == LookoutForVision {
			p.unsupport(attr)
			return
		}
		p.detection(attr, val, md)
	case "segmentation":
		if p.opts.Service != LookoutForVision {
			p.unsupport(attr)
			return
		}
		p.segmentation(attr, val, md)
	}
}

// unsupport reports an attribute of a type this service does not train
// on, with the message of AWS's ERROR_UNSUPPORTED_USE_CASE_TYPE example.
func (p *parser) unsupport(attr string) {
	p.unsupported++
	p.metaErr(attr, CodeUnsupportedUseCaseType,
		fmt.Sprintf("The use case type of the %s-metadata label attribute metadata is unsupported. Check the type field.", attr))
}

func longName(s string) bool { return utf8.RuneCountInString(s) > MaxLabelNameChars }

func (p *parser) nameTooLong(attr, name string) {
	p.metaErr(attr, CodeInvalidLabelNameLength,
		fmt.Sprintf("The length of a label name is too long: %q... has %d characters; the maximum length is %d.", string([]rune(name)[:20]), utf8.RuneCountInString(name), MaxLabelNameChars))
}

func isNumber(raw json.RawMessage) bool {
	var n json.Number
	return json.Unmarshal(raw, &n) == nil
}

func (p *parser) classification(attr string, val json.RawMessage, md metadata) {
	// The value is an integer class index that Custom Labels does not use;
	// any size is fine, so it is not parsed into an int.
	if !isNumber(val) {
		p.attrErr(attr, CodeInvalidLabelAttributeFormat,
			fmt.Sprintf("The format of the label attribute %s is invalid: an image classification attribute must be an integer.", attr))
		return
	}
	if md.ClassName == nil || strings.TrimSpace(*md.ClassName) == "" {
		p.metaErr(attr, CodeInvalidLabelAttributeMetadataFormat,
			fmt.Sprintf("The format of the label attribute metadata is invalid: %s-metadata has no class-name.", attr))
		return
	}
	if longName(*md.ClassName) {
		p.nameTooLong(attr, *md.ClassName)
		return
	}
	conf, ok := confidence(md.Confidence)
	if !ok {
		p.metaErr(attr, CodeInvalidLabelAttributeMetadataFormat,
			fmt.Sprintf("The format of the label attribute metadata is invalid: the confidence of %s-metadata is not a number.", attr))
		return
	}
	date := parseDate(md.CreationDate)
	if p.opts.Service == LookoutForVision {
		name := *md.ClassName
		a := &Anomaly{Attribute: attr, CreationDate: date}
		switch strings.ToLower(name) {
		case "normal":
			a.ClassName = name
		case "anomaly":
			a.ClassName, a.Anomalous = name, true
		default:
			// Lookout for Vision treats any other class as unlabeled.
		}
		if p.l4vClass == nil || p.l4vClass.ClassName == "" {
			p.l4vClass = a
		}
		return
	}
	p.e.Classes = append(p.e.Classes, ClassLabel{Attribute: attr, Name: *md.ClassName, Confidence: conf,
		HumanAnnotated: md.HumanAnnotated, CreationDate: date})
}

// multilabel reads SageMaker Ground Truth's multi-label classification
// output: an array of class ids with a class-map in the metadata.
func (p *parser) multilabel(attr string, val json.RawMessage, md metadata) {
	var ids []json.Number
	if json.Unmarshal(val, &ids) != nil {
		p.attrErr(attr, CodeInvalidLabelAttributeFormat,
			fmt.Sprintf("The format of the label attribute %s is invalid: a multi-label attribute must be an array of class ids.", attr))
		return
	}
	if md.ClassMap == nil {
		p.metaErr(attr, CodeInvalidLabelAttributeMetadataFormat,
			fmt.Sprintf("The format of the label attribute metadata is invalid: %s-metadata has no class-map.", attr))
		return
	}
	date := parseDate(md.CreationDate)
	for _, id := range ids {
		var name string
		if raw, ok := md.ClassMap[id.String()]; !ok || json.Unmarshal(raw, &name) != nil || name == "" {
			p.metaErr(attr, CodeMissingClassMapID, fmt.Sprintf("One of more class ids is missing from the class map: class id %s is not in the class-map of %s-metadata.", id, attr))
			continue
		}
		if longName(name) {
			p.nameTooLong(attr, name)
			continue
		}
		if p.opts.Service == LookoutForVision {
			continue // not a Lookout for Vision label shape
		}
		p.e.Classes = append(p.e.Classes, ClassLabel{Attribute: attr, Name: name, HumanAnnotated: md.HumanAnnotated, CreationDate: date})
	}
}

// confidence decodes an optional confidence; absent is fine (Lookout for
// Vision manifests often omit it).
func confidence(raw json.RawMessage) (*float64, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return nil, false
	}
	return &f, true
}

type rawBox struct {
	ClassID *json.Number `json:"class_id"`
	Top     *float64     `json:"top"`
	Left    *float64     `json:"left"`
	Width   *float64     `json:"width"`
	Height  *float64     `json:"height"`
}

func (p *parser) detection(attr string, val json.RawMessage, md metadata) {
	var v struct {
		ImageSize []struct {
			Width  *json.Number `json:"width"`
			Height *json.Number `json:"height"`
			Depth  *json.Number `json:"depth"`
		} `json:"image_size"`
		Annotations *[]json.RawMessage `json:"annotations"`
	}
	if !isObject(val) || json.Unmarshal(val, &v) != nil || len(v.ImageSize) == 0 || v.Annotations == nil {
		p.attrErr(attr, CodeInvalidLabelAttributeFormat,
			fmt.Sprintf("The format of the label attribute %s is invalid: an object detection attribute needs image_size [{width,height,depth}] and an annotations array.", attr))
		return
	}
	if md.ClassMap == nil && len(*v.Annotations) > 0 {
		p.metaErr(attr, CodeInvalidLabelAttributeMetadataFormat,
			fmt.Sprintf("The format of the label attribute metadata is invalid: %s-metadata has no class-map.", attr))
		return
	}
	d := Detection{Attribute: attr, HumanAnnotated: md.HumanAnnotated, CreationDate: parseDate(md.CreationDate)}
	is := v.ImageSize[0]
	d.ImageWidth, d.ImageHeight, d.ImageDepth = intOf(is.Width), intOf(is.Height), intOf(is.Depth)
	if d.ImageWidth <= 0 || d.ImageHeight <= 0 {
		p.e.lineError(CodeInvalidImageDimension,
			fmt.Sprintf("The image dimension(s) do not conform to allowed dimensions: image_size of %s is %dx%d.", attr, d.ImageWidth, d.ImageHeight))
		return
	}
	anns := *v.Annotations
	if len(anns) == 0 {
		// Developer guide: a human-annotated detection line with no boxes
		// is valid but unused (WARNING_NO_ANNOTATIONS, ignored line).
		p.e.addIssue(Issue{Code: CodeWarnNoAttributeAnnotations, Scope: ScopeAttribute, Attribute: attr})
		p.e.Detections = append(p.e.Detections, d)
		return
	}
	if len(anns) > MaxBoxesPerImage {
		// Guidelines and quotas: at most 50 bounding boxes per image.
		p.attrErr(attr, CodeTooManyBoundingBoxes,
			fmt.Sprintf("There are more bounding boxes than the allowed maximum: %d boxes, the maximum is %d.", len(anns), MaxBoxesPerImage))
		return
	}
	// Training scales images whose larger side exceeds 1280 px; a box
	// must stay larger than 1x1 px after that ("ERROR_BOUNDING_BOX_TOO_SMALL").
	scale := 1.0
	if m := max(d.ImageWidth, d.ImageHeight); m > trainingResize {
		scale = float64(trainingResize) / float64(m)
	}
	missingConf, longNames := 0, 0
	for i, raw := range anns {
		var rb rawBox
		annErr := func(code, msg string) {
			p.e.addIssue(Issue{Code: code, Message: msg, Scope: ScopeAnnotation, Attribute: attr, Index: i})
		}
		if !isObject(raw) || json.Unmarshal(raw, &rb) != nil || rb.ClassID == nil || rb.Top == nil || rb.Left == nil || rb.Width == nil || rb.Height == nil {
			annErr(CodeInvalidBoundingBox, fmt.Sprintf("The bounding box has off frame values: annotation %d needs numeric class_id, top, left, width and height.", i))
			d.Boxes = append(d.Boxes, Box{})
			continue
		}
		b := Box{Left: *rb.Left, Top: *rb.Top, Width: *rb.Width, Height: *rb.Height, Valid: true}
		id, err := strconv.Atoi(rb.ClassID.String())
		b.ClassID = id
		var name string
		if raw, ok := md.ClassMap[rb.ClassID.String()]; err != nil || !ok || json.Unmarshal(raw, &name) != nil || name == "" {
			annErr(CodeMissingClassMapID, fmt.Sprintf("One of more class ids is missing from the class map: class_id %s of annotation %d is not in class-map.", rb.ClassID, i))
			b.Valid = false
		}
		b.Label = name
		if b.Valid && longName(name) {
			if longNames == 0 {
				p.nameTooLong(attr, name)
			}
			longNames++
			b.Valid = false
		}
		if i < len(md.Objects) {
			var o struct {
				Confidence *float64 `json:"confidence"`
			}
			if json.Unmarshal(md.Objects[i], &o) == nil && o.Confidence != nil {
				b.Confidence = o.Confidence
			}
		}
		if b.Confidence == nil {
			missingConf++
			b.Valid = false
		}
		switch {
		case !b.Valid:
		case b.Left < 0 || b.Top < 0 || b.Width < 0 || b.Height < 0 ||
			b.Left+b.Width > float64(d.ImageWidth) || b.Top+b.Height > float64(d.ImageHeight) ||
			math.IsNaN(b.Left+b.Top+b.Width+b.Height):
			// "off the image frame or contains negative values"
			annErr(CodeInvalidBoundingBox, fmt.Sprintf("The bounding box has off frame values: left %g, top %g, width %g, height %g in a %dx%d image.",
				b.Left, b.Top, b.Width, b.Height, d.ImageWidth, d.ImageHeight))
			b.Valid = false
		case b.Width*scale <= 1 || b.Height*scale <= 1:
			annErr(CodeBoundingBoxTooSmall, fmt.Sprintf("The height and width of the bounding box is too small: %gx%g px; both must be greater than 1 px after training resizes the image to at most %d px.",
				b.Width, b.Height, trainingResize))
			b.Valid = false
		}
		d.Boxes = append(d.Boxes, b)
	}
	if missingConf > 0 {
		p.metaErr(attr, CodeMissingBoundingBoxConfidence,
			fmt.Sprintf("One or more bounding boxes has a missing confidence value: %d of %d annotations have no confidence in objects.", missingConf, len(anns)))
	}
	valid := 0
	for _, b := range d.Boxes {
		if b.Valid {
			valid++
		}
	}
	if valid == 0 {
		p.e.lineError(CodeNoValidAnnotations, "")
	}
	p.e.Detections = append(p.e.Detections, d)
}

func hexColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	_, err := strconv.ParseUint(s[1:], 16, 32)
	return err == nil
}

// segmentation reads a Lookout for Vision anomaly mask: the attribute is
// the mask's S3 ref, the metadata an internal-color-map.
func (p *parser) segmentation(attr string, val json.RawMessage, md metadata) {
	var ref string
	if json.Unmarshal(val, &ref) != nil || ref == "" {
		p.attrErr(attr, CodeInvalidLabelAttributeFormat,
			fmt.Sprintf("The format of the label attribute %s is invalid: an anomaly mask attribute must be the mask image's S3 URI.", attr))
		return
	}
	loc, _, ok := resolve(ref, p.opts)
	if !ok {
		p.attrErr(attr, CodeInvalidLabelAttributeFormat,
			fmt.Sprintf("The format of the label attribute %s is invalid: %q is not an s3://bucket/key URI.", attr, ref))
		return
	}
	if len(md.ColorMap) == 0 {
		p.metaErr(attr, CodeInvalidLabelAttributeMetadataFormat,
			fmt.Sprintf("The format of the label attribute metadata is invalid: %s-metadata has no internal-color-map.", attr))
		return
	}
	a := &Anomaly{MaskAttribute: attr, MaskRef: ref, Mask: loc}
	keys := make([]string, 0, len(md.ColorMap))
	for k := range md.ColorMap {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return numLess(keys[i], keys[j]) })
	for _, k := range keys {
		var c struct {
			ClassName string `json:"class-name"`
			HexColor  string `json:"hex-color"`
		}
		if json.Unmarshal(md.ColorMap[k], &c) != nil || c.ClassName == "" || !hexColor(c.HexColor) {
			p.metaErr(attr, CodeInvalidLabelAttributeMetadataFormat,
				fmt.Sprintf("The format of the label attribute metadata is invalid: internal-color-map entry %q needs class-name and a hex-color like #23A436.", k))
			return
		}
		a.Colors = append(a.Colors, MaskColor{Key: k, ClassName: c.ClassName, HexColor: strings.ToUpper(c.HexColor)})
	}
	p.masks = append(p.masks, a)
}

func numLess(a, b string) bool {
	x, e1 := strconv.Atoi(a)
	y, e2 := strconv.Atoi(b)
	if e1 == nil && e2 == nil {
		return x < y
	}
	return a < b
}

func intOf(n *json.Number) int {
	if n == nil {
		return 0
	}
	f, err := n.Float64()
	if err != nil || f > math.MaxInt32 || f < math.MinInt32 {
		return 0
	}
	return int(f)
}

// finish sets the use case and the line-level verdicts once every
// attribute has been read.
func (p *parser) finish() {
	e := p.e
	if p.opts.Service == LookoutForVision {
		if p.l4vClass != nil {
			e.Anomaly = p.l4vClass
			e.UseCase = UseCaseAnomalyClassification
			if len(p.masks) > 0 {
				m := p.masks[0]
				e.Anomaly.MaskAttribute, e.Anomaly.MaskRef, e.Anomaly.Mask, e.Anomaly.Colors = m.MaskAttribute, m.MaskRef, m.Mask, m.Colors
				e.UseCase = UseCaseAnomalySegmentation
			}
		} else if len(p.masks) > 0 {
			// A mask without a normal/anomaly label: keep it, unlabeled.
			e.Anomaly = p.masks[0]
		}
	} else {
		switch {
		case len(e.Classes) > 0 && len(e.Detections) == 0:
			e.UseCase = UseCaseImageLevelLabels
		case len(e.Classes) == 0 && len(e.Detections) > 0:
			e.UseCase = UseCaseObjectLocalization
		}
		// Guidelines and quotas: at most 50 labels per image. AWS names
		// no code for it; the line is refused with the attribute-format
		// code so that it is reported rather than silently truncated.
		if n := len(e.Labels()); n > MaxLabelsPerImage {
			e.lineError(CodeInvalidLabelAttributeFormat,
				fmt.Sprintf("The format of the label attribute {} is invalid: the image has %d labels; the maximum is %d.", n, MaxLabelsPerImage))
		}
	}
	if e.Labeled() {
		return
	}
	// AWS's ERROR_UNSUPPORTED_USE_CASE_TYPE example pairs the metadata
	// error with a line-level ERROR_NO_VALID_LABEL_ATTRIBUTES.
	if p.unsupported > 0 && e.Anomaly == nil && len(e.Detections) == 0 {
		e.lineError(CodeNoValidLabelAttributes, "")
		return
	}
	if e.HasErrors() {
		return
	}
	switch {
	case len(e.Detections) > 0:
		e.addIssue(Issue{Code: CodeWarnNoAnnotations, Scope: ScopeLine})
	case e.Anomaly != nil:
		// Lookout for Vision: a class other than normal/anomaly, or a
		// lone mask, is an unlabeled image, which L4V datasets allow.
	default:
		e.lineError(CodeNoValidLabelAttributes, "")
	}
}

// dateLayouts are the creation-date formats seen in real manifests: Ground
// Truth's ISO forms with and without fraction and zone, a space instead of
// the T, and JavaScript's Date.toString() (AWS's cookie data set).
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
	"Mon Jan 02 2006 15:04:05 GMT-0700",
	"Mon Jan 2 2006 15:04:05 GMT-0700",
	"2006-01-02",
}

// parseDate returns the zero time for an absent or unknown date: dates are
// informational and AWS does not refuse lines for them.
func parseDate(raw json.RawMessage) time.Time {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		var n float64 // epoch seconds, seen in hand-made manifests
		if len(raw) > 0 && json.Unmarshal(raw, &n) == nil && n > 0 && n < 1e11 {
			sec, frac := math.Modf(n)
			return time.Unix(int64(sec), int64(frac*1e9)).UTC()
		}
		return time.Time{}
	}
	s = strings.TrimSpace(s)
	if i := strings.Index(s, " ("); i > 0 { // "... GMT-0700 (Pacific Daylight Time)"
		s = s[:i]
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
