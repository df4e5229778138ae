package manifest

import (
	"strings"
	"testing"
)

const sample = `{"source-ref":"s3://bucket/img/1.jpg","my-label":1,"my-label-metadata":{"class-name":"Echo Dot","confidence":1,"human-annotated":"yes","type":"groundtruth/image-classification","job-name":"labeling-job/x"}}
{"source-ref":"s3://bucket/img/2.png","bounding-box":{"image_size":[{"width":640,"height":480,"depth":3}],"annotations":[{"class_id":1,"top":251,"left":399,"width":155,"height":101}]},"bounding-box-metadata":{"objects":[{"confidence":1}],"class-map":{"1":"Echo Dot"},"type":"groundtruth/object-detection","human-annotated":"yes"}}
not json
{"source-ref":"a/3.jpg","a":1,"a-metadata":{"class-name":"x"},"b":0,"b-metadata":{"class-name":"y"}}
{"source-ref":"4.jpg"}
`

func TestRead(t *testing.T) {
	es, skipped, err := Read(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || len(skipped) != 2 || skipped[0] != 3 || skipped[1] != 5 {
		t.Fatalf("entries %d skipped %v", len(es), skipped)
	}
	if es[0].Labels[0] != "Echo Dot" || es[0].Detection {
		t.Errorf("line 1: %+v", es[0])
	}
	b := es[1].Boxes
	if !es[1].Detection || len(b) != 1 || b[0].Label != "Echo Dot" || b[0].Left != 399 || es[1].ImageW != 640 {
		t.Errorf("line 2: %+v", es[1])
	}
	if len(es[2].Labels) != 2 {
		t.Errorf("line 4: %+v", es[2])
	}
}

func TestResolve(t *testing.T) {
	if got := Resolve("s3://b/k/x.jpg", "/m", "/root"); got != "/root/b/k/x.jpg" {
		t.Error(got)
	}
	if got := Resolve("img/x.jpg", "/m", "/root"); got != "/m/img/x.jpg" {
		t.Error(got)
	}
	if got := Resolve("/abs/x.jpg", "/m", "/root"); got != "/abs/x.jpg" {
		t.Error(got)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(sample)
	f.Fuzz(func(t *testing.T, s string) {
		Read(strings.NewReader(s))
	})
}
