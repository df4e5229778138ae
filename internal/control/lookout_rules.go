package control

import (
	"context"
	"errors"
	"strings"

	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
)

// Lookout for Vision's dataset rules: what a project must hold before a
// model can be trained (image counts, one image size, anomaly classes).

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
	forEach(len(all), s3Fetchers, func(i int) { out[i].info, out[i].err = p.Probe(ctx, all[i].Image) })
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
