package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// FuzzParseLine feeds arbitrary lines to the parser: it must never panic,
// and whatever it reads it must render back as one valid JSON object.
// Seeds: testdata/fuzz/FuzzParseLine plus the lines below.
func FuzzParseLine(f *testing.F) {
	f.Add([]byte(cls("s3://b/i.jpg", "", "cat")), false)
	f.Add([]byte(det("s3://b/i.jpg", echo, -1, box{1, 10, 10, 50, 50}, box{7, -1, 0, 1, 1})), false)
	f.Add([]byte(`{"source-ref":"a.jpg","anomaly-label":1,"anomaly-label-metadata":{"class-name":"anomaly"},"anomaly-mask-ref":"m.png","anomaly-mask-ref-metadata":{"internal-color-map":{"0":{"class-name":"x","hex-color":"#23A436"}},"type":"groundtruth/semantic-segmentation"}}`), true)
	if b, err := os.ReadFile("../../../shared/datasets/lookout-cookies/manifests/template.manifest"); err == nil {
		for _, l := range strings.SplitN(string(b), "\n", 3)[:2] {
			f.Add([]byte(l), true)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte, l4v bool) {
		opts := ParseOptions{Base: "s3://b/p/"}
		if l4v {
			opts.Service = LookoutForVision
		}
		e := ParseLine(line, opts)
		out := e.JSONLine()
		var v map[string]json.RawMessage
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("JSONLine of %q is not a JSON object: %v\n%s", line, err, out)
		}
		if _, ok := v["cl-metadata"]; !ok {
			t.Fatalf("no cl-metadata: %s", out)
		}
		_ = e.Labels()
		_ = e.Codes()
		if e.Invalid() && e.Ignored() {
			t.Fatal("invalid and ignored")
		}
		for _, is := range e.Issues {
			if messages[is.Code] == "" || is.Message == "" {
				t.Fatalf("issue without code or message: %+v", is)
			}
		}
		// A rendered line reads back with the same codes, unless the input
		// had duplicate keys (the later one wins, as in encoding/json).
		again := ParseLine(out, opts)
		if strings.Join(again.Codes(), ",") != strings.Join(e.Codes(), ",") && len(e.members) == len(v)-1 {
			t.Logf("codes changed on re-read: %v -> %v", e.Codes(), again.Codes())
		}
	})
}

// FuzzValidate streams arbitrary manifests (no prober): it must not panic,
// every line must be emitted once in order, and the counts must add up.
func FuzzValidate(f *testing.F) {
	f.Add([]byte(cls("s3://b/1.jpg", "", "a")+"\r\n\n"+cls("s3://b/1.jpg", "", "b")+"\n"+"{\"source-ref\":"), uint8(0))
	f.Add([]byte("\xef\xbb\xbf"+det("s3://b/i.jpg", echo, -1, box{1, 10, 10, 50, 50})), uint8(3))
	f.Add([]byte("\x00\x01"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, maxLines uint8) {
		n := 0
		s, err := Validate(context.Background(), bytes.NewReader(data), Options{MaxLines: int(maxLines)}, func(e *Entry) error {
			n++
			if e.Line != n {
				t.Fatalf("entry %d has line %d", n, e.Line)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != s.TotalLines {
			t.Fatalf("%d emitted, %d lines", n, s.TotalLines)
		}
		if s.ValidLines+s.InvalidLines+s.IgnoredLines != s.TotalLines || len(s.ErrorLineIndices) > s.TotalLines {
			t.Fatalf("counts %+v", s)
		}
	})
}

// FuzzRead: the command line's lenient reader never panics, and every
// entry it returns has a source-ref (moved here with the reader from
// internal/vision/manifest).
func FuzzRead(f *testing.F) {
	f.Add(readSample)
	f.Fuzz(func(t *testing.T, s string) {
		for _, svc := range []Service{CustomLabels, LookoutForVision} {
			es, _, _ := Read(strings.NewReader(s), ParseOptions{Service: svc, AllowFilePaths: true})
			for _, e := range es {
				if e.SourceRef == "" {
					t.Fatalf("line %d used without a source-ref", e.Line)
				}
			}
		}
	})
}
