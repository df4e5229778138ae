// Command qualitybench measures model quality on the real data sets in
// ../shared/datasets with the product's defaults: what `ocellus train` and
// CreateProjectVersion / CreateModel train with no options (vision.Train
// with a zero head config; anomaly.Train as the Lookout training path calls
// it), on the MobileNetV2-int8 backbone opened as the server opens it. The
// sets are read with internal/convert and, for Custom Labels, go through a
// written manifest and internal/manifest.Read as `ocellus train` reads
// them. It prints one table; `make bench-quality` runs it, `-only SET`
// runs one set.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ocellus/ocellus/internal/convert"
	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/vision"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/anomaly/anomalydata"
	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/fashionmnist"
	"github.com/ocellus/ocellus/internal/vision/head"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// seed is the one seed of every split and every training run.
const seed = 1

type row struct {
	set, task, metric string
	value             float64
	second            string // a second figure (mask IoU), "" if none
	perClass          string
	train, cpu        time.Duration
	p50               time.Duration
	n                 string // train/test sizes
}

type bench struct {
	ctx      context.Context
	data     string
	bbPath   string
	latRuns  int
	rows     []row
	warnings []string
}

func main() {
	wd, _ := os.Getwd()
	root := filepath.Join(backbone.ModuleRoot(wd), "..", "shared")
	data := flag.String("data", filepath.Join(root, "datasets"), "directory of the shared data sets")
	bbPath := flag.String("backbone", filepath.Join(root, "models", "mobilenetv2-12-int8.onnx"), "ONNX backbone (as the server is configured)")
	fashion := flag.String("fashion", "/usr/share/datasets/fashion-mnist", "Fashion-MNIST directory (Debian dataset-fashion-mnist)")
	only := flag.String("only", "", "run one set: bccd, playing-cards, deeppcb, clothing-small, sign-language-digits, fashion-mnist, hazelnut-toy, lookout-cookies, deeppcb-anomaly")
	runs := flag.Int("latency-runs", 30, "predictions timed per set for the p50 latency")
	flag.Parse()
	b := &bench{ctx: context.Background(), data: *data, bbPath: *bbPath, latRuns: *runs}
	sets := []struct {
		name string
		run  func() error
	}{
		{"bccd", b.bccd},
		{"playing-cards", b.cards},
		{"deeppcb", b.deeppcb},
		{"clothing-small", b.clothing},
		{"sign-language-digits", b.signs},
		{"fashion-mnist", func() error { return b.fashion(*fashion) }},
		{"hazelnut-toy", b.hazelnut},
		{"lookout-cookies", b.cookies},
		{"deeppcb-anomaly", b.deeppcbAnomaly},
	}
	known, failed := false, false
	for _, s := range sets {
		if *only != "" && *only != s.name {
			continue
		}
		known = true
		fmt.Fprintf(os.Stderr, "qualitybench: %s ...\n", s.name)
		if err := s.run(); err != nil {
			b.warn("%s failed: %v", s.name, err)
			failed = true
		}
	}
	if !known {
		fmt.Fprintf(os.Stderr, "qualitybench: unknown set %q\n", *only)
		os.Exit(2)
	}
	b.print(os.Stdout)
	if failed {
		os.Exit(1)
	}
}

func (b *bench) print(w io.Writer) {
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(w, "backbone %s, seed %d, load average at the end %s\n", filepath.Base(b.bbPath), seed, strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Fprintln(w, "| set | task | train/test | metric | value | per class | training wall | training CPU | p50 predict |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range b.rows {
		v := fmt.Sprintf("%.3f", r.value)
		if r.second != "" {
			v += ", " + r.second
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %.1f s | %.1f s | %.1f ms |\n", r.set, r.task, r.n, r.metric, v, r.perClass,
			r.train.Seconds(), r.cpu.Seconds(), float64(r.p50.Microseconds())/1000)
	}
	for _, s := range b.warnings {
		fmt.Fprintln(w, "warning:", s)
	}
}

func (b *bench) warn(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	fmt.Fprintln(os.Stderr, "qualitybench: warning:", s)
	b.warnings = append(b.warnings, s)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// open opens the backbone as the server does: ORTConfig{} for
// classification and Lookout for Vision, Size vision.DetectionSize for
// detection.
func (b *bench) open(detection bool) (backbone.Backbone, error) {
	cfg := backbone.ORTConfig{}
	if detection {
		cfg.Size = vision.DetectionSize
	}
	return backbone.OpenORT(b.bbPath, cfg)
}

// examples writes d as a Custom Labels manifest, reads it back as
// `ocellus train` does, and skips (with a warning) images that do not
// decode.
func (b *bench) examples(set string, d *convert.Dataset, root string) ([]vision.Example, error) {
	for _, p := range d.Problems {
		b.warn("%s: converter: %s", set, p)
	}
	var buf bytes.Buffer
	if _, err := d.WriteDetection(&buf, convert.WriteOptions{}); err != nil {
		return nil, err
	}
	return b.read(set, &buf, root)
}

func (b *bench) read(set string, r io.Reader, root string) ([]vision.Example, error) {
	entries, _, err := manifest.Read(r, manifest.ParseOptions{Service: manifest.CustomLabels, AllowFilePaths: true})
	if err != nil {
		return nil, err
	}
	var out []vision.Example
	for _, e := range entries {
		p := manifest.LocalPath(e.SourceRef, root, "")
		if !b.decodes(set, p) {
			continue
		}
		boxes, err := e.RelBoxes()
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", set, e.Line, err)
		}
		ex := vision.Example{Path: p, Labels: e.ClassNames()}
		for _, bx := range boxes {
			ex.Objects = append(ex.Objects, vision.Object{Label: bx.Label, Box: vision.Box{Left: bx.Left, Top: bx.Top, Width: bx.Width, Height: bx.Height}})
		}
		out = append(out, ex)
	}
	return out, nil
}

func (b *bench) decodes(set, p string) bool {
	data, err := os.ReadFile(p)
	if err == nil {
		_, err = imageio.Decode(data)
	}
	if err != nil {
		b.warn("%s: skipping %s: %v", set, p, err)
		return false
	}
	return true
}

// split returns a seeded permutation split of n items: the first share
// go to train.
func split(n int, share float64) (train, test []int) {
	perm := rand.New(rand.NewPCG(seed, 0)).Perm(n)
	k := int(math.Round(float64(n) * share))
	train, test = append([]int(nil), perm[:k]...), append([]int(nil), perm[k:]...)
	sort.Ints(train)
	sort.Ints(test)
	return
}

func pick[T any](xs []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = xs[j]
	}
	return out
}

// custom trains a Custom Labels model with the defaults and records a row.
func (b *bench) custom(set string, train, test []vision.Example) error {
	det := false
	for _, e := range train {
		if len(e.Objects) > 0 {
			det = true
		}
	}
	bb, err := b.open(det)
	if err != nil {
		return err
	}
	defer bb.Close()
	t0, c0 := time.Now(), cpuTime()
	m, ev, err := vision.Train(b.ctx, vision.TrainConfig{Backbone: bb, Train: train, Test: test, Seed: seed, Head: head.Config{}})
	if err != nil {
		return err
	}
	wall, cpu := time.Since(t0), cpuTime()-c0
	r := ev.Report
	out := row{set: set, train: wall, cpu: cpu, n: fmt.Sprintf("%d/%d", len(train), len(test))}
	var per []string
	if m.Kind == vision.Detection {
		out.task, out.metric, out.value = "detection", "mAP@0.5", r.MAP
		for _, l := range r.Labels {
			per = append(per, fmt.Sprintf("%s %.2f", l.Label, l.AP))
		}
	} else {
		out.task, out.metric, out.value = "classification", "top-1", r.Accuracy
		for _, l := range r.Labels {
			per = append(per, fmt.Sprintf("%s %.2f", l.Label, l.F1))
		}
		out.perClass = "F1: "
	}
	if m.Kind == vision.Detection {
		out.perClass = "AP: "
	}
	out.perClass += strings.Join(per, ", ")
	var lat []time.Duration
	for i := 0; i < b.latRuns && len(test) > 0; i++ {
		e := test[i%len(test)]
		data := e.Data
		if data == nil && e.Path != "" {
			if data, err = os.ReadFile(e.Path); err != nil {
				return err
			}
		}
		if data == nil {
			data, err = encodePNG(e.Image)
			if err != nil {
				return err
			}
		}
		t := time.Now()
		if _, err := m.PredictBytes(b.ctx, data, vision.PredictOptions{}); err != nil {
			return err
		}
		lat = append(lat, time.Since(t))
	}
	out.p50 = median(lat)
	b.rows = append(b.rows, out)
	return nil
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

func (b *bench) bccd() error {
	root := filepath.Join(b.data, "bccd")
	d, err := convert.VOC(root, convert.VOCOptions{})
	if err != nil {
		return err
	}
	ids := func(name string) (map[string]bool, error) {
		l, err := convert.ReadIDs(filepath.Join(root, "ImageSets", "Main", name))
		m := map[string]bool{}
		for _, id := range l {
			m[id] = true
		}
		return m, err
	}
	tv, err := ids("trainval.txt")
	if err != nil {
		return err
	}
	ts, err := ids("test.txt")
	if err != nil {
		return err
	}
	id := func(r convert.Record) string {
		return strings.TrimSuffix(filepath.Base(r.Image), filepath.Ext(r.Image))
	}
	train, err := b.examples("bccd", d.Filter(func(r convert.Record) bool { return tv[id(r)] }), root)
	if err != nil {
		return err
	}
	test, err := b.examples("bccd", &convert.Dataset{Records: d.Filter(func(r convert.Record) bool { return ts[id(r)] }).Records}, root)
	if err != nil {
		return err
	}
	return b.custom("bccd (trainval/test)", train, test)
}

func (b *bench) cards() error {
	root := filepath.Join(b.data, "playing-cards")
	d, err := convert.VOC(root, convert.VOCOptions{})
	if err != nil {
		return err
	}
	train, err := b.examples("playing-cards", d.Filter(func(r convert.Record) bool { return strings.HasPrefix(r.Image, "train/") }), root)
	if err != nil {
		return err
	}
	test, err := b.examples("playing-cards", &convert.Dataset{Records: d.Filter(func(r convert.Record) bool { return strings.HasPrefix(r.Image, "test/") }).Records}, root)
	if err != nil {
		return err
	}
	return b.custom("playing-cards", train, test)
}

func (b *bench) deeppcb() error {
	root := filepath.Join(b.data, "deeppcb")
	d, err := convert.DeepPCB(root)
	if err != nil {
		return err
	}
	tr, ts := split(len(d.Records), 0.7)
	train, err := b.examples("deeppcb", &convert.Dataset{Records: pick(d.Records, tr), Problems: d.Problems}, root)
	if err != nil {
		return err
	}
	test, err := b.examples("deeppcb", &convert.Dataset{Records: pick(d.Records, ts)}, root)
	if err != nil {
		return err
	}
	return b.custom("deeppcb (70/30)", train, test)
}

// folders writes a folder-per-label classification manifest of dir, as
// `ocellus manifest from-folders` does.
func (b *bench) folders(set, dir string) ([]vision.Example, error) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	err := filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		if label, ok := manifest.FolderLabel(filepath.ToSlash(convertRel(dir, p))); ok {
			buf.Write(manifest.ClassificationLine(convertRel(dir, p), "", label, now))
			buf.WriteByte('\n')
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b.read(set, &buf, dir)
}

func convertRel(root, p string) string {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

func (b *bench) clothing() error {
	root := filepath.Join(b.data, "clothing-small")
	train, err := b.folders("clothing-small", filepath.Join(root, "train"))
	if err != nil {
		return err
	}
	test, err := b.folders("clothing-small", filepath.Join(root, "test"))
	if err != nil {
		return err
	}
	return b.custom("clothing-small", train, test)
}

func (b *bench) signs() error {
	all, err := b.folders("sign-language-digits", filepath.Join(b.data, "sign-language-digits"))
	if err != nil {
		return err
	}
	tr, ts := split(len(all), 0.7)
	return b.custom("sign-language-digits (70/30)", pick(all, tr), pick(all, ts))
}

// fashion reads Fashion-MNIST as scripts/bench-vision.sh does: the first
// 200 training images of each class, the 10,000 test images.
func (b *bench) fashion(dir string) error {
	read := func(split string, perClass int) ([]vision.Example, error) {
		return fashionmnist.Read(dir, split, perClass, 0)
	}
	train, err := read("train", 200)
	if err != nil {
		return err
	}
	test, err := read("t10k", 0)
	if err != nil {
		return err
	}
	return b.custom("fashion-mnist (200/class)", train, test)
}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	err := png.Encode(&buf, img)
	return buf.Bytes(), err
}

// lookout trains the anomaly engine as the Lookout for Vision training
// path does (the test set calibrates) and records a row.
func (b *bench) lookout(set string, train, test []anomaly.Example) error {
	train, test = b.sameSize(set, train, test)
	bb, err := b.open(false)
	if err != nil {
		return err
	}
	defer bb.Close()
	t0, c0 := time.Now(), cpuTime()
	m, _, err := anomaly.Train(b.ctx, anomaly.TrainConfig{Backbone: bb, Train: train, Calibration: test, Seed: seed})
	if err != nil {
		return err
	}
	wall, cpu := time.Since(t0), cpuTime()-c0
	ev, err := m.Evaluate(b.ctx, test)
	if err != nil {
		return err
	}
	out := row{set: set, task: "anomaly", metric: "image AUROC; mask IoU, pixel AUROC", value: ev.AUROC, train: wall, cpu: cpu,
		n: fmt.Sprintf("%d/%d", len(train), len(test)), perClass: fmt.Sprintf("F1 %.2f at threshold", ev.F1)}
	out.second = "IoU -"
	if !math.IsNaN(ev.MeanIoU) {
		out.second = fmt.Sprintf("IoU %.3f", ev.MeanIoU)
	}
	if pa, err := pixelAUROC(b.ctx, m, test); err != nil {
		return err
	} else if !math.IsNaN(pa) {
		out.second += fmt.Sprintf(", pixel AUROC %.3f", pa)
	}
	var lat []time.Duration
	for i := 0; i < b.latRuns && len(test) > 0; i++ {
		e := test[i%len(test)]
		data := e.Bytes
		if data == nil {
			if data, err = encodePNG(e.Image); err != nil {
				return err
			}
		}
		t := time.Now()
		if _, err := m.DetectBytes(b.ctx, data); err != nil {
			return err
		}
		lat = append(lat, time.Since(t))
	}
	out.p50 = median(lat)
	b.rows = append(b.rows, out)
	return nil
}

// anomalyExamples loads MVTec records (images as bytes, masks decoded).
func (b *bench) anomalyExamples(set string, d *convert.Dataset) ([]anomaly.Example, error) {
	var out []anomaly.Example
	white, _ := anomaly.ParseHexColor(convert.MaskColor)
	for _, r := range d.Records {
		data, err := os.ReadFile(r.Path)
		if err != nil {
			return nil, err
		}
		if _, err := imageio.Decode(data); err != nil {
			b.warn("%s: skipping %s: %v", set, r.Image, err)
			continue
		}
		ex := anomaly.Example{Name: r.Image, Bytes: data, Anomalous: r.Anomalous}
		if r.MaskPath != "" {
			mb, err := os.ReadFile(r.MaskPath)
			if err != nil {
				return nil, err
			}
			if ex.Mask, err = imageio.Decode(mb); err != nil {
				return nil, err
			}
			ex.ColorMap = map[color.RGBA]string{white: r.DefectClass}
		}
		out = append(out, ex)
	}
	return out, nil
}

func (b *bench) hazelnut() error {
	d, err := convert.MVTec(filepath.Join(b.data, "hazelnut-toy"))
	if err != nil {
		return err
	}
	train, err := b.anomalyExamples("hazelnut-toy", d.Split("train"))
	if err != nil {
		return err
	}
	test, err := b.anomalyExamples("hazelnut-toy", d.Split("test"))
	if err != nil {
		return err
	}
	return b.lookout("hazelnut-toy", train, test)
}

func (b *bench) cookies() error {
	root := filepath.Join(b.data, "lookout-cookies")
	train, err := anomalydata.ReadManifest(filepath.Join(root, "manifests", "template.manifest"), root)
	if err != nil {
		return err
	}
	test, err := anomalydata.ReadDir(filepath.Join(root, "test-images"))
	if err != nil {
		return err
	}
	return b.lookout("lookout-cookies", train, test)
}

// deeppcbAnomaly uses DeepPCB as anomaly data: templates are normal, the
// tested boards anomalous, their defect boxes painted as mask regions.
func (b *bench) deeppcbAnomaly() error {
	d, err := convert.DeepPCB(filepath.Join(b.data, "deeppcb"))
	if err != nil {
		return err
	}
	white, _ := anomaly.ParseHexColor(convert.MaskColor)
	pair := func(r convert.Record) ([]anomaly.Example, error) {
		tb, err := os.ReadFile(convert.DeepPCBTemplate(r))
		if err != nil {
			return nil, err
		}
		ab, err := os.ReadFile(r.Path)
		if err != nil {
			return nil, err
		}
		mask := image.NewGray(image.Rect(0, 0, r.Width, r.Height))
		for _, o := range r.Objects {
			for y := int(o.Top); y < int(o.Top+o.Height) && y < r.Height; y++ {
				for x := int(o.Left); x < int(o.Left+o.Width) && x < r.Width; x++ {
					mask.Pix[y*mask.Stride+x] = 255
				}
			}
		}
		return []anomaly.Example{
			{Name: convert.DeepPCBTemplate(r), Bytes: tb},
			{Name: r.Image, Bytes: ab, Anomalous: true, Mask: mask, ColorMap: map[color.RGBA]string{white: "defect"}},
		}, nil
	}
	tr, ts := split(len(d.Records), 0.7)
	var train, test []anomaly.Example
	for i, idx := range [][]int{tr, ts} {
		for _, j := range idx {
			exs, err := pair(d.Records[j])
			if err != nil {
				return err
			}
			if i == 0 {
				train = append(train, exs...)
			} else {
				test = append(test, exs...)
			}
		}
	}
	return b.lookout("deeppcb-anomaly (70/30 pairs)", train, test)
}

// sameSize leaves out, with a warning, images whose size differs from the
// first training image's: Lookout for Vision trains on images of one size
// and the engine refuses others.
func (b *bench) sameSize(set string, sets ...[]anomaly.Example) (train, test []anomaly.Example) {
	var size image.Point
	out := make([][]anomaly.Example, len(sets))
	for i, exs := range sets {
		for _, e := range exs {
			var p image.Point
			if e.Image != nil {
				p = e.Image.Bounds().Size()
			} else if cfg, _, err := image.DecodeConfig(bytes.NewReader(e.Bytes)); err == nil {
				p = image.Pt(cfg.Width, cfg.Height)
			}
			if size == (image.Point{}) {
				size = p
			}
			if p != size {
				b.warn("%s: skipping %s: %dx%d, the other images are %dx%d", set, e.Name, p.X, p.Y, size.X, size.Y)
				continue
			}
			out[i] = append(out[i], e)
		}
	}
	return out[0], out[1]
}

// pixelAUROC scores every patch-grid cell of the test images (Result.Map)
// against the true masks sampled at the cell centres: pixel AUROC at the
// engine's grid resolution, over normal and anomalous test images. NaN
// when no test image has a mask.
func pixelAUROC(ctx context.Context, m *anomaly.Model, test []anomaly.Example) (float64, error) {
	masked := false
	for _, e := range test {
		masked = masked || e.Mask != nil
	}
	if !masked {
		return math.NaN(), nil
	}
	meta := m.Meta()
	gw, gh := meta.GridWidth, meta.GridHeight
	var scores []float64
	var truth []bool
	for _, e := range test {
		if e.Anomalous && e.Mask == nil {
			continue // no pixel truth
		}
		res, err := m.DetectBytes(ctx, e.Bytes)
		if err != nil {
			return 0, err
		}
		if len(res.Map) != gw*gh {
			return math.NaN(), nil
		}
		var def []bool
		if e.Mask != nil {
			def = anomaly.DefectMask(e.Mask, e.ColorMap, gw, gh)
		}
		for i, v := range res.Map {
			scores = append(scores, float64(v))
			truth = append(truth, def != nil && def[i])
		}
	}
	return anomaly.AUROC(scores, truth), nil
}
