package manifest

import (
	"strings"
	"testing"
)

// readSample is what `ocellus train` must read: classification, detection,
// a line that is not JSON, a relative ref with minimal metadata, and an
// unannotated line.
const readSample = `{"source-ref":"s3://bucket/img/1.jpg","my-label":1,"my-label-metadata":{"class-name":"Echo Dot","confidence":1,"human-annotated":"yes","type":"groundtruth/image-classification","job-name":"labeling-job/x"}}
{"source-ref":"s3://bucket/img/2.png","bounding-box":{"image_size":[{"width":640,"height":480,"depth":3}],"annotations":[{"class_id":1,"top":251,"left":399,"width":155,"height":101}]},"bounding-box-metadata":{"objects":[{"confidence":1}],"class-map":{"1":"Echo Dot"},"type":"groundtruth/object-detection","human-annotated":"yes"}}
not json
{"source-ref":"a/3.jpg","a":1,"a-metadata":{"class-name":"x"},"b":0,"b-metadata":{"class-name":"y"}}
{"source-ref":"4.jpg"}

{"source-ref":"../up/5.jpg","c":1,"c-metadata":{"class-name":"x"}}
`

func TestRead(t *testing.T) {
	es, skipped, err := Read(strings.NewReader(readSample), ParseOptions{Service: CustomLabels, AllowFilePaths: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4 || len(skipped) != 2 || skipped[0] != 3 || skipped[1] != 5 {
		t.Fatalf("entries %d skipped %v", len(es), skipped)
	}
	if got := es[0].ClassNames(); len(got) != 1 || got[0] != "Echo Dot" || len(es[0].Detections) != 0 || es[0].Line != 1 {
		t.Errorf("line 1: %+v", es[0])
	}
	d := es[1].Detections
	if len(d) != 1 || len(d[0].Boxes) != 1 || d[0].Boxes[0].Label != "Echo Dot" || d[0].Boxes[0].Left != 399 || d[0].ImageWidth != 640 || !d[0].Boxes[0].Valid {
		t.Errorf("line 2: %+v", es[1])
	}
	if got := es[2].ClassNames(); len(got) != 2 || got[0] != "x" || got[1] != "y" || es[2].Line != 4 {
		t.Errorf("line 4: %+v", es[2])
	}
	// A relative ref that climbs out of the manifest's folder is the
	// user's business on the command line: it is read, LocalPath finds it.
	if es[3].SourceRef != "../up/5.jpg" || es[3].Line != 7 {
		t.Errorf("line 7: %+v", es[3])
	}
	if _, _, err := Read(strings.NewReader("not json\n{}\n"), ParseOptions{}); err == nil {
		t.Error("a manifest with no usable line was read")
	}
}

func TestReadLookout(t *testing.T) {
	const m = `{"source-ref":"train/a.jpg","anomaly-label":1,"anomaly-label-metadata":{"class-name":"anomaly","type":"groundtruth/image-classification"},"anomaly-mask-ref":"masks/a.png","anomaly-mask-ref-metadata":{"internal-color-map":{"0":{"class-name":"BACKGROUND","hex-color":"#ffffff"},"1":{"class-name":"crack","hex-color":"#23a436"}},"type":"groundtruth/semantic-segmentation"}}
{"source-ref":"train/b.jpg","anomaly-label":0,"anomaly-label-metadata":{"class-name":"normal","type":"groundtruth/image-classification"}}
`
	es, skipped, err := Read(strings.NewReader(m), ParseOptions{Service: LookoutForVision, Base: "/data"})
	if err != nil || len(es) != 2 || len(skipped) != 0 {
		t.Fatalf("Read = %d entries, skipped %v, %v", len(es), skipped, err)
	}
	a := es[0].Anomaly
	if a == nil || !a.Anomalous || a.MaskRef != "masks/a.png" || a.Mask != "/data/masks/a.png" || len(a.Colors) != 2 {
		t.Fatalf("anomaly line: %+v", a)
	}
	if b := es[1].Anomaly; b == nil || b.Anomalous || b.ClassName != "normal" {
		t.Fatalf("normal line: %+v", b)
	}
}

func TestLocalPath(t *testing.T) {
	for _, c := range []struct{ ref, want string }{
		{"s3://b/k/x.jpg", "/root/b/k/x.jpg"},
		{"img/x.jpg", "/m/img/x.jpg"},
		{"/abs/x.jpg", "/abs/x.jpg"},
		{"file:///abs/x.jpg", "/abs/x.jpg"},
	} {
		if got := LocalPath(c.ref, "/m", "/root"); got != c.want {
			t.Errorf("LocalPath(%q) = %q, want %q", c.ref, got, c.want)
		}
	}
}
