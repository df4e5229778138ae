package manifest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestLineCodes gives one line per AWS per-line code and checks that it
// yields exactly that code (box errors sit next to a valid box, so that the
// line-level ERROR_NO_VALID_ANNOTATIONS does not join in).
func TestLineCodes(t *testing.T) {
	root := testBucket(t)
	const ok = "s3://bkt/img.jpg"
	many := make([]box, 51)
	for i := range many {
		many[i] = box{1, float64(i), 10, 10, 10}
	}
	good := box{1, 399, 251, 155, 101}
	tests := []struct {
		name  string
		line  string
		codes []string
		state string // valid, invalid, ignored
	}{
		{"valid classification", cls(ok, "", "cat"), nil, "valid"},
		{"valid detection", det(ok, echo, -1, good, box{0, 86, 65, 220, 334}), nil, "valid"},
		{"missing source-ref", strings.Replace(cls(ok, "", "cat"), `"source-ref"`, `"source_ref"`, 1), []string{CodeMissingSourceRef}, "invalid"},
		{"https source-ref", cls("https://bkt/img.jpg", "", "cat"), []string{CodeInvalidSourceRefFormat}, "invalid"},
		{"relative source-ref without base", cls("img.jpg", "", "cat"), []string{CodeInvalidSourceRefFormat}, "invalid"},
		{"source-ref not a string", strings.Replace(cls(ok, "", "cat"), `"s3://bkt/img.jpg"`, `7`, 1), []string{CodeInvalidSourceRefFormat}, "invalid"},
		{"no label attributes", `{"source-ref":"s3://bkt/img.jpg","bounding-box":{"image_size":[{"width":640,"height":480,"depth":3}],"annotations":[]}}`, []string{CodeNoLabelAttributes}, "invalid"},
		{"orphan metadata", `{"source-ref":"s3://bkt/img.jpg","animal-metadata":{"class-name":"cat"}}`, []string{CodeNoLabelAttributes}, "invalid"},
		{"label attribute format", strings.Replace(cls(ok, "", "cat"), `"animal":1`, `"animal":"cat"`, 1), []string{CodeInvalidLabelAttributeFormat}, "invalid"},
		{"detection attribute format", `{"source-ref":"s3://bkt/img.jpg","bb":{"annotations":{}},"bb-metadata":{"type":"groundtruth/object-detection","class-map":{}}}`, []string{CodeInvalidLabelAttributeFormat}, "invalid"},
		{"metadata format", strings.Replace(cls(ok, "", "cat"), `"class-name":"cat",`, ``, 1), []string{CodeInvalidLabelAttributeMetadataFormat}, "invalid"},
		{"metadata not an object", `{"source-ref":"s3://bkt/img.jpg","animal":1,"animal-metadata":"cat"}`, []string{CodeInvalidLabelAttributeMetadataFormat}, "invalid"},
		{"unsupported type", strings.Replace(cls(ok, "", "cat"), `groundtruth/image-classification`, `groundtruth/wrongtype`, 1), []string{CodeNoValidLabelAttributes, CodeUnsupportedUseCaseType}, "invalid"},
		{"unsupported next to a valid one", strings.Replace(cls(ok, "", "cat"), `}}`, `},"bb":"x","bb-metadata":{"type":"groundtruth/video-object-tracking"}}`, 1), []string{CodeUnsupportedUseCaseType}, "valid"},
		{"label name length", cls(ok, "", strings.Repeat("x", 257)), []string{CodeInvalidLabelNameLength}, "invalid"},
		{"box label name length", det(ok, map[string]string{"0": "Echo", "1": strings.Repeat("y", 300)}, -1, box{0, 86, 65, 220, 334}, box{1, 10, 10, 40, 40}), []string{CodeInvalidLabelNameLength}, "valid"},
		{"detection image too small", strings.NewReplacer(`"width":640`, `"width":32`, `"height":480`, `"height":32`).Replace(det("s3://bkt/tiny.jpg", echo, -1, box{1, 1, 1, 20, 20})), []string{CodeInvalidImageDimension}, "invalid"},
		{"missing box confidence", det(ok, echo, 1, good, box{0, 86, 65, 220, 334}), []string{CodeMissingBoundingBoxConfidence}, "valid"},
		{"missing class map id", det(ok, echo, -1, good, box{7, 86, 65, 220, 334}), []string{CodeMissingClassMapID}, "valid"},
		{"negative box", det(ok, echo, -1, good, box{0, -5, 65, 220, 334}), []string{CodeInvalidBoundingBox}, "valid"},
		{"box off frame", det(ok, echo, -1, good, box{0, 500, 65, 220, 334}), []string{CodeInvalidBoundingBox}, "valid"},
		{"box too small", det(ok, echo, -1, good, box{0, 0, 0, 1, 1}), []string{CodeBoundingBoxTooSmall}, "valid"},
		{"too many boxes", det(ok, echo, -1, many...), []string{CodeTooManyBoundingBoxes}, "invalid"},
		{"invalid json", `{"source-ref": "s3://bkt/img.jpg", "animal": 1,`, []string{CodeInvalidJSONLine}, "invalid"},
		{"json array", `[1,2]`, []string{CodeInvalidJSONLine}, "invalid"},
		{"trailing garbage", cls(ok, "", "cat") + "x", []string{CodeInvalidJSONLine}, "invalid"},
		{"missing image", cls("s3://bkt/missing.jpg", "", "cat"), []string{CodeInvalidImage}, "invalid"},
		{"not an image", cls("s3://bkt/notimage.jpg", "", "cat"), []string{CodeInvalidImage}, "invalid"},
		{"image too small", cls("s3://bkt/tiny.jpg", "", "cat"), []string{CodeInvalidImage}, "invalid"},
		{"aspect ratio", cls("s3://bkt/wide.jpg", "", "cat"), []string{CodeInvalidImage}, "invalid"},
		{"image_size mismatch", strings.Replace(det(ok, echo, -1, good), `"width":640`, `"width":800`, 1), []string{CodeInvalidImageDimension}, "invalid"},
		{"image_size zero", strings.Replace(det(ok, echo, -1, good), `"width":640`, `"width":0`, 1), []string{CodeInvalidImageDimension}, "invalid"},
		{"no valid annotations", det(ok, echo, -1, box{0, 600, 65, 220, 334}), []string{CodeInvalidBoundingBox, CodeNoValidAnnotations}, "invalid"},
		{"unannotated", `{"source-ref":"s3://bkt/img.jpg"}`, []string{CodeWarnUnannotatedRecord}, "ignored"},
		{"no annotations", det(ok, echo, -1), []string{CodeWarnNoAnnotations, CodeWarnNoAttributeAnnotations}, "ignored"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, _ := validate(t, root, Options{}, tc.line)
			if len(es) != 1 {
				t.Fatalf("%d entries", len(es))
			}
			e := es[0]
			got := e.Codes()
			want := append([]string(nil), tc.codes...)
			if len(got) == 0 {
				got = nil
			}
			sortStrings(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("codes = %v, want %v; issues %+v", got, want, e.Issues)
			}
			state := "valid"
			if e.Invalid() {
				state = "invalid"
			} else if e.Ignored() {
				state = "ignored"
			}
			if state != tc.state {
				t.Errorf("state = %s, want %s", state, tc.state)
			}
			for _, is := range e.Issues {
				if is.Message == "" || strings.Contains(is.Message, "{}") {
					t.Errorf("issue %s has message %q", is.Code, is.Message)
				}
			}
			// The rendered line is JSON and carries every code.
			out := e.JSONLine()
			var v map[string]any
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("JSONLine %s: %v", out, err)
			}
			for _, c := range tc.codes {
				if !strings.Contains(string(out), `"code":"`+c+`"`) {
					t.Errorf("JSONLine lacks %s: %s", c, out)
				}
			}
		})
	}
}

func sortStrings(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

// TestJSONLinePlacement checks that errors land where AWS puts them: box
// errors in the annotation, metadata errors in the -metadata object, image
// errors at the top, then cl-metadata.
func TestJSONLinePlacement(t *testing.T) {
	e := ParseLine([]byte(det("s3://b/i.jpg", echo, -1, box{1, 0, 0, 1, 1}, box{0, 86, 65, 220, 334})), ParseOptions{})
	var v struct {
		BB struct {
			Annotations []struct {
				Errors []codeMessage `json:"cl-errors"`
			} `json:"annotations"`
		} `json:"bounding-box"`
		CL struct {
			IsLabeled bool `json:"is_labeled"`
		} `json:"cl-metadata"`
	}
	out0 := e.JSONLine()
	if err := json.Unmarshal(out0, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.BB.Annotations) != 2 || len(v.BB.Annotations[0].Errors) != 1 || v.BB.Annotations[0].Errors[0].Code != CodeBoundingBoxTooSmall ||
		v.BB.Annotations[1].Errors != nil || !v.CL.IsLabeled {
		t.Fatalf("bad placement: %s", out0)
	}
	if !strings.HasSuffix(string(out0), `"cl-metadata":{"is_labeled":true}}`) {
		t.Errorf("cl-metadata not last: %s", out0)
	}
	// Rendering a rendered line gives the same line.
	again := ParseLine(out0, ParseOptions{}).JSONLine()
	if string(again) != string(out0) {
		t.Errorf("not stable:\n%s\n%s", out0, again)
	}

	m := ParseLine([]byte(`{"source-ref":"s3://b/i.jpg","animal":1,"animal-metadata":{"type":"groundtruth/image-classification"}}`), ParseOptions{})
	var out string
	out = string(m.JSONLine())
	want := `{"source-ref":"s3://b/i.jpg","animal":1,"animal-metadata":{"type":"groundtruth/image-classification","cl-errors":[{"code":"ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT","message":"The format of the label attribute metadata is invalid: animal-metadata has no class-name."}]},"cl-metadata":{"is_labeled":false}}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	// The validation manifest says "errors" and has no cl-metadata.
	if got := string(m.ValidationLine()); got != strings.NewReplacer(`"cl-errors"`, `"errors"`, `,"cl-metadata":{"is_labeled":false}`, ``).Replace(want) {
		t.Errorf("validation line %s", got)
	}
	// Stale issues from an earlier rendering go away; the user's own
	// members named errors elsewhere stay.
	fixed := strings.Replace(out, `"type":"groundtruth/image-classification"`, `"type":"groundtruth/image-classification","class-name":"cat"`, 1)
	fixed = strings.Replace(fixed, `{"source-ref"`, `{"extra":{"errors":1},"source-ref"`, 1)
	if got := string(ParseLine([]byte(fixed), ParseOptions{}).JSONLine()); got != `{"extra":{"errors":1},"source-ref":"s3://b/i.jpg","animal":1,"animal-metadata":{"type":"groundtruth/image-classification","class-name":"cat"},"cl-metadata":{"is_labeled":true}}` {
		t.Errorf("stale issues kept: %s", got)
	}

	bad := ParseLine([]byte(`{"source-ref": "s3://b`), ParseOptions{})
	if out := string(bad.JSONLine()); !strings.HasPrefix(out, `{"cl-errors":[{"code":"ERROR_INVALID_JSON_LINE"`) || !strings.HasSuffix(out, `"cl-metadata":{"is_labeled":false}}`) {
		t.Errorf("invalid JSON line rendered as %s", out)
	}
	un := ParseLine([]byte(`{"source-ref":"s3://b/i.jpg"}`), ParseOptions{})
	if out := string(un.JSONLine()); out != `{"source-ref":"s3://b/i.jpg","warnings":[{"code":"WARNING_UNANNOTATED_RECORD","message":"Record is unannotated."}],"cl-metadata":{"is_labeled":false}}` {
		t.Errorf("unannotated rendered as %s", out)
	}
}

func TestLenient(t *testing.T) {
	lines := []string{
		// Unknown members, a huge integer value, no confidence, a space in the date.
		`{"source-ref":"s3://b/i.jpg","extra":{"x":[1,2]},"a":123456789012345678901234567890,"a-metadata":{"class-name":"cat","type":"groundtruth/image-classification","creation-date":"2020-04-15 20:17:23","foo":"bar"}}`,
		// No type at all: inferred from the shape.
		`{"source-ref":"s3://b/i.jpg","a":0,"a-metadata":{"class-name":"cat"}}`,
		// Upper-case scheme.
		`{"source-ref":"S3://b/i.jpg","a":0,"a-metadata":{"class-name":"cat"}}`,
	}
	for _, l := range lines {
		e := ParseLine([]byte(l), ParseOptions{})
		if e.HasErrors() || !e.Labeled() || e.UseCase != UseCaseImageLevelLabels {
			t.Errorf("%s: issues %+v", l, e.Issues)
		}
	}
	dates := map[string]time.Time{
		`"2020-04-15T20:17:23.433061"`:                                time.Date(2020, 4, 15, 20, 17, 23, 433061000, time.UTC),
		`"2022-08-22T20:52:51.851Z"`:                                  time.Date(2022, 8, 22, 20, 52, 51, 851000000, time.UTC),
		`"2013-11-18T02:53:27"`:                                       time.Date(2013, 11, 18, 2, 53, 27, 0, time.UTC),
		`"2021-10-12T14:16:45+02:00"`:                                 time.Date(2021, 10, 12, 12, 16, 45, 0, time.UTC),
		`"Mon Aug 22 2022 13:52:52 GMT-0700 (Pacific Daylight Time)"`: time.Date(2022, 8, 22, 20, 52, 52, 0, time.UTC),
		`"yesterday"`:                                                 {},
		`17`:                                                          time.Unix(17, 0).UTC(),
	}
	for in, want := range dates {
		if got := parseDate(json.RawMessage(in)); !got.Equal(want) {
			t.Errorf("parseDate(%s) = %v, want %v", in, got, want)
		}
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		ref  string
		opts ParseOptions
		loc  string
		ok   bool
	}{
		{"s3://b/k/x.jpg", ParseOptions{}, "s3://b/k/x.jpg", true},
		{"s3://b/", ParseOptions{}, "", false},
		{"s3:///k", ParseOptions{}, "", false},
		{"x.jpg", ParseOptions{Base: "s3://b/pre/"}, "s3://b/pre/x.jpg", true},
		{"./d/x.jpg", ParseOptions{Base: "s3://b/pre"}, "s3://b/pre/d/x.jpg", true},
		{"../../x.jpg", ParseOptions{Base: "s3://b/pre"}, "", false},
		{"d/x.jpg", ParseOptions{Base: "/data"}, "/data/d/x.jpg", true},
		{"../x.jpg", ParseOptions{Base: "/data"}, "", false},
		{"/data/x.jpg", ParseOptions{}, "", false},
		{"/data/x.jpg", ParseOptions{AllowFilePaths: true}, "/data/x.jpg", true},
		{"file:///data/x.jpg", ParseOptions{AllowFilePaths: true}, "/data/x.jpg", true},
		{"https://b/x.jpg", ParseOptions{Base: "s3://b/"}, "", false},
	}
	for _, tc := range tests {
		loc, _, ok := resolve(tc.ref, tc.opts)
		if loc != tc.loc || ok != tc.ok {
			t.Errorf("resolve(%q, %+v) = %q, %v; want %q, %v", tc.ref, tc.opts, loc, ok, tc.loc, tc.ok)
		}
	}
}

func TestLookoutForVisionLine(t *testing.T) {
	l := `{"source-ref":"s3://bucket/a.jpg","anomaly-label":1,"anomaly-label-metadata":{"class-name":"anomaly","type":"groundtruth/image-classification","human-annotated":"yes","creation-date":"2021-10-12T14:16:45.668"},"anomaly-mask-ref":"s3://bucket/a-mask.png","anomaly-mask-ref-metadata":{"internal-color-map":{"0":{"class-name":"BACKGROUND","hex-color":"#ffffff","confidence":0.0},"1":{"class-name":"scratch","hex-color":"#2ca02c","confidence":0.0}},"type":"groundtruth/semantic-segmentation","human-annotated":"yes","creation-date":"2021-11-23T20:31:57"}}`
	e := ParseLine([]byte(l), ParseOptions{Service: LookoutForVision})
	if e.HasErrors() || e.Anomaly == nil || !e.Anomaly.Anomalous || e.Anomaly.Mask != "s3://bucket/a-mask.png" ||
		len(e.Anomaly.Colors) != 2 || e.Anomaly.Colors[1].ClassName != "scratch" || e.Anomaly.Colors[1].HexColor != "#2CA02C" ||
		e.UseCase != UseCaseAnomalySegmentation {
		t.Fatalf("%+v %+v", e.Issues, e.Anomaly)
	}
	// Any other class is an unlabeled image in Lookout for Vision.
	o := ParseLine([]byte(cls("s3://b/i.jpg", "", "cat")), ParseOptions{Service: LookoutForVision})
	if o.HasErrors() || o.Labeled() || !o.Ignored() {
		t.Fatalf("other class: %+v", o.Issues)
	}
	// A bad colour is a metadata error.
	b := ParseLine([]byte(strings.Replace(l, `#2ca02c`, `green`, 1)), ParseOptions{Service: LookoutForVision})
	if got := b.Codes(); !reflect.DeepEqual(got, []string{CodeInvalidLabelAttributeMetadataFormat}) {
		t.Fatalf("bad colour: %v", got)
	}
	// Custom Labels does not train on masks (an error on the mask's
	// metadata) but keeps the classification.
	c := ParseLine([]byte(l), ParseOptions{})
	if c.Invalid() || !reflect.DeepEqual(c.Codes(), []string{CodeUnsupportedUseCaseType}) || !reflect.DeepEqual(c.Labels(), []string{"anomaly"}) {
		t.Fatalf("custom labels: %+v %v", c.Issues, c.Labels())
	}
}

func TestTooManyLabelsPerImage(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"source-ref":"s3://b/i.jpg"`)
	for i := range 51 {
		a := "l" + string(rune('A'+i/26)) + string(rune('a'+i%26))
		b.WriteString(`,"` + a + `":1,"` + a + `-metadata":{"class-name":"` + a + `"}`)
	}
	b.WriteString("}")
	e := ParseLine([]byte(b.String()), ParseOptions{})
	if !e.Invalid() || !reflect.DeepEqual(e.Codes(), []string{CodeInvalidLabelAttributeFormat}) {
		t.Fatalf("%v", e.Codes())
	}
}

func TestFolders(t *testing.T) {
	for rel, want := range map[string]string{"cat/1.jpg": "cat", "a/b/dog/x.PNG": "dog", "x.jpg": "", "cat/notes.txt": "", ".git/x.png": "", "/cat/2.jpeg": "cat"} {
		got, ok := FolderLabel(rel)
		if got != want || ok != (want != "") {
			t.Errorf("FolderLabel(%q) = %q, %v", rel, got, ok)
		}
	}
	l := ClassificationLine("s3://b/cat/1.jpg", "", `ca"t`, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	e := ParseLine(l, ParseOptions{})
	if e.HasErrors() || !reflect.DeepEqual(e.Labels(), []string{`ca"t`}) || e.Classes[0].CreationDate.IsZero() {
		t.Fatalf("%s: %+v", l, e.Issues)
	}
}

func TestEveryCodeHasAMessage(t *testing.T) {
	codes := []string{CodeMissingSourceRef, CodeInvalidSourceRefFormat, CodeNoLabelAttributes, CodeInvalidLabelAttributeFormat,
		CodeInvalidLabelAttributeMetadataFormat, CodeNoValidLabelAttributes, CodeMissingBoundingBoxConfidence, CodeMissingClassMapID,
		CodeInvalidBoundingBox, CodeBoundingBoxTooSmall, CodeTooManyBoundingBoxes, CodeInvalidJSONLine, CodeInvalidImage,
		CodeInvalidImageDimension, CodeNoValidAnnotations, CodeUnsupportedUseCaseType, CodeInvalidLabelNameLength,
		CodeWarnUnannotatedRecord, CodeWarnNoAnnotations, CodeWarnNoAttributeAnnotations,
		CodeManifestInaccessibleOrUnsupportedFormat, CodeEmptyManifest, CodeManifestSizeTooLarge, CodeManifestRowsExceedsMaximum,
		CodeManifestTooManyLabels, CodeTooManyInvalidRowsInManifest, CodeImagesInMultipleS3Buckets, CodeManifestTooFewLabels}
	for _, c := range codes {
		if Message(c) == "" || !strings.HasSuffix(Message(c), ".") {
			t.Errorf("%s: message %q", c, Message(c))
		}
	}
	if len(messages) != len(codes) {
		t.Errorf("%d messages for %d codes", len(messages), len(codes))
	}
}
