package control

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
	"github.com/ocellus/ocellus/internal/vision/backbone"
)

// PackagingConfig is a packaging job's Greengrass configuration, stored as
// given and echoed by DescribeModelPackagingJob.
type PackagingConfig struct {
	Greengrass struct {
		CompilerOptions  string          `json:"CompilerOptions,omitempty"`
		TargetDevice     string          `json:"TargetDevice,omitempty"`
		TargetPlatform   json.RawMessage `json:"TargetPlatform,omitempty"`
		S3OutputLocation struct {
			Bucket string `json:"Bucket"`
			Prefix string `json:"Prefix,omitempty"`
		} `json:"S3OutputLocation"`
		ComponentName        string          `json:"ComponentName"`
		ComponentVersion     string          `json:"ComponentVersion,omitempty"`
		ComponentDescription string          `json:"ComponentDescription,omitempty"`
		Tags                 json.RawMessage `json:"Tags,omitempty"`
	} `json:"Greengrass"`
}

// PackagingOutput is what a finished job produced.
type PackagingOutput struct {
	ComponentVersionArn string   `json:"ComponentVersionArn,omitempty"`
	ComponentName       string   `json:"ComponentName,omitempty"`
	ComponentVersion    string   `json:"ComponentVersion,omitempty"`
	Objects             []string `json:"Objects,omitempty"` // s3:// URIs written
}

// StartPackagingInput starts a model packaging job.
type StartPackagingInput struct {
	Project     string
	Version     string
	JobName     string // "" = generated
	Description string
	Config      PackagingConfig
}

// StartModelPackagingJob records a job (CREATED) and enqueues its
// package-model job: CREATED -> RUNNING -> SUCCEEDED | FAILED.
func (l *Lookout) StartModelPackagingJob(ctx context.Context, account string, in StartPackagingInput) (*ocellus.PackagingJob, error) {
	p, m, err := l.model(ctx, account, in.Project, in.Version)
	if err != nil {
		return nil, err
	}
	if !m.Status.Trained() {
		return nil, lookoutErr(ocellus.InUse, ResourceModel, m.ARN, "The model %s is %s; only a trained model can be packaged.", m.ARN, m.Status)
	}
	gg := &in.Config.Greengrass
	if gg.S3OutputLocation.Bucket == "" || gg.ComponentName == "" {
		return nil, ocellus.Errorf(ocellus.Invalid, "Configuration.Greengrass needs S3OutputLocation.Bucket and ComponentName.")
	}
	if gg.TargetDevice != "" && len(gg.TargetPlatform) > 0 {
		return nil, ocellus.Errorf(ocellus.Invalid, "Specify either Greengrass.TargetDevice or Greengrass.TargetPlatform, not both.")
	}
	if gg.TargetDevice == "" && len(gg.TargetPlatform) == 0 {
		return nil, ocellus.Errorf(ocellus.Invalid, "Greengrass needs a TargetDevice or a TargetPlatform.")
	}
	if gg.ComponentVersion == "" {
		gg.ComponentVersion = "1.0.0"
	}
	name := in.JobName
	if name == "" {
		// Job names allow [a-zA-Z0-9-]; project names may also hold "_".
		name = fmt.Sprintf("%s-%d-%s", strings.ReplaceAll(p.Name, "_", "-"), m.Version, randomHex(4))
		if len(name) > 64 {
			name = name[len(name)-64:]
			name = strings.TrimLeft(name, "-")
		}
	}
	cfg, err := json.Marshal(in.Config)
	if err != nil {
		return nil, err
	}
	now := ocellus.Now(l.c.now)
	j := &ocellus.PackagingJob{ProjectARN: p.ARN, Account: account, Name: name, ModelVersion: m.Version, Description: in.Description,
		Method: "Greengrass", Config: cfg, Status: ocellus.PackagingCreated, StatusMessage: ocellus.PackagingCreated.Message(), Created: now, Updated: now}
	err = l.c.store.InTx(ctx, func(ctx context.Context) error {
		if err := l.c.store.CreatePackagingJob(ctx, j); err != nil {
			if ocellus.KindOf(err) == ocellus.AlreadyExists {
				return lookoutErr(ocellus.AlreadyExists, ResourcePackageJob, name, "The project %s already has a model packaging job named %s.", p.Name, name)
			}
			return err
		}
		return l.c.enqueuePackaging(ctx, j)
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// DescribeModelPackagingJob returns a job.
func (l *Lookout) DescribeModelPackagingJob(ctx context.Context, account, project, name string) (*ocellus.PackagingJob, error) {
	p, err := l.LookoutProject(ctx, account, project)
	if err != nil {
		return nil, err
	}
	j, err := l.c.store.PackagingJob(ctx, p.ARN, name)
	if ocellus.KindOf(err) == ocellus.NotFound {
		return nil, lookoutErr(ocellus.NotFound, ResourcePackageJob, name, "The project %s has no model packaging job named %s.", project, name)
	}
	return j, err
}

// ListModelPackagingJobs pages a project's jobs in creation order.
func (l *Lookout) ListModelPackagingJobs(ctx context.Context, account, project, nextToken string, maxResults int) ([]*ocellus.PackagingJob, string, error) {
	p, err := l.LookoutProject(ctx, account, project)
	if err != nil {
		return nil, "", err
	}
	list := "l4v-jobs:" + p.ARN
	after, err := decodeToken(list, nextToken)
	if err != nil {
		return nil, "", err
	}
	limit := pageLimit(maxResults)
	js, err := l.c.store.PackagingJobs(ctx, p.ARN, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	js, next := cutPage(js, limit, list, func(j *ocellus.PackagingJob) string { return j.Name })
	return js, next, nil
}

// packageJob is the package-model job: it writes the package of a CREATED
// or RUNNING job and records the outcome. A shutdown leaves the job
// RUNNING and the queue runs it again (the objects are simply written
// again, to the same keys).
func (l *Lookout) packageJob(ctx context.Context, pj packagingJob) error {
	j, err := l.c.store.PackagingJob(ctx, pj.Project, pj.Name)
	if err != nil {
		if ocellus.KindOf(err) == ocellus.NotFound {
			return nil
		}
		return err
	}
	if !j.Status.CanBecome(ocellus.PackagingRunning) {
		return nil
	}
	j.Status, j.StatusMessage, j.Updated = ocellus.PackagingRunning, ocellus.PackagingRunning.Message(), ocellus.Now(l.c.now)
	if err := l.c.store.UpdatePackagingJob(ctx, j); err != nil {
		return err
	}
	l.c.hold(ctx, JobPackage, HoldAfterLoad)
	out, err := l.writePackage(ctx, j)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	l.c.hold(ctx, JobPackage, HoldBeforeSave)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		if ocellus.KindOf(err) == ocellus.Internal {
			l.c.log.Error("model packaging", "job", j.Name, "err", err)
		}
		j.Status, j.StatusMessage = ocellus.PackagingFailed, "The model could not be packaged: "+ocellus.MessageOf(err)
	} else {
		j.Output, _ = json.Marshal(out)
		j.Status, j.StatusMessage = ocellus.PackagingSucceeded, ocellus.PackagingSucceeded.Message()
	}
	j.Updated = ocellus.Now(l.c.now)
	return l.c.store.UpdatePackagingJob(ctx, j)
}

// writePackage writes a self-contained package under the job's S3 output
// location: the model file, the backbone it needs (when it is an ONNX
// file), a manifest with their digests, and a README.
func (l *Lookout) writePackage(ctx context.Context, j *ocellus.PackagingJob) (*PackagingOutput, error) {
	var cfg PackagingConfig
	if err := json.Unmarshal(j.Config, &cfg); err != nil {
		return nil, err
	}
	gg := cfg.Greengrass
	p, err := l.c.store.Project(ctx, j.ProjectARN)
	if err != nil {
		return nil, err
	}
	m, err := l.c.store.LookoutModel(ctx, j.ProjectARN, j.ModelVersion)
	if err != nil {
		return nil, err
	}
	arn := m.ARN
	model, err := l.c.arts.Get(ctx, m.Artifact)
	if err != nil {
		return nil, err
	}
	meta, err := anomaly.ReadMeta(model)
	if err != nil {
		return nil, err
	}
	type file struct {
		name, contentType string
		data              []byte
	}
	files := []file{{"model.ocellus-anomaly", "application/octet-stream", model}}
	if o, ok := l.bb.(*backbone.ORT); ok && meta.BackboneIdentity == o.Info().Identity {
		files = append(files, file{"backbone.onnx", "application/octet-stream", o.Model()})
	}
	type entry struct {
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
		Size   int    `json:"size"`
	}
	pkg := map[string]any{
		"format": "ocellus-lookoutvision-package/1", "modelArn": arn, "project": p.Name, "modelVersion": strconv.Itoa(j.ModelVersion),
		"componentName": gg.ComponentName, "componentVersion": gg.ComponentVersion, "targetDevice": gg.TargetDevice,
		"targetPlatform": gg.TargetPlatform, "compilerOptions": gg.CompilerOptions,
		"backbone": meta.Backbone, "backboneIdentity": meta.BackboneIdentity, "imageWidth": meta.ImageWidth, "imageHeight": meta.ImageHeight,
		"segmentation": meta.Segmentation, "classes": meta.Classes, "threshold": meta.Threshold,
	}
	var entries []entry
	for _, f := range files {
		sum := sha256.Sum256(f.data)
		entries = append(entries, entry{f.name, hex.EncodeToString(sum[:]), len(f.data)})
	}
	pkg["files"] = entries
	pj, _ := json.MarshalIndent(pkg, "", "  ")
	files = append(files, file{"package.json", "application/json", pj}, file{"README.md", "text/markdown", []byte(packageReadme(p.Name, j, meta, len(files) > 1))})

	prefix := gg.S3OutputLocation.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	prefix += gg.ComponentName + "/" + gg.ComponentVersion + "/"
	out := &PackagingOutput{ComponentName: gg.ComponentName, ComponentVersion: gg.ComponentVersion,
		ComponentVersionArn: fmt.Sprintf("arn:aws:greengrass:%s:%s:components:%s:versions:%s", l.c.region, j.Account, gg.ComponentName, gg.ComponentVersion)}
	for _, f := range files {
		key := prefix + f.name
		if err := l.c.blobs.Put(ctx, j.Account, gg.S3OutputLocation.Bucket, key, f.contentType, bytes.NewReader(f.data)); err != nil {
			return nil, ocellus.Errorf(ocellus.InvalidS3Object, "writing s3://%s/%s failed: %s", gg.S3OutputLocation.Bucket, key, ocellus.MessageOf(err))
		}
		out.Objects = append(out.Objects, "s3://"+gg.S3OutputLocation.Bucket+"/"+key)
	}
	return out, nil
}

func packageReadme(project string, j *ocellus.PackagingJob, meta anomaly.Meta, withBackbone bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Ocellus anomaly model package: %s, model %d\n\n", project, j.ModelVersion)
	fmt.Fprintf(&b, "Written by the Lookout for Vision model packaging job `%s`.\n\n", j.Name)
	b.WriteString("## Files\n\n")
	b.WriteString("- `model.ocellus-anomaly`: the trained anomaly detector (PatchCore memory bank, threshold,\n  segmentation classes), in Ocellus's versioned model format with a SHA-256 trailer.\n")
	if withBackbone {
		fmt.Fprintf(&b, "- `backbone.onnx`: the frozen feature extractor the model needs (%s, identity `%s`).\n", meta.Backbone, meta.BackboneIdentity)
	} else {
		fmt.Fprintf(&b, "- No backbone file: the model uses Ocellus's built-in extractor (`%s`), which is part of every `ocellus` binary.\n", meta.BackboneIdentity)
	}
	b.WriteString("- `package.json`: what the package holds, with each file's SHA-256, and the Greengrass settings of the job.\n\n")
	fmt.Fprintf(&b, "Images must be %dx%d pixels, JPEG or PNG, like the training images.\n\n", meta.ImageWidth, meta.ImageHeight)
	b.WriteString("## Running it with Ocellus\n\n")
	b.WriteString("Serve the same API on the edge device and host the model there:\n\n```sh\n")
	if withBackbone {
		b.WriteString("ocellus serve --backbone backbone.onnx --data-dir ./data\n")
	} else {
		b.WriteString("ocellus serve --data-dir ./data\n")
	}
	b.WriteString("```\n\nthen train or copy the project there and call StartModel and DetectAnomalies exactly as against\nthe central service. Without a server, `ocellus predict` runs the model on image files and prints\nDetectAnomalies JSON lines (masks also as PNG files with `--mask-dir`):\n\n```sh\n")
	if withBackbone {
		b.WriteString("ocellus predict --model model.ocellus-anomaly --backbone backbone.onnx --mask-dir masks image.jpg\n")
	} else {
		b.WriteString("ocellus predict --model model.ocellus-anomaly --mask-dir masks image.jpg\n")
	}
	b.WriteString("```\n\nEach line of output is the `DetectAnomalyResult` for one image (`IsAnomalous`, `Confidence`,\n`Anomalies`, `AnomalyMask` in base64), as the hosted model answers DetectAnomalies.\n")
	return b.String()
}
