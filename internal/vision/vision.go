// Package vision trains, evaluates, stores and runs custom image models: a
// frozen backbone (package backbone) turns images into embeddings, a small
// head (package head) trained in Go turns embeddings into labels, and the
// evaluation (package eval) is reported as Rekognition Custom Labels does.
//
// The entry points are Train, (*Model).Predict, Save/Load and Export.
package vision

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"time"

	"github.com/ocellus/ocellus/internal/vision/backbone"
	"github.com/ocellus/ocellus/internal/vision/eval"
	"github.com/ocellus/ocellus/internal/vision/head"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// Kind is the task a model solves.
type Kind string

const (
	Classification Kind = "classification" // one label per image
	MultiLabel     Kind = "multilabel"     // any number of labels per image
	Detection      Kind = "detection"      // labelled boxes
)

// Box is a bounding box as ratios of the image width/height, from the top-left.
type Box struct {
	Left, Top, Width, Height float64
}

// Object is a labelled box of a training example.
type Object struct {
	Label string
	Box   Box
}

// Example is one training or test image: exactly one of Image, Data or Path
// gives the pixels; Labels are image-level labels, Objects boxes.
type Example struct {
	Image   image.Image
	Data    []byte
	Path    string
	Labels  []string
	Objects []Object
}

func (e Example) load() (image.Image, error) {
	switch {
	case e.Image != nil:
		return e.Image, nil
	case e.Data != nil:
		return imageio.Decode(e.Data)
	case e.Path != "":
		b, err := os.ReadFile(e.Path)
		if err != nil {
			return nil, err
		}
		img, err := imageio.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Path, err)
		}
		return img, nil
	}
	return nil, errors.New("vision: example has no image")
}

// Label is one prediction; Confidence is 0-100. Box is set by detection models.
type Label struct {
	Name       string
	Confidence float64
	Box        *Box
}

// TrainConfig configures Train. Zero values are documented defaults.
type TrainConfig struct {
	Backbone backbone.Backbone // required
	Train    []Example
	Test     []Example // empty = 20% of Train, chosen with Seed
	Seed     uint64
	Kind     Kind // empty = detection if any example has objects, multilabel if any has several labels, else classification
	Head     head.Config
	// BoxHead configures the detection box regression (zero fields: 128
	// hidden units, 100 epochs, learning rate 3e-3, no dropout).
	BoxHead head.Config
	// BoxClassifier configures the detection box classifier (tiled
	// models too) (zero fields: 128 hidden units, epochs from a budget; see
	// trainBoxClassifier).
	BoxClassifier head.Config
	// BoxRefine configures the detection box refinement, the second
	// stage's regression of the true box from a proposal's pooled features
	// (zero fields: 128 hidden units, epochs from a budget, learning rate
	// 3e-3, no dropout; see trainBoxClassifier).
	BoxRefine head.Config
	// DetectionTiles sets how many tiles a side a detection model runs on
	// (see Model.Tiles); 0 chooses from the training boxes' sizes.
	DetectionTiles int
	// NoFlip disables the horizontal-flip copies added to the training set.
	NoFlip bool
	// Augment adds further training copies of every image (crops, colour
	// jitter; see imageio.Augment), on top of the original and its mirror.
	Augment []imageio.Augment
	Workers int          // default GOMAXPROCS
	Logger  *slog.Logger // default: discard
	Now     func() time.Time
	// RejectLimit is the share of Train (and, separately, of Test) whose
	// images may fail to decode: such examples are left out and listed in
	// Evaluation.Rejected, and above the limit Train fails with a
	// *TooManyRejectedError. 0 means MaxRejectedShare (AWS's limit); a
	// negative value refuses any undecodable image.
	RejectLimit float64
	// OnReject, if set, is called for each rejected example, in order,
	// before training starts.
	OnReject func(Rejected)
}

// MaxRejectedShare is the default TrainConfig.RejectLimit: Custom Labels
// fails a dataset with more than 20% invalid lines
// (ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST).
const MaxRejectedShare = 0.2

// Rejected is an example Train left out because its image cannot be read
// or decoded (truncated, corrupt, empty, not a JPEG or PNG, too large).
type Rejected struct {
	Test  bool  // the example is cfg.Test[Index]; else cfg.Train[Index]
	Index int   // position in cfg.Train or cfg.Test
	Err   error // why; wraps imageio's or the file system's error
}

// TooManyRejectedError is Train's error when more than RejectLimit of a
// set's images cannot be decoded.
type TooManyRejectedError struct {
	Test     bool // the test set (else the training set)
	Rejected []Rejected
	Total    int     // examples in the set
	Limit    float64 // the share allowed
}

func (e *TooManyRejectedError) Error() string {
	set := "training"
	if e.Test {
		set = "test"
	}
	return fmt.Sprintf("vision: %d of the %d %s images cannot be decoded (at most %.0f%% may be): first: %v",
		len(e.Rejected), e.Total, set, e.Limit*100, e.Rejected[0].Err)
}

// Evaluation is the test-set evaluation of a trained model.
type Evaluation struct {
	Report         *eval.Report `json:"report"`
	TrainingImages int          `json:"trainingImages"`
	End            time.Time    `json:"end"`
	TrainSeconds   float64      `json:"trainSeconds"` // feature extraction + head fitting
	// Rejected are the examples left out because their images cannot be
	// decoded (see TrainConfig.RejectLimit).
	Rejected []Rejected `json:"-"`
}

// Summary returns the Custom Labels evaluation-summary document.
func (e *Evaluation) Summary(projectVersionArn string, kind Kind) *eval.Summary {
	return eval.NewSummary(e.Report, eval.SummaryInput{ProjectVersionArn: projectVersionArn, End: e.End, TrainingImages: e.TrainingImages, Detection: kind == Detection})
}

// Train fits a model on cfg.Train and evaluates it on cfg.Test; the
// per-label thresholds are the F1-maximising ones on the test set.
func Train(ctx context.Context, cfg TrainConfig) (*Model, *Evaluation, error) {
	if cfg.Backbone == nil {
		return nil, nil, errors.New("vision: no backbone")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if len(cfg.Train) == 0 {
		return nil, nil, errors.New("vision: no training images")
	}
	cfg, rejected, err := screenConfig(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	m, ev, err := train(ctx, cfg, log, now)
	if err != nil {
		return nil, nil, err
	}
	ev.Rejected = rejected
	return m, ev, nil
}

func train(ctx context.Context, cfg TrainConfig, log *slog.Logger, now func() time.Time) (*Model, *Evaluation, error) {
	kind := cfg.Kind
	if kind == "" {
		kind = Classification
		for _, e := range cfg.Train {
			if len(e.Objects) > 0 {
				kind = Detection
				break
			}
			if len(e.Labels) > 1 {
				kind = MultiLabel
			}
		}
	}
	train, test := cfg.Train, cfg.Test
	if len(test) == 0 {
		train, test = Split(train, 0.2, cfg.Seed)
	}
	labels := labelSet(train)
	if kind == Detection {
		t0 := now()
		m, ev, err := trainDetection(ctx, cfg, train, test, labels, log, func() float64 { return now().Sub(t0).Seconds() })
		if err != nil {
			return nil, nil, err
		}
		ev.End = now()
		return m, ev, nil
	}
	if len(labels) < 2 && kind == Classification {
		return nil, nil, errors.New("vision: classification needs at least 2 labels")
	}
	if len(labels) < 1 {
		return nil, nil, errors.New("vision: no labels in the training set")
	}
	idx := map[string]int{}
	for i, l := range labels {
		idx[l] = i
	}
	targets := func(ex []Example) [][]bool {
		y := make([][]bool, len(ex))
		for i, e := range ex {
			y[i] = make([]bool, len(labels))
			for _, l := range e.Labels {
				if k, ok := idx[l]; ok {
					y[i][k] = true
				}
			}
		}
		return y
	}
	for i, e := range train {
		if len(e.Labels) == 0 && kind != Detection {
			return nil, nil, fmt.Errorf("vision: training image %d has no label", i)
		}
		if kind == Classification && len(e.Labels) != 1 {
			return nil, nil, fmt.Errorf("vision: training image %d has %d labels; classification needs exactly one", i, len(e.Labels))
		}
	}

	start := now()
	info := classificationInfo(cfg.Backbone.Info())
	fx := &extractor{bb: cfg.Backbone, info: info, pools: backbone.Pools(info), workers: cfg.Workers, letterbox: true, sqrt: true}
	variants := []imageio.Augment{{}}
	if !cfg.NoFlip {
		variants = append(variants, imageio.Augment{Flip: true})
	}
	variants = append(variants, cfg.Augment...)
	log.Info("extracting training features", "images", len(train), "variants", len(variants), "backbone", info.Name)
	feats, err := fx.extract(ctx, train, variants)
	if err != nil {
		return nil, nil, err
	}
	ytrain := targets(train)
	var X [][]float32
	var Y [][]bool
	for v := range variants {
		for i := range train {
			X = append(X, feats[i*len(variants)+v])
			Y = append(Y, ytrain[i])
		}
	}
	out := head.Softmax
	if kind == MultiLabel {
		out = head.Sigmoid
	}
	hc := imageHeadConfig(cfg.Head, cfg.Seed)
	if hc.OnEpoch == nil {
		hc.OnEpoch = func(ep int, loss float64) { log.Debug("head epoch", "epoch", ep, "loss", loss) }
	}
	log.Info("training head", "examples", len(X), "dim", len(X[0]), "labels", len(labels))
	h, err := head.Train(ctx, X, Y, out, hc)
	if err != nil {
		return nil, nil, err
	}
	trainSecs := now().Sub(start).Seconds()
	m := &Model{Format: FormatVersion, Kind: kind, Backbone: info, Labels: labels, Head: h, bb: cfg.Backbone, pools: fx.pools,
		Letterbox: true, SqrtEmbedding: true, FlipTest: true}

	log.Info("evaluating", "images", len(test))
	tf, err := fx.extract(ctx, test, []imageio.Augment{{}, {Flip: true}})
	if err != nil {
		return nil, nil, err
	}
	probs := make([][]float64, len(test))
	for i := range probs {
		p, q := h.Predict(tf[2*i]), h.Predict(tf[2*i+1])
		for k := range p {
			p[k] = (p[k] + q[k]) / 2
		}
		probs[i] = p
	}
	rep := eval.Classification(labels, probs, targets(test), kind == Classification)
	m.Thresholds = make([]float64, len(labels))
	for k, l := range rep.Labels {
		m.Thresholds[k] = l.Threshold
		if l.TestImages == 0 {
			m.Thresholds[k] = 50
		}
	}
	ev := &Evaluation{Report: rep, TrainingImages: len(train), End: now(), TrainSeconds: trainSecs}
	m.Evaluation = ev
	log.Info("trained", "f1", rep.F1, "accuracy", rep.Accuracy, "seconds", trainSecs)
	return m, ev, nil
}

// Image-level head defaults (TrainConfig.Head fields left zero), chosen on
// the real sets of docs/BENCHMARKS.md: 60 epochs beat head's 20; a
// decoupled weight decay of 1 (head's default 1e-4 hardly decays at all)
// took sign-language digits from 0.942 to 0.950 top-1 with clothing and
// Fashion-MNIST unchanged; with it, and the stride-16 map pooled 3x3 (see
// classificationInfo), a learning rate of 4e-3 instead of 2e-3 took
// clothing from 0.845 to 0.861.
const (
	imageHeadEpochs      = 60
	imageHeadLR          = 4e-3
	imageHeadWeightDecay = 1
)

// imageHeadConfig is the head configuration of image-level models: c with
// its zero fields set to the image-level defaults, class-balanced, seeded.
func imageHeadConfig(c head.Config, seed uint64) head.Config {
	c.Seed = seed
	c.Balance = true
	if c.Epochs <= 0 {
		c.Epochs = imageHeadEpochs
	}
	if c.LR <= 0 {
		c.LR = imageHeadLR
	}
	if c.WeightDecay == 0 {
		c.WeightDecay = imageHeadWeightDecay
	}
	return c
}

// screenConfig decodes every image of cfg.Train and cfg.Test once and
// returns cfg without the examples whose images cannot be decoded, which
// it reports (OnReject, then the returned list) or, above RejectLimit,
// fails on. Real data sets hold a few broken files; one of them must not
// fail a whole training run.
//
// A truncated JPEG is refused, not used, with either decoder: image/jpeg
// cannot decode it at all, and libjpeg-turbo, which could, runs with
// TJFLAG_STOPONWARNING ("Premature end of JPEG file" is a warning) and
// hands the file to image/jpeg, so both decoders give the same verdict
// (imageio.Decode). The part libjpeg would fill in is flat grey, and boxes
// or labels there would be learnt from pixels that are not the object;
// DetectCustomLabels refuses the same file the same way.
//
// The cost is one extra decode per image (the trainers decode again when
// they run the backbone: keeping every decoded image in memory instead
// would take gigabytes for a thousand photos).
func screenConfig(ctx context.Context, cfg TrainConfig) (TrainConfig, []Rejected, error) {
	limit := cfg.RejectLimit
	if limit == 0 {
		limit = MaxRejectedShare
	}
	limit = max(limit, 0)
	hadTest := len(cfg.Test) > 0
	var all []Rejected
	for _, test := range []bool{false, true} {
		set := cfg.Train
		if test {
			set = cfg.Test
		}
		kept, rej, err := screen(ctx, set, cfg.Workers)
		if err != nil {
			return cfg, nil, err
		}
		for i := range rej {
			rej[i].Test = test
		}
		if len(rej) > 0 && float64(len(rej)) > limit*float64(len(set)) {
			return cfg, nil, &TooManyRejectedError{Test: test, Rejected: rej, Total: len(set), Limit: limit}
		}
		if test {
			cfg.Test = kept
		} else {
			cfg.Train = kept
		}
		all = append(all, rej...)
	}
	if cfg.OnReject != nil {
		for _, r := range all {
			cfg.OnReject(r)
		}
	}
	if len(cfg.Train) == 0 {
		return cfg, nil, errors.New("vision: no training images can be decoded")
	}
	if len(cfg.Test) == 0 && hadTest {
		return cfg, nil, errors.New("vision: no test images can be decoded")
	}
	return cfg, all, nil
}

// screen decodes ex on all workers and returns the examples that decode
// and the positions and errors of those that do not. Examples given as an
// image.Image are not decoded.
func screen(ctx context.Context, ex []Example, workers int) ([]Example, []Rejected, error) {
	errs := make([]error, len(ex))
	err := eachOnWorkers(ctx, len(ex), workers, func(_ context.Context, i int) error {
		if ex[i].Image == nil {
			_, errs[i] = ex[i].load()
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var rej []Rejected
	kept := make([]Example, 0, len(ex))
	for i, err := range errs {
		if err != nil {
			rej = append(rej, Rejected{Index: i, Err: err})
			continue
		}
		kept = append(kept, ex[i])
	}
	return kept, rej, nil
}

// Split moves a fraction of examples (deterministic for a seed) to a test set.
func Split(ex []Example, frac float64, seed uint64) (train, test []Example) {
	order := make([]int, len(ex))
	for i := range order {
		order[i] = i
	}
	r := rand.New(rand.NewPCG(seed, 0x5b1175))
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	n := int(float64(len(ex))*frac + 0.5)
	if n < 1 && len(ex) > 1 {
		n = 1
	}
	sel := map[int]bool{}
	for _, i := range order[:n] {
		sel[i] = true
	}
	for i, e := range ex {
		if sel[i] {
			test = append(test, e)
		} else {
			train = append(train, e)
		}
	}
	return train, test
}

func labelSet(ex []Example) []string {
	set := map[string]bool{}
	for _, e := range ex {
		for _, l := range e.Labels {
			set[l] = true
		}
		for _, o := range e.Objects {
			set[o.Label] = true
		}
	}
	out := make([]string, 0, len(set))
	for l := range set {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// classificationInfo is the backbone description image-level models pool
// with: the stride-16 map also pooled over 3x3 cells (where the hand or the
// garment's sleeves and hem are, which the global means lose). 2x2 cells
// gave +0.02 on sign-language digits over global means only; 3x3 instead
// took clothing from 0.824 to 0.845 (with weight decay 1) at 480 more
// embedding dimensions. The grids are stored with the model, so models
// trained with 2x2 cells load and run as trained.
func classificationInfo(info backbone.Info) backbone.Info {
	maps := make([]backbone.Map, len(info.Maps))
	for i, m := range info.Maps {
		if m.Stride == 16 && slices.Equal(m.Grids, []int{1}) && m.H >= 6 && m.W >= 6 {
			m.Grids = []int{1, 3}
		}
		maps[i] = m
	}
	info.Maps = maps
	return info
}

// extractor turns examples into embeddings, decoding and running the
// backbone on all workers at once. letterbox and sqrt are the image-level
// models' preprocessing (Model.Letterbox, Model.SqrtEmbedding).
type extractor struct {
	bb        backbone.Backbone
	info      backbone.Info
	pools     [][][]float32
	workers   int
	letterbox bool
	sqrt      bool
}

// extract returns len(ex)*len(variants) embeddings, variant-minor.
func (f *extractor) extract(ctx context.Context, ex []Example, variants []imageio.Augment) ([][]float32, error) {
	// One image a call: ONNX Runtime is fastest per image at batch 1 on CPU.
	out := make([][]float32, len(ex)*len(variants))
	n := len(variants)
	err := eachOnWorkers(ctx, len(ex), f.workers, func(ctx context.Context, i int) error {
		img, err := ex[i].load()
		if err != nil {
			return fmt.Errorf("vision: image %d: %w", i, err)
		}
		x := make([]float32, n*f.info.InputLen())
		for v, a := range variants {
			f.preprocess(x[v*f.info.InputLen():(v+1)*f.info.InputLen()], img, a)
		}
		maps, err := f.bb.Forward(ctx, x, n)
		if err != nil {
			return err
		}
		for j := range n {
			e := make([]float32, backbone.EmbeddingLen(f.info))
			backbone.Embed(e, f.info, maps, j, f.pools)
			if f.sqrt {
				sqrtEmbedding(e)
			}
			out[i*n+j] = e
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (f *extractor) preprocess(dst []float32, img image.Image, a imageio.Augment) {
	img = a.Apply(img)
	var r *image.RGBA
	if f.letterbox {
		r = letterbox(img, f.info.Size, f.info.Mean)
	} else {
		r = imageio.Resize(img, f.info.Size, f.info.Size)
	}
	imageio.CHW(dst, r, imageio.Norm{Mean: f.info.Mean, Std: f.info.Std}, a.Flip)
}
