package manifest

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// UseCase is what a line (or a whole manifest) teaches. The first three are
// the values of use_case in the Custom Labels manifest summary.
type UseCase string

const (
	UseCaseNotDetermined      UseCase = "NOT_DETERMINED"
	UseCaseImageLevelLabels   UseCase = "IMAGE_LEVEL_LABELS"
	UseCaseObjectLocalization UseCase = "OBJECT_LOCALIZATION"
	// Lookout for Vision: normal/anomaly classification, and the same with
	// an anomaly mask (segmentation).
	UseCaseAnomalyClassification UseCase = "ANOMALY_CLASSIFICATION"
	UseCaseAnomalySegmentation   UseCase = "ANOMALY_SEGMENTATION"
)

// Scope says where in the JSON line AWS places an issue when it renders the
// line back (validation manifests, ListDatasetEntries): at the top level,
// inside the label attribute object, inside its -metadata object, or inside
// one annotation (bounding box) of the attribute.
type Scope int

const (
	ScopeLine Scope = iota
	ScopeAttribute
	ScopeMetadata
	ScopeAnnotation
)

// Issue is one error or warning found on a line.
type Issue struct {
	Code    string
	Message string
	Scope   Scope
	// Attribute names the label attribute for the non-line scopes; Index
	// is the annotation's position for ScopeAnnotation.
	Attribute string
	Index     int
}

// Warning reports whether the issue is a warning (the line stays usable
// or is merely ignored) rather than an error.
func (i Issue) Warning() bool { return strings.HasPrefix(i.Code, "WARNING_") }

// ClassLabel is one image-level label: a classification attribute, or one
// class of a Ground Truth multi-label attribute.
type ClassLabel struct {
	Attribute      string
	Name           string
	Confidence     *float64
	HumanAnnotated string
	// CreationDate is zero when the manifest's date is in no format we
	// know; the raw string stays in the line.
	CreationDate time.Time
}

// Detection is one object-detection attribute.
type Detection struct {
	Attribute                           string
	ImageWidth, ImageHeight, ImageDepth int
	Boxes                               []Box
	HumanAnnotated                      string
	CreationDate                        time.Time
}

// Box is one annotation, in pixels from the top-left corner as the manifest
// has it. Valid is false when the box carries an error and is not used.
type Box struct {
	ClassID                  int
	Label                    string
	Left, Top, Width, Height float64
	Confidence               *float64
	Valid                    bool
}

// Anomaly is the Lookout for Vision label of an image: normal or anomaly,
// and for segmentation the mask and its colour map.
type Anomaly struct {
	Attribute string
	ClassName string // as written: "normal" or "anomaly" (any case)
	Anomalous bool
	// MaskAttribute, MaskRef (as written) and Mask (resolved like Image)
	// are set when the line carries a semantic-segmentation mask.
	MaskAttribute string
	MaskRef       string
	Mask          string
	Colors        []MaskColor
	CreationDate  time.Time
}

// MaskColor is one internal-color-map entry. BACKGROUND may be absent:
// AWS's own cookie data set omits it.
type MaskColor struct {
	Key       string
	ClassName string
	HexColor  string
}

// ImageInfo is what a prober learned about an image.
type ImageInfo struct {
	Format        string // "jpeg" or "png"
	Width, Height int
	Size          int64 // bytes; 0 when unknown
}

// Entry is one manifest line, parsed and checked. Entries are produced by
// ParseLine and Validate; they hold the original bytes so that they can be
// stored and re-rendered the way ListDatasetEntries returns them.
type Entry struct {
	Line int    // 1-based line number in the manifest (0 for a lone line)
	Raw  []byte // the line as read, without the newline

	SourceRef string // as written
	Image     string // resolved: "s3://bucket/key" or a file path; "" if unresolvable
	Bucket    string // bucket of an s3 Image

	UseCase    UseCase
	Classes    []ClassLabel
	Detections []Detection
	Anomaly    *Anomaly // Lookout for Vision only

	Issues []Issue
	// ImageInfo is set when a prober looked at the image.
	ImageInfo *ImageInfo
	// Duplicate is set on a later line whose source-ref an earlier line
	// already used; AWS keeps one line per image, so it is not counted.
	Duplicate bool

	members []member // top-level members in order, for re-rendering
}

// Labeled reports whether the entry carries at least one usable label
// (the is_labeled of cl-metadata).
func (e *Entry) Labeled() bool {
	if e.Anomaly != nil {
		return e.Anomaly.ClassName != ""
	}
	if len(e.Classes) > 0 {
		return true
	}
	for _, d := range e.Detections {
		for _, b := range d.Boxes {
			if b.Valid {
				return true
			}
		}
	}
	return false
}

// HasErrors reports whether any issue on the line is an error.
func (e *Entry) HasErrors() bool {
	for _, is := range e.Issues {
		if !is.Warning() {
			return true
		}
	}
	return false
}

// Invalid reports whether the line is unusable: a line-level error, or
// errors and nothing usable left. Invalid lines count towards the 20% rule.
func (e *Entry) Invalid() bool {
	for _, is := range e.Issues {
		if is.Scope == ScopeLine && !is.Warning() {
			return true
		}
	}
	return !e.Labeled() && e.HasErrors()
}

// Ignored reports whether the line is valid but unused (no annotations):
// AWS's ignored_json_lines, which do not count as invalid.
func (e *Entry) Ignored() bool { return !e.Invalid() && !e.Labeled() }

// Codes returns the distinct issue codes of the line, sorted.
func (e *Entry) Codes() []string {
	seen := map[string]bool{}
	var out []string
	for _, is := range e.Issues {
		if !seen[is.Code] {
			seen[is.Code] = true
			out = append(out, is.Code)
		}
	}
	sort.Strings(out)
	return out
}

// Labels returns the distinct label names the entry uses (image-level
// labels and labels of valid boxes; "normal"/"anomaly" for Lookout for
// Vision), sorted. This is what ContainsLabels filters on.
func (e *Entry) Labels() []string {
	seen := map[string]bool{}
	for _, c := range e.Classes {
		seen[c.Name] = true
	}
	for _, d := range e.Detections {
		for _, b := range d.Boxes {
			if b.Valid {
				seen[b.Label] = true
			}
		}
	}
	if e.Anomaly != nil && e.Anomaly.ClassName != "" {
		seen[strings.ToLower(e.Anomaly.ClassName)] = true
	}
	out := make([]string, 0, len(seen))
	for l := range seen {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// boxLabels returns the labels that appear on valid boxes.
func (e *Entry) boxLabels() map[string]bool {
	m := map[string]bool{}
	for _, d := range e.Detections {
		for _, b := range d.Boxes {
			if b.Valid {
				m[b.Label] = true
			}
		}
	}
	return m
}

func (e *Entry) addIssue(is Issue) {
	if is.Message == "" {
		is.Message = messages[is.Code]
	}
	e.Issues = append(e.Issues, is)
}

func (e *Entry) lineError(code, msg string) {
	e.addIssue(Issue{Code: code, Message: msg, Scope: ScopeLine})
}

// JSONLine renders the entry the way ListDatasetEntries returns it: the
// original line with its members in their original order (values
// compacted), the errors AWS adds as "cl-errors" arrays placed where AWS
// places them (top level, label attribute, its -metadata, each annotation),
// warnings as "warnings", then "cl-metadata":{"is_labeled":bool}. The
// shape follows the developer guide's dataset-entry examples
// ("Non-Terminal JSON Line Validation Errors": ERROR_UNSUPPORTED_USE_CASE_TYPE
// shows cl-errors in the metadata and at the top level next to cl-metadata;
// WARNING_UNANNOTATED_RECORD shows a top-level "warnings"). Members we write
// (cl-errors, errors, warnings, cl-metadata) are replaced wherever they
// appear, so rendering a rendered line again is stable. A line that is not
// JSON is replaced, as AWS does, by a line holding only its errors.
func (e *Entry) JSONLine() []byte { return e.render("cl-errors", true) }

// ValidationLine renders the entry as the training and testing validation
// result manifests have it ("Understanding training and testing validation
// result manifests"): errors in "errors" arrays, no cl-metadata.
func (e *Entry) ValidationLine() []byte { return e.render("errors", false) }

func (e *Entry) render(errKey string, clMeta bool) []byte {
	var line, attrIs, metaIs []Issue
	annIs := map[string]map[int][]Issue{}
	attrs := map[string]bool{}
	for _, d := range e.Detections {
		attrs[d.Attribute] = true
	}
	byKey := map[string]json.RawMessage{}
	for _, m := range e.members {
		byKey[m.key] = m.raw
	}
	for _, is := range e.Issues {
		switch is.Scope {
		case ScopeAttribute:
			// Only an object can carry errors; a classification
			// attribute is a number, so AWS puts its errors in the
			// metadata.
			if isObject(byKey[is.Attribute]) {
				attrIs = append(attrIs, is)
			} else if isObject(byKey[is.Attribute+"-metadata"]) {
				is.Scope = ScopeMetadata
				metaIs = append(metaIs, is)
			} else {
				line = append(line, is)
			}
		case ScopeMetadata:
			if isObject(byKey[is.Attribute+"-metadata"]) {
				metaIs = append(metaIs, is)
			} else {
				line = append(line, is)
			}
		case ScopeAnnotation:
			if annIs[is.Attribute] == nil {
				annIs[is.Attribute] = map[int][]Issue{}
			}
			annIs[is.Attribute][is.Index] = append(annIs[is.Attribute][is.Index], is)
		default:
			line = append(line, is)
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	sep := func() {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
	}
	for _, m := range e.members {
		if ours[m.key] {
			continue
		}
		raw := m.raw
		// Only label attributes and their metadata carry issues; other
		// members are the user's and pass through untouched.
		if base, ok := strings.CutSuffix(m.key, "-metadata"); ok && byKey[base] != nil {
			raw = withIssues(raw, pick(metaIs, base), errKey)
		} else if byKey[m.key+"-metadata"] != nil && isObject(raw) {
			raw = withAnnotationIssues(raw, annIs[m.key], errKey)
			raw = withIssues(raw, pick(attrIs, m.key), errKey)
		}
		sep()
		writeString(&b, m.key)
		b.WriteByte(':')
		// Values are compacted, as AWS returns lines it re-serialised.
		if json.Compact(&b, raw) != nil {
			b.Write(raw)
		}
	}
	errs, warns := split(line)
	if len(errs) > 0 {
		sep()
		writeString(&b, errKey)
		b.WriteByte(':')
		b.Write(issuesJSON(errs))
	}
	if len(warns) > 0 {
		sep()
		b.WriteString(`"warnings":`)
		b.Write(issuesJSON(warns))
	}
	if !clMeta {
		b.WriteByte('}')
		return b.Bytes()
	}
	sep()
	if e.Labeled() {
		b.WriteString(`"cl-metadata":{"is_labeled":true}`)
	} else {
		b.WriteString(`"cl-metadata":{"is_labeled":false}`)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func pick(is []Issue, attr string) []Issue {
	var out []Issue
	for _, i := range is {
		if i.Attribute == attr {
			out = append(out, i)
		}
	}
	return out
}

func split(is []Issue) (errs, warns []Issue) {
	for _, i := range is {
		if i.Warning() {
			warns = append(warns, i)
		} else {
			errs = append(errs, i)
		}
	}
	return errs, warns
}

type codeMessage struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func issuesJSON(is []Issue) []byte {
	out := make([]codeMessage, len(is))
	for i, x := range is {
		out[i] = codeMessage{x.Code, x.Message}
	}
	return marshal(out)
}

// marshal encodes without HTML escaping, so messages read as written.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null")
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

func writeString(b *bytes.Buffer, s string) { b.Write(marshal(s)) }

func isObject(raw json.RawMessage) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// ours are the members rendering writes; they are dropped from the input.
var ours = map[string]bool{"cl-errors": true, "errors": true, "warnings": true, "cl-metadata": true}

// hasOurs is a cheap pre-check before decoding an object to strip stale
// issue members left by an earlier rendering.
func hasOurs(raw []byte) bool {
	return bytes.Contains(raw, []byte(`errors"`)) || bytes.Contains(raw, []byte(`"warnings"`))
}

// withIssues returns the object raw without stale issue members and with
// is added under errKey and "warnings".
func withIssues(raw json.RawMessage, is []Issue, errKey string) json.RawMessage {
	if len(is) == 0 && !hasOurs(raw) {
		return raw
	}
	ms, err := members(raw)
	if err != nil {
		return raw
	}
	errs, warns := split(is)
	var kept []member
	for _, m := range ms {
		if !ours[m.key] {
			kept = append(kept, m)
		}
	}
	if len(errs) > 0 {
		kept = append(kept, member{errKey, issuesJSON(errs)})
	}
	if len(warns) > 0 {
		kept = append(kept, member{"warnings", issuesJSON(warns)})
	}
	return renderObject(kept)
}

// withAnnotationIssues sets the per-annotation issues in the annotations
// array of a detection attribute object.
func withAnnotationIssues(raw json.RawMessage, byIndex map[int][]Issue, errKey string) json.RawMessage {
	if len(byIndex) == 0 && !hasOurs(raw) {
		return raw
	}
	ms, err := members(raw)
	if err != nil {
		return raw
	}
	for i, m := range ms {
		if m.key != "annotations" {
			continue
		}
		var anns []json.RawMessage
		if json.Unmarshal(m.raw, &anns) != nil {
			return raw
		}
		for j := range anns {
			if isObject(anns[j]) {
				anns[j] = withIssues(anns[j], byIndex[j], errKey)
			}
		}
		var b bytes.Buffer
		b.WriteByte('[')
		for j, a := range anns {
			if j > 0 {
				b.WriteByte(',')
			}
			b.Write(a)
		}
		b.WriteByte(']')
		ms[i].raw = b.Bytes()
	}
	return renderObject(ms)
}

func renderObject(ms []member) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(&b, m.key)
		b.WriteByte(':')
		b.Write(m.raw)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// Kept reports whether the entry becomes part of the dataset. AWS drops,
// as "terminal content errors", lines that are not JSON, are too long,
// lack a usable source-ref, or repeat an earlier line's source-ref
// (developer guide, "Terminal errors"); every other line is stored, with
// its errors, and returned by ListDatasetEntries.
func (e *Entry) Kept() bool {
	if e.Duplicate {
		return false
	}
	for _, is := range e.Issues {
		switch is.Code {
		case CodeInvalidJSONLine, CodeMissingSourceRef, CodeInvalidSourceRefFormat:
			return false
		}
	}
	return true
}
