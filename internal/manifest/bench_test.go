package manifest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkValidate50k validates a generated 50,000-line manifest (3/4
// classification, 1/4 detection; 50 distinct real JPEGs repeated, each
// line a distinct source-ref through a symlink-free alias: the prober maps
// s3://bench/<n>/<i>.jpg to one of the 50 files) read from disk, with the
// file-system prober decoding every image header. It reports lines/s and
// the peak live heap seen while validating.
func BenchmarkValidate50k(b *testing.B) {
	const lines, images = 50_000, 50
	dir := b.TempDir()
	for i := range images {
		writeImage(b, dir, fmt.Sprintf("img/%d.jpg", i), 640, 480)
	}
	path := filepath.Join(dir, "train.manifest")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for n := range lines {
		ref := fmt.Sprintf("s3://bench/%d/%d.jpg", n, n%images)
		if n%4 == 3 {
			fmt.Fprintln(w, det(ref, echo, -1, box{1, 399, 251, 155, 101}, box{0, 86, 65, 220, 334}))
		} else {
			fmt.Fprintln(w, cls(ref, "", fmt.Sprintf("label-%d", n%20)))
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(path)
	b.Run("probe", func(b *testing.B) {
		benchValidate(b, path, lines, st.Size(), benchProber{FSProber{}, filepath.Join(dir, "img")})
	})
	b.Run("noprobe", func(b *testing.B) { benchValidate(b, path, lines, st.Size(), nil) })
}

func benchValidate(b *testing.B, path string, lines int, size int64, prober ImageProber) {

	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // sample the live heap; runtime/metrics does not stop the world
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		s, err := Validate(context.Background(), f, Options{Prober: prober, Training: true}, func(e *Entry) error {
			_ = e.JSONLine() // what a store would keep
			return nil
		})
		f.Close()
		if err != nil || s.Failed() || s.ValidLines != lines {
			b.Fatalf("%v %+v", err, s)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(size)/(1<<20), "manifest-MB")
}

// benchProber maps s3://bench/<n>/<i>.jpg to dir/<i>.jpg: every line is a
// distinct image for the duplicate check, backed by a few real files.
type benchProber struct {
	fs  FSProber
	dir string
}

func (p benchProber) Probe(ctx context.Context, loc string) (ImageInfo, error) {
	return p.fs.Probe(ctx, filepath.Join(p.dir, filepath.Base(loc)))
}
