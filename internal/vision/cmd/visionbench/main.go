// Command visionbench measures the vision engine: Fashion-MNIST accuracy and
// training time, and in-process prediction latency/throughput on a 640x480
// JPEG. It prints what it measured; `make bench` runs it through
// scripts/bench-vision.sh.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/ocellus/ocellus/internal/vision"
	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/fashionmnist"
	"github.com/ocellus/ocellus/internal/vision/head"
	"github.com/ocellus/ocellus/internal/vision/imageio"
	"github.com/ocellus/ocellus/internal/vision/synth"
)

func main() {
	wd, _ := os.Getwd()
	defBackbone := filepath.Join(backbone.ModuleRoot(wd), "..", "shared", "models", "mobilenetv2-12-int8.onnx")
	bbPath := flag.String("backbone", defBackbone, "ONNX backbone ('builtin' for the built-in extractor)")
	data := flag.String("fashion", "/usr/share/datasets/fashion-mnist", "Fashion-MNIST directory")
	perClass := flag.Int("per-class", 200, "training images per class")
	testN := flag.Int("test", 10000, "test images (max 10000)")
	hidden := flag.Int("hidden", 0, "head hidden units (0 = default, -1 = linear)")
	epochs := flag.Int("epochs", 0, "head epochs (0 = default)")
	latencyImage := flag.String("latency-image", "/usr/lib/python3/dist-packages/skimage/data/astronaut.png", "photo resized to 640x480 for latency")
	runs := flag.Int("runs", 300, "latency runs")
	skipAcc := flag.Bool("skip-accuracy", false, "only measure latency")
	seed := flag.Uint64("seed", 1, "seed")
	detection := flag.Bool("detection", false, "run the synthetic detection benchmark instead")
	detSize := flag.Int("det-size", 320, "detection input size")
	detTrain := flag.Int("det-train", 500, "synthetic training scenes")
	detTest := flag.Int("det-test", 200, "synthetic test scenes")
	writeScenes := flag.String("write-scenes", "", "write the synthetic detection data set as JPEGs + manifests under DIR/bucket and exit")
	verbose := flag.Bool("v", false, "log progress")
	flag.Parse()

	var bb backbone.Backbone = backbone.Builtin{}
	if _, err := os.Stat(*bbPath); err != nil && *bbPath != "builtin" {
		fmt.Printf("backbone %s not found: using the built-in extractor\n", *bbPath)
		*bbPath = "builtin"
	}
	if *bbPath != "builtin" {
		size := 0
		if *detection {
			size = *detSize
		}
		o, err := backbone.OpenORT(*bbPath, backbone.ORTConfig{Size: size})
		if err != nil {
			fatal(err)
		}
		bb = o
	}
	defer bb.Close()
	lvl := slog.LevelWarn
	if *verbose {
		lvl = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	ctx := context.Background()
	fmt.Printf("backbone: %s (%s), GOMAXPROCS=%d\n", bb.Info().Name, bb.Info().Identity, runtime.GOMAXPROCS(0))

	if *writeScenes != "" {
		writeDataset(*writeScenes, *detTrain, *detTest, *seed)
		return
	}
	var m *vision.Model
	if *detection {
		m = benchDetection(ctx, bb, *detTrain, *detTest, *seed, log)
		jpg := sceneJPEG(*seed)
		latency(ctx, m, jpg, *runs)
		return
	}
	if !*skipAcc {
		train, err := fashionmnist.Read(*data, "train", *perClass, 0)
		if err != nil {
			fatal(err)
		}
		test, err := fashionmnist.Read(*data, "t10k", 0, *testN)
		if err != nil {
			fatal(err)
		}
		t0 := time.Now()
		c0 := cpuTime()
		var ev *vision.Evaluation
		m, ev, err = vision.Train(ctx, vision.TrainConfig{Backbone: bb, Train: train, Test: test, Seed: *seed, Kind: vision.Classification,
			Head: head.Config{Hidden: *hidden, Epochs: *epochs}, Logger: log})
		if err != nil {
			fatal(err)
		}
		total := time.Since(t0)
		cpu := cpuTime() - c0
		fmt.Printf("fashion-mnist: train %d images (%d/class, + flips), test %d images\n", len(train), *perClass, len(test))
		fmt.Printf("  top-1 accuracy      %.4f\n", ev.Report.Accuracy)
		fmt.Printf("  macro F1            %.4f\n", ev.Report.F1)
		fmt.Printf("  training wall time  %.1f s (features of the training set + head)\n", ev.TrainSeconds)
		fmt.Printf("  total incl. test    %.1f s wall, %.1f s CPU (user+system, all threads)\n", total.Seconds(), cpu.Seconds())
		if l, err := os.ReadFile("/proc/loadavg"); err == nil {
			fmt.Printf("  load average after  %s", l)
		}
	} else {
		// A tiny model so latency is measured through the same code path.
		train, err := fashionmnist.Read(*data, "train", 5, 0)
		if err != nil {
			fatal(err)
		}
		m, _, err = vision.Train(ctx, vision.TrainConfig{Backbone: bb, Train: train, Test: train[:10], Seed: *seed, Kind: vision.Classification, Head: head.Config{Epochs: 2}})
		if err != nil {
			fatal(err)
		}
	}
	jpg, err := latencyJPEG(*latencyImage)
	if err != nil {
		fatal(err)
	}
	latency(ctx, m, jpg, *runs)
}

func latency(ctx context.Context, m *vision.Model, jpg []byte, runs int) {
	lat := make([]time.Duration, runs)
	for i := 0; i < 10; i++ {
		if _, err := m.PredictBytes(ctx, jpg, vision.PredictOptions{}); err != nil {
			fatal(err)
		}
	}
	c0 := cpuTime()
	for i := range lat {
		t := time.Now()
		if _, err := m.PredictBytes(ctx, jpg, vision.PredictOptions{}); err != nil {
			fatal(err)
		}
		lat[i] = time.Since(t)
	}
	cpuPer := (cpuTime() - c0) / time.Duration(len(lat))
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("latency, 640x480 JPEG (%d bytes) decode+resize+backbone+head, one request at a time, %d runs:\n", len(jpg), runs)
	fmt.Printf("  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  (CPU time per request %.2f ms)\n", ms(lat[len(lat)/2]), ms(lat[len(lat)*9/10]), ms(lat[len(lat)*99/100]), ms(cpuPer))
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		n := runs
		t := time.Now()
		var wg sync.WaitGroup
		per := n / workers
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < per; i++ {
					if _, err := m.PredictBytes(ctx, jpg, vision.PredictOptions{}); err != nil {
						fatal(err)
					}
				}
			}()
		}
		wg.Wait()
		el := time.Since(t)
		fmt.Printf("  throughput with %d concurrent callers: %.1f images/s\n", workers, float64(per*workers)/el.Seconds())
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "visionbench:", err)
	os.Exit(1)
}

func latencyJPEG(path string) ([]byte, error) {
	var src image.Image
	if b, err := os.ReadFile(path); err == nil {
		if src, err = imageio.Decode(b); err != nil {
			return nil, err
		}
	} else {
		g := image.NewRGBA(image.Rect(0, 0, 640, 480))
		for y := 0; y < 480; y++ {
			for x := 0; x < 640; x++ {
				g.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
			}
		}
		src = g
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, imageio.Resize(src, 640, 480), &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func benchDetection(ctx context.Context, bb backbone.Backbone, ntrain, ntest int, seed uint64, log *slog.Logger) *vision.Model {
	objs, bgs, err := synth.DebianSources()
	if err != nil {
		fatal(err)
	}
	t0 := time.Now()
	trainScenes, err := synth.Generate(synth.Config{}, objs, bgs, ntrain, seed)
	if err != nil {
		fatal(err)
	}
	testScenes, err := synth.Generate(synth.Config{}, objs, bgs, ntest, seed+1000)
	if err != nil {
		fatal(err)
	}
	fmt.Printf("synthetic scenes: %d train, %d test, %d classes, %d backgrounds, generated in %.1f s\n", ntrain, ntest, len(objs), len(bgs), time.Since(t0).Seconds())
	conv := func(sc []synth.Scene) []vision.Example {
		var out []vision.Example
		for _, s := range sc {
			w, h := float64(s.Image.Rect.Dx()), float64(s.Image.Rect.Dy())
			e := vision.Example{Image: s.Image}
			for _, o := range s.Objects {
				e.Objects = append(e.Objects, vision.Object{Label: o.Label, Box: vision.Box{Left: float64(o.Left) / w, Top: float64(o.Top) / h, Width: float64(o.W) / w, Height: float64(o.H) / h}})
			}
			out = append(out, e)
		}
		return out
	}
	c0 := cpuTime()
	t1 := time.Now()
	m, ev, err := vision.Train(ctx, vision.TrainConfig{Backbone: bb, Train: conv(trainScenes), Test: conv(testScenes), Seed: seed, Kind: vision.Detection, Logger: log})
	if err != nil {
		fatal(err)
	}
	fmt.Printf("detection, input %dx%d:\n", bb.Info().Size, bb.Info().Size)
	fmt.Printf("  mAP@0.5             %.4f\n", ev.Report.MAP)
	for _, l := range ev.Report.Labels {
		fmt.Printf("    %-10s AP %.3f  F1 %.3f  threshold %.1f\n", l.Label, l.AP, l.F1, l.Threshold)
	}
	fmt.Printf("  macro F1            %.4f\n", ev.Report.F1)
	fmt.Printf("  training wall time  %.1f s (features + heads)\n", ev.TrainSeconds)
	fmt.Printf("  total incl. test    %.1f s wall, %.1f s CPU\n", time.Since(t1).Seconds(), (cpuTime() - c0).Seconds())
	return m
}

func sceneJPEG(seed uint64) []byte {
	objs, bgs, err := synth.DebianSources()
	if err != nil {
		fatal(err)
	}
	sc, err := synth.Generate(synth.Config{Width: 640, Height: 480}, objs, bgs, 1, seed+7)
	if err != nil {
		fatal(err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, sc[0].Image, &jpeg.Options{Quality: 90}); err != nil {
		fatal(err)
	}
	return buf.Bytes()
}

func writeDataset(dir string, ntrain, ntest int, seed uint64) {
	objs, bgs, err := synth.DebianSources()
	if err != nil {
		fatal(err)
	}
	for _, split := range []struct {
		name string
		n    int
		seed uint64
	}{{"train", ntrain, seed}, {"test", ntest, seed + 1000}} {
		sc, err := synth.Generate(synth.Config{}, objs, bgs, split.n, split.seed)
		if err != nil {
			fatal(err)
		}
		man, err := synth.Write(filepath.Join(dir, "bucket"), "bucket", split.name+"-", sc)
		if err != nil {
			fatal(err)
		}
		p := filepath.Join(dir, split.name+".manifest")
		if err := os.WriteFile(p, man, 0o644); err != nil {
			fatal(err)
		}
		fmt.Println(p)
	}
}
