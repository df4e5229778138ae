package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Custom Moderation training manifests: one JSON object a line,
//
//	{"source-ref":"s3://bucket/key.jpg","content-moderation-groundtruth":{"ModerationLabels":[{"Name":"Gambling"}]}}
//
// where an empty list marks a safe image. The label names are top-level
// categories of the moderation taxonomy; the caller resolves them.

// ModerationAttribute is the label attribute of a Custom Moderation line.
const ModerationAttribute = "content-moderation-groundtruth"

// MaxModerationLines is AWS's limit of images in an adapter's manifests.
const MaxModerationLines = 10_000

// ModerationEntry is one valid line of a Custom Moderation manifest.
type ModerationEntry struct {
	Line      int    // 1-based line number
	SourceRef string // s3://bucket/key
	Bucket    string
	Key       string
	Labels    []string // resolved top-level categories, no repeats, in line order
	Raw       []byte   // the line as read
}

// ModerationError is a line that is not valid: its line number, the AWS
// code (ERROR_*) and a message saying what is wrong.
type ModerationError struct {
	Line    int
	Code    string
	Message string
}

func (e *ModerationError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Code, e.Message)
}

// ParseModerationLine parses line number n. resolve maps a label name to
// its top-level category or says why it cannot (the error's text goes
// into the line's message).
func ParseModerationLine(line []byte, n int, resolve func(string) (string, error)) (*ModerationEntry, *ModerationError) {
	bad := func(code, detail string) (*ModerationEntry, *ModerationError) {
		msg := strings.ReplaceAll(Message(code), "{}", ModerationAttribute)
		if detail != "" {
			msg += " " + detail
		}
		return nil, &ModerationError{Line: n, Code: code, Message: msg}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil || obj == nil {
		return bad(CodeInvalidJSONLine, "The line is not one JSON object.")
	}
	rawRef, ok := obj["source-ref"]
	if !ok {
		return bad(CodeMissingSourceRef, "")
	}
	var ref string
	if json.Unmarshal(rawRef, &ref) != nil {
		return bad(CodeInvalidSourceRefFormat, "source-ref must be a string s3://bucket/key.")
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(ref, "s3://"), "/")
	if !strings.HasPrefix(ref, "s3://") || !ok || bucket == "" || key == "" {
		return bad(CodeInvalidSourceRefFormat, fmt.Sprintf("%q is not s3://bucket/key.", ref))
	}
	rawGT, ok := obj[ModerationAttribute]
	if !ok {
		return bad(CodeNoLabelAttributes, "The line has no "+ModerationAttribute+" attribute.")
	}
	var gt struct {
		ModerationLabels *[]struct {
			Name *string
		}
	}
	if err := json.Unmarshal(rawGT, &gt); err != nil || gt.ModerationLabels == nil {
		return bad(CodeInvalidLabelAttributeFormat, `It must be {"ModerationLabels":[{"Name":"<top-level category>"}, ...]} (an empty list for a safe image).`)
	}
	e := &ModerationEntry{Line: n, SourceRef: ref, Bucket: bucket, Key: key, Labels: []string{}, Raw: line}
	for _, l := range *gt.ModerationLabels {
		if l.Name == nil || *l.Name == "" {
			return bad(CodeInvalidLabelAttributeFormat, "A ModerationLabels entry has no Name.")
		}
		top, err := resolve(*l.Name)
		if err != nil {
			return bad(CodeInvalidLabelAttributeFormat, err.Error())
		}
		if !contains(e.Labels, top) {
			e.Labels = append(e.Labels, top)
		}
	}
	return e, nil
}

// ReadModeration reads a whole Custom Moderation manifest of at most
// maxBytes, line by line: blank lines are skipped, the first invalid line
// ends the read with its error, as do an empty manifest and one over
// MaxModerationLines.
func ReadModeration(r io.Reader, maxBytes int64, resolve func(string) (string, error)) ([]*ModerationEntry, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, maxBytes+1), 64<<10)
	var out []*ModerationEntry
	var read int64
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		read += int64(len(line))
		if read > maxBytes {
			return nil, &ModerationError{Code: CodeManifestSizeTooLarge, Message: fmt.Sprintf("%s It is larger than %d bytes.", Message(CodeManifestSizeTooLarge), maxBytes)}
		}
		if len(line) > MaxLineChars {
			return nil, &ModerationError{Line: n, Code: CodeInvalidJSONLine, Message: fmt.Sprintf("%s The line is longer than %d characters.", Message(CodeInvalidJSONLine), MaxLineChars)}
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			if len(out) == MaxModerationLines {
				return nil, &ModerationError{Code: CodeManifestRowsExceedsMaximum, Message: fmt.Sprintf("%s An adapter is trained on at most %d images.", Message(CodeManifestRowsExceedsMaximum), MaxModerationLines)}
			}
			e, perr := ParseModerationLine(t, n, resolve)
			if perr != nil {
				return nil, perr
			}
			out = append(out, e)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, &ModerationError{Code: CodeEmptyManifest, Message: Message(CodeEmptyManifest)}
	}
	return out, nil
}
