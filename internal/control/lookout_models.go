package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocellus/ocellus/internal/blob"
	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/serve"
	"github.com/ocellus/ocellus/internal/store"
	"github.com/ocellus/ocellus/internal/vision"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// Lookout for Vision's dataset minimums (developer guide, "Creating your
// dataset"): one dataset is split for testing, so it needs more.
const (
	minNormalSingle   = 20
	minAnomalySingle  = 10
	minNormalTrain    = 10
	minNormalTest     = 10
	minAnomalyTest    = 10
	maxTrainImages    = 16_000
	maxTestImages     = 4_000
	maxAnomalyClasses = 100
)

// CreateModelInput describes a new model.
type CreateModelInput struct {
	Project      string
	Description  string
	OutputBucket string
	OutputPrefix string
	KmsKeyID     string
	Tags         map[string]string
}

// model loads a project's model by version label ("latest" = the newest).
func (l *Lookout) model(ctx context.Context, account, project, version string) (*ocellus.Project, *store.LookoutModel, error) {
	p, err := l.LookoutProject(ctx, account, project)
	if err != nil {
		return nil, nil, err
	}
	var m *store.LookoutModel
	if version == "latest" {
		ms, err := l.c.store.LookoutModels(ctx, p.ARN, 0, 0)
		if err != nil {
			return nil, nil, err
		}
		if len(ms) == 0 {
			return nil, nil, lookoutErr(ocellus.NotFound, ResourceModel, project, "The project %s has no models.", project)
		}
		m = ms[len(ms)-1]
	} else {
		v, err := parseVersion(project, version)
		if err != nil {
			return nil, nil, err
		}
		m, err = l.c.store.LookoutModel(ctx, p.ARN, v)
		if ocellus.KindOf(err) == ocellus.NotFound {
			return nil, nil, lookoutErr(ocellus.NotFound, ResourceModel, version, "The model version %s of project %s does not exist.", version, project)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return p, m, nil
}

// LookoutModelARN builds a model ARN.
func LookoutModelARN(region, account, project string, version int) string {
	return ocellus.ARN{Partition: "aws", Service: ocellus.LookoutVision, Region: region, Account: account,
		Resource: "model/" + project + "/" + strconv.Itoa(version)}.String()
}

// trainingSet is what a model trains and is evaluated on.
type trainingSet struct {
	train, test []*manifest.Entry
}

// collect reads a project's usable labelled entries and checks Lookout for
// Vision's count rules.
func (l *Lookout) collect(ctx context.Context, p *ocellus.Project) (*trainingSet, error) {
	ds, err := l.c.store.Datasets(ctx, p.ARN)
	if err != nil {
		return nil, err
	}
	var train, test *ocellus.Dataset
	for _, d := range ds {
		switch d.Type {
		case ocellus.DatasetTrain:
			train = d
		case ocellus.DatasetTest:
			test = d
		}
	}
	if train == nil {
		return nil, lookoutErr(ocellus.Invalid, ResourceDataset, p.Name, "The project %s has no train dataset; create one before training a model.", p.Name)
	}
	ts := &trainingSet{}
	for _, d := range []*ocellus.Dataset{train, test} {
		if d == nil {
			continue
		}
		if !d.Status.Usable() {
			return nil, lookoutErr(ocellus.InUse, ResourceDataset, p.Name+"/"+strings.ToLower(string(d.Type)),
				"The %s dataset of project %s is %s; a model can be trained once it is complete.", strings.ToLower(string(d.Type)), p.Name, d.Status)
		}
		es, err := l.entries(ctx, d.ARN)
		if err != nil {
			return nil, err
		}
		if d.Type == ocellus.DatasetTrain {
			ts.train = es
		} else {
			ts.test = es
		}
	}
	count := func(es []*manifest.Entry) (normal, anom int) {
		for _, e := range es {
			if e.Anomaly.Anomalous {
				anom++
			} else {
				normal++
			}
		}
		return
	}
	n, a := count(ts.train)
	if test == nil {
		if n < minNormalSingle || a < minAnomalySingle {
			return nil, ocellus.Errorf(ocellus.Invalid, "A project with only a train dataset needs at least %d normal and %d anomalous labeled images in it (it has %d normal and %d anomalous); add images or a test dataset.",
				minNormalSingle, minAnomalySingle, n, a)
		}
	} else {
		if n < minNormalTrain {
			return nil, ocellus.Errorf(ocellus.Invalid, "The train dataset needs at least %d normal labeled images (it has %d).", minNormalTrain, n)
		}
		tn, ta := count(ts.test)
		if tn < minNormalTest || ta < minAnomalyTest {
			return nil, ocellus.Errorf(ocellus.Invalid, "The test dataset needs at least %d normal and %d anomalous labeled images (it has %d normal and %d anomalous).",
				minNormalTest, minAnomalyTest, tn, ta)
		}
	}
	if len(ts.train) > maxTrainImages {
		return nil, ocellus.Errorf(ocellus.Invalid, "The train dataset has %d images; the maximum is %d.", len(ts.train), maxTrainImages)
	}
	if len(ts.test) > maxTestImages {
		return nil, ocellus.Errorf(ocellus.Invalid, "The test dataset has %d images; the maximum is %d.", len(ts.test), maxTestImages)
	}
	classes := map[string]bool{}
	for _, e := range append(append([]*manifest.Entry{}, ts.train...), ts.test...) {
		for _, c := range e.Anomaly.Colors {
			if !strings.EqualFold(c.ClassName, "background") {
				classes[strings.ToLower(c.ClassName)] = true
			}
		}
	}
	if len(classes) > maxAnomalyClasses {
		return nil, ocellus.Errorf(ocellus.Invalid, "The datasets use %d anomaly labels; the maximum is %d per project.", len(classes), maxAnomalyClasses)
	}
	return ts, nil
}

// entries reads a dataset's labelled, error-free entries.
func (l *Lookout) entries(ctx context.Context, datasetARN string) ([]*manifest.Entry, error) {
	var out []*manifest.Entry
	after := ""
	yes := true
	for {
		es, next, err := l.c.store.ListEntries(ctx, store.EntryFilter{DatasetARN: datasetARN, Labeled: &yes, After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.HasErrors {
				continue
			}
			pe := manifest.ParseLine([]byte(e.Line), manifest.ParseOptions{Service: manifest.LookoutForVision})
			if pe.Anomaly == nil || pe.Image == "" || pe.HasErrors() {
				continue
			}
			out = append(out, pe)
		}
		if next == "" {
			return out, nil
		}
		after = next
	}
}

// checkImageSizes probes every image's header and refuses, with the first
// offender named, images of different sizes: a Lookout for Vision project
// has one image size.
func (l *Lookout) checkImageSizes(ctx context.Context, account string, ts *trainingSet) error {
	all := append(append([]*manifest.Entry{}, ts.train...), ts.test...)
	type res struct {
		info manifest.ImageInfo
		err  error
	}
	out := make([]res, len(all))
	p := &s3Prober{blobs: l.c.blobs, account: account}
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, e := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i].info, out[i].err = p.Probe(ctx, e.Image)
		}()
	}
	wg.Wait()
	var first *manifest.Entry
	var w, h int
	for i, r := range out {
		if r.err != nil {
			if errors.Is(r.err, manifest.ErrInvalidImage) {
				return ocellus.Errorf(ocellus.Invalid, "The image %s cannot be used: %v.", all[i].SourceRef, r.err)
			}
			return r.err
		}
		iw, ih := r.info.Width, r.info.Height
		if iw < anomaly.MinImageSide || ih < anomaly.MinImageSide || iw > anomaly.MaxImageSide || ih > anomaly.MaxImageSide {
			return ocellus.Errorf(ocellus.Invalid, "The image %s is %dx%d pixels; images must be between %dx%d and %dx%d.", all[i].SourceRef, iw, ih,
				anomaly.MinImageSide, anomaly.MinImageSide, anomaly.MaxImageSide, anomaly.MaxImageSide)
		}
		if first == nil {
			first, w, h = all[i], iw, ih
		} else if iw != w || ih != h {
			return ocellus.Errorf(ocellus.Invalid, "All images of a project must have the same size: %s is %dx%d pixels but %s is %dx%d.",
				all[i].SourceRef, iw, ih, first.SourceRef, w, h)
		}
	}
	return nil
}

// CreateLookoutModel checks the datasets against Lookout for Vision's rules,
// saves a new model version in TRAINING and enqueues its training job.
func (l *Lookout) CreateLookoutModel(ctx context.Context, account string, in CreateModelInput) (*store.LookoutModel, error) {
	p, err := l.LookoutProject(ctx, account, in.Project)
	if err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	ts, err := l.collect(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := l.checkImageSizes(ctx, account, ts); err != nil {
		return nil, err
	}
	now := ocellus.Now(l.c.now)
	m := &store.LookoutModel{ProjectARN: p.ARN, Account: account, Description: in.Description, Status: ModelTraining,
		Message: "The model is being trained.", Created: now, OutputBucket: in.OutputBucket, OutputPrefix: in.OutputPrefix, KmsKeyID: in.KmsKeyID}
	if err := l.c.store.CreateLookoutModel(ctx, m, func(v int) string { return LookoutModelARN(l.c.region, account, p.Name, v) }); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if err := l.c.store.SetTags(ctx, m.ARN, in.Tags, ocellus.MaxTagsPerResource); err != nil {
			if derr := l.c.store.DeleteLookoutModel(ctx, p.ARN, m.Version); derr != nil {
				l.c.log.Error("undo model after tag failure", "model", m.ARN, "err", derr)
			}
			return nil, err
		}
	}
	// A crash before the job is stored leaves the model TRAINING: the
	// sweep at start-up enqueues it then.
	if err := l.c.enqueueLookoutTraining(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// DescribeLookoutModel returns a model.
func (l *Lookout) DescribeLookoutModel(ctx context.Context, account, project, version string) (*store.LookoutModel, error) {
	_, m, err := l.model(ctx, account, project, version)
	return m, err
}

// ListLookoutModels pages a project's models by version.
func (l *Lookout) ListLookoutModels(ctx context.Context, account, project, nextToken string, maxResults int) ([]*store.LookoutModel, string, error) {
	p, err := l.LookoutProject(ctx, account, project)
	if err != nil {
		return nil, "", err
	}
	list := "l4v-models:" + p.ARN
	after, err := decodeLookoutToken(list, nextToken)
	if err != nil {
		return nil, "", err
	}
	av := 0
	if after != "" {
		if av, err = strconv.Atoi(after); err != nil {
			return nil, "", ocellus.Errorf(ocellus.Invalid, "The pagination token %q is invalid for this request.", nextToken)
		}
	}
	limit := pageLimit(maxResults)
	ms, err := l.c.store.LookoutModels(ctx, p.ARN, av, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ms) > limit {
		ms = ms[:limit]
		next = encodeToken(list, strconv.Itoa(ms[limit-1].Version))
	}
	return ms, next, nil
}

// DeleteLookoutModel deletes a model that is not hosted, being hosted or
// training.
func (l *Lookout) DeleteLookoutModel(ctx context.Context, account, project, version string) (string, error) {
	p, m, err := l.model(ctx, account, project, version)
	if err != nil {
		return "", err
	}
	switch m.Status {
	case ModelHosted, ModelStartingHosting, ModelStoppingHosting:
		return "", lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is %s; stop it before deleting it.", m.ARN, m.Status)
	case ModelTraining:
		return "", lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is still training; delete it once training has finished.", m.ARN)
	}
	js, err := l.c.store.PackagingJobsByStatus(ctx, JobCreated, JobRunning)
	if err != nil {
		return "", err
	}
	for _, j := range js {
		if j.ProjectARN == p.ARN && j.ModelVersion == m.Version {
			return "", lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model packaging job %s is packaging model %s; wait for it to finish.", j.Name, m.ARN)
		}
	}
	if err := l.c.store.DeleteLookoutModel(ctx, p.ARN, m.Version); err != nil {
		return "", err
	}
	return m.ARN, nil
}

// ---- training ----

// trainModelJob is the train-lookout-model job: it trains a TRAINING
// model from scratch and saves the outcome. A shutdown leaves it TRAINING
// and the queue runs the job again.
func (l *Lookout) trainModelJob(ctx context.Context, j lookoutModelJob) error {
	m, err := l.c.store.LookoutModel(ctx, j.Project, j.Version)
	if err != nil {
		if ocellus.KindOf(err) == ocellus.NotFound {
			return nil
		}
		return err
	}
	if m.Status != ModelTraining {
		return nil
	}
	select {
	case l.slot <- struct{}{}:
		defer func() { <-l.slot }()
	case <-ctx.Done():
		return ctx.Err()
	}
	l.c.hold(ctx, JobTrainLookout, HoldAfterLoad)
	err = l.train(ctx, m)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	l.c.hold(ctx, JobTrainLookout, HoldBeforeSave)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		msg := ocellus.MessageOf(err)
		var fail *trainingFailure
		if errors.As(err, &fail) {
			msg = fail.msg
		} else {
			l.c.log.Error("model training", "model", m.ARN, "err", err)
		}
		m.Status, m.Message = ModelTrainingFailed, msg
	}
	return l.c.store.UpdateLookoutModel(ctx, m)
}

// trainingFailure is a problem with the user's data, told to the user as
// the model's status message.
type trainingFailure struct{ msg string }

func (f *trainingFailure) Error() string { return f.msg }

func failf(format string, args ...any) error { return &trainingFailure{fmt.Sprintf(format, args...)} }

// badImage is an image (or its mask) that cannot be decoded or is gone
// from S3: the entry is left out of training.
type badImage struct {
	SourceRef string `json:"source-ref"`
	Reason    string `json:"error"`
}

func (b *badImage) Error() string { return b.SourceRef + ": " + b.Reason }

// decodeReason is imageio.Decode's error without the package prefixes
// ("imageio: png: png: invalid format" reads "png: invalid format").
func decodeReason(err error) string {
	msg := strings.TrimPrefix(err.Error(), "imageio: ")
	if rest, ok := strings.CutPrefix(msg, "png: "); ok && strings.HasPrefix(rest, "png: ") {
		msg = rest
	}
	return msg
}

// loadExamples reads images (and masks) from S3. Entries whose image
// cannot be decoded are left out and returned as bad; more than 20% of
// the set bad fails the training (the Custom Labels rule, which Lookout
// for Vision does not document; one broken file must not fail a model).
func (l *Lookout) loadExamples(ctx context.Context, account, set string, es []*manifest.Entry) ([]anomaly.Example, []badImage, error) {
	out := make([]anomaly.Example, len(es))
	errs := make([]error, len(es))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, e := range es {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], errs[i] = l.example(ctx, account, e)
		}()
	}
	wg.Wait()
	var bad []badImage
	kept := out[:0]
	for i, err := range errs {
		var b *badImage
		switch {
		case err == nil:
			kept = append(kept, out[i])
		case errors.As(err, &b):
			bad = append(bad, *b)
		default:
			return nil, nil, errors.Join(errs...)
		}
	}
	if len(bad) > 0 && float64(len(bad)) > vision.MaxRejectedShare*float64(len(es)) {
		return nil, bad, failf("%d of the %d images of the %s dataset cannot be used (at most 20%% may be invalid); first: %v", len(bad), len(es), set, &bad[0])
	}
	for _, b := range bad {
		l.c.log.Warn("image left out of model training", "dataset", set, "image", b.SourceRef, "err", b.Reason)
	}
	return kept, bad, nil
}

func (l *Lookout) readObject(ctx context.Context, account, uri string) ([]byte, error) {
	bucket, key, err := blob.ParseURI(uri)
	if err != nil {
		return nil, failf("%s is not an S3 URI.", uri)
	}
	b, _, err := l.c.blobs.ReadAll(ctx, account, bucket, key, "", maxLookoutObjectBytes)
	if err != nil {
		var tl *blob.TooLargeError
		if errors.As(err, &tl) {
			return nil, &badImage{uri, "it is larger than " + strconv.Itoa(maxLookoutObjectBytes) + " bytes"}
		}
		if ocellus.KindOf(err) == ocellus.InvalidS3Object {
			return nil, &badImage{uri, "it cannot be read from S3: " + ocellus.MessageOf(err)}
		}
		if ocellus.KindOf(err) == ocellus.AccessDenied {
			return nil, failf("The image %s cannot be read from S3: %s", uri, ocellus.MessageOf(err))
		}
		return nil, err
	}
	return b, nil
}

// maxLookoutObjectBytes bounds a training image or mask read from S3
// (Lookout for Vision's own limit is 8 MB an image; the headroom keeps
// images that AWS's looser checks let through).
const maxLookoutObjectBytes = 16 << 20

func (l *Lookout) example(ctx context.Context, account string, e *manifest.Entry) (anomaly.Example, error) {
	ex := anomaly.Example{Name: e.SourceRef, Anomalous: e.Anomaly.Anomalous}
	b, err := l.readObject(ctx, account, e.Image)
	if err != nil {
		return ex, err
	}
	img, err := imageio.Decode(b)
	if err != nil {
		// Refused as DetectAnomalies refuses it (a truncated JPEG too:
		// see vision.Train).
		return ex, &badImage{e.SourceRef, "the image is not a readable JPEG or PNG: " + decodeReason(err)}
	}
	ex.Image = img
	if e.Anomaly.Anomalous && e.Anomaly.Mask != "" {
		mb, err := l.readObject(ctx, account, e.Anomaly.Mask)
		if err != nil {
			return ex, err
		}
		mask, err := imageio.Decode(mb)
		if err != nil {
			return ex, &badImage{e.SourceRef, "its anomaly mask " + e.Anomaly.MaskRef + " is not a readable PNG: " + decodeReason(err)}
		}
		if mask.Bounds().Size() != img.Bounds().Size() {
			return ex, failf("The anomaly mask %s is %dx%d pixels but its image %s is %dx%d.", e.Anomaly.MaskRef,
				mask.Bounds().Dx(), mask.Bounds().Dy(), e.SourceRef, img.Bounds().Dx(), img.Bounds().Dy())
		}
		ex.Mask = mask
		ex.ColorMap = map[color.RGBA]string{}
		for _, c := range e.Anomaly.Colors {
			rgba, err := anomaly.ParseHexColor(c.HexColor)
			if err != nil {
				return ex, failf("The colour %q of class %s in %s is not #RRGGBB.", c.HexColor, c.ClassName, e.SourceRef)
			}
			ex.ColorMap[rgba] = c.ClassName
		}
	}
	return ex, nil
}

func (l *Lookout) train(ctx context.Context, m *store.LookoutModel) error {
	p, err := l.c.store.Project(ctx, m.ProjectARN)
	if err != nil {
		return err
	}
	ts, err := l.collect(ctx, p)
	if err != nil {
		return failf("%s", ocellus.MessageOf(err))
	}
	train, badTrain, err := l.loadExamples(ctx, m.Account, "train", ts.train)
	if err != nil {
		return err
	}
	test, badTest, err := l.loadExamples(ctx, m.Account, "test", ts.test)
	if err != nil {
		return err
	}
	excluded := append(badTrain, badTest...)
	t0 := time.Now()
	model, ev, err := anomaly.Train(ctx, anomaly.TrainConfig{Backbone: l.bb, Train: train, Calibration: test, Seed: l.cfg.Seed, Logger: l.c.log})
	if err != nil {
		var se *anomaly.ImageSizeError
		if errors.As(err, &se) {
			return failf("%v.", se)
		}
		return err
	}
	defer model.Close()
	l.c.log.Info("model trained", "model", m.ARN, "took", time.Since(t0).Round(time.Millisecond), "f1", ev.F1, "auroc", ev.AUROC)
	data, err := model.MarshalBinary()
	if err != nil {
		return err
	}
	if err := l.c.store.PutModelArtifact(ctx, m.ARN, data); err != nil {
		return err
	}
	end := ocellus.Now(l.c.now)
	if m.OutputBucket != "" {
		if err := l.writeEvaluation(ctx, m, p, ev, model.Meta(), end, len(train), len(test), excluded); err != nil {
			return err
		}
	}
	m.HasPerformance, m.F1, m.Recall, m.Precision = true, finite(ev.F1), finite(ev.Recall), finite(ev.Precision)
	m.EvaluationEnd = end
	m.Status, m.Message = ModelTrained, "Training completed successfully."
	return nil
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// writeEvaluation writes the evaluation manifest (one JSON line per
// evaluated image with the model's answer) and the evaluation result
// (metrics, threshold, per-image scores) to the model's output location.
func (l *Lookout) writeEvaluation(ctx context.Context, m *store.LookoutModel, p *ocellus.Project, ev *anomaly.Evaluation, meta anomaly.Meta, end time.Time, nTrain, nTest int, excluded []badImage) error {
	base := m.OutputPrefix + p.Name + "/model/" + strconv.Itoa(m.Version) + "/"
	var man bytes.Buffer
	for _, r := range ev.Images {
		class, truth := "normal", "normal"
		if r.Predicted {
			class = "anomaly"
		}
		if r.Anomalous {
			truth = "anomaly"
		}
		line := map[string]any{
			"source-ref":    r.Name,
			"anomaly-label": map[bool]int{true: 1, false: 0}[r.Anomalous],
			"anomaly-label-metadata": map[string]any{
				"class-name": truth, "type": "groundtruth/image-classification",
			},
			"anomaly-label-detected": map[bool]int{true: 1, false: 0}[r.Predicted],
			"anomaly-label-detected-metadata": map[string]any{
				"class-name": class, "confidence": r.Confidence, "score": r.Score,
				"type": "groundtruth/image-classification", "creation-date": end.Format("2006-01-02T15:04:05.000"),
			},
		}
		b, _ := json.Marshal(line)
		man.Write(b)
		man.WriteByte('\n')
	}
	calib := "held-out part of the train dataset"
	if nTest > 0 {
		calib = "test dataset"
	}
	result := map[string]any{
		"Version": 1,
		"EvaluationDetails": map[string]any{
			"ModelArn": m.ARN, "EvaluationEndTimestamp": end.Format(time.RFC3339Nano),
			"NumberOfTrainingImages": nTrain, "NumberOfTestingImages": len(ev.Images), "EvaluatedOn": calib,
		},
		"Performance": map[string]any{
			"F1Score": finite(ev.F1), "Recall": finite(ev.Recall), "Precision": finite(ev.Precision),
			"Accuracy": finite(ev.Accuracy), "AUROC": finite(ev.AUROC),
			"ConfusionMatrix": map[string]int{"TruePositive": ev.TP, "FalsePositive": ev.FP, "TrueNegative": ev.TN, "FalseNegative": ev.FN},
		},
		"Threshold": meta.Threshold,
		"Backbone":  meta.Backbone,
		"Segmentation": map[string]any{
			"Enabled": meta.Segmentation, "Classes": meta.Classes,
		},
		// The images left out because they cannot be decoded.
		"ExcludedImages": append([]badImage{}, excluded...),
	}
	rb, _ := json.MarshalIndent(result, "", "  ")
	m.EvaluationManifest = base + "EvaluationManifest.json"
	m.EvaluationResult = base + "EvaluationResult.json"
	if err := l.c.blobs.Put(ctx, m.Account, m.OutputBucket, m.EvaluationManifest, "application/json", bytes.NewReader(man.Bytes())); err != nil {
		return failf("The evaluation could not be written to s3://%s/%s: %s", m.OutputBucket, m.EvaluationManifest, ocellus.MessageOf(err))
	}
	if err := l.c.blobs.Put(ctx, m.Account, m.OutputBucket, m.EvaluationResult, "application/json", bytes.NewReader(rb)); err != nil {
		return failf("The evaluation could not be written to s3://%s/%s: %s", m.OutputBucket, m.EvaluationResult, ocellus.MessageOf(err))
	}
	return nil
}

// ---- hosting ----

// StartLookoutModel starts hosting a trained model: STARTING_HOSTING now,
// HOSTED once it is loaded (HOSTING_FAILED if it cannot be).
func (l *Lookout) StartLookoutModel(ctx context.Context, account, project, version string, minUnits, maxUnits int) (string, error) {
	_, m, err := l.model(ctx, account, project, version)
	if err != nil {
		return "", err
	}
	if maxUnits != 0 && maxUnits < minUnits {
		return "", ocellus.Errorf(ocellus.Invalid, "MaxInferenceUnits (%d) must not be less than MinInferenceUnits (%d).", maxUnits, minUnits)
	}
	switch m.Status {
	case ModelTrained, ModelHostingFailed:
	case ModelHosted, ModelStartingHosting:
		return "", lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is already %s.", m.ARN, m.Status)
	default:
		return "", lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is %s; only a TRAINED model can be started.", m.ARN, m.Status)
	}
	if maxUnits == 0 {
		maxUnits = minUnits
	}
	prev := *m
	m.MinUnits, m.MaxUnits = minUnits, maxUnits
	if err := l.host(ctx, m); err != nil {
		if uerr := l.c.store.UpdateLookoutModel(context.WithoutCancel(ctx), &prev); uerr != nil {
			l.c.log.Error("restore model status", "model", m.ARN, "err", uerr)
		}
		if ocellus.KindOf(err) == ocellus.LimitExceeded {
			return "", lookoutErr(ocellus.QuotaExceeded, ResourceModel, m.ARN, "%s", ocellus.MessageOf(err))
		}
		return "", err
	}
	return ModelStartingHosting, nil
}

// host saves m as STARTING_HOSTING and starts loading it into the pool;
// hostingState records the outcome.
func (l *Lookout) host(ctx context.Context, m *store.LookoutModel) error {
	m.Status, m.Message = ModelStartingHosting, "The model is being hosted."
	if err := l.c.store.UpdateLookoutModel(ctx, m); err != nil {
		return err
	}
	arn := m.ARN
	return l.pool.Start(ctx, arn, m.MinUnits, m.MaxUnits, func(ctx context.Context) (*anomaly.Model, error) {
		data, err := l.c.store.ModelArtifact(ctx, arn)
		if err != nil {
			return nil, err
		}
		return anomaly.Load(data, l.bb, anomaly.LoadConfig{})
	})
}

// hostingState saves the pool's state changes as model statuses, so
// DescribeModel sees HOSTED, HOSTING_FAILED and, after a stop, TRAINED.
func (l *Lookout) hostingState(arn string, st serve.Status) {
	ctx := context.Background()
	var status, msg string
	switch st.State {
	case serve.Running:
		status, msg = ModelHosted, "The model is running."
	case serve.Failed:
		status, msg = ModelHostingFailed, "The model could not be hosted: "+st.Message
	case serve.Stopped:
		l.mu.Lock()
		closing := l.closing
		l.mu.Unlock()
		if closing {
			return // shutting down: Control.Recover hosts it again on the next start
		}
		status, msg = ModelTrained, "The model is trained and not hosted."
	default:
		return // STARTING_HOSTING and STOPPING_HOSTING are written by Start and Stop
	}
	m, err := l.modelByARN(ctx, arn)
	if err != nil {
		return // deleted meanwhile
	}
	m.Status, m.Message = status, msg
	if err := l.c.store.UpdateLookoutModel(ctx, m); err != nil {
		l.c.log.Error("save hosting state", "model", arn, "err", err)
	}
}

// modelByARN loads a model from its ARN (model/{project}/{version}).
func (l *Lookout) modelByARN(ctx context.Context, arn string) (*store.LookoutModel, error) {
	a, err := ocellus.ParseARN(arn)
	if err != nil {
		return nil, err
	}
	segs := strings.Split(a.Resource, "/")
	if len(segs) != 3 || segs[0] != "model" {
		return nil, ocellus.Errorf(ocellus.NotFound, "%s is not a model ARN.", arn)
	}
	v, err := strconv.Atoi(segs[2])
	if err != nil {
		return nil, ocellus.Errorf(ocellus.NotFound, "%s is not a model ARN.", arn)
	}
	return l.c.store.LookoutModel(ctx, ocellus.LookoutProjectARN(a.Region, a.Account, segs[1]), v)
}

// StopLookoutModel stops hosting a model: STOPPING_HOSTING now (requests in
// flight finish), TRAINED once it is unloaded.
func (l *Lookout) StopLookoutModel(ctx context.Context, account, project, version string) (string, error) {
	_, m, err := l.model(ctx, account, project, version)
	if err != nil {
		return "", err
	}
	if m.Status != ModelHosted && m.Status != ModelHostingFailed && m.Status != ModelStartingHosting {
		return "", lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is %s; only a HOSTED model can be stopped.", m.ARN, m.Status)
	}
	m.Status, m.Message = ModelStoppingHosting, "The model is being stopped."
	if err := l.c.store.UpdateLookoutModel(ctx, m); err != nil {
		return "", err
	}
	if err := l.pool.Stop(m.ARN); err != nil {
		if ocellus.KindOf(err) != ocellus.NotFound {
			return "", err
		}
		// Not in the pool: nothing to unload.
		m.Status, m.Message = ModelTrained, "The model is trained and not hosted."
		if err := l.c.store.UpdateLookoutModel(ctx, m); err != nil {
			return "", err
		}
	}
	return ModelStoppingHosting, nil
}

// Detection is DetectAnomalies' answer.
type Detection struct {
	IsAnomalous bool
	Confidence  float64
	Anomalies   []anomaly.Anomaly
	Mask        []byte // PNG, segmentation models only
}

// DetectAnomalies runs a hosted model on one JPEG or PNG image.
func (l *Lookout) DetectAnomalies(ctx context.Context, account, project, version, contentType string, body []byte) (*Detection, error) {
	_, m, err := l.model(ctx, account, project, version)
	if err != nil {
		return nil, err
	}
	if m.Status != ModelHosted {
		return nil, lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is %s; start it (StartModel) and wait for HOSTED before calling DetectAnomalies.", m.ARN, m.Status)
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	if ct != "image/jpeg" && ct != "image/png" {
		return nil, ocellus.Errorf(ocellus.Invalid, "ContentType must be image/jpeg or image/png, not %q.", contentType)
	}
	if len(body) > 8<<20 {
		return nil, ocellus.Errorf(ocellus.Invalid, "The image is %d bytes; the maximum is 8 MB.", len(body))
	}
	img, err := imageio.Decode(body)
	if errors.Is(err, imageio.ErrTooLarge) {
		return nil, ocellus.Errorf(ocellus.Invalid, "The image is too large (%v); Lookout for Vision takes images of at most 4096x4096 pixels.", err)
	}
	if err != nil {
		return nil, ocellus.Errorf(ocellus.Invalid, "The image is not a readable %s: %v", ct, err)
	}
	if got := formatOf(body); got != "" && "image/"+got != ct {
		return nil, ocellus.Errorf(ocellus.Invalid, "The image is a %s but ContentType says %s.", strings.ToUpper(got), ct)
	}
	var r *anomaly.Result
	err = l.pool.Do(ctx, m.ARN, func(ctx context.Context, model *anomaly.Model) (err error) {
		r, err = model.Detect(ctx, img)
		return err
	})
	if err != nil {
		if k := ocellus.KindOf(err); k == ocellus.NotReady || k == ocellus.NotFound {
			return nil, lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is not loaded yet; try again shortly.", m.ARN)
		}
		var se *anomaly.ImageSizeError
		if errors.As(err, &se) {
			return nil, ocellus.Errorf(ocellus.Invalid, "The image is %dx%d pixels; model %s was trained on %dx%d images and only takes that size.",
				se.Width, se.Height, m.ARN, se.WantW, se.WantH)
		}
		return nil, err
	}
	out := &Detection{IsAnomalous: r.IsAnomalous, Confidence: r.Confidence, Anomalies: r.Anomalies}
	if r.Mask != nil {
		if out.Mask, err = r.EncodeMask(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func formatOf(b []byte) string {
	_, f, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return ""
	}
	return f
}
