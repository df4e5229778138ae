package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestTooManyInvalidRows(t *testing.T) {
	root := testBucket(t)
	var lines []string
	for i := range 10 {
		lines = append(lines, cls("s3://bkt/img.jpg", "", []string{"cat", "dog"}[i%2]))
	}
	// Different images are needed: the same source-ref twice is a duplicate.
	for i := range lines {
		lines[i] = strings.Replace(lines[i], "img.jpg", []string{"img.jpg", "img2.jpg", "img3.png"}[i%3], 1)
	}
	// 2 of 10 invalid (20%) passes; 3 of 10 fails.
	lines2 := append([]string(nil), lines...)
	lines2[0], lines2[1] = "not json", `{"source-ref":"https://x/y.jpg"}`
	_, s := validate(t, root, Options{}, lines2...)
	if s.Failed() {
		t.Fatalf("20%% invalid failed: %+v", s.Errors)
	}
	lines2[2] = cls("s3://bkt/missing.jpg", "", "cat")
	_, s = validate(t, root, Options{}, lines2...)
	if !s.Failed() || s.Failure.Code != CodeTooManyInvalidRowsInManifest {
		t.Fatalf("30%% invalid: %+v", s.Errors)
	}
	if s.TotalLines != 10 || s.InvalidLines != 3 || !reflect.DeepEqual(s.ErrorLineIndices, []int{1, 2, 3}) {
		t.Fatalf("summary %+v", s)
	}
	// Ignored (unannotated) lines do not count towards the 20%.
	// (No prober here: the images need not exist.)
	var lines3 []string
	for i := range 5 {
		lines3 = append(lines3, cls(fmt.Sprintf("s3://bkt/%d.jpg", i), "", []string{"cat", "dog"}[i%2]))
		lines3 = append(lines3, fmt.Sprintf(`{"source-ref":"s3://bkt/u%d.jpg"}`, i))
	}
	_, s = validate(t, "", Options{}, lines3...)
	if s.Failed() || s.IgnoredLines != 5 {
		t.Fatalf("ignored lines: %+v", s)
	}

	js, err := s.MarshalManifestSummary(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Statistics map[string]map[string]any `json:"statistics"`
	}
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatal(err)
	}
	tr := v.Statistics["training"]
	if tr["use_case"] != "IMAGE_LEVEL_LABELS" || tr["total_json_lines"] != 10.0 || tr["ignored_json_lines"] != 5.0 {
		t.Fatalf("summary JSON %s", js)
	}
}

func TestManifestSummaryJSON(t *testing.T) {
	s := &Summary{UseCase: UseCaseNotDetermined, TotalLines: 301, ValidLines: 146, InvalidLines: 155, ErrorLineIndices: []int{15, 16}}
	s.fail(CodeTooManyInvalidRowsInManifest, "")
	te := &Summary{UseCase: UseCaseObjectLocalization, TotalLines: 15, ValidLines: 15}
	got, err := MarshalManifestSummary(s, te, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"statistics":{"training":{"use_case":"NOT_DETERMINED","total_json_lines":301,"valid_json_lines":146,"invalid_json_lines":155,"ignored_json_lines":0,"error_json_line_indices":[15,16],"errors":[{"code":"ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST","message":"The manifest file contains too many invalid rows."}]},"testing":{"use_case":"OBJECT_LOCALIZATION","total_json_lines":15,"valid_json_lines":15,"invalid_json_lines":0,"ignored_json_lines":0,"error_json_line_indices":[],"errors":[]}},"errors":[]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestTerminal(t *testing.T) {
	ctx := context.Background()
	run := func(r string, opts Options) *Summary {
		s, err := Validate(ctx, strings.NewReader(r), opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	line := cls("s3://b/i.jpg", "", "cat") + "\n"
	tests := []struct {
		name  string
		input string
		opts  Options
		code  string
	}{
		{"empty", "", Options{}, CodeEmptyManifest},
		{"size known", line, Options{Size: 2 << 30}, CodeManifestSizeTooLarge},
		{"size read", strings.Repeat(line, 10), Options{MaxBytes: int64(len(line) * 5)}, CodeManifestSizeTooLarge},
		{"rows", strings.Repeat(line, 6), Options{MaxLines: 5}, CodeManifestRowsExceedsMaximum},
		{"binary", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", Options{}, CodeManifestInaccessibleOrUnsupportedFormat},
		{"labels", cls("s3://b/1.jpg", "", "a") + "\n" + cls("s3://b/2.jpg", "", "b") + "\n" + cls("s3://b/3.jpg", "", "c") + "\n", Options{MaxLabels: 2}, CodeManifestTooManyLabels},
		{"buckets", cls("s3://b/1.jpg", "", "a") + "\n" + cls("s3://c/2.jpg", "", "b") + "\n", Options{}, CodeImagesInMultipleS3Buckets},
		{"too few labels", cls("s3://b/1.jpg", "", "a") + "\n" + cls("s3://b/2.jpg", "", "a") + "\n", Options{Training: true}, CodeManifestTooFewLabels},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := run(tc.input, tc.opts)
			if !s.Failed() || s.Failure.Code != tc.code || s.Failure.Message == "" {
				t.Fatalf("failure %+v, want %s", s.Failure, tc.code)
			}
		})
	}
	// A read error is an inaccessible manifest, not a Go error.
	s, err := Validate(ctx, ioErrReader{}, Options{}, nil)
	if err != nil || !s.Failed() || s.Failure.Code != CodeManifestInaccessibleOrUnsupportedFormat {
		t.Fatalf("read error: %+v %v", s, err)
	}
	// Detection needs one label, classification two.
	d := det("s3://b/i.jpg", echo, -1, box{1, 10, 10, 50, 50}) + "\n"
	if s := run(d, Options{Training: true}); s.Failed() || s.UseCase != UseCaseObjectLocalization {
		t.Fatalf("detection with one label: %+v", s.Errors)
	}
	// Not for a test dataset.
	if s := run(cls("s3://b/1.jpg", "", "a")+"\n", Options{}); s.Failed() {
		t.Fatalf("test dataset with one label: %+v", s.Errors)
	}
}

type ioErrReader struct{}

func (ioErrReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestLongLineAndBlankLines(t *testing.T) {
	long := `{"source-ref":"s3://b/i.jpg","x":"` + strings.Repeat("é", MaxLineChars) + `"}`
	input := cls("s3://b/1.jpg", "", "a") + "\r\n\n" + long + "\n" + cls("s3://b/2.jpg", "", "b")
	var got []*Entry
	s, err := Validate(context.Background(), strings.NewReader(input), Options{}, func(e *Entry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.TotalLines != 4 || s.ValidLines != 2 || s.InvalidLines != 2 || len(got) != 4 {
		t.Fatalf("%+v", s)
	}
	if len(got[2].Raw) > MaxLineChars*4 || got[2].Codes()[0] != CodeInvalidJSONLine || got[1].Codes()[0] != CodeInvalidJSONLine {
		t.Fatalf("long line: %d bytes, %v %v", len(got[2].Raw), got[2].Codes(), got[1].Codes())
	}
	if got[3].Line != 4 || got[3].Labels()[0] != "b" {
		t.Fatalf("last line %+v", got[3])
	}
}

func TestMultiLabel(t *testing.T) {
	root := testBucket(t)
	two := func(ref, a, b string) string {
		return strings.TrimSuffix(cls(ref, "l1", a), "}") + "," + strings.TrimPrefix(strings.Replace(cls(ref, "l2", b), `"source-ref":"`+ref+`",`, "", 1), "{")
	}
	lines := []string{
		two("s3://bkt/img.jpg", "cat", "indoor"),
		two("s3://bkt/img2.jpg", "dog", "indoor"),
		cls("s3://bkt/img3.png", "", "dog"),
		// Ground Truth's multi-label output shape.
		`{"source-ref":"s3://bkt/img.jpg","ml":[0,2],"ml-metadata":{"class-map":{"0":"cat","1":"dog","2":"outdoor"},"type":"groundtruth/image-classification-multilabel","human-annotated":"yes","creation-date":"2020-01-01T00:00:00"}}`,
	}
	es, s := validate(t, root, Options{Training: true}, lines...)
	if s.Failed() || s.ValidLines != 3 || s.IgnoredLines != 1 || !es[3].Duplicate {
		t.Fatalf("%+v %+v", s, s.Errors)
	}
	if !reflect.DeepEqual(es[0].Labels(), []string{"cat", "indoor"}) || es[0].UseCase != UseCaseImageLevelLabels {
		t.Fatalf("labels %v", es[0].Labels())
	}
	want := map[string]int{"cat": 1, "dog": 2, "indoor": 2}
	if len(s.Labels) != len(want) || s.Stats != (DatasetStats{LabeledEntries: 3, TotalEntries: 3, TotalLabels: 3}) {
		t.Fatalf("labels %v stats %+v", s.LabelNames(), s.Stats)
	}
	for l, n := range want {
		if s.Labels[l].EntryCount != n || s.Labels[l].BoundingBoxCount != 0 {
			t.Errorf("%s: %+v", l, *s.Labels[l])
		}
	}
	ml := ParseLine([]byte(lines[3]), ParseOptions{})
	if !reflect.DeepEqual(ml.Labels(), []string{"cat", "outdoor"}) {
		t.Fatalf("multilabel %v %+v", ml.Labels(), ml.Issues)
	}
}

func TestDetectionCounts(t *testing.T) {
	root := testBucket(t)
	lines := []string{
		det("s3://bkt/img.jpg", echo, -1, box{1, 399, 251, 155, 101}, box{0, 86, 65, 220, 334}, box{1, 10, 10, 40, 40}),
		det("s3://bkt/img2.jpg", echo, -1, box{1, 10, 10, 40, 40}, box{0, 700, 10, 40, 40}), // second box off frame
		det("s3://bkt/img3.png", map[string]string{}, -1),                                   // no boxes: ignored
	}
	es, s := validate(t, root, Options{Training: true}, lines...)
	if s.Failed() || s.UseCase != UseCaseObjectLocalization || s.ValidLines != 2 || s.IgnoredLines != 1 {
		t.Fatalf("%+v", s)
	}
	if got := s.Labels["Echo Dot"]; *got != (LabelStats{EntryCount: 2, BoundingBoxCount: 2, Boxes: 3}) {
		t.Errorf("Echo Dot %+v", *got)
	}
	if got := s.Labels["Echo"]; *got != (LabelStats{EntryCount: 1, BoundingBoxCount: 1, Boxes: 1}) {
		t.Errorf("Echo %+v", *got)
	}
	if s.Stats != (DatasetStats{LabeledEntries: 2, TotalEntries: 3, TotalLabels: 2, ErrorEntries: 1}) {
		t.Errorf("stats %+v", s.Stats)
	}
	if !reflect.DeepEqual(s.ErrorLineIndices, []int{2}) {
		t.Errorf("error lines %v", s.ErrorLineIndices)
	}
	d := es[0].Detections[0]
	if len(d.Boxes) != 3 || d.Boxes[0].Label != "Echo Dot" || d.Boxes[0].Left != 399 || *d.Boxes[0].Confidence != 0.9 || d.ImageWidth != 640 {
		t.Errorf("boxes %+v", d)
	}
	if es[0].ImageInfo == nil || es[0].ImageInfo.Format != "jpeg" || es[2].ImageInfo.Format != "png" {
		t.Errorf("image info %+v %+v", es[0].ImageInfo, es[2].ImageInfo)
	}
	// Boxes are judged after the 1280 px training resize: 2 px in a
	// 3000 px wide image is 0.85 px.
	big := strings.NewReplacer(`"width":640`, `"width":3000`, `"height":480`, `"height":3000`).Replace(det("s3://b/i.jpg", echo, -1, box{1, 0, 0, 2, 2}))
	if e := ParseLine([]byte(big), ParseOptions{}); !reflect.DeepEqual(e.Codes(), []string{CodeBoundingBoxTooSmall, CodeNoValidAnnotations}) {
		t.Errorf("resized box: %v", e.Codes())
	}
}

func TestCookieManifest(t *testing.T) {
	dir := "../../../shared/datasets/lookout-cookies"
	f, err := os.Open(filepath.Join(dir, "manifests/template.manifest"))
	if err != nil {
		t.Skip("cookie data set not here:", err)
	}
	defer f.Close()
	var masks, colours int
	opts := Options{ParseOptions: ParseOptions{Service: LookoutForVision, Base: dir}, Prober: FSProber{}}
	s, err := Validate(context.Background(), f, opts, func(e *Entry) error {
		if e.HasErrors() {
			t.Errorf("line %d: %+v", e.Line, e.Issues)
		}
		if a := e.Anomaly; a != nil && a.Mask != "" {
			masks++
			if _, err := os.Stat(a.Mask); err != nil {
				t.Errorf("mask %s: %v", a.Mask, err)
			}
			if len(a.Colors) == 1 && a.Colors[0].ClassName == "cracked" && a.Colors[0].HexColor == "#23A436" {
				colours++
			}
			if a.CreationDate.IsZero() {
				t.Errorf("line %d: no date", e.Line)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed() || s.TotalLines != 63 || s.ValidLines != 63 || s.Labels["normal"].EntryCount != 31 || s.Labels["anomaly"].EntryCount != 32 {
		t.Fatalf("%+v %v", s, s.LabelNames())
	}
	if masks != 32 || colours != 32 || s.UseCase != UseCaseAnomalySegmentation {
		t.Fatalf("masks %d colours %d use case %s", masks, colours, s.UseCase)
	}
}

// slowProber answers after a random delay, so that probes finish out of
// order; Validate must still emit in manifest order.
type slowProber struct {
	inner    ImageProber
	inflight atomic.Int32
	peak     atomic.Int32
}

func (p *slowProber) Probe(ctx context.Context, loc string) (ImageInfo, error) {
	n := p.inflight.Add(1)
	defer p.inflight.Add(-1)
	for {
		old := p.peak.Load()
		if n <= old || p.peak.CompareAndSwap(old, n) {
			break
		}
	}
	time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
	return p.inner.Probe(ctx, loc)
}

func TestOrderAndConcurrency(t *testing.T) {
	root := testBucket(t)
	for i := range 200 {
		writeImage(t, filepath.Join(root, "bkt"), fmt.Sprintf("many/%d.jpg", i), 64, 64)
	}
	var lines []string
	for i := range 200 {
		lines = append(lines, cls(fmt.Sprintf("s3://bkt/many/%d.jpg", i), "", []string{"a", "b"}[i%2]))
	}
	p := &slowProber{inner: FSProber{Root: root}}
	es, s := validate(t, root, Options{Prober: p, Workers: 6}, lines...)
	for i, e := range es {
		if e.Line != i+1 || e.SourceRef != fmt.Sprintf("s3://bkt/many/%d.jpg", i) || e.ImageInfo == nil {
			t.Fatalf("entry %d is line %d %s", i, e.Line, e.SourceRef)
		}
	}
	if s.ValidLines != 200 || p.peak.Load() > 6 || p.peak.Load() < 2 {
		t.Fatalf("valid %d, peak concurrency %d", s.ValidLines, p.peak.Load())
	}
}

type failProber struct{}

func (failProber) Probe(context.Context, string) (ImageInfo, error) {
	return ImageInfo{}, errors.New("s3 unreachable")
}

func TestAbort(t *testing.T) {
	var b bytes.Buffer
	for i := range 1000 {
		b.WriteString(cls(fmt.Sprintf("s3://b/%d.jpg", i), "", "a") + "\n")
	}
	ctx := context.Background()
	// A prober outage is an error, not 1000 invalid lines.
	if _, err := Validate(ctx, bytes.NewReader(b.Bytes()), Options{Prober: failProber{}}, nil); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("prober failure: %v", err)
	}
	// emit's error stops validation.
	stop := errors.New("stop")
	n := 0
	_, err := Validate(ctx, bytes.NewReader(b.Bytes()), Options{}, func(*Entry) error {
		if n++; n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Fatalf("emit error: %v after %d", err, n)
	}
	cctx, cancel := context.WithCancel(ctx)
	_, err = Validate(cctx, bytes.NewReader(b.Bytes()), Options{Prober: FSProber{Root: t.TempDir()}}, func(*Entry) error {
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
}

func TestFullDecode(t *testing.T) {
	root := testBucket(t)
	p := filepath.Join(root, "bkt", "img.jpg")
	data, _ := os.ReadFile(p)
	// Cut the image in half: the header still reads, the pixels do not.
	if err := os.WriteFile(p, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := (FSProber{Root: root}).Probe(ctx, "s3://bkt/img.jpg"); err != nil {
		t.Fatalf("header probe: %v", err)
	}
	if _, err := (FSProber{Root: root, FullDecode: true}).Probe(ctx, "s3://bkt/img.jpg"); !errors.Is(err, ErrInvalidImage) {
		t.Fatalf("full decode: %v", err)
	}
}

// TestProbeFullRefusesBombs: a full probe of a few-KB JPEG whose header
// claims 65,000 x 65,000 pixels reports those dimensions (the line gets
// ERROR_INVALID_IMAGE_DIMENSION) without allocating the pixels.
func TestProbeFullRefusesBombs(t *testing.T) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 64, 64)), nil); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	for i := 2; i+9 < len(data); i++ {
		if data[i] == 0xff && data[i+1] == 0xc0 { // SOF0: length, precision, height, width
			data[i+5], data[i+6], data[i+7], data[i+8] = 0xfd, 0xe8, 0xfd, 0xe8 // 65000 x 65000
			break
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	info, err := ProbeReader(bytes.NewReader(data), int64(len(data)), true)
	runtime.ReadMemStats(&ms)
	if err != nil || info.Width != 65000 || info.Height != 65000 {
		t.Fatalf("probe = %+v, %v", info, err)
	}
	if grew := ms.TotalAlloc - before; grew > 4<<20 {
		t.Fatalf("probing the bomb allocated %d bytes", grew)
	}
}

// TestProbeFullRefusesAnOversizedStream: a full probe of an image whose size
// was not known stops at MaxImageBytes and refuses it, as it refuses one
// whose size was known.
func TestProbeFullRefusesAnOversizedStream(t *testing.T) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 64, 64)), nil); err != nil {
		t.Fatal(err)
	}
	data := append(b.Bytes(), make([]byte, MaxImageBytes)...)
	for _, size := range []int64{0, int64(len(data))} {
		_, err := ProbeReader(bytes.NewReader(data), size, true)
		if !errors.Is(err, ErrInvalidImage) || !strings.Contains(err.Error(), "maximum") {
			t.Fatalf("size %d: err = %v, want an invalid image over the maximum", size, err)
		}
	}
	if _, err := ProbeReader(bytes.NewReader(b.Bytes()), 0, true); err != nil {
		t.Fatalf("the image itself: %v", err)
	}
}
