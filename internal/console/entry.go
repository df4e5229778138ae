package console

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/ocellus"
)

// maxNavEntries bounds the entries the image view reads to find the
// previous and next image.
const maxNavEntries = 5000

// entryBox is a box as the image view draws and edits it.
type entryBox struct {
	box
	Index int
}

// entryData is the image view's content.
type entryData struct {
	Dataset     *ocellus.Dataset
	Project     *ocellus.Project
	Type        string
	Lookout     bool
	Ref, Name   string
	Image       string // URL of the full image
	Mask        string // URL of the anomaly mask, "" without one
	Width       int
	Height      int
	Labels      labels
	Boxes       []entryBox
	BoxesJSON   string
	Known       []string // the dataset's labels, offered when labeling
	Prev, Next  string   // URLs, "" at the ends
	NextRef     string
	Issues      []string
	Line        string
	Position    int
	Count       int
	DatasetLink string
}

// entry finds one entry of a dataset by its source-ref.
func (c *Console) entry(ctx context.Context, account string, d *ocellus.Dataset, ref string) (*ocellus.DatasetEntry, error) {
	es, _, err := c.ctl.ListDatasetEntries(ctx, account, control.ListEntriesInput{DatasetARN: d.ARN, SourceRefContains: ref, MaxResults: 100})
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		if e.SourceRef == ref {
			return e, nil
		}
	}
	return nil, ocellus.Errorf(ocellus.NotFound, "The dataset has no image %s.", ref)
}

// refs lists the source-refs of a dataset, in the listing's order.
func (c *Console) refs(ctx context.Context, account, arn string) ([]string, error) {
	var out []string
	for tok := ""; len(out) < maxNavEntries; {
		es, next, err := c.ctl.ListDatasetEntries(ctx, account, control.ListEntriesInput{DatasetARN: arn, NextToken: tok, MaxResults: 250})
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			out = append(out, e.SourceRef)
		}
		if tok = next; tok == "" {
			break
		}
	}
	return out, nil
}

func (c *Console) serveEntry(w http.ResponseWriter, r *http.Request, ss session) {
	ctx := r.Context()
	q := r.URL.Query()
	d, p, err := c.datasetOf(ctx, ss.Account, q.Get("dataset"))
	var e *ocellus.DatasetEntry
	if err == nil {
		e, err = c.entry(ctx, ss.Account, d, q.Get("ref"))
	}
	if err != nil {
		c.notFound(w, ss, "Could not open the image.", c.message(err, "opening the image"))
		return
	}
	f := c.sessions.takeFlash(ss.ID)
	lookout := p.Service == ocellus.LookoutVision
	pe := parseEntry(e.Line, lookout)
	data := entryData{Dataset: d, Project: p, Type: strings.ToLower(string(d.Type)), Lookout: lookout, Ref: e.SourceRef, Name: refName(e.SourceRef),
		Image:  Prefix + "image?" + url.Values{"dataset": {d.ARN}, "ref": {e.SourceRef}}.Encode(),
		Labels: labelsOf(pe), Line: e.Line, DatasetLink: Prefix + "dataset?arn=" + url.QueryEscape(d.ARN)}
	if pe.Anomaly != nil && pe.Anomaly.Mask != "" && pe.Anomaly.Anomalous {
		data.Mask = Prefix + "image?" + url.Values{"dataset": {d.ARN}, "ref": {e.SourceRef}, "mask": {pe.Anomaly.MaskRef}}.Encode()
	}
	for _, is := range pe.Issues {
		data.Issues = append(data.Issues, is.Code+": "+is.Message)
	}
	img, err := c.ctl.EntryImage(ctx, ss.Account, d.ARN, e.SourceRef, thumbSide)
	if err != nil {
		f = flash{Error: true, Title: "Could not read the image.", Text: c.message(err, "reading the image")}
	} else {
		data.Width, data.Height = img.Width, img.Height
	}
	for i, b := range data.Labels.Boxes {
		data.Boxes = append(data.Boxes, entryBox{box: b, Index: i})
	}
	bj, _ := json.Marshal(data.Labels.Boxes)
	data.BoxesJSON = string(bj)
	if ls, err := c.labelStats(ctx, ss.Account, d.ARN); err == nil {
		for _, l := range ls {
			if l.Name != "normal" && l.Name != "anomaly" {
				data.Known = append(data.Known, l.Name)
			}
		}
	}
	if refs, err := c.refs(ctx, ss.Account, d.ARN); err == nil {
		i := slices.Index(refs, e.SourceRef)
		data.Position, data.Count = i+1, len(refs)
		if i > 0 {
			data.Prev = entryURL(d.ARN, refs[i-1])
		}
		if i >= 0 && i+1 < len(refs) {
			data.Next, data.NextRef = entryURL(d.ARN, refs[i+1]), refs[i+1]
		}
	}
	c.render(w, http.StatusOK, "entry.html", page{Title: data.Name, Session: &ss, Flash: f, Data: data, Script: true})
}

// serveLabel applies one labeling change to an entry and saves the new
// line through UpdateDatasetEntries: op is add-label, remove-label,
// add-box, set-box (move or resize), delete-box, boxes (all boxes at once,
// as the drawing script sends them), normal or anomaly.
func (c *Console) serveLabel(w http.ResponseWriter, r *http.Request, ss session) {
	ctx := r.Context()
	ref := r.PostFormValue("ref")
	back := entryURL(r.PostFormValue("dataset"), ref)
	fail := flash{Title: "Could not save the label."}
	d, p, err := c.datasetOf(ctx, ss.Account, r.PostFormValue("dataset"))
	var e *ocellus.DatasetEntry
	if err == nil {
		e, err = c.entry(ctx, ss.Account, d, ref)
	}
	if err != nil {
		c.after(w, r, ss, err, fail, "saving the label", "", back)
		return
	}
	lookout := p.Service == ocellus.LookoutVision
	pe := parseEntry(e.Line, lookout)
	l := labelsOf(pe)
	var line []byte
	op := r.PostFormValue("op")
	if lookout {
		if op != "normal" && op != "anomaly" {
			c.after(w, r, ss, ocellus.Errorf(ocellus.Invalid, "A Lookout for Vision image is marked normal or anomaly."), fail, "", "", back)
			return
		}
		line = lookoutLine(ref, op, pe, c.now())
	} else {
		if err := applyLabelOp(&l, op, r); err != nil {
			c.after(w, r, ss, err, fail, "", "", back)
			return
		}
		if len(l.Boxes) > 0 && l.Width == 0 {
			img, err := c.ctl.EntryImage(ctx, ss.Account, d.ARN, ref, thumbSide)
			if err != nil {
				c.after(w, r, ss, err, fail, "reading the image", "", back)
				return
			}
			l.Width, l.Height = img.Width, img.Height
		}
		if err := checkBoxes(l); err != nil {
			c.after(w, r, ss, err, fail, "", "", back)
			return
		}
		line = customLabelsLine(l, c.now())
	}
	err = c.updateEntries(ctx, ss.Account, d, p, line)
	if next := r.PostFormValue("then"); err == nil && next != "" {
		back = entryURL(d.ARN, next)
	}
	c.after(w, r, ss, err, fail, "saving the label", "Saved the labels of "+refName(ref)+".", back)
}

// applyLabelOp changes l as the form asks.
func applyLabelOp(l *labels, op string, r *http.Request) error {
	name := strings.TrimSpace(r.PostFormValue("label"))
	checkName := func() error {
		if name == "" {
			return ocellus.Errorf(ocellus.Invalid, "Type a label name.")
		}
		if len([]rune(name)) > manifest.MaxLabelNameChars {
			return ocellus.Errorf(ocellus.Invalid, "The label name is longer than %d characters.", manifest.MaxLabelNameChars)
		}
		return nil
	}
	index := func() (int, error) {
		i, err := strconv.Atoi(r.PostFormValue("index"))
		if err != nil || i < 0 || i >= len(l.Boxes) {
			return 0, ocellus.Errorf(ocellus.Invalid, "There is no box %q on this image.", r.PostFormValue("index"))
		}
		return i, nil
	}
	formBox := func() (box, error) {
		var b box
		var err error
		b.Label = name
		for _, f := range []struct {
			name string
			v    *int
		}{{"left", &b.Left}, {"top", &b.Top}, {"width", &b.Width}, {"height", &b.Height}} {
			if *f.v, err = strconv.Atoi(strings.TrimSpace(r.PostFormValue(f.name))); err != nil {
				return b, ocellus.Errorf(ocellus.Invalid, "The box's %s must be a whole number of pixels.", f.name)
			}
		}
		return b, checkName()
	}
	switch op {
	case "add-label":
		if err := checkName(); err != nil {
			return err
		}
		if !slices.Contains(l.Classes, name) {
			l.Classes = append(l.Classes, name)
		}
	case "remove-label":
		l.Classes = slices.DeleteFunc(l.Classes, func(c string) bool { return c == name })
	case "add-box":
		b, err := formBox()
		if err != nil {
			return err
		}
		l.Boxes = append(l.Boxes, b)
	case "set-box":
		i, err := index()
		if err != nil {
			return err
		}
		if name == "" {
			name = l.Boxes[i].Label
		}
		b, err := formBox()
		if err != nil {
			return err
		}
		l.Boxes[i] = b
	case "delete-box":
		i, err := index()
		if err != nil {
			return err
		}
		l.Boxes = slices.Delete(l.Boxes, i, i+1)
	case "boxes":
		var bs []box
		if err := json.Unmarshal([]byte(r.PostFormValue("boxes")), &bs); err != nil {
			return ocellus.Errorf(ocellus.Invalid, "The boxes could not be read: %v.", err)
		}
		for _, b := range bs {
			name = strings.TrimSpace(b.Label)
			if err := checkName(); err != nil {
				return err
			}
		}
		l.Boxes = bs
	default:
		return ocellus.Errorf(ocellus.Invalid, "Unknown labeling action %q.", op)
	}
	return nil
}

// checkBoxes refuses boxes that do not lie in the image.
func checkBoxes(l labels) error {
	for _, b := range l.Boxes {
		if b.Width < 1 || b.Height < 1 || b.Left < 0 || b.Top < 0 || b.Left+b.Width > l.Width || b.Top+b.Height > l.Height {
			return ocellus.Errorf(ocellus.Invalid, "The box %s at %d,%d of %dx%d pixels does not lie inside the %dx%d image.",
				b.Label, b.Left, b.Top, b.Width, b.Height, l.Width, l.Height)
		}
	}
	return nil
}

// maxUpload bounds an upload form: several images of up to 15 MB.
const maxUpload = 64 << 20

// serveUpload writes the browser's images to S3 as the session's account
// and adds them to the dataset, with the label chosen (optional for Custom
// Labels, normal or anomaly for Lookout for Vision).
func (c *Console) serveUpload(w http.ResponseWriter, r *http.Request, ss session) {
	ctx := r.Context()
	arn := r.PostFormValue("dataset")
	back := Prefix + "dataset?arn=" + url.QueryEscape(arn)
	fail := flash{Title: "Could not upload the images."}
	d, p, err := c.datasetOf(ctx, ss.Account, arn)
	if err != nil {
		c.after(w, r, ss, err, fail, "uploading the images", "", back)
		return
	}
	lookout := p.Service == ocellus.LookoutVision
	bucket := strings.TrimSpace(r.PostFormValue("bucket"))
	prefix := strings.TrimLeft(strings.TrimSpace(r.PostFormValue("prefix")), "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	label := strings.TrimSpace(r.PostFormValue("label"))
	var files []*multipart.FileHeader
	if r.MultipartForm != nil {
		files = r.MultipartForm.File["images"]
	}
	switch {
	case bucket == "":
		err = ocellus.Errorf(ocellus.Invalid, "Name the S3 bucket to upload the images to.")
	case len(files) == 0:
		err = ocellus.Errorf(ocellus.Invalid, "Choose one or more JPEG or PNG images to upload.")
	case lookout && label != "normal" && label != "anomaly":
		err = ocellus.Errorf(ocellus.Invalid, "Choose whether the images are normal or anomalous.")
	case !lookout && len([]rune(label)) > manifest.MaxLabelNameChars:
		err = ocellus.Errorf(ocellus.Invalid, "The label name is longer than %d characters.", manifest.MaxLabelNameChars)
	}
	if err != nil {
		c.after(w, r, ss, err, fail, "", "", back)
		return
	}
	var lines bytes.Buffer
	for _, f := range files {
		name := path.Base(strings.ReplaceAll(f.Filename, "\\", "/"))
		data, err := readUpload(f)
		if err == nil {
			_, _, err = c.ctl.PutImage(ctx, ss.Account, bucket, prefix+name, data)
		}
		if err != nil {
			c.after(w, r, ss, err, fail, "uploading the images", "", back)
			return
		}
		ref := "s3://" + bucket + "/" + prefix + name
		if lookout {
			lines.Write(lookoutLine(ref, label, nil, c.now()))
		} else {
			l := labels{Ref: ref}
			if label != "" {
				l.Classes = []string{label}
			}
			lines.Write(customLabelsLine(l, c.now()))
		}
		lines.WriteByte('\n')
	}
	err = c.updateEntries(ctx, ss.Account, d, p, lines.Bytes())
	c.after(w, r, ss, err, fail, "adding the images", "Uploaded "+strconv.Itoa(len(files))+" images to s3://"+bucket+"/"+prefix+" and added them to the dataset.", back)
}

func readUpload(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
