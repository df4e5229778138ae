package rekognition

import (
	"context"

	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
)

type startProjectVersionInput struct {
	ProjectVersionArn string
	MinInferenceUnits int
	MaxInferenceUnits int
}

func (a *API) startProjectVersion(ctx context.Context, id awsproto.Identity, in *startProjectVersionInput) (*statusOutput, error) {
	st, err := a.ctl.StartProjectVersion(ctx, id.Account, in.ProjectVersionArn, in.MinInferenceUnits, in.MaxInferenceUnits)
	if err != nil {
		return nil, err
	}
	return &statusOutput{Status: string(st)}, nil
}

func (a *API) stopProjectVersion(ctx context.Context, id awsproto.Identity, in *versionArnInput) (*statusOutput, error) {
	st, err := a.ctl.StopProjectVersion(ctx, id.Account, in.ProjectVersionArn)
	if err != nil {
		return nil, err
	}
	return &statusOutput{Status: string(st)}, nil
}

type detectCustomLabelsInput struct {
	ProjectVersionArn string
	Image             struct {
		Bytes    []byte
		S3Object *s3Object
	}
	MaxResults    *int
	MinConfidence *float64
}

type boundingBox struct {
	Width, Height, Left, Top float64
}

type geometry struct {
	BoundingBox *boundingBox `json:",omitempty"`
}

type customLabel struct {
	Name       string
	Confidence float64
	Geometry   *geometry `json:",omitempty"`
}

type detectCustomLabelsOutput struct {
	CustomLabels []customLabel
}

func (a *API) detectCustomLabels(ctx context.Context, id awsproto.Identity, in *detectCustomLabelsInput) (*detectCustomLabelsOutput, error) {
	din := control.DetectInput{VersionARN: in.ProjectVersionArn, Bytes: in.Image.Bytes, MinConfidence: in.MinConfidence, MaxResults: in.MaxResults}
	if o := in.Image.S3Object; o != nil {
		din.S3 = &ocellus.S3Location{Bucket: o.Bucket, Key: o.Name, Version: o.Version}
	}
	labels, err := a.ctl.DetectCustomLabels(ctx, id.Account, din)
	if err != nil {
		return nil, err
	}
	out := &detectCustomLabelsOutput{CustomLabels: make([]customLabel, 0, len(labels))}
	for _, l := range labels {
		cl := customLabel{Name: l.Name, Confidence: l.Confidence}
		if l.Box != nil {
			cl.Geometry = &geometry{BoundingBox: &boundingBox{Width: l.Box.Width, Height: l.Box.Height, Left: l.Box.Left, Top: l.Box.Top}}
		}
		out.CustomLabels = append(out.CustomLabels, cl)
	}
	return out, nil
}
