package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/ocellus"
)

// gridPage is how many thumbnails a dataset page shows.
const gridPage = 24

// thumbSide is the longer side of a thumbnail, in pixels.
const thumbSide = 200

// project loads the account's project arn, of either product, with the
// product's own ownership rules.
func (c *Console) project(ctx context.Context, account, arn string) (*ocellus.Project, error) {
	a, err := ocellus.ParseARN(arn)
	if err != nil {
		return nil, err
	}
	_, rest, _ := strings.Cut(a.Resource, "project/")
	name, _, _ := strings.Cut(rest, "/")
	switch a.Service {
	case ocellus.Rekognition:
		if err := ocellus.CheckOwner(arn, account, c.ctl.Region()); err != nil {
			return nil, err
		}
		ps, _, err := c.ctl.DescribeProjects(ctx, account, control.DescribeProjectsInput{Names: []string{name}})
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if p.ARN == arn {
				return p, nil
			}
		}
	case ocellus.LookoutVision:
		if err := ocellus.CheckOwner(arn, account, c.l4v.Region()); err != nil {
			return nil, err
		}
		p, err := c.l4v.LookoutProject(ctx, account, name)
		if err != nil {
			return nil, err
		}
		if p.ARN == arn {
			return p, nil
		}
	}
	return nil, ocellus.Errorf(ocellus.NotFound, "The project %s does not exist.", arn)
}

// datasetsOf lists a project's datasets (train first).
func (c *Console) datasetsOf(ctx context.Context, p *ocellus.Project) ([]*ocellus.Dataset, error) {
	var ds []*ocellus.Dataset
	if p.Service == ocellus.LookoutVision {
		var err error
		if ds, err = c.l4v.ProjectDatasets(ctx, p.ARN); err != nil {
			return nil, err
		}
	} else {
		m, err := c.ctl.ProjectDatasets(ctx, []string{p.ARN})
		if err != nil {
			return nil, err
		}
		ds = m[p.ARN]
	}
	var out []*ocellus.Dataset
	for _, t := range []ocellus.DatasetType{ocellus.DatasetTrain, ocellus.DatasetTest} {
		for _, d := range ds {
			if d.Type == t {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// datasetRow is one dataset of the project page.
type datasetRow struct {
	ARN, Type, Status, Message string
	Entries, Labeled           int
	InProgress                 bool
}

// projectData is the project page's content.
type projectData struct {
	Project  *ocellus.Project
	Product  string
	Lookout  bool
	Datasets []datasetRow
	Missing  []string // dataset types the project lacks: "train", "test"
	Refresh  bool     // work in progress: the page reloads itself
	Models   []modelRow
}

func (c *Console) serveProject(w http.ResponseWriter, r *http.Request, ss session) {
	ctx := r.Context()
	p, err := c.project(ctx, ss.Account, r.URL.Query().Get("arn"))
	if err != nil {
		c.notFound(w, ss, "Could not open the project.", c.message(err, "opening the project"))
		return
	}
	d := projectData{Project: p, Product: productName(p), Lookout: p.Service == ocellus.LookoutVision}
	f := c.sessions.takeFlash(ss.ID)
	ds, err := c.datasetsOf(ctx, p)
	if err != nil {
		f = flash{Error: true, Title: "Could not list the datasets.", Text: c.message(err, "listing the datasets")}
	}
	have := map[ocellus.DatasetType]bool{}
	for _, x := range ds {
		have[x.Type] = true
		row := datasetRow{ARN: x.ARN, Type: strings.ToLower(string(x.Type)), Status: string(x.Status), Message: x.StatusMessage,
			Entries: x.Stats.TotalEntries, Labeled: x.Stats.LabeledEntries, InProgress: x.Status.InProgress()}
		d.Refresh = d.Refresh || row.InProgress
		d.Datasets = append(d.Datasets, row)
	}
	for _, t := range []ocellus.DatasetType{ocellus.DatasetTrain, ocellus.DatasetTest} {
		if !have[t] {
			d.Missing = append(d.Missing, strings.ToLower(string(t)))
		}
	}
	if d.Models, err = c.modelsOf(ctx, ss.Account, p); err != nil {
		f = flash{Error: true, Title: "Could not list the models.", Text: c.message(err, "listing the models")}
	}
	for _, m := range d.Models {
		d.Refresh = d.Refresh || m.InProgress
	}
	c.render(w, http.StatusOK, "project.html", page{Title: p.Name, Session: &ss, Flash: f, Data: d, Refresh: d.Refresh})
}

// notFound shows an error page for a resource the account cannot open.
func (c *Console) notFound(w http.ResponseWriter, ss session, title, text string) {
	c.render(w, http.StatusNotFound, "error.html", page{Title: "Not found", Session: &ss,
		Flash: flash{Error: true, Title: title, Text: text}})
}

// serveCreateDataset creates a project's train or test dataset, empty or
// from a Ground Truth manifest in S3, through the product's CreateDataset.
func (c *Console) serveCreateDataset(w http.ResponseWriter, r *http.Request, ss session) {
	ctx := r.Context()
	arn := r.PostFormValue("project")
	back := Prefix + "project?arn=" + url.QueryEscape(arn)
	p, err := c.project(ctx, ss.Account, arn)
	if err != nil {
		c.after(w, r, ss, err, flash{Title: "Could not create the dataset."}, "creating the dataset", "", back)
		return
	}
	t, err := control.DatasetTypeOf(r.PostFormValue("type"))
	bucket, key := strings.TrimSpace(r.PostFormValue("bucket")), strings.TrimSpace(r.PostFormValue("key"))
	src := ocellus.DatasetSource{ManifestBucket: bucket, ManifestKey: key}
	if err == nil {
		if p.Service == ocellus.LookoutVision {
			_, err = c.l4v.CreateLookoutDataset(ctx, ss.Account, p.Name, t, src)
		} else {
			_, err = c.ctl.CreateDataset(ctx, ss.Account, control.CreateDatasetInput{ProjectARN: p.ARN, Type: t, Source: src})
		}
	}
	done := "Created the " + strings.ToLower(string(t)) + " dataset."
	if bucket != "" || key != "" {
		done = "Creating the " + strings.ToLower(string(t)) + " dataset from s3://" + bucket + "/" + key + "."
	}
	c.after(w, r, ss, err, flash{Title: "Could not create the dataset."}, "creating the dataset", done, back)
}

// gridEntry is one thumbnail of the dataset page.
type gridEntry struct {
	Ref, Name, Link, Thumb string
	Labels                 []string
	Labeled, HasErrors     bool
}

// datasetFilter is the dataset page's filter form.
type datasetFilter struct {
	Label   string // an entry label; for Lookout "normal" or "anomaly"
	Labeled string // "", "yes", "no"
	Errors  bool
}

func (f datasetFilter) query() url.Values {
	q := url.Values{}
	if f.Label != "" {
		q.Set("label", f.Label)
	}
	if f.Labeled != "" {
		q.Set("labeled", f.Labeled)
	}
	if f.Errors {
		q.Set("errors", "1")
	}
	return q
}

// datasetData is the dataset page's content.
type datasetData struct {
	Dataset    *ocellus.Dataset
	Project    *ocellus.Project
	Type       string
	Lookout    bool
	Refresh    bool
	Filter     datasetFilter
	Labels     []ocellus.LabelStats
	Entries    []gridEntry
	Next       string // URL of the next page, "" on the last
	First      string // URL of the first page, "" on it
	Bucket     string // upload form: the bucket of the dataset's images
	Prefix     string
	UploadNote string
}

// datasetOf loads a dataset of the account with its project.
func (c *Console) datasetOf(ctx context.Context, account, arn string) (*ocellus.Dataset, *ocellus.Project, error) {
	d, err := c.ctl.DescribeDataset(ctx, account, arn)
	if err != nil {
		return nil, nil, err
	}
	p, err := c.project(ctx, account, d.ProjectARN)
	if err != nil {
		return nil, nil, err
	}
	return d, p, nil
}

func (c *Console) serveDataset(w http.ResponseWriter, r *http.Request, ss session) {
	ctx := r.Context()
	q := r.URL.Query()
	d, p, err := c.datasetOf(ctx, ss.Account, q.Get("arn"))
	if err != nil {
		c.notFound(w, ss, "Could not open the dataset.", c.message(err, "opening the dataset"))
		return
	}
	f := c.sessions.takeFlash(ss.ID)
	data := datasetData{Dataset: d, Project: p, Type: strings.ToLower(string(d.Type)), Lookout: p.Service == ocellus.LookoutVision,
		Filter: datasetFilter{Label: q.Get("label"), Labeled: q.Get("labeled"), Errors: q.Get("errors") == "1"}}
	if d.Status.InProgress() || d.Status == ocellus.DatasetCreateFailed {
		data.Refresh = d.Status.InProgress()
		c.render(w, http.StatusOK, "dataset.html", page{Title: p.Name + " " + data.Type + " dataset", Session: &ss, Flash: f, Data: data, Refresh: data.Refresh})
		return
	}
	if data.Labels, err = c.labelStats(ctx, ss.Account, d.ARN); err != nil {
		f = flash{Error: true, Title: "Could not list the labels.", Text: c.message(err, "listing the labels")}
	}
	in := control.ListEntriesInput{DatasetARN: d.ARN, NextToken: q.Get("next"), MaxResults: gridPage}
	if data.Filter.Label != "" {
		in.ContainsLabels = []string{data.Filter.Label}
	}
	switch data.Filter.Labeled {
	case "yes", "no":
		v := data.Filter.Labeled == "yes"
		in.Labeled = &v
	}
	if data.Filter.Errors {
		v := true
		in.HasErrors = &v
	}
	es, next, err := c.ctl.ListDatasetEntries(ctx, ss.Account, in)
	if err != nil {
		f = flash{Error: true, Title: "Could not list the images.", Text: c.message(err, "listing the images")}
	}
	base := Prefix + "dataset?arn=" + url.QueryEscape(d.ARN)
	if fq := data.Filter.query().Encode(); fq != "" {
		base += "&" + fq
	}
	if next != "" {
		data.Next = base + "&next=" + url.QueryEscape(next)
	}
	if in.NextToken != "" {
		data.First = base
	}
	for _, e := range es {
		g := gridEntry{Ref: e.SourceRef, Name: refName(e.SourceRef), Labeled: e.Labeled, HasErrors: e.HasErrors,
			Link:  entryURL(d.ARN, e.SourceRef),
			Thumb: Prefix + "image?" + url.Values{"dataset": {d.ARN}, "ref": {e.SourceRef}, "size": {"thumb"}}.Encode()}
		for _, l := range e.Labels {
			g.Labels = append(g.Labels, l.Name)
		}
		data.Entries = append(data.Entries, g)
		if data.Bucket == "" {
			if l, ok := splitRef(e.SourceRef); ok {
				data.Bucket = l.Bucket
				if i := strings.LastIndexByte(l.Key, '/'); i >= 0 {
					data.Prefix = l.Key[:i+1]
				}
			}
		}
	}
	c.render(w, http.StatusOK, "dataset.html", page{Title: p.Name + " " + data.Type + " dataset", Session: &ss, Flash: f, Data: data})
}

// labelStats lists all of a dataset's labels with their counts.
func (c *Console) labelStats(ctx context.Context, account, arn string) ([]ocellus.LabelStats, error) {
	var all []ocellus.LabelStats
	for tok := ""; ; {
		ls, next, err := c.ctl.ListDatasetLabels(ctx, account, arn, tok, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, ls...)
		if tok = next; tok == "" {
			return all, nil
		}
	}
}

func entryURL(dataset, ref string) string {
	return Prefix + "entry?" + url.Values{"dataset": {dataset}, "ref": {ref}}.Encode()
}

// refName is the file name of a source-ref, for captions and alt text.
func refName(ref string) string {
	if i := strings.LastIndexByte(ref, '/'); i >= 0 && i+1 < len(ref) {
		return ref[i+1:]
	}
	return ref
}

func splitRef(ref string) (ocellus.S3Location, bool) {
	rest, ok := strings.CutPrefix(ref, "s3://")
	b, k, ok2 := strings.Cut(rest, "/")
	return ocellus.S3Location{Bucket: b, Key: k}, ok && ok2 && b != "" && k != ""
}

// serveImage sends an entry's image (size=thumb: a small JPEG), read from
// S3 as the session's account; the entry must be in one of the account's
// datasets.
func (c *Console) serveImage(w http.ResponseWriter, r *http.Request, ss session) {
	q := r.URL.Query()
	side := 0
	if q.Get("size") == "thumb" {
		side = thumbSide
	}
	var img *control.DatasetImage
	var err error
	if mask := q.Get("mask"); mask != "" {
		img, err = c.ctl.EntryMask(r.Context(), ss.Account, q.Get("dataset"), q.Get("ref"), mask)
	} else {
		img, err = c.ctl.EntryImage(r.Context(), ss.Account, q.Get("dataset"), q.Get("ref"), side)
	}
	if err != nil {
		code := http.StatusNotFound
		if ocellus.KindOf(err) == ocellus.Internal {
			code = http.StatusInternalServerError
		}
		http.Error(w, c.message(err, "reading the image"), code)
		return
	}
	h := w.Header()
	h.Set("Content-Type", img.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(img.Data)))
	h.Set("Cache-Control", "private, max-age=60")
	w.Write(img.Data)
}

// waitDataset waits (a bounded time) for a dataset's update to finish, so
// that the page after a change shows it; it returns the dataset.
func (c *Console) waitDataset(ctx context.Context, account, arn string) (*ocellus.Dataset, error) {
	deadline := c.now().Add(15 * time.Second)
	for {
		d, err := c.ctl.DescribeDataset(ctx, account, arn)
		if err != nil || !d.Status.InProgress() || c.now().After(deadline) {
			return d, err
		}
		select {
		case <-ctx.Done():
			return d, ctx.Err()
		case <-time.After(40 * time.Millisecond):
		}
	}
}

// updateEntries adds or replaces a dataset's lines through the product's
// UpdateDatasetEntries and waits for the update; a failed update's message
// is the error.
func (c *Console) updateEntries(ctx context.Context, account string, d *ocellus.Dataset, p *ocellus.Project, lines []byte) error {
	var err error
	if p.Service == ocellus.LookoutVision {
		_, err = c.l4v.UpdateLookoutEntries(ctx, account, p.Name, d.Type, lines)
	} else {
		err = c.ctl.UpdateDatasetEntries(ctx, account, d.ARN, lines)
	}
	if err != nil {
		return err
	}
	nd, err := c.waitDataset(ctx, account, d.ARN)
	if err != nil {
		return err
	}
	switch {
	case nd.Status == ocellus.DatasetUpdateFailed:
		return ocellus.Errorf(ocellus.Invalid, "The dataset update failed: %s", nd.StatusMessage)
	case nd.Status.InProgress():
		return ocellus.Errorf(ocellus.NotReady, "The dataset is still being updated; reload the page in a moment.")
	}
	return nil
}

// parseEntry parses a stored line the way its product reads it.
func parseEntry(line string, lookout bool) *manifest.Entry {
	o := manifest.ParseOptions{Service: manifest.CustomLabels}
	if lookout {
		o.Service = manifest.LookoutForVision
	}
	return manifest.ParseLine([]byte(line), o)
}
