package vision

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocellus/ocellus/internal/vision/backbone"
)

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// badImages returns broken examples of the dataset's first labels: a
// truncated JPEG (in memory), a 0-byte .jpg file, a text file named .jpg
// and a missing file.
func badImages(t *testing.T, good []Example) []Example {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jb := encodeJPEG(t, good[0].Image)
	return []Example{
		{Data: jb[:len(jb)*2/3], Labels: good[0].Labels},
		{Path: write("empty.jpg", nil), Labels: good[1].Labels},
		{Path: write("notes.jpg", []byte("these are not the pixels you are looking for\n")), Labels: good[2].Labels},
		{Path: filepath.Join(dir, "missing.jpg"), Labels: good[0].Labels},
	}
}

// TestTrainSkipsBadImages: undecodable images are left out and reported,
// each with its position and reason; a PNG named .jpg is a good image.
func TestTrainSkipsBadImages(t *testing.T) {
	train := dataset(45, 1)
	// Good images given as files and bytes are used as they are.
	dir := t.TempDir()
	var pb bytes.Buffer
	if err := png.Encode(&pb, train[3].Image); err != nil {
		t.Fatal(err)
	}
	pngAsJPG := filepath.Join(dir, "really-a-png.jpg")
	if err := os.WriteFile(pngAsJPG, pb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	train[3] = Example{Path: pngAsJPG, Labels: train[3].Labels}
	train[4] = Example{Data: encodeJPEG(t, train[4].Image), Labels: train[4].Labels}
	bad := badImages(t, train)
	// Bad images at known positions: 2, 10, 20, 30 of 49.
	at := []int{2, 10, 20, 30}
	for k, i := range at {
		train = append(train[:i], append([]Example{bad[k]}, train[i:]...)...)
	}
	test := dataset(15, 2)
	tb := encodeJPEG(t, test[5].Image)
	test[5] = Example{Data: tb[:len(tb)/2], Labels: test[5].Labels} // 1 of 15: under 20%
	var seen []Rejected
	m, ev, err := Train(context.Background(), TrainConfig{Backbone: backbone.Builtin{}, Train: train, Test: test, Seed: 1, Now: fixedNow, Head: smallHead,
		OnReject: func(r Rejected) { seen = append(seen, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Rejected) != 5 || len(seen) != 5 {
		t.Fatalf("rejected %v, callback saw %v; want 5", ev.Rejected, seen)
	}
	reasons := []string{"jpeg", "unsupported image format", "unsupported image format", "no such file"}
	for k, i := range at {
		r := ev.Rejected[k]
		if r.Test || r.Index != i || seen[k].Index != i {
			t.Errorf("rejected[%d] = %+v, want training image %d", k, r, i)
		}
		if r.Err == nil || !strings.Contains(r.Err.Error(), reasons[k]) {
			t.Errorf("rejected[%d] (%d) reason %v, want it to mention %q", k, i, r.Err, reasons[k])
		}
	}
	if r := ev.Rejected[4]; !r.Test || r.Index != 5 {
		t.Errorf("rejected[4] = %+v, want test image 5", r)
	}
	if ev.TrainingImages != 45 || ev.Report.TestImages != 14 {
		t.Errorf("trained on %d and tested on %d images, want 45 and 14", ev.TrainingImages, ev.Report.TestImages)
	}
	if ev.Report.F1 < 0.9 {
		t.Errorf("F1 %.3f with the bad images left out", ev.Report.F1)
	}
	if len(m.Labels) != 3 {
		t.Errorf("labels %v", m.Labels)
	}
}

// TestTrainTooManyBadImages: above the 20% limit training fails with the
// list; at a negative limit any bad image fails it.
func TestTrainTooManyBadImages(t *testing.T) {
	good := dataset(12, 1)
	train := append(append([]Example{}, good...), badImages(t, good)...) // 4 of 16 = 25%
	_, _, err := Train(context.Background(), TrainConfig{Backbone: backbone.Builtin{}, Train: train, Seed: 1, Head: smallHead})
	var tm *TooManyRejectedError
	if !errors.As(err, &tm) {
		t.Fatalf("err %v, want a TooManyRejectedError", err)
	}
	if tm.Test || tm.Total != 16 || len(tm.Rejected) != 4 || tm.Limit != MaxRejectedShare || tm.Rejected[0].Index != 12 {
		t.Errorf("error %+v", tm)
	}
	if !strings.Contains(err.Error(), "4 of the 16 training images cannot be decoded") {
		t.Errorf("message %q", err)
	}
	// At exactly 20% (3 of 15) training goes on.
	_, ev, err := Train(context.Background(), TrainConfig{Backbone: backbone.Builtin{}, Train: train[:15], Seed: 1, Head: smallHead})
	if err != nil || len(ev.Rejected) != 3 {
		t.Fatalf("3 of 15 bad: err %v", err)
	}
	_, _, err = Train(context.Background(), TrainConfig{Backbone: backbone.Builtin{}, Train: train[:13], Seed: 1, Head: smallHead, RejectLimit: -1})
	if !errors.As(err, &tm) || len(tm.Rejected) != 1 || tm.Limit != 0 {
		t.Fatalf("limit -1: err %v", err)
	}
	// The test set has its own count.
	test := append(dataset(3, 2), badImages(t, good)[:1]...)
	_, _, err = Train(context.Background(), TrainConfig{Backbone: backbone.Builtin{}, Train: good, Test: test, Seed: 1, Head: smallHead})
	if !errors.As(err, &tm) || !tm.Test || tm.Total != 4 || !strings.Contains(err.Error(), "test images") {
		t.Fatalf("test set 1 of 4 bad: err %v", err)
	}
}

// TestDetectionSkipsBadImages: the detection trainer gets the same
// screened examples.
func TestDetectionSkipsBadImages(t *testing.T) {
	if raceEnabled {
		t.Skip("detection training's plain-Go second stage takes minutes under the race detector; make test runs this without -race")
	}
	bb := sharedORT(t)
	defer bb.Close()
	train, test := detectionScenes(t, 12, 1), detectionScenes(t, 4, 2)
	jb := encodeJPEG(t, train[0].Image)
	train[0].Image, train[0].Data = nil, jb[:len(jb)/2]
	_, ev, err := Train(context.Background(), TrainConfig{Backbone: bb, Train: train, Test: test, Seed: 1, Head: smallHead, BoxHead: smallHead, BoxClassifier: smallHead, BoxRefine: smallHead})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Rejected) != 1 || ev.Rejected[0].Index != 0 || ev.TrainingImages != 11 {
		t.Fatalf("rejected %v, trained on %d", ev.Rejected, ev.TrainingImages)
	}
}

// BenchmarkScreen measures the decode pass that finds bad images before
// training, per image, on the first 64 BCCD photos (640x480 JPEG).
func BenchmarkScreen(b *testing.B) {
	wd, _ := os.Getwd()
	paths, _ := filepath.Glob(filepath.Join(backbone.ModuleRoot(wd), "..", "shared", "datasets", "bccd", "JPEGImages", "*.jpg"))
	if len(paths) < 64 {
		b.Skip("BCCD not present")
	}
	var ex []Example
	for _, p := range paths[:64] {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		ex = append(ex, Example{Data: data})
	}
	for b.Loop() {
		if _, rej, err := screen(context.Background(), ex, 1); err != nil || len(rej) != 0 {
			b.Fatal(err, rej)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ex))/1e6, "ms/image")
}
