package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/image/draw"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

const (
	sharedBackbone = "../../../shared/models/mobilenetv2-12-int8.onnx"
	fashionDir     = "/usr/share/datasets/fashion-mnist"
)

var fashionNames = []string{"tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"}

// fashion reads n Fashion-MNIST training images per class (Debian package
// dataset-fashion-mnist), upscaled to side x side JPEGs.
func fashion(b testing.TB, perClass, side int) (imgs [][]byte, labels []string) {
	open := func(name string) []byte {
		f, err := os.Open(fashionDir + "/" + name)
		if err != nil {
			b.Skipf("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): %v", err)
		}
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			b.Fatal(err)
		}
		all, err := io.ReadAll(z)
		if err != nil {
			b.Fatal(err)
		}
		return all
	}
	px, lb := open("train-images-idx3-ubyte.gz"), open("train-labels-idx1-ubyte.gz")
	n := int(binary.BigEndian.Uint32(px[4:8]))
	count := map[byte]int{}
	for i := 0; i < n && len(imgs) < perClass*10; i++ {
		l := lb[8+i]
		if count[l] >= perClass {
			continue
		}
		count[l]++
		g := image.NewGray(image.Rect(0, 0, 28, 28))
		copy(g.Pix, px[16+i*784:16+(i+1)*784])
		imgs = append(imgs, upscaleJPEG(b, g, side, side))
		labels = append(labels, fashionNames[l])
	}
	return imgs, labels
}

func upscaleJPEG(b testing.TB, src image.Image, w, h int) []byte {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func requireSharedBackbone(b testing.TB) {
	if _, err := os.Stat(sharedBackbone); err != nil {
		b.Skipf("shared MobileNetV2 backbone not present: %v", err)
	}
}

// trainedFashion starts a server on the shared backbone with a 1,000-image
// Fashion-MNIST project and trains n versions, reporting the time from
// CreateProjectVersion to TRAINING_COMPLETED.
func trainedFashion(b *testing.B, versions int) (*e2e.Server, *rekognition.Client, string, []string, []time.Duration) {
	requireSharedBackbone(b)
	imgs, labels := fashion(b, 100, 96)
	ts := e2e.Start(b, server.Config{Backbone: sharedBackbone})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("fashion")})
	var lines []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range imgs {
		key := fmt.Sprintf("img/%04d.jpg", i)
		lines = append(lines, classLine("fashion", key, labels[i]))
		wg.Add(1)
		sem <- struct{}{}
		go func(key string, body []byte) {
			defer wg.Done()
			defer func() { <-sem }()
			put(b, s, "fashion", key, body)
		}(key, imgs[i])
	}
	wg.Wait()
	put(b, s, "fashion", "train.manifest", []byte(strings.Join(lines, "\n")))
	project := createProject(b, r, "fashion")
	waitDataset(b, r, createDataset(b, r, project, rtypes.DatasetTypeTrain, "fashion", "train.manifest"))
	var arns []string
	var took []time.Duration
	for i := 0; i < versions; i++ {
		t0 := time.Now()
		out, err := r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String(fmt.Sprintf("v%d", i)),
			OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("fashion")}})
		if err != nil {
			b.Fatal(err)
		}
		for {
			d, err := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{fmt.Sprintf("v%d", i)}})
			if err != nil {
				b.Fatal(err)
			}
			pv := d.ProjectVersionDescriptions[0]
			if pv.Status == rtypes.ProjectVersionStatusTrainingCompleted {
				b.Logf("1,000 images: trained in %s, F1 %.3f", time.Since(t0).Round(100*time.Millisecond), aws.ToFloat32(pv.EvaluationResult.F1Score))
				break
			}
			if pv.Status != rtypes.ProjectVersionStatusTrainingInProgress {
				b.Fatalf("training: %s %s", pv.Status, aws.ToString(pv.StatusMessage))
			}
			time.Sleep(100 * time.Millisecond)
		}
		took = append(took, time.Since(t0))
		arns = append(arns, aws.ToString(out.ProjectVersionArn))
	}
	return ts, r, project, arns, took
}

// BenchmarkTrain1000 measures CreateProjectVersion -> TRAINING_COMPLETED on
// a 1,000-image classification dataset (Fashion-MNIST, 10 labels, 96 px
// JPEGs in the embedded S3) with the shared MobileNetV2-int8 backbone.
func BenchmarkTrain1000(b *testing.B) {
	_, _, _, _, took := trainedFashion(b, b.N)
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(took[len(took)/2].Seconds(), "s-median-train")
}

// BenchmarkDetectCustomLabels measures DetectCustomLabels over HTTP on one
// inference unit with a 640x480 JPEG: sequential p50/p99 latency, then the
// sustained rate admitted by one unit with 4 concurrent clients (requests
// beyond it get ProvisionedThroughputExceededException).
func BenchmarkDetectCustomLabels(b *testing.B) {
	ts, r, project, arns, _ := trainedFashion(b, 1)
	ctx := context.Background()
	arn := arns[0]
	if _, err := r.StartProjectVersion(ctx, &rekognition.StartProjectVersionInput{ProjectVersionArn: &arn, MinInferenceUnits: aws.Int32(1)}); err != nil {
		b.Fatal(err)
	}
	w := rekognition.NewProjectVersionRunningWaiter(r, func(o *rekognition.ProjectVersionRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, time.Second
	})
	if err := w.Wait(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project}, time.Minute); err != nil {
		b.Fatal(err)
	}
	imgs, _ := fashion(b, 1, 28)
	src, _ := jpeg.Decode(bytes.NewReader(imgs[0]))
	photo := upscaleJPEG(b, src, 640, 480)
	in := &rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn, Image: &rtypes.Image{Bytes: photo}}
	// Latency: one client, paced under the unit's rate so none is refused.
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := r.DetectCustomLabels(ctx, in); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		time.Sleep(25 * time.Millisecond)
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99")
	// Throughput: 4 clients without retries for 5 s.
	cfg := e2e.Config(alice)
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	nr := rekognition.NewFromConfig(cfg, func(o *rekognition.Options) { o.BaseEndpoint = aws.String(ts.URL) })
	var ok, throttled, other atomic.Int64
	stop := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				_, err := nr.DetectCustomLabels(ctx, in)
				switch code := errCode(err); {
				case err == nil:
					ok.Add(1)
				case code == "ProvisionedThroughputExceededException":
					throttled.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(ok.Load())/5, "tps-admitted")
	b.ReportMetric(float64(throttled.Load())/5, "tps-throttled")
	if other.Load() > 0 {
		b.Logf("%d requests failed otherwise", other.Load())
	}
}

// BenchmarkImport50k measures CreateDataset from a 50,000-line
// classification manifest (50,000 distinct images in the embedded S3):
// time to CREATE_COMPLETE and the Go heap in use afterwards.
func BenchmarkImport50k(b *testing.B) {
	ts := e2e.Start(b, server.Config{})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("big")})
	body := jpegBytes(b, 64, 64, 1)
	const n = 50000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var lines strings.Builder
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("img/%05d.jpg", i)
		lines.WriteString(classLine("big", key, []string{"a", "b", "c", "d"}[i%4]) + "\n")
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			put(b, s, "big", key, body)
		}()
	}
	wg.Wait()
	put(b, s, "big", "big.manifest", []byte(lines.String()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		project := createProject(b, r, fmt.Sprintf("big-%d", i))
		runtime.GC()
		var peak atomic.Uint64
		done := make(chan struct{})
		go func() {
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-done:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
		t0 := time.Now()
		d := waitDataset(b, r, createDataset(b, r, project, rtypes.DatasetTypeTrain, "big", "big.manifest"))
		close(done)
		b.ReportMetric(float64(peak.Load())/(1<<20), "MiB-peak-heap-inuse")
		if d.Status != rtypes.DatasetStatusCreateComplete || aws.ToInt32(d.DatasetStats.TotalEntries) != n {
			b.Fatalf("import: %s %s %d entries", d.Status, aws.ToString(d.StatusMessage), aws.ToInt32(d.DatasetStats.TotalEntries))
		}
		b.ReportMetric(time.Since(t0).Seconds(), "s-import")
	}
}
