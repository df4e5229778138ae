package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/ocellus/ocellus/internal/blob"
	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/vision/imageio"
	"github.com/ocellus/ocellus/internal/vision/moderation"
)

// Custom Moderation adapters: model versions of a CONTENT_MODERATION
// project, trained from content-moderation-groundtruth manifests by the
// train-version job, never hosted: DetectModerationLabels loads one on
// first use (adapterCache).

// defaultAdapterThreshold is the operating point an adapter's evaluation
// is reported at when FeatureConfig gives no ConfidenceThreshold: the
// MinConfidence DetectModerationLabels uses by default.
const defaultAdapterThreshold = defaultModerationConfidence

// maxModerationManifest bounds a Custom Moderation manifest: 10,000 lines
// of a few hundred bytes fit many times over.
const maxModerationManifest = 64 << 20

// adapterKind is the Kind of an adapter's version (the artifact's format).
const adapterKind = "moderation-adapter"

// resolveModerationLabel is manifest's resolver for label names.
func resolveModerationLabel(name string) (string, error) {
	top, err := ocellus.ModerationTopLevel(name)
	if err != nil {
		return "", errors.New(ocellus.MessageOf(err))
	}
	return top, nil
}

// createAdapter is CreateProjectVersion in a CONTENT_MODERATION project:
// the manifests are read and checked line by line now, so that a bad one
// is refused with the line and AWS's code; images are read by the job.
func (c *Control) createAdapter(ctx context.Context, account string, p *ocellus.Project, in CreateVersionInput) (*ocellus.ProjectVersion, error) {
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	if in.OutputBucket == "" {
		return nil, ocellus.Errorf(ocellus.Invalid, "OutputConfig.S3Bucket is required.")
	}
	if _, err := c.resolveKey(in.KmsKeyID); err != nil {
		return nil, err
	}
	if t := in.ConfidenceThreshold; t != nil && (*t < 0 || *t > 100 || math.IsNaN(*t)) {
		return nil, ocellus.Errorf(ocellus.Invalid, "FeatureConfig.ContentModeration.ConfidenceThreshold must be between 0 and 100.")
	}
	if len(in.TrainingManifests) == 0 {
		return nil, ocellus.Errorf(ocellus.Invalid, "TrainingData is required to train an adapter: give a content-moderation-groundtruth manifest.")
	}
	if len(in.TestingManifests) == 0 && !in.TestingAutoCreate {
		return nil, ocellus.Errorf(ocellus.Invalid, "TestingData is required: give test manifests or set TestingData.AutoCreate.")
	}
	if len(in.TestingManifests) > 0 && in.TestingAutoCreate {
		return nil, ocellus.Errorf(ocellus.Invalid, "TestingData takes either Assets or AutoCreate, not both.")
	}
	n := 0
	for _, l := range append(slices.Clone(in.TrainingManifests), in.TestingManifests...) {
		es, err := c.moderationManifest(ctx, account, l)
		if err != nil {
			return nil, err
		}
		n += len(es)
	}
	if n > manifest.MaxModerationLines {
		return nil, ocellus.Errorf(ocellus.Invalid, "%s: The manifests list %d images; an adapter is trained on at most %d.",
			manifest.CodeManifestRowsExceedsMaximum, n, manifest.MaxModerationLines)
	}
	// Training needs the base model: say so now rather than fail later.
	if _, err := c.moderation.get(); err != nil {
		return nil, err
	}
	v := &ocellus.ProjectVersion{ProjectARN: p.ARN, Account: account, Name: in.Name, Description: in.Description,
		Status: ocellus.VersionTrainingInProgress, StatusMessage: ocellus.VersionTrainingInProgress.Message(),
		OutputBucket: in.OutputBucket, OutputPrefix: in.OutputPrefix, KmsKeyID: in.KmsKeyID,
		Feature: ocellus.FeatureContentModeration, ConfidenceThreshold: in.ConfidenceThreshold, BaseModelVersion: ModerationModelVersion}
	v.Training.Input, v.Testing.Input, v.Testing.AutoCreate = in.TrainingManifests, in.TestingManifests, in.TestingAutoCreate
	return c.recordVersion(ctx, p, v, in.Tags)
}

// moderationManifest reads and checks one Custom Moderation manifest.
func (c *Control) moderationManifest(ctx context.Context, account string, l ocellus.S3Location) ([]*manifest.ModerationEntry, error) {
	rc, _, err := c.blobs.Open(ctx, account, l.Bucket, l.Key, l.Version)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	es, err := manifest.ReadModeration(rc, maxModerationManifest, resolveModerationLabel)
	var me *manifest.ModerationError
	if errors.As(err, &me) {
		return nil, ocellus.Errorf(ocellus.Invalid, "The manifest s3://%s/%s is invalid: %s", l.Bucket, l.Key, me.Error())
	}
	if err != nil {
		return nil, ocellus.Wrap(err, "read manifest s3://%s/%s", l.Bucket, l.Key)
	}
	return es, nil
}

// adapterImage is one manifest line with what the base model makes of
// its image.
type adapterImage struct {
	entry    *manifest.ModerationEntry
	scores   moderation.Scores
	features []float32
	err      error // the image cannot be read or decoded
}

// adapterImages runs the base model on the images of entries, reading
// them from S3 as account.
func (c *Control) adapterImages(ctx context.Context, account string, m *moderation.Model, entries []*manifest.ModerationEntry) ([]adapterImage, error) {
	out := make([]adapterImage, len(entries))
	var fatal error
	var mu sync.Mutex
	forEach(len(entries), s3Fetchers, func(i int) {
		e := entries[i]
		out[i].entry = e
		data, _, err := c.blobs.ReadAll(ctx, account, e.Bucket, e.Key, "", manifest.MaxImageBytes)
		var tl *blob.TooLargeError
		switch {
		case errors.As(err, &tl):
			out[i].err = fmt.Errorf("%s is larger than %d bytes", e.SourceRef, manifest.MaxImageBytes)
			return
		case ocellus.KindOf(err) == ocellus.InvalidS3Object:
			out[i].err = fmt.Errorf("%s cannot be read: %s", e.SourceRef, ocellus.MessageOf(err))
			return
		case err != nil:
			mu.Lock()
			fatal = cmpErr(fatal, err)
			mu.Unlock()
			return
		}
		img, err := imageio.Decode(data)
		if err != nil {
			out[i].err = fmt.Errorf("%s cannot be decoded: %v", e.SourceRef, err)
			return
		}
		scores, feats, err := m.Classify(ctx, moderation.Pixels(img, m.Size()), 1)
		if err != nil {
			mu.Lock()
			fatal = cmpErr(fatal, err)
			mu.Unlock()
			return
		}
		out[i].scores, out[i].features = scores[0], feats[0]
	})
	if fatal != nil {
		return nil, fatal
	}
	return out, ctx.Err()
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// usable drops the images that cannot be read, failing when more than
// AWS's 20% of a set's lines are such.
func usable(set []adapterImage, name string) ([]adapterImage, error) {
	var ok []adapterImage
	var first error
	for _, im := range set {
		if im.err != nil {
			first = cmpErr(first, im.err)
			continue
		}
		ok = append(ok, im)
	}
	if bad := len(set) - len(ok); float64(bad) > 0.2*float64(len(set)) {
		return nil, ocellus.Errorf(ocellus.Invalid, "%s: %s The %s manifests have %d images of %d that cannot be read (first: %v); at most 20%% may be invalid.",
			manifest.CodeTooManyInvalidRowsInManifest, manifest.Message(manifest.CodeTooManyInvalidRowsInManifest), name, bad, len(set), first)
	}
	return ok, nil
}

// baseProbabilities is the base model's probability (0..1) of each of
// labels, NaN for a label it cannot emit.
func baseProbabilities(s moderation.Scores, labels []string) []float64 {
	out := make([]float64, len(labels))
	for k, l := range labels {
		out[k] = math.NaN()
		for _, m := range nsfwjsLabels {
			if m.label == l {
				out[k] = min(1, nsfwjsScore(s, m.classes...))
			}
		}
	}
	return out
}

// adapterLabels are the labels an adapter answers: those the base model
// emits and those its training examples name, in taxonomy order.
func adapterLabels(train []adapterImage) ([]string, []bool) {
	want := map[string]bool{}
	for _, m := range nsfwjsLabels {
		want[m.label] = true
	}
	for _, im := range train {
		for _, l := range im.entry.Labels {
			want[l] = true
		}
	}
	var labels []string
	var hasBase []bool
	for _, l := range ocellus.ModerationLabels() {
		if l.Level == 1 && want[l.Name] {
			labels = append(labels, l.Name)
			hasBase = append(hasBase, !math.IsNaN(baseProbabilities(moderation.Scores{}, []string{l.Name})[0]))
		}
	}
	return labels, hasBase
}

// trainAdapter is the train-version job's work for an adapter.
func (c *Control) trainAdapter(ctx context.Context, v *ocellus.ProjectVersion) error {
	var trainEntries, testEntries []*manifest.ModerationEntry
	for _, l := range v.Training.Input {
		es, err := c.moderationManifest(ctx, v.Account, l)
		if err != nil {
			return err
		}
		trainEntries = append(trainEntries, es...)
	}
	for _, l := range v.Testing.Input {
		es, err := c.moderationManifest(ctx, v.Account, l)
		if err != nil {
			return err
		}
		testEntries = append(testEntries, es...)
	}
	if v.Testing.AutoCreate {
		trainEntries, testEntries = splitAdapterTest(trainEntries, seedOf(v.ARN))
	}
	m, err := c.moderation.get()
	if err != nil {
		return err
	}
	all, err := c.adapterImages(ctx, v.Account, m, append(slices.Clone(trainEntries), testEntries...))
	if err != nil {
		return err
	}
	train, err := usable(all[:len(trainEntries)], "training")
	if err != nil {
		return err
	}
	test, err := usable(all[len(trainEntries):], "testing")
	if err != nil {
		return err
	}
	if len(train) == 0 || len(test) == 0 {
		return ocellus.Errorf(ocellus.Invalid, "An adapter needs training and testing images: %d training and %d testing images are usable.", len(train), len(test))
	}
	labels, hasBase := adapterLabels(train)
	ex := make([]moderation.AdapterExample, len(train))
	for i, im := range train {
		ex[i] = moderation.AdapterExample{Features: im.features, Base: baseProbabilities(im.scores, labels), Labels: truth(im.entry, labels)}
	}
	a, err := moderation.TrainAdapter(ctx, ModerationModelVersion, labels, hasBase, ex, moderation.AdapterConfig{})
	if err != nil {
		return err
	}
	enc, err := a.Encode()
	if err != nil {
		return err
	}
	rel, err := c.writeSealed(ctx, v, enc)
	if err != nil {
		return err
	}
	v.Artifact, v.Kind = rel, adapterKind
	threshold := defaultAdapterThreshold
	if v.ConfidenceThreshold != nil {
		threshold = *v.ConfidenceThreshold
	}
	evaluation, outLines := evaluateAdapter(a, test, threshold, v.ARN)
	evaluation.EvaluationDetails = adapterEvaluationDetails{EvaluationEndTimestamp: ocellus.Now(c.now).UTC().Format("2006-01-02T15:04:05.000Z"),
		ProjectVersionArn: v.ARN, BaseModelVersion: ModerationModelVersion, ConfidenceThreshold: threshold,
		NumberOfTrainingImages: len(train), NumberOfTestingImages: len(test)}
	f1 := evaluation.AggregatedEvaluationResults.F1Score
	v.F1 = &f1
	return c.writeAdapterOutput(ctx, v, evaluation, train, outLines)
}

// splitAdapterTest moves a seeded 20% of the training lines (at least
// one) to testing, for TestingData.AutoCreate.
func splitAdapterTest(es []*manifest.ModerationEntry, seed int64) (train, test []*manifest.ModerationEntry) {
	idx := rand.New(rand.NewPCG(uint64(seed), 0xada97e5)).Perm(len(es))
	nTest := max(1, len(es)/5)
	if len(es) < 2 {
		nTest = 0
	}
	isTest := map[int]bool{}
	for _, i := range idx[:nTest] {
		isTest[i] = true
	}
	for i, e := range es {
		if isTest[i] {
			test = append(test, e)
		} else {
			train = append(train, e)
		}
	}
	return train, test
}

func truth(e *manifest.ModerationEntry, labels []string) []bool {
	out := make([]bool, len(labels))
	for k, l := range labels {
		out[k] = slices.Contains(e.Labels, l)
	}
	return out
}

// The evaluation file of an adapter: per label and in aggregate, the
// confusion counts of the adapter and of the base model at the
// ConfidenceThreshold and at 5, 10, ..., 100.

type confusion struct {
	TruePositives  int
	TrueNegatives  int
	FalsePositives int
	FalseNegatives int
	Precision      float64
	Recall         float64
	F1Score        float64
}

func (c *confusion) add(predicted, actual bool) {
	switch {
	case predicted && actual:
		c.TruePositives++
	case predicted:
		c.FalsePositives++
	case actual:
		c.FalseNegatives++
	default:
		c.TrueNegatives++
	}
}

// finish computes the ratios. With nothing to find and nothing found,
// precision, recall and F1 are 1: no mistake was made.
func (c *confusion) finish() {
	ratio := func(num, den int) float64 {
		if den == 0 {
			return 1
		}
		return float64(num) / float64(den)
	}
	c.Precision = ratio(c.TruePositives, c.TruePositives+c.FalsePositives)
	c.Recall = ratio(c.TruePositives, c.TruePositives+c.FalseNegatives)
	c.F1Score = ratio(2*c.TruePositives, 2*c.TruePositives+c.FalsePositives+c.FalseNegatives)
}

type thresholdResult struct {
	Threshold float64
	Adapter   confusion
	BaseModel confusion
}

type labelEvaluation struct {
	Label                 string
	BaseModelEmitsLabel   bool
	AtConfidenceThreshold thresholdResult
	Thresholds            []thresholdResult
}

type adapterEvaluationDetails struct {
	EvaluationEndTimestamp string
	ProjectVersionArn      string
	BaseModelVersion       string
	ConfidenceThreshold    float64
	NumberOfTrainingImages int
	NumberOfTestingImages  int
}

type aggregatedEvaluation struct {
	// F1Score, Precision and Recall are the adapter's at the
	// ConfidenceThreshold, over every (image, label) decision.
	F1Score               float64
	Precision             float64
	Recall                float64
	AtConfidenceThreshold thresholdResult
	Thresholds            []thresholdResult
}

type adapterEvaluation struct {
	Version                     int
	EvaluationDetails           adapterEvaluationDetails
	AggregatedEvaluationResults aggregatedEvaluation
	LabelEvaluationResults      []labelEvaluation
}

// evaluationThresholds are the thresholds the evaluation sweeps.
func evaluationThresholds() []float64 {
	var ts []float64
	for t := 5; t <= 100; t += 5 {
		ts = append(ts, float64(t))
	}
	return ts
}

// evaluateAdapter scores the adapter and the base model on the test
// images, and returns the evaluation and the output manifest lines.
func evaluateAdapter(a *moderation.Adapter, test []adapterImage, threshold float64, arn string) (*adapterEvaluation, [][]byte) {
	labels := a.Labels
	// Labels only the test set names are evaluated too: neither model
	// finds them.
	for _, im := range test {
		for _, l := range im.entry.Labels {
			if !slices.Contains(labels, l) {
				labels = append(slices.Clone(labels), l)
			}
		}
	}
	type decision struct{ adapter, base []float64 } // percent per label, NaN = cannot emit
	ds := make([]decision, len(test))
	var lines [][]byte
	for i, im := range test {
		base := baseProbabilities(im.scores, a.Labels)
		pa := a.Predict(im.features, base)
		d := decision{adapter: make([]float64, len(labels)), base: make([]float64, len(labels))}
		for k, l := range labels {
			d.adapter[k], d.base[k] = math.NaN(), math.NaN()
			if j := slices.Index(a.Labels, l); j >= 0 {
				d.adapter[k], d.base[k] = 100*pa[j], 100*base[j]
			}
		}
		ds[i] = d
		lines = append(lines, outputLine(im.entry.Raw, labels, d.adapter, d.base, threshold, a.BaseModel, arn))
	}
	at := func(t float64, k int) thresholdResult { // k < 0: every label
		r := thresholdResult{Threshold: t}
		for i, im := range test {
			for j, l := range labels {
				if k >= 0 && j != k {
					continue
				}
				actual := slices.Contains(im.entry.Labels, l)
				r.Adapter.add(ds[i].adapter[j] >= t, actual) // NaN >= t is false
				r.BaseModel.add(ds[i].base[j] >= t, actual)
			}
		}
		r.Adapter.finish()
		r.BaseModel.finish()
		return r
	}
	sweep := func(k int) []thresholdResult {
		var rs []thresholdResult
		for _, t := range evaluationThresholds() {
			rs = append(rs, at(t, k))
		}
		return rs
	}
	ev := &adapterEvaluation{Version: 1}
	agg := at(threshold, -1)
	ev.AggregatedEvaluationResults = aggregatedEvaluation{F1Score: agg.Adapter.F1Score, Precision: agg.Adapter.Precision, Recall: agg.Adapter.Recall,
		AtConfidenceThreshold: agg, Thresholds: sweep(-1)}
	for k, l := range labels {
		emits := false
		if j := slices.Index(a.Labels, l); j >= 0 {
			emits = a.HasBase[j]
		}
		ev.LabelEvaluationResults = append(ev.LabelEvaluationResults, labelEvaluation{Label: l, BaseModelEmitsLabel: emits,
			AtConfidenceThreshold: at(threshold, k), Thresholds: sweep(k)})
	}
	return ev, lines
}

// fileLabel is a label of a DetectModerationLabels answer in the output
// manifest, in the API's shape.
type fileLabel struct {
	Confidence    float64
	Name          string
	ParentName    string
	TaxonomyLevel int
}

type fileDetection struct {
	ModerationLabels       []fileLabel
	ModerationModelVersion string
	ProjectVersion         string `json:",omitempty"`
}

// outputLine is a test manifest line with what the adapter and the base
// model answer at the threshold.
func outputLine(raw []byte, labels []string, adapter, base []float64, threshold float64, baseModel, arn string) []byte {
	answer := func(conf []float64) []fileLabel {
		out := []fileLabel{}
		for k, l := range labels {
			if conf[k] >= threshold {
				out = append(out, fileLabel{Confidence: conf[k], Name: l, TaxonomyLevel: 1})
			}
		}
		slices.SortStableFunc(out, func(x, y fileLabel) int { return cmpDesc(x.Confidence, y.Confidence) })
		return out
	}
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(raw, &obj) // a valid line: checked when read
	ad, _ := json.Marshal(fileDetection{ModerationLabels: answer(adapter), ModerationModelVersion: baseModel, ProjectVersion: arn})
	bm, _ := json.Marshal(fileDetection{ModerationLabels: answer(base), ModerationModelVersion: baseModel})
	obj["detect-moderation-labels"], obj["detect-moderation-labels-base-model"] = ad, bm
	b, _ := json.Marshal(obj)
	return b
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// writeAdapterOutput writes an adapter's files to its OutputConfig: the
// training lines used, the test lines with both models' answers, and the
// evaluation.
func (c *Control) writeAdapterOutput(ctx context.Context, v *ocellus.ProjectVersion, ev *adapterEvaluation, train []adapterImage, testLines [][]byte) error {
	name, put, err := c.outputFiles(ctx, v)
	if err != nil {
		return err
	}
	evJSON, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return err
	}
	if v.EvaluationResult, err = put(name("EvaluationResultSummary"), evJSON); err != nil {
		return err
	}
	trainLines := make([][]byte, len(train))
	for i, im := range train {
		trainLines[i] = im.entry.Raw
	}
	gt, err := put(name("TrainingGroundTruth"), bytes.Join(trainLines, []byte("\n")))
	if err != nil {
		return err
	}
	out, err := put(name("TestingOutputManifest"), bytes.Join(testLines, []byte("\n")))
	if err != nil {
		return err
	}
	v.Training.Output, v.Testing.Output = []ocellus.S3Location{*gt}, []ocellus.S3Location{*out}
	return nil
}

// adapterCache keeps the adapters DetectModerationLabels loaded, the
// most recently used first, at most max of them.
type adapterCache struct {
	mu    sync.Mutex
	max   int
	order []string // ARNs, most recent first
	m     map[string]*moderation.Adapter
}

// maxCachedAdapters bounds the adapters kept loaded (each is a few
// kilobytes per label).
const maxCachedAdapters = 64

func (ac *adapterCache) get(arn string, load func() (*moderation.Adapter, error)) (*moderation.Adapter, error) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if a, ok := ac.m[arn]; ok {
		ac.touch(arn)
		return a, nil
	}
	a, err := load()
	if err != nil {
		return nil, err
	}
	if ac.m == nil {
		ac.m = map[string]*moderation.Adapter{}
	}
	ac.m[arn] = a
	ac.touch(arn)
	for len(ac.order) > max(ac.max, 1) {
		delete(ac.m, ac.order[len(ac.order)-1])
		ac.order = ac.order[:len(ac.order)-1]
	}
	return a, nil
}

func (ac *adapterCache) touch(arn string) {
	if i := slices.Index(ac.order, arn); i >= 0 {
		ac.order = slices.Delete(ac.order, i, i+1)
	}
	ac.order = slices.Insert(ac.order, 0, arn)
}

// adapter loads the adapter arn names for DetectModerationLabels.
func (c *Control) adapter(ctx context.Context, account, arn string) (*ocellus.ProjectVersion, *moderation.Adapter, error) {
	v, err := c.version(ctx, account, arn)
	if k := ocellus.KindOf(err); k == ocellus.NotFound || k == ocellus.AccessDenied {
		// Another account's ARN tells nothing about what exists there.
		return nil, nil, ocellus.Errorf(ocellus.NotFound, "The adapter %s does not exist.", arn)
	}
	if err != nil {
		return nil, nil, err
	}
	if !v.Adapter() {
		return nil, nil, ocellus.Errorf(ocellus.Invalid, "%s is a Custom Labels model version, not a Custom Moderation adapter: ProjectVersion takes an adapter of a CONTENT_MODERATION project.", arn)
	}
	switch v.Status {
	case ocellus.VersionTrainingCompleted:
	case ocellus.VersionTrainingInProgress:
		return nil, nil, ocellus.Errorf(ocellus.NotReady, "The adapter %s is still training (TRAINING_IN_PROGRESS); retry when it is TRAINING_COMPLETED.", arn)
	default:
		return nil, nil, ocellus.Errorf(ocellus.NotReady, "The adapter %s is %s and cannot be used: %s", arn, v.Status, v.Message())
	}
	a, err := c.adapters.get(v.ARN, func() (*moderation.Adapter, error) {
		plain, err := c.readArtifact(ctx, v)
		if err != nil {
			return nil, err
		}
		return moderation.DecodeAdapter(plain)
	})
	if err != nil {
		return nil, nil, ocellus.Wrap(err, "load adapter %s", arn)
	}
	return v, a, nil
}

// adapterLabelsOf is the adapter's answer: each label at or above minConf
// percent (top-level categories), most confident first.
func adapterLabelsOf(a *moderation.Adapter, s moderation.Scores, features []float32, minConf float64) []ModerationLabel {
	p := a.Predict(features, baseProbabilities(s, a.Labels))
	labels := []ModerationLabel{}
	for k, l := range a.Labels {
		if conf := 100 * p[k]; conf >= minConf {
			chain, ok := ocellus.ModerationChain(l)
			if !ok {
				continue // an artifact naming a label this taxonomy lacks
			}
			for _, cl := range chain {
				labels = append(labels, ModerationLabel{ModerationLabel: cl, Confidence: conf})
			}
		}
	}
	slices.SortStableFunc(labels, func(x, y ModerationLabel) int { return cmpDesc(x.Confidence, y.Confidence) })
	return labels
}

// refuseAdapter refuses operation on v when it is a Custom Moderation
// adapter: adapters are never started or stopped (AWS: these operations
// are for Custom Labels models only).
func refuseAdapter(v *ocellus.ProjectVersion, operation string) error {
	if !v.Adapter() {
		return nil
	}
	return ocellus.Errorf(ocellus.Invalid, "%s applies only to Custom Labels models; %s is a Custom Moderation adapter, used by DetectModerationLabels (ProjectVersion) without being started.", operation, v.ARN)
}

// refuseModerationProject refuses a Custom Labels operation (datasets,
// project policies, copies) on a CONTENT_MODERATION project.
func refuseModerationProject(p *ocellus.Project, operation string) error {
	if p.Feature != ocellus.FeatureContentModeration {
		return nil
	}
	return ocellus.Errorf(ocellus.Invalid, "%s applies only to projects with Feature CUSTOM_LABELS; %s is a CONTENT_MODERATION project.", operation, p.ARN)
}
