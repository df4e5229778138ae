package rekognition

import (
	"context"
	"encoding/json"

	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
)

type detectModerationLabelsInput struct {
	Image struct {
		Bytes    []byte
		S3Object *s3Object
	}
	MinConfidence   *float64
	ProjectVersion  string
	HumanLoopConfig json.RawMessage
}

type moderationLabel struct {
	Confidence    float64
	Name          string
	ParentName    string
	TaxonomyLevel int
}

type moderationContentType struct {
	Confidence float64
	Name       string
}

type detectModerationLabelsOutput struct {
	ModerationLabels       []moderationLabel
	ModerationModelVersion string
	ContentTypes           []moderationContentType
	ProjectVersion         string `json:",omitempty"` // the adapter that answered
}

func (a *API) detectModerationLabels(ctx context.Context, id awsproto.Identity, in *detectModerationLabelsInput) (*detectModerationLabelsOutput, error) {
	mi := control.ModerationInput{Bytes: in.Image.Bytes, MinConfidence: in.MinConfidence, Adapter: in.ProjectVersion,
		HumanLoop: len(in.HumanLoopConfig) > 0 && string(in.HumanLoopConfig) != "null"}
	if o := in.Image.S3Object; o != nil {
		mi.S3 = &ocellus.S3Location{Bucket: o.Bucket, Key: o.Name, Version: o.Version}
	}
	res, err := a.ctl.DetectModerationLabels(ctx, id.Account, mi)
	if err != nil {
		return nil, err
	}
	out := &detectModerationLabelsOutput{ModerationModelVersion: res.ModelVersion, ProjectVersion: res.Adapter,
		ModerationLabels: make([]moderationLabel, 0, len(res.Labels)), ContentTypes: make([]moderationContentType, 0, len(res.ContentTypes))}
	for _, l := range res.Labels {
		out.ModerationLabels = append(out.ModerationLabels, moderationLabel{Confidence: l.Confidence, Name: l.Name, ParentName: l.Parent, TaxonomyLevel: l.Level})
	}
	for _, c := range res.ContentTypes {
		out.ContentTypes = append(out.ContentTypes, moderationContentType{Confidence: c.Confidence, Name: c.Name})
	}
	return out, nil
}
