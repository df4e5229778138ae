package manifest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// resolveTop accepts the names a test uses: two top-level categories, an
// old alias, and refuses the rest.
func resolveTop(name string) (string, error) {
	switch name {
	case "Gambling", "Explicit":
		return name, nil
	case "Explicit Nudity":
		return "Explicit", nil
	case "Weapons":
		return "", errors.New(`"Weapons" is a level-2 label.`)
	}
	return "", errors.New(`"` + name + `" is not a moderation label.`)
}

func TestParseModerationLine(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		code       string // "" = valid
		labels     []string
		msg        string // part of the message
	}{
		{"safe image", `{"source-ref":"s3://b/a.jpg","content-moderation-groundtruth":{"ModerationLabels":[]}}`, "", []string{}, ""},
		{"labels resolved, repeats dropped", `{"source-ref":"s3://b/k/a.jpg","content-moderation-groundtruth":{"ModerationLabels":[{"Name":"Gambling"},{"Name":"Explicit Nudity"},{"Name":"Explicit"}]}}`,
			"", []string{"Gambling", "Explicit"}, ""},
		{"not JSON", `{"source-ref":`, CodeInvalidJSONLine, nil, "not one JSON object"},
		{"JSON array", `[1]`, CodeInvalidJSONLine, nil, ""},
		{"no source-ref", `{"content-moderation-groundtruth":{"ModerationLabels":[]}}`, CodeMissingSourceRef, nil, ""},
		{"source-ref a number", `{"source-ref":3,"content-moderation-groundtruth":{"ModerationLabels":[]}}`, CodeInvalidSourceRefFormat, nil, ""},
		{"source-ref not S3", `{"source-ref":"https://x/a.jpg","content-moderation-groundtruth":{"ModerationLabels":[]}}`, CodeInvalidSourceRefFormat, nil, "https://x/a.jpg"},
		{"source-ref without key", `{"source-ref":"s3://bucket","content-moderation-groundtruth":{"ModerationLabels":[]}}`, CodeInvalidSourceRefFormat, nil, ""},
		{"no attribute", `{"source-ref":"s3://b/a.jpg","class":1}`, CodeNoLabelAttributes, nil, ModerationAttribute},
		{"no ModerationLabels", `{"source-ref":"s3://b/a.jpg","content-moderation-groundtruth":{}}`, CodeInvalidLabelAttributeFormat, nil, ModerationAttribute},
		{"ModerationLabels not a list", `{"source-ref":"s3://b/a.jpg","content-moderation-groundtruth":{"ModerationLabels":"Gambling"}}`, CodeInvalidLabelAttributeFormat, nil, ""},
		{"entry without Name", `{"source-ref":"s3://b/a.jpg","content-moderation-groundtruth":{"ModerationLabels":[{}]}}`, CodeInvalidLabelAttributeFormat, nil, "no Name"},
		{"unknown label", `{"source-ref":"s3://b/a.jpg","content-moderation-groundtruth":{"ModerationLabels":[{"Name":"Cats"}]}}`, CodeInvalidLabelAttributeFormat, nil, `"Cats" is not`},
		{"deeper label", `{"source-ref":"s3://b/a.jpg","content-moderation-groundtruth":{"ModerationLabels":[{"Name":"Weapons"}]}}`, CodeInvalidLabelAttributeFormat, nil, "level-2"},
	} {
		e, err := ParseModerationLine([]byte(tc.line), 7, resolveTop)
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if !reflect.DeepEqual(e.Labels, tc.labels) || e.Line != 7 || e.Bucket != "b" || !strings.HasSuffix(e.Key, "a.jpg") {
				t.Errorf("%s: got %+v", tc.name, e)
			}
			continue
		}
		if err == nil || err.Code != tc.code || err.Line != 7 || !strings.Contains(err.Message, tc.msg) {
			t.Errorf("%s: got %v, want %s containing %q", tc.name, err, tc.code, tc.msg)
		}
	}
}

func TestReadModeration(t *testing.T) {
	ok := `{"source-ref":"s3://b/a.jpg","content-moderation-groundtruth":{"ModerationLabels":[]}}`
	es, err := ReadModeration(strings.NewReader(ok+"\n\n"+ok+"\n"), 1<<20, resolveTop)
	if err != nil || len(es) != 2 || es[1].Line != 3 {
		t.Fatalf("got %v %v", es, err)
	}
	var me *ModerationError
	for _, tc := range []struct {
		name, body string
		max        int64
		code       string
		line       int
	}{
		{"empty", "\n \n", 1 << 20, CodeEmptyManifest, 0},
		{"bad third line", ok + "\n" + ok + "\n{", 1 << 20, CodeInvalidJSONLine, 3},
		{"too large", ok + "\n" + ok, int64(len(ok)) + 5, CodeManifestSizeTooLarge, 0},
		{"too many rows", strings.Repeat(ok+"\n", MaxModerationLines+1), 1 << 30, CodeManifestRowsExceedsMaximum, 0},
	} {
		_, err := ReadModeration(strings.NewReader(tc.body), tc.max, resolveTop)
		if !errors.As(err, &me) || me.Code != tc.code || me.Line != tc.line {
			t.Errorf("%s: got %v, want %s at line %d", tc.name, err, tc.code, tc.line)
		}
	}
}
