package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/apimodel"
	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
)

// Models: a project's versions (Custom Labels model versions, Lookout for
// Vision models) with status, F1 and training time; training a new one
// from the project's datasets; starting and stopping hosting; and how to
// call a model from the AWS CLI and boto3. All through the same use cases
// as CreateProjectVersion/CreateModel, Start/Stop and Describe.

// maxUnits bounds the inference units the console's form offers.
const maxUnits = 10

// modelRow is one version of a project, for the project and model pages.
type modelRow struct {
	ARN, Name, Status, Message string
	Version                    string // Lookout for Vision: the model version ("1"); Custom Labels: the version name
	F1                         string // "0.912", "" before the evaluation
	Precision, Recall          string // Lookout for Vision only
	TrainingTime               string // "1m 12s", "" while training
	Created                    string
	Units                      int  // inference units while hosted
	InProgress                 bool // training, starting or stopping: the page reloads itself
	CanStart, CanStop          bool
	Running                    bool
}

func versionRow(v *ocellus.ProjectVersion) modelRow {
	r := modelRow{ARN: v.ARN, Name: v.Name, Version: v.Name, Status: string(v.Status), Message: v.StatusMessage,
		Created: v.Created.UTC().Format("2006-01-02 15:04 UTC"), Units: v.MinUnits}
	if v.F1 != nil {
		r.F1 = strconv.FormatFloat(*v.F1, 'f', 3, 64)
	}
	if !v.TrainingEnd.IsZero() {
		r.TrainingTime = duration(v.TrainingEnd.Sub(v.Created))
	}
	switch v.Status {
	case ocellus.VersionTrainingInProgress, ocellus.VersionStarting, ocellus.VersionStopping, ocellus.VersionCopyingInProgress, ocellus.VersionDeleting:
		r.InProgress = true
	}
	switch v.Status {
	case ocellus.VersionTrainingCompleted, ocellus.VersionStopped, ocellus.VersionFailed, ocellus.VersionCopyingCompleted:
		r.CanStart = true
	case ocellus.VersionRunning, ocellus.VersionStarting:
		r.CanStop = true
	}
	r.Running = v.Status == ocellus.VersionRunning
	if !r.CanStop {
		r.Units = 0
	}
	return r
}

func lookoutRow(p *ocellus.Project, m *ocellus.Model) modelRow {
	r := modelRow{ARN: m.ARN, Name: p.Name + " version " + strconv.Itoa(m.Version), Version: strconv.Itoa(m.Version),
		Status: string(m.Status), Message: m.Message(), Created: m.Created.UTC().Format("2006-01-02 15:04 UTC")}
	if m.HasPerformance {
		r.F1 = strconv.FormatFloat(m.F1, 'f', 3, 64)
		r.Precision = strconv.FormatFloat(m.Precision, 'f', 3, 64)
		r.Recall = strconv.FormatFloat(m.Recall, 'f', 3, 64)
	}
	if !m.EvaluationEnd.IsZero() {
		r.TrainingTime = duration(m.EvaluationEnd.Sub(m.Created))
	}
	switch m.Status {
	case ocellus.ModelTraining, ocellus.ModelStartingHosting, ocellus.ModelStoppingHosting, ocellus.ModelDeleting:
		r.InProgress = true
	}
	switch m.Status {
	case ocellus.ModelTrained, ocellus.ModelHostingFailed:
		r.CanStart = true
	case ocellus.ModelHosted, ocellus.ModelStartingHosting:
		r.CanStop, r.Units = true, m.MinUnits
	}
	r.Running = m.Status == ocellus.ModelHosted
	return r
}

// duration writes d as a person reads it: "45s", "3m 12s", "1h 4m".
func duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
}

// modelsOf lists a project's versions, newest first.
func (c *Console) modelsOf(ctx context.Context, account string, p *ocellus.Project) ([]modelRow, error) {
	var rows []modelRow
	if p.Service == ocellus.LookoutVision {
		var all []*ocellus.Model
		for tok := ""; ; {
			ms, next, err := c.l4v.ListLookoutModels(ctx, account, p.Name, tok, 0)
			if err != nil {
				return nil, err
			}
			all = append(all, ms...)
			if tok = next; tok == "" {
				break
			}
		}
		for i := len(all) - 1; i >= 0; i-- {
			// The list names the models; Describe has their evaluation.
			m, err := c.l4v.DescribeLookoutModel(ctx, account, p.Name, strconv.Itoa(all[i].Version))
			if err != nil {
				return nil, err
			}
			rows = append(rows, lookoutRow(p, m))
		}
		return rows, nil
	}
	for tok := ""; ; {
		vs, next, err := c.ctl.DescribeProjectVersions(ctx, account, p.ARN, nil, tok, 0)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			rows = append(rows, versionRow(v))
		}
		if tok = next; tok == "" {
			return rows, nil
		}
	}
}

// model loads one version of the account by its ARN, with its project.
func (c *Console) model(ctx context.Context, account, arn string) (*ocellus.Project, modelRow, error) {
	a, err := ocellus.ParseARN(arn)
	if err != nil {
		return nil, modelRow{}, err
	}
	switch a.Service {
	case ocellus.LookoutVision:
		// arn:aws:lookoutvision:{region}:{account}:model/{project}/{version}
		rest, _ := strings.CutPrefix(a.Resource, "model/")
		project, version, _ := strings.Cut(rest, "/")
		if err := ocellus.CheckOwner(arn, account, c.l4v.Region()); err != nil {
			return nil, modelRow{}, err
		}
		p, err := c.l4v.LookoutProject(ctx, account, project)
		if err != nil {
			return nil, modelRow{}, err
		}
		m, err := c.l4v.DescribeLookoutModel(ctx, account, project, version)
		if err != nil {
			return nil, modelRow{}, err
		}
		if m.ARN != arn {
			break
		}
		return p, lookoutRow(p, m), nil
	case ocellus.Rekognition:
		// arn:...:project/{project}/version/{name}/{ms}
		project, rest, ok := strings.Cut(strings.TrimPrefix(a.Resource, "project/"), "/version/")
		if !ok {
			break
		}
		if err := ocellus.CheckOwner(arn, account, c.ctl.Region()); err != nil {
			return nil, modelRow{}, err
		}
		name, _, _ := strings.Cut(rest, "/")
		ps, _, err := c.ctl.DescribeProjects(ctx, account, control.DescribeProjectsInput{Names: []string{project}})
		if err != nil {
			return nil, modelRow{}, err
		}
		for _, p := range ps {
			vs, _, err := c.ctl.DescribeProjectVersions(ctx, account, p.ARN, []string{name}, "", 0)
			if err != nil {
				return nil, modelRow{}, err
			}
			for _, v := range vs {
				if v.ARN == arn {
					return p, versionRow(v), nil
				}
			}
		}
	}
	return nil, modelRow{}, ocellus.Errorf(ocellus.NotFound, "The model %s does not exist.", arn)
}

// snippets is how to call a model from outside, as AWS's console shows it,
// with this server as the endpoint.
type snippets struct {
	Start, Detect, Stop, Python string
}

func modelSnippets(p *ocellus.Project, m modelRow, region, endpoint string) snippets {
	if p.Service == ocellus.LookoutVision {
		common := fmt.Sprintf(" \\\n  --project-name %s \\\n  --model-version %s \\\n  --endpoint-url %s --region %s", p.Name, m.Version, endpoint, region)
		return snippets{
			Start:  "aws lookoutvision start-model" + common + " \\\n  --min-inference-units 1",
			Detect: "aws lookoutvision detect-anomalies" + common + " \\\n  --content-type image/jpeg \\\n  --body image.jpg",
			Stop:   "aws lookoutvision stop-model" + common,
			Python: fmt.Sprintf(`import boto3

client = boto3.client("lookoutvision", region_name=%q, endpoint_url=%q)
with open("image.jpg", "rb") as f:
    response = client.detect_anomalies(
        ProjectName=%q, ModelVersion=%q, ContentType="image/jpeg", Body=f.read())
result = response["DetectAnomalyResult"]
print("anomalous" if result["IsAnomalous"] else "normal", result["Confidence"])
`, region, endpoint, p.Name, m.Version),
		}
	}
	common := fmt.Sprintf(" \\\n  --project-version-arn %s \\\n  --endpoint-url %s --region %s", m.ARN, endpoint, region)
	return snippets{
		Start:  "aws rekognition start-project-version" + common + " \\\n  --min-inference-units 1",
		Detect: "aws rekognition detect-custom-labels" + common + " \\\n  --image '{\"S3Object\": {\"Bucket\": \"MY_BUCKET\", \"Name\": \"PATH/TO/IMAGE.jpg\"}}'",
		Stop:   "aws rekognition stop-project-version" + common,
		Python: fmt.Sprintf(`import boto3

client = boto3.client("rekognition", region_name=%q, endpoint_url=%q)
with open("image.jpg", "rb") as f:
    response = client.detect_custom_labels(
        ProjectVersionArn=%q, Image={"Bytes": f.read()}, MinConfidence=50)
for label in response["CustomLabels"]:
    print(label["Name"], label["Confidence"], label.get("Geometry", {}).get("BoundingBox"))
`, region, endpoint, m.ARN),
	}
}

// modelData is the model page's content.
type modelData struct {
	Project  *ocellus.Project
	Lookout  bool
	Model    modelRow
	Snippets snippets
	MaxUnits int
	Eval     *evaluation // Custom Labels, once trained
}

func (c *Console) serveModel(w http.ResponseWriter, r *http.Request, ss session) {
	p, m, err := c.model(r.Context(), ss.Account, r.URL.Query().Get("arn"))
	if err != nil {
		c.notFound(w, ss, "Could not open the model.", c.message(err, "opening the model"))
		return
	}
	region := c.ctl.Region()
	if p.Service == ocellus.LookoutVision {
		region = c.l4v.Region()
	}
	d := modelData{Project: p, Lookout: p.Service == ocellus.LookoutVision, Model: m, MaxUnits: maxUnits,
		Snippets: modelSnippets(p, m, region, endpointOf(r))}
	f := c.sessions.takeFlash(ss.ID)
	if !d.Lookout && m.F1 != "" {
		var err error
		if d.Eval, err = c.evaluationOf(r.Context(), ss.Account, m.ARN); err != nil && f.Text == "" {
			f = flash{Error: true, Title: "Could not read the evaluation.", Text: c.message(err, "reading the evaluation")}
		}
	}
	c.render(w, http.StatusOK, "model.html", page{Title: m.Name, Session: &ss, Flash: f, Data: d, Refresh: m.InProgress})
}

// endpointOf is the server's URL as the browser reached it.
func endpointOf(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func modelURL(arn string) string { return Prefix + "model?arn=" + url.QueryEscape(arn) }

// serveTrain trains a new version from the project's datasets.
func (c *Console) serveTrain(w http.ResponseWriter, r *http.Request, ss session) {
	ctx := r.Context()
	arn := r.PostFormValue("project")
	back := Prefix + "project?arn=" + url.QueryEscape(arn)
	fail := flash{Title: "Could not start the training."}
	p, err := c.project(ctx, ss.Account, arn)
	if err != nil {
		c.after(w, r, ss, err, fail, "training", "", back)
		return
	}
	bucket := strings.TrimSpace(r.PostFormValue("bucket"))
	prefix := strings.TrimSpace(r.PostFormValue("prefix"))
	name := strings.TrimSpace(r.PostFormValue("name"))
	if bucket == "" {
		c.after(w, r, ss, ocellus.Errorf(ocellus.Invalid, "Name the S3 bucket the training output goes to."), fail, "", "", back)
		return
	}
	// The API model's constraints first, as CreateProjectVersion and
	// CreateModel check them.
	out := map[string]any{}
	var to string
	if p.Service == ocellus.LookoutVision {
		loc := map[string]any{"Bucket": bucket}
		if prefix != "" {
			loc["Prefix"] = prefix
		}
		out["S3Location"] = loc
		err = apimodel.LookoutVision.Validate("CreateModel", map[string]any{"ProjectName": p.Name, "OutputConfig": out})
	} else {
		// The name AWS's console gives a version: the project's, and when.
		name = cmp.Or(name, p.Name+"."+c.now().UTC().Format("2006-01-02T15.04.05"))
		out["S3Bucket"] = bucket
		if prefix != "" {
			out["S3KeyPrefix"] = prefix
		}
		err = apimodel.Rekognition.Validate("CreateProjectVersion", map[string]any{"ProjectArn": p.ARN, "VersionName": name, "OutputConfig": out})
	}
	var verr *apimodel.ValidationError
	if errors.As(err, &verr) {
		err = ocellus.Errorf(ocellus.Invalid, "%s", verr.Error())
	}
	if err != nil {
		c.after(w, r, ss, err, fail, "training", "", back)
		return
	}
	if p.Service == ocellus.LookoutVision {
		var m *ocellus.Model
		if m, err = c.l4v.CreateLookoutModel(ctx, ss.Account, control.CreateModelInput{Project: p.Name, OutputBucket: bucket, OutputPrefix: prefix}); err == nil {
			to, name = modelURL(m.ARN), "version "+strconv.Itoa(m.Version)
		}
	} else {
		var v *ocellus.ProjectVersion
		if v, err = c.ctl.CreateProjectVersion(ctx, ss.Account, control.CreateVersionInput{ProjectARN: p.ARN, Name: name, OutputBucket: bucket, OutputPrefix: prefix}); err == nil {
			to = modelURL(v.ARN)
		}
	}
	if err != nil {
		c.after(w, r, ss, err, fail, "training", "", back)
		return
	}
	c.after(w, r, ss, nil, fail, "", "Training "+name+".", to)
}

// serveHosting starts (op=start, with units) or stops (op=stop) a model.
func (c *Console) serveHosting(w http.ResponseWriter, r *http.Request, ss session) {
	ctx := r.Context()
	arn := r.PostFormValue("model")
	back := modelURL(arn)
	op := r.PostFormValue("op")
	fail := flash{Title: "Could not " + map[string]string{"start": "start", "stop": "stop"}[op] + " the model."}
	p, m, err := c.model(ctx, ss.Account, arn)
	if err != nil {
		c.after(w, r, ss, err, fail, "changing the hosting", "", back)
		return
	}
	lookout := p.Service == ocellus.LookoutVision
	var done string
	switch op {
	case "start":
		units, perr := strconv.Atoi(strings.TrimSpace(r.PostFormValue("units")))
		if perr != nil || units < 1 || units > maxUnits {
			err = ocellus.Errorf(ocellus.Invalid, "The inference units must be a whole number from 1 to %d.", maxUnits)
		} else if lookout {
			_, err = c.l4v.StartLookoutModel(ctx, ss.Account, p.Name, m.Version, units, units)
		} else {
			_, err = c.ctl.StartProjectVersion(ctx, ss.Account, arn, units, 0)
		}
		done = "Starting " + m.Name + " with " + strconv.Itoa(units) + " inference units."
		if units == 1 {
			done = "Starting " + m.Name + " with 1 inference unit."
		}
	case "stop":
		if lookout {
			_, err = c.l4v.StopLookoutModel(ctx, ss.Account, p.Name, m.Version)
		} else {
			_, err = c.ctl.StopProjectVersion(ctx, ss.Account, arn)
		}
		done = "Stopping " + m.Name + "."
	default:
		err = ocellus.Errorf(ocellus.Invalid, "Unknown hosting action %q.", op)
	}
	c.after(w, r, ss, err, fail, "changing the hosting", done, back)
}

// evaluation is the model page's evaluation section (Custom Labels).
type evaluation struct {
	Precision, Recall, F1 string
	TestImages            int
	Labels                []labelMetrics
	// Matrix is the confusion matrix of a classification model: a row a
	// ground-truth label, a column a predicted one, in Classes' order.
	Classes []string
	Matrix  []matrixRow
}

type labelMetrics struct {
	Label                            string
	TestImages                       int
	Precision, Recall, F1, Threshold string
}

type matrixRow struct {
	Label  string
	Counts []matrixCell
}

type matrixCell struct {
	Value   int
	Correct bool // the diagonal
}

func f3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// evaluationOf reads a trained Custom Labels version's evaluation summary.
func (c *Console) evaluationOf(ctx context.Context, account, arn string) (*evaluation, error) {
	s, err := c.ctl.VersionEvaluation(ctx, account, arn)
	if err != nil {
		return nil, err
	}
	m := s.AggregatedEvaluationResults.Metrics
	e := &evaluation{Precision: f3(m.Precision), Recall: f3(m.Recall), F1: f3(m.F1Score), TestImages: s.EvaluationDetails.NumberOfTestingImages}
	for _, l := range s.LabelEvaluationResults {
		e.Labels = append(e.Labels, labelMetrics{Label: l.Label, TestImages: l.NumberOfTestingImages, Precision: f3(l.Metrics.Precision),
			Recall: f3(l.Metrics.Recall), F1: f3(l.Metrics.F1Score), Threshold: strconv.FormatFloat(100*l.Metrics.Threshold, 'f', 1, 64)})
	}
	if len(m.ConfusionMatrix) > 0 {
		index := map[string]int{}
		add := func(l string) {
			if _, ok := index[l]; !ok {
				index[l] = len(e.Classes)
				e.Classes = append(e.Classes, l)
			}
		}
		for _, l := range s.EvaluationDetails.Labels {
			add(l)
		}
		for _, cell := range m.ConfusionMatrix {
			add(cell.GroundTruthLabel)
			add(cell.PredictedLabel)
		}
		e.Matrix = make([]matrixRow, len(e.Classes))
		for i, l := range e.Classes {
			e.Matrix[i] = matrixRow{Label: l, Counts: make([]matrixCell, len(e.Classes))}
			e.Matrix[i].Counts[i].Correct = true
		}
		for _, cell := range m.ConfusionMatrix {
			e.Matrix[index[cell.GroundTruthLabel]].Counts[index[cell.PredictedLabel]].Value += cell.Value
		}
	}
	return e, nil
}
