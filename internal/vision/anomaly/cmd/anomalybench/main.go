// Command anomalybench measures the anomaly engine: on AWS's Lookout for
// Vision cookie data set (training time, test accuracy/AUROC/F1, mask IoU on
// held-out training anomalies, Detect latency, model size) and on synthetic
// defects drawn on real textures (image AUROC per texture). It prints what
// it measured; scripts/bench-anomaly.sh runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/anomaly/anomalydata"
	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

func main() {
	data := flag.String("cookies", "", "lookout-cookies data set directory (empty: skip)")
	modelPath := flag.String("model", "", "ONNX backbone (empty: built-in backbone)")
	sizes := flag.String("input", "", "comma-separated backbone input long sides to try (default: the engine's)")
	textures := flag.String("textures", "", "directory with brick.png, grass.png, gravel.png (empty: skip)")
	bank := flag.Int("bank", 0, "memory bank size (0: default)")
	sigma := flag.Float64("sigma", 0, "map smoothing in patches (0: default)")
	seed := flag.Int64("seed", 1, "seed")
	margin := flag.Int("margin", 0, "border patches left out of the image score (0: chosen from the training images, negative: none)")
	flips := flag.Int("flips", -1, "mirrored normal copies for the coreset (-1: default)")
	runs := flag.Int("runs", 30, "Detect calls for the latency measurement")
	verbose := flag.Bool("v", false, "log training progress")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile")
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			fail(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	var bb backbone.Backbone = backbone.Builtin{}
	if *modelPath != "" {
		o, err := backbone.OpenORT(*modelPath, backbone.ORTConfig{Threads: runtime.NumCPU()})
		if err != nil {
			fail(err)
		}
		defer o.Close()
		bb = o
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	fmt.Printf("backbone: %s (%s), GOMAXPROCS=%d\n", bb.Info().Name, bb.Info().Identity, runtime.GOMAXPROCS(0))
	inputs := []int{0}
	if *sizes != "" {
		inputs = nil
		for _, s := range strings.Split(*sizes, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				fail(err)
			}
			inputs = append(inputs, v)
		}
	}
	ctx := context.Background()
	if *data != "" {
		for _, in := range inputs {
			cookies(ctx, bb, *data, in, *bank, *sigma, *seed, *flips, *margin, *runs, log)
		}
	}
	if *textures != "" {
		for _, in := range inputs {
			synthetic(ctx, bb, *textures, in, *bank, *sigma, *seed, *flips, *margin, log)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "anomalybench:", err)
	os.Exit(1)
}

func cookies(ctx context.Context, bb backbone.Backbone, dir string, input, bank int, sigma float64, seed int64, flips, margin, runs int, log *slog.Logger) {
	train, err := anomalydata.ReadManifest(filepath.Join(dir, "manifests", "template.manifest"), dir)
	if err != nil {
		fail(err)
	}
	test, err := anomalydata.ReadDir(filepath.Join(dir, "test-images"))
	if err != nil {
		fail(err)
	}
	// Hold out a quarter of the masked training anomalies for the mask IoU:
	// they stay in training as anomalous images (threshold calibration) but
	// their masks are withheld from the segmentation learner.
	var anomIdx []int
	for i, e := range train {
		if e.Anomalous && e.Mask != nil {
			anomIdx = append(anomIdx, i)
		}
	}
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	r.Shuffle(len(anomIdx), func(i, j int) { anomIdx[i], anomIdx[j] = anomIdx[j], anomIdx[i] })
	nHeld := len(anomIdx) / 4
	var held []anomaly.Example
	for _, i := range anomIdx[:nHeld] {
		held = append(held, train[i])
		train[i].Mask, train[i].ColorMap = nil, nil
	}
	nn, na := 0, 0
	for _, e := range train {
		if e.Anomalous {
			na++
		} else {
			nn++
		}
	}
	t0, c0 := time.Now(), cpuTime()
	m, cal, err := anomaly.Train(ctx, anomaly.TrainConfig{Backbone: bb, Train: train, InputSize: input, BankSize: bank, Sigma: sigma, Seed: seed, Flips: flips, Margin: margin, Logger: log})
	if err != nil {
		fail(err)
	}
	trainTime, trainCPU := time.Since(t0), cpuTime()-c0
	defer m.Close()
	mt := m.Meta()
	ev, err := m.Evaluate(ctx, test)
	if err != nil {
		fail(err)
	}
	seg, err := m.Evaluate(ctx, held)
	if err != nil {
		fail(err)
	}
	blob, err := m.MarshalBinary()
	if err != nil {
		fail(err)
	}
	// Latency: decode + Detect (+ mask PNG) of one test JPEG.
	var imgPath string
	for _, e := range test {
		if e.Anomalous {
			imgPath = filepath.Join(dir, "test-images", e.Name)
			break
		}
	}
	raw, err := os.ReadFile(imgPath)
	if err != nil {
		fail(err)
	}
	var lat, latMask []float64
	var cpu0 time.Duration
	for i := 0; i < runs+2; i++ {
		if i == 2 {
			cpu0 = cpuTime()
		}
		t := time.Now()
		res, err := m.DetectBytes(ctx, raw)
		if err != nil {
			fail(err)
		}
		d1 := time.Since(t)
		if _, err := res.EncodeMask(); err != nil {
			fail(err)
		}
		d2 := time.Since(t)
		if i >= 2 { // warm-up
			lat = append(lat, ms(d1))
			latMask = append(latMask, ms(d2))
		}
	}
	fmt.Printf("\n## cookies: backbone %s, input %dx%d, grid %dx%d, dim %d, bank %d of %d patches, sigma %.1f, margin %d\n",
		mt.Backbone, mt.InputWidth, mt.InputHeight, mt.GridWidth, mt.GridHeight, mt.Dim, mt.BankSize, mt.Training.Patches, mt.Sigma, mt.Margin)
	fmt.Printf("train: %d images (%d normal, %d anomalous; %d with masks); bank from %d normals; calibration %d normal + %d anomalous\n",
		len(train), nn, na, mt.Training.MaskImages, mt.Training.BankImages, mt.Training.CalibrationNormal, mt.Training.CalibrationAnom)
	fmt.Printf("training time: %.2f s wall, %.2f s process CPU (GOMAXPROCS=%d; load average %s)\n", trainTime.Seconds(), trainCPU.Seconds(), runtime.GOMAXPROCS(0), loadavg())
	fmt.Printf("calibration: threshold %.4f, F1 %.3f, AUROC %.3f\n", cal.Threshold, cal.F1, cal.AUROC)
	fmt.Printf("test (%d images: %d anomalous): accuracy %.3f, AUROC %.3f, F1 %.3f, precision %.3f, recall %.3f (TP %d FP %d TN %d FN %d)\n",
		len(ev.Images), ev.TP+ev.FN, ev.Accuracy, ev.AUROC, ev.F1, ev.Precision, ev.Recall, ev.TP, ev.FP, ev.TN, ev.FN)
	for _, r := range ev.Images {
		mark := ""
		if r.Predicted != r.Anomalous {
			mark = "  <-- wrong"
		}
		fmt.Printf("  %-22s score %.4f conf %.3f%s\n", r.Name, r.Score, r.Confidence, mark)
	}
	if mt.Segmentation {
		fmt.Printf("segmentation: classes %v, pixel threshold %.4f; mean IoU on %d held-out training anomalies: %.3f\n", mt.Classes, mt.PixelThreshold, len(seg.Images), seg.MeanIoU)
		for _, r := range seg.Images {
			fmt.Printf("  %-32s IoU %.3f (detected %v)\n", r.Name, r.IoU, r.Predicted)
		}
	}
	cpuPer := ms(cpuTime()-cpu0) / float64(runs)
	fmt.Printf("Detect latency (decode+detect, one 576x768 JPEG, %d runs): p50 %.1f ms, p90 %.1f ms; with mask PNG: p50 %.1f ms; process CPU time %.1f ms per call (incl. mask PNG)\n", runs, pct(lat, 50), pct(lat, 90), pct(latMask, 50), cpuPer)
	fmt.Printf("model file: %d bytes\n", len(blob))
}

func synthetic(ctx context.Context, bb backbone.Backbone, dir string, input, bank int, sigma float64, seed int64, flips, margin int, log *slog.Logger) {
	fmt.Printf("\n## synthetic textures: %s backbone, 256x256 windows; train 30 normal + 10 anomalous (masked), test 20 normal + 20 anomalous\n", bb.Info().Name)
	for ti, name := range []string{"brick", "grass", "gravel"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".png"))
		if err != nil {
			fail(err)
		}
		tex, err := imageio.Decode(b)
		if err != nil {
			fail(err)
		}
		s := uint64(seed)*100 + uint64(ti)*10
		train := append(anomalydata.Synthetic(tex, 30, 256, false, s+1), anomalydata.Synthetic(tex, 10, 256, true, s+2)...)
		test := append(anomalydata.Synthetic(tex, 20, 256, false, s+3), anomalydata.Synthetic(tex, 20, 256, true, s+4)...)
		t0 := time.Now()
		m, _, err := anomaly.Train(ctx, anomaly.TrainConfig{Backbone: bb, Train: train, InputSize: input, BankSize: bank, Sigma: sigma, Seed: seed, Flips: flips, Margin: margin, Logger: log})
		if err != nil {
			fail(err)
		}
		tt := time.Since(t0)
		ev, err := m.Evaluate(ctx, test)
		if err != nil {
			fail(err)
		}
		mt := m.Meta()
		fmt.Printf("%-7s input %dx%d: image AUROC %.3f, accuracy %.3f, F1 %.3f, mean IoU %.3f (train %.1f s)\n", name, mt.InputWidth, mt.InputHeight, ev.AUROC, ev.Accuracy, ev.F1, ev.MeanIoU, tt.Seconds())
		m.Close()
	}
}

// cpuTime is the process's user+system CPU time (all threads, ONNX
// Runtime's included): a latency proxy that other load on the machine does
// not inflate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, int(math.Ceil(p/100*float64(len(s))))-1)]
}
