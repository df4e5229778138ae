package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math/rand"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	v1aws "github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/request"
	lv "github.com/aws/aws-sdk-go/service/lookoutforvision"

	"github.com/ocellus/ocellus/internal/apimodel"
	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/server"
)

// always marks an optional member that Ocellus sends in every response that
// holds its structure, in every state. The rule is AWS's: clients (AWS's own
// examples among them) read such members unconditionally.
const always = "always"

// optionalMembers is every member that the API models (aws-sdk-go v1.55.8,
// internal/apimodel) mark optional in the response shapes of the operations
// Ocellus serves, keyed "<service> <Shape>.<Member>", with when Ocellus may
// leave it out. TestOptionalMembersTable fails when the model has a member
// without a row here (or a row names a member the model lacks); the live
// tests check that the "always" rows are in the raw JSON of real responses,
// in-progress states included.
var optionalMembers = map[string]string{
	// ---- Rekognition Custom Labels ----
	"Rekognition CopyProjectVersionResponse.ProjectVersionArn":   always,
	"Rekognition CreateDatasetResponse.DatasetArn":               always,
	"Rekognition CreateProjectResponse.ProjectArn":               always,
	"Rekognition CreateProjectVersionResponse.ProjectVersionArn": always,
	"Rekognition DeleteProjectResponse.Status":                   always,
	"Rekognition DeleteProjectVersionResponse.Status":            always,
	"Rekognition DescribeDatasetResponse.DatasetDescription":     always,
	"Rekognition DatasetDescription.CreationTimestamp":           always,
	"Rekognition DatasetDescription.LastUpdatedTimestamp":        always,
	"Rekognition DatasetDescription.Status":                      always,
	"Rekognition DatasetDescription.StatusMessage":               always,
	"Rekognition DatasetDescription.StatusMessageCode":           always,
	"Rekognition DatasetDescription.DatasetStats":                always,
	"Rekognition DatasetStats.LabeledEntries":                    always,
	"Rekognition DatasetStats.TotalEntries":                      always,
	"Rekognition DatasetStats.TotalLabels":                       always,
	"Rekognition DatasetStats.ErrorEntries":                      always,

	"Rekognition DescribeProjectVersionsResponse.ProjectVersionDescriptions":      always,
	"Rekognition DescribeProjectVersionsResponse.NextToken":                       "only when there is a next page",
	"Rekognition ProjectVersionDescription.ProjectVersionArn":                     always,
	"Rekognition ProjectVersionDescription.CreationTimestamp":                     always,
	"Rekognition ProjectVersionDescription.Status":                                always,
	"Rekognition ProjectVersionDescription.StatusMessage":                         always,
	"Rekognition ProjectVersionDescription.OutputConfig":                          always,
	"Rekognition ProjectVersionDescription.Feature":                               always,
	"Rekognition ProjectVersionDescription.TrainingDataResult":                    always,
	"Rekognition ProjectVersionDescription.TestingDataResult":                     always,
	"Rekognition ProjectVersionDescription.MinInferenceUnits":                     "only once the version has been started (StartProjectVersion)",
	"Rekognition ProjectVersionDescription.MaxInferenceUnits":                     "only when StartProjectVersion set MaxInferenceUnits (auto-scaling)",
	"Rekognition ProjectVersionDescription.BillableTrainingTimeInSeconds":         "only after training ended",
	"Rekognition ProjectVersionDescription.TrainingEndTimestamp":                  "only after training ended",
	"Rekognition ProjectVersionDescription.EvaluationResult":                      "only after training evaluated the model",
	"Rekognition ProjectVersionDescription.ManifestSummary":                       "only after training wrote the manifest summary",
	"Rekognition ProjectVersionDescription.KmsKeyId":                              "only when the user set KmsKeyId",
	"Rekognition ProjectVersionDescription.SourceProjectVersionArn":               "only for a copy (CopyProjectVersion)",
	"Rekognition ProjectVersionDescription.VersionDescription":                    "only when the user set VersionDescription",
	"Rekognition ProjectVersionDescription.BaseModelVersion":                      "only for Custom Moderation adapters (the base model they correct)",
	"Rekognition ProjectVersionDescription.FeatureConfig":                         "only for Custom Moderation adapters",
	"Rekognition CustomizationFeatureConfig.ContentModeration":                    "only for Custom Moderation adapters",
	"Rekognition CustomizationFeatureContentModerationConfig.ConfidenceThreshold": "only when the adapter was created with one",
	"Rekognition OutputConfig.S3Bucket":                                           "only when the user set it (the model does not require it)",
	"Rekognition OutputConfig.S3KeyPrefix":                                        "only when the user set it",
	"Rekognition TrainingDataResult.Input":                                        "only when the version trained from manifests or datasets that are known (set at creation or once training read them)",
	"Rekognition TrainingDataResult.Output":                                       "only after training wrote the ground-truth manifests",
	"Rekognition TrainingDataResult.Validation":                                   "only after training wrote the validation manifests",
	"Rekognition TestingDataResult.Input":                                         always,
	"Rekognition TestingDataResult.Output":                                        "only after training wrote the ground-truth manifests",
	"Rekognition TestingDataResult.Validation":                                    "only after training wrote the validation manifests",
	"Rekognition TrainingData.Assets":                                             "only when there are manifests to list",
	"Rekognition TestingData.Assets":                                              "only when there are manifests to list (none while an AutoCreate split is pending)",
	"Rekognition TestingData.AutoCreate":                                          "only in TestingDataResult.Input, where it says whether the user asked for the split; the Output and Validation subsets (same shape) leave it out",
	"Rekognition ValidationData.Assets":                                           "only when there are manifests to list",
	"Rekognition Asset.GroundTruthManifest":                                       always,
	"Rekognition GroundTruthManifest.S3Object":                                    always,
	"Rekognition S3Object.Bucket":                                                 always,
	"Rekognition S3Object.Name":                                                   always,
	"Rekognition S3Object.Version":                                                "only when the object has a version id",
	"Rekognition EvaluationResult.F1Score":                                        "only once the evaluation computed it",
	"Rekognition EvaluationResult.Summary":                                        "only once the evaluation summary was written",
	"Rekognition Summary.S3Object":                                                always,

	"Rekognition DescribeProjectsResponse.ProjectDescriptions": always,
	"Rekognition DescribeProjectsResponse.NextToken":           "only when there is a next page",
	"Rekognition ProjectDescription.ProjectArn":                always,
	"Rekognition ProjectDescription.CreationTimestamp":         always,
	"Rekognition ProjectDescription.Status":                    always,
	"Rekognition ProjectDescription.Datasets":                  always,
	"Rekognition ProjectDescription.Feature":                   always,
	"Rekognition ProjectDescription.AutoUpdate":                "only for Content Moderation projects (DISABLED unless set), or when the user set it",
	"Rekognition DatasetMetadata.CreationTimestamp":            always,
	"Rekognition DatasetMetadata.DatasetType":                  always,
	"Rekognition DatasetMetadata.DatasetArn":                   always,
	"Rekognition DatasetMetadata.Status":                       always,
	"Rekognition DatasetMetadata.StatusMessage":                always,
	"Rekognition DatasetMetadata.StatusMessageCode":            always,

	"Rekognition DetectCustomLabelsResponse.CustomLabels": always,
	"Rekognition CustomLabel.Name":                        always,
	"Rekognition CustomLabel.Confidence":                  always,
	"Rekognition CustomLabel.Geometry":                    "only for object detection models",
	// DetectModerationLabels (base model, or an adapter with ProjectVersion).
	"Rekognition DetectModerationLabelsResponse.ModerationLabels":                          always,
	"Rekognition DetectModerationLabelsResponse.ModerationModelVersion":                    always,
	"Rekognition DetectModerationLabelsResponse.ContentTypes":                              always,
	"Rekognition DetectModerationLabelsResponse.ProjectVersion":                            "only when an adapter (ProjectVersion) answered",
	"Rekognition DetectModerationLabelsResponse.HumanLoopActivationOutput":                 "never: HumanLoopConfig (Amazon A2I) is refused with InvalidParameterException",
	"Rekognition HumanLoopActivationOutput.HumanLoopArn":                                   "never: no human review",
	"Rekognition HumanLoopActivationOutput.HumanLoopActivationReasons":                     "never: no human review",
	"Rekognition HumanLoopActivationOutput.HumanLoopActivationConditionsEvaluationResults": "never: no human review",
	"Rekognition ModerationLabel.Confidence":                                               always,
	"Rekognition ModerationLabel.Name":                                                     always,
	"Rekognition ModerationLabel.ParentName":                                               always,
	"Rekognition ModerationLabel.TaxonomyLevel":                                            always,
	"Rekognition ContentType.Confidence":                                                   always,
	"Rekognition ContentType.Name":                                                         always,
	"Rekognition Geometry.BoundingBox":                                                     always,
	"Rekognition Geometry.Polygon":                                                         "never: Custom Labels locates objects with bounding boxes only",
	"Rekognition Point.X":                                                                  "never: no Polygon is sent",
	"Rekognition Point.Y":                                                                  "never: no Polygon is sent",
	"Rekognition BoundingBox.Width":                                                        always,
	"Rekognition BoundingBox.Height":                                                       always,
	"Rekognition BoundingBox.Left":                                                         always,
	"Rekognition BoundingBox.Top":                                                          always,

	"Rekognition ListDatasetEntriesResponse.DatasetEntries":          always,
	"Rekognition ListDatasetEntriesResponse.NextToken":               "only when there is a next page",
	"Rekognition ListDatasetLabelsResponse.DatasetLabelDescriptions": always,
	"Rekognition ListDatasetLabelsResponse.NextToken":                "only when there is a next page",
	"Rekognition DatasetLabelDescription.LabelName":                  always,
	"Rekognition DatasetLabelDescription.LabelStats":                 always,
	"Rekognition DatasetLabelStats.EntryCount":                       always,
	"Rekognition DatasetLabelStats.BoundingBoxCount":                 always,
	"Rekognition ListProjectPoliciesResponse.ProjectPolicies":        always,
	"Rekognition ListProjectPoliciesResponse.NextToken":              "only when there is a next page",
	"Rekognition ProjectPolicy.ProjectArn":                           always,
	"Rekognition ProjectPolicy.PolicyName":                           always,
	"Rekognition ProjectPolicy.PolicyRevisionId":                     always,
	"Rekognition ProjectPolicy.PolicyDocument":                       always,
	"Rekognition ProjectPolicy.CreationTimestamp":                    always,
	"Rekognition ProjectPolicy.LastUpdatedTimestamp":                 always,
	"Rekognition ListTagsForResourceResponse.Tags":                   always,
	"Rekognition PutProjectPolicyResponse.PolicyRevisionId":          always,
	"Rekognition StartProjectVersionResponse.Status":                 always,
	"Rekognition StopProjectVersionResponse.Status":                  always,

	// ---- Lookout for Vision ----
	"LookoutVision CreateDatasetResponse.DatasetMetadata": always,
	"LookoutVision DatasetMetadata.DatasetType":           always,
	"LookoutVision DatasetMetadata.CreationTimestamp":     always,
	"LookoutVision DatasetMetadata.Status":                always,
	"LookoutVision DatasetMetadata.StatusMessage":         always,

	"LookoutVision CreateModelResponse.ModelMetadata": always,
	"LookoutVision ModelMetadata.CreationTimestamp":   always,
	"LookoutVision ModelMetadata.ModelVersion":        always,
	"LookoutVision ModelMetadata.ModelArn":            always,
	"LookoutVision ModelMetadata.Description":         "only when the user set Description",
	"LookoutVision ModelMetadata.Status":              always,
	"LookoutVision ModelMetadata.StatusMessage":       always,
	"LookoutVision ModelMetadata.Performance":         "only after training evaluated the model",
	"LookoutVision ModelPerformance.F1Score":          always,
	"LookoutVision ModelPerformance.Recall":           always,
	"LookoutVision ModelPerformance.Precision":        always,

	"LookoutVision CreateProjectResponse.ProjectMetadata": always,
	"LookoutVision ProjectMetadata.ProjectArn":            always,
	"LookoutVision ProjectMetadata.ProjectName":           always,
	"LookoutVision ProjectMetadata.CreationTimestamp":     always,
	"LookoutVision DeleteModelResponse.ModelArn":          always,
	"LookoutVision DeleteProjectResponse.ProjectArn":      always,

	"LookoutVision DescribeDatasetResponse.DatasetDescription": always,
	"LookoutVision DatasetDescription.ProjectName":             always,
	"LookoutVision DatasetDescription.DatasetType":             always,
	"LookoutVision DatasetDescription.CreationTimestamp":       always,
	"LookoutVision DatasetDescription.LastUpdatedTimestamp":    always,
	"LookoutVision DatasetDescription.Status":                  always,
	"LookoutVision DatasetDescription.StatusMessage":           always,
	"LookoutVision DatasetDescription.ImageStats":              always,
	"LookoutVision DatasetImageStats.Total":                    always,
	"LookoutVision DatasetImageStats.Labeled":                  always,
	"LookoutVision DatasetImageStats.Normal":                   always,
	"LookoutVision DatasetImageStats.Anomaly":                  always,

	"LookoutVision DescribeModelResponse.ModelDescription":  always,
	"LookoutVision ModelDescription.ModelVersion":           always,
	"LookoutVision ModelDescription.ModelArn":               always,
	"LookoutVision ModelDescription.CreationTimestamp":      always,
	"LookoutVision ModelDescription.Description":            "only when the user set Description",
	"LookoutVision ModelDescription.Status":                 always,
	"LookoutVision ModelDescription.StatusMessage":          always,
	"LookoutVision ModelDescription.Performance":            "only after training evaluated the model",
	"LookoutVision ModelDescription.OutputConfig":           always,
	"LookoutVision S3Location.Prefix":                       "only when the user set it",
	"LookoutVision ModelDescription.EvaluationManifest":     "only after training wrote the evaluation manifest",
	"LookoutVision ModelDescription.EvaluationResult":       "only after training wrote the evaluation result",
	"LookoutVision ModelDescription.EvaluationEndTimestamp": "only after training evaluated the model",
	"LookoutVision ModelDescription.KmsKeyId":               "only when the user set KmsKeyId",
	"LookoutVision ModelDescription.MinInferenceUnits":      "only while the model is starting or hosted",
	"LookoutVision ModelDescription.MaxInferenceUnits":      "only while the model is starting or hosted",

	"LookoutVision DescribeModelPackagingJobResponse.ModelPackagingDescription": always,
	"LookoutVision ModelPackagingDescription.JobName":                           always,
	"LookoutVision ModelPackagingDescription.ProjectName":                       always,
	"LookoutVision ModelPackagingDescription.ModelVersion":                      always,
	"LookoutVision ModelPackagingDescription.ModelPackagingConfiguration":       always,
	"LookoutVision ModelPackagingDescription.ModelPackagingJobDescription":      "only when the user set Description",
	"LookoutVision ModelPackagingDescription.ModelPackagingMethod":              always,
	"LookoutVision ModelPackagingDescription.ModelPackagingOutputDetails":       "only once the job has written its component",
	"LookoutVision ModelPackagingDescription.Status":                            always,
	"LookoutVision ModelPackagingDescription.StatusMessage":                     always,
	"LookoutVision ModelPackagingDescription.CreationTimestamp":                 always,
	"LookoutVision ModelPackagingDescription.LastUpdatedTimestamp":              always,
	"LookoutVision ModelPackagingOutputDetails.Greengrass":                      always,
	"LookoutVision GreengrassOutputDetails.ComponentVersionArn":                 always,
	"LookoutVision GreengrassOutputDetails.ComponentName":                       always,
	"LookoutVision GreengrassOutputDetails.ComponentVersion":                    always,
	"LookoutVision GreengrassConfiguration.CompilerOptions":                     "only when the user set it (the configuration is echoed as given)",
	"LookoutVision GreengrassConfiguration.TargetDevice":                        "only when the user set it (the configuration is echoed as given)",
	"LookoutVision GreengrassConfiguration.TargetPlatform":                      "only when the user set it (the configuration is echoed as given)",
	"LookoutVision GreengrassConfiguration.ComponentVersion":                    "only when the user set it (the configuration is echoed as given)",
	"LookoutVision GreengrassConfiguration.ComponentDescription":                "only when the user set it (the configuration is echoed as given)",
	"LookoutVision GreengrassConfiguration.Tags":                                "only when the user set it (the configuration is echoed as given)",
	"LookoutVision TargetPlatform.Accelerator":                                  "only when the user set it (the configuration is echoed as given)",

	"LookoutVision DescribeProjectResponse.ProjectDescription": always,
	"LookoutVision ProjectDescription.ProjectArn":              always,
	"LookoutVision ProjectDescription.ProjectName":             always,
	"LookoutVision ProjectDescription.CreationTimestamp":       always,
	"LookoutVision ProjectDescription.Datasets":                always,

	"LookoutVision DetectAnomaliesResponse.DetectAnomalyResult": always,
	"LookoutVision DetectAnomalyResult.Source":                  always,
	"LookoutVision ImageSource.Type":                            always,
	"LookoutVision DetectAnomalyResult.IsAnomalous":             always,
	"LookoutVision DetectAnomalyResult.Confidence":              always,
	"LookoutVision DetectAnomalyResult.Anomalies":               "only for segmentation models (trained with masks), as on AWS",
	"LookoutVision DetectAnomalyResult.AnomalyMask":             "only for segmentation models (trained with masks), as on AWS",
	"LookoutVision Anomaly.Name":                                always,
	"LookoutVision Anomaly.PixelAnomaly":                        always,
	"LookoutVision PixelAnomaly.TotalPercentageArea":            always,
	"LookoutVision PixelAnomaly.Color":                          always,

	"LookoutVision ListDatasetEntriesResponse.DatasetEntries":              always,
	"LookoutVision ListDatasetEntriesResponse.NextToken":                   "only when there is a next page",
	"LookoutVision ListModelPackagingJobsResponse.ModelPackagingJobs":      always,
	"LookoutVision ListModelPackagingJobsResponse.NextToken":               "only when there is a next page",
	"LookoutVision ModelPackagingJobMetadata.JobName":                      always,
	"LookoutVision ModelPackagingJobMetadata.ProjectName":                  always,
	"LookoutVision ModelPackagingJobMetadata.ModelVersion":                 always,
	"LookoutVision ModelPackagingJobMetadata.ModelPackagingJobDescription": "only when the user set Description",
	"LookoutVision ModelPackagingJobMetadata.ModelPackagingMethod":         always,
	"LookoutVision ModelPackagingJobMetadata.Status":                       always,
	"LookoutVision ModelPackagingJobMetadata.StatusMessage":                always,
	"LookoutVision ModelPackagingJobMetadata.CreationTimestamp":            always,
	"LookoutVision ModelPackagingJobMetadata.LastUpdatedTimestamp":         always,
	"LookoutVision ListModelsResponse.Models":                              always,
	"LookoutVision ListModelsResponse.NextToken":                           "only when there is a next page",
	"LookoutVision ListProjectsResponse.Projects":                          always,
	"LookoutVision ListProjectsResponse.NextToken":                         "only when there is a next page",
	"LookoutVision ListTagsForResourceResponse.Tags":                       always,
	"LookoutVision StartModelResponse.Status":                              always,
	"LookoutVision StartModelPackagingJobResponse.JobName":                 always,
	"LookoutVision StopModelResponse.Status":                               always,
	"LookoutVision UpdateDatasetEntriesResponse.Status":                    always,
}

// modelOptionalMembers walks every operation's output shape, nested
// structures, lists and maps included, and returns the optional members
// (not required, sent in the JSON body) as "<service> <Shape>.<Member>".
func modelOptionalMembers(svc *apimodel.Service) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(name string)
	walk = func(name string) {
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		sh := svc.Shapes[name]
		switch sh.Type {
		case "structure":
			req := map[string]bool{}
			for _, r := range sh.Required {
				req[r] = true
			}
			for _, m := range sh.Members {
				if !req[m.Name] && m.Location == "" {
					out = append(out, svc.ID+" "+name+"."+m.Name)
				}
				walk(m.Shape)
			}
		case "list":
			walk(sh.Member)
		case "map":
			walk(sh.Value)
		}
	}
	for _, op := range svc.Operations {
		walk(op.Output)
	}
	sort.Strings(out)
	return out
}

func TestOptionalMembersTable(t *testing.T) {
	inModel := map[string]bool{}
	for _, svc := range []*apimodel.Service{apimodel.Rekognition, apimodel.LookoutVision} {
		for _, k := range modelOptionalMembers(svc) {
			inModel[k] = true
			why, ok := optionalMembers[k]
			if !ok {
				t.Errorf("%s is optional in the API model and has no row in optionalMembers: say whether Ocellus always sends it, or when and why it may leave it out", k)
				continue
			}
			if why != always && !strings.HasPrefix(why, "only ") && !strings.HasPrefix(why, "never: ") {
				t.Errorf("%s: %q: a row is %q, \"only ...\" or \"never: why\"", k, why, always)
			}
		}
	}
	for k := range optionalMembers {
		if !inModel[k] {
			t.Errorf("optionalMembers row %s is not an optional output member of the API model", k)
		}
	}
}

// rawResponse is one successful response body as it came off the wire.
type rawResponse struct {
	op   string
	body []byte
}

type recorder struct {
	mu   sync.Mutex
	resp []rawResponse
}

func (r *recorder) add(op string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resp = append(r.resp, rawResponse{op, body})
}

func (r *recorder) all() []rawResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rawResponse(nil), r.resp...)
}

// RoundTrip records the body of every successful awsJson1.1 response.
func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || resp.StatusCode/100 != 2 {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	r.add(strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "RekognitionService."), b)
	return resp, nil
}

// memberChecker checks raw JSON responses against the model and the table.
type memberChecker struct {
	t       *testing.T
	svc     *apimodel.Service
	checked map[string]int // "always" rows seen present, by key
}

// check walks v (decoded JSON) as shape name: every required member and
// every "always" row of a structure that is there must be there, not null;
// a member the model does not define must not be there.
func (c *memberChecker) check(ctx, name string, v any) {
	sh := c.svc.Shapes[name]
	switch sh.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			c.t.Errorf("%s: %s is %T, want a JSON object", ctx, name, v)
			return
		}
		req := map[string]bool{}
		for _, r := range sh.Required {
			req[r] = true
		}
		known := map[string]bool{}
		for _, m := range sh.Members {
			known[m.Name] = true
			if m.Location != "" {
				continue
			}
			key := c.svc.ID + " " + name + "." + m.Name
			val, present := obj[m.Name]
			present = present && val != nil
			if !present {
				if req[m.Name] || optionalMembers[key] == always {
					c.t.Errorf("%s: %s is missing (%s is sent always); body part %v", ctx, key, m.Name, obj)
				}
				continue
			}
			if optionalMembers[key] == always {
				c.checked[key]++
			}
			c.check(ctx+"."+m.Name, m.Shape, val)
		}
		for k := range obj {
			if !known[k] {
				c.t.Errorf("%s: %s has member %q, which the API model does not define", ctx, name, k)
			}
		}
	case "list":
		arr, ok := v.([]any)
		if !ok {
			c.t.Errorf("%s: %s is %T, want a JSON array", ctx, name, v)
			return
		}
		for i, e := range arr {
			c.check(fmt.Sprintf("%s[%d]", ctx, i), sh.Member, e)
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			c.t.Errorf("%s: %s is %T, want a JSON object", ctx, name, v)
			return
		}
		for k, e := range m {
			c.check(ctx+"["+k+"]", sh.Value, e)
		}
	}
}

func (c *memberChecker) checkAll(rs []rawResponse) {
	for _, r := range rs {
		op, ok := c.svc.Operation(r.op)
		if !ok {
			c.t.Errorf("response of unknown operation %q", r.op)
			continue
		}
		if op.Output == "" {
			continue
		}
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil {
			c.t.Errorf("%s: body %q: %v", r.op, r.body, err)
			continue
		}
		c.check(r.op, op.Output, v)
	}
}

// statusesOf returns the Status values found at path (dot-separated, with
// lists flattened) in the recorded responses of op.
func statusesOf(t *testing.T, rs []rawResponse, op, path string) map[string]int {
	out := map[string]int{}
	for _, r := range rs {
		if r.op != op {
			continue
		}
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		var walk func(v any, parts []string)
		walk = func(v any, parts []string) {
			switch x := v.(type) {
			case []any:
				for _, e := range x {
					walk(e, parts)
				}
			case map[string]any:
				if len(parts) == 0 {
					return
				}
				walk(x[parts[0]], parts[1:])
			case string:
				if len(parts) == 0 {
					out[x]++
				}
			}
		}
		walk(v, strings.Split(path, "."))
	}
	return out
}

// pollUntil calls describe every few milliseconds until done reports true.
func pollUntil(t *testing.T, what string, timeout time.Duration, describe func() (done bool)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !describe() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not done after %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRekognitionAlwaysMembers drives a Custom Labels project through its
// datasets' creation and update, a training, hosting and deletion with
// aws-sdk-go-v2, polling the Describe operations while work runs, and checks
// the raw JSON of every response against optionalMembers: StatusMessage and
// StatusMessageCode are there while a dataset is being created or updated,
// StatusMessage while a version trains.
func TestRekognitionAlwaysMembers(t *testing.T) {
	modDir, modWhat, modFix := installModeration(t)
	if modDir == "" && os.Getenv("OCELLUS_MAKE_TEST") != "" {
		t.Fatalf("%s (%s)", modWhat, modFix)
	}
	ts := e2e.Start(t, server.Config{ModerationDir: modDir})
	ctx := context.Background()
	rec := &recorder{}
	r := rekognition.NewFromConfig(e2e.Config(alice), func(o *rekognition.Options) {
		o.BaseEndpoint = aws.String(ts.URL)
		o.HTTPClient = &http.Client{Transport: rec}
	})
	s := ts.S3(alice)
	for _, b := range []string{"train", "out"} {
		if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	// Enough images that the import and the update take a while after the
	// call returns: the polls below land while they run (the race detector
	// slows the server down enough with fewer).
	perClass := 120
	if raceBuild {
		perClass = 25
	}
	lines := colourDataset(t, s, "train", "img", map[string]color.RGBA{"red": {200, 40, 40, 255}, "blue": {40, 40, 200, 255}}, perClass)
	put(t, s, "train", "train.manifest", []byte(strings.Join(lines, "\n")))
	project := createProject(t, r, "members")
	train := createDataset(t, r, project, rtypes.DatasetTypeTrain, "train", "train.manifest")
	describeDataset := func(arn string) rtypes.DatasetStatus {
		d, err := r.DescribeDataset(ctx, &rekognition.DescribeDatasetInput{DatasetArn: &arn})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.DescribeProjects(ctx, &rekognition.DescribeProjectsInput{ProjectNames: []string{"members"}}); err != nil {
			t.Fatal(err)
		}
		return d.DatasetDescription.Status
	}
	pollUntil(t, "train dataset creation", 5*time.Minute, func() bool { return !strings.HasSuffix(string(describeDataset(train)), "IN_PROGRESS") })
	// An update replacing every line runs as long as the import did.
	if _, err := r.UpdateDatasetEntries(ctx, &rekognition.UpdateDatasetEntriesInput{DatasetArn: &train,
		Changes: &rtypes.DatasetChanges{GroundTruth: []byte(strings.Join(lines, "\n"))}}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "train dataset update", 5*time.Minute, func() bool { return !strings.HasSuffix(string(describeDataset(train)), "IN_PROGRESS") })
	test := createDataset(t, r, project, rtypes.DatasetTypeTest, "", "")
	if _, err := r.DistributeDatasetEntries(ctx, &rekognition.DistributeDatasetEntriesInput{Datasets: []rtypes.DistributeDataset{{Arn: &train}, {Arn: &test}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ListDatasetEntries(ctx, &rekognition.ListDatasetEntriesInput{DatasetArn: &test}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ListDatasetLabels(ctx, &rekognition.ListDatasetLabelsInput{DatasetArn: &train}); err != nil {
		t.Fatal(err)
	}

	cv, err := r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String("v1"),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("out"), S3KeyPrefix: aws.String("runs")}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(cv.ProjectVersionArn)
	describeVersion := func() rtypes.ProjectVersionStatus {
		d, err := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{"v1"}})
		if err != nil || len(d.ProjectVersionDescriptions) != 1 {
			t.Fatalf("describe versions: %+v, %v", d, err)
		}
		return d.ProjectVersionDescriptions[0].Status
	}
	pollUntil(t, "training", 5*time.Minute, func() bool { return describeVersion() != rtypes.ProjectVersionStatusTrainingInProgress })
	if st := describeVersion(); st != rtypes.ProjectVersionStatusTrainingCompleted {
		t.Fatalf("training ended %s", st)
	}
	if _, err := r.StartProjectVersion(ctx, &rekognition.StartProjectVersionInput{ProjectVersionArn: &arn, MinInferenceUnits: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "start", 2*time.Minute, func() bool { return describeVersion() != rtypes.ProjectVersionStatusStarting })
	if _, err := r.DetectCustomLabels(ctx, &rekognition.DetectCustomLabelsInput{ProjectVersionArn: &arn,
		Image: &rtypes.Image{S3Object: &rtypes.S3Object{Bucket: aws.String("train"), Name: aws.String("img/red/000.jpg")}}}); err != nil {
		t.Fatal(err)
	}
	if modDir != "" { // MinConfidence 0: every label and content type
		if _, err := r.DetectModerationLabels(ctx, &rekognition.DetectModerationLabelsInput{MinConfidence: aws.Float32(0),
			Image: &rtypes.Image{S3Object: &rtypes.S3Object{Bucket: aws.String("train"), Name: aws.String("img/red/000.jpg")}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.ListTagsForResource(ctx, &rekognition.ListTagsForResourceInput{ResourceArn: &arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.StopProjectVersion(ctx, &rekognition.StopProjectVersionInput{ProjectVersionArn: &arn}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "stop", 2*time.Minute, func() bool { return describeVersion() != rtypes.ProjectVersionStatusStopping })
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"rekognition:CopyProjectVersion","Resource":"*"}]}`
	if _, err := r.PutProjectPolicy(ctx, &rekognition.PutProjectPolicyInput{ProjectArn: &project, PolicyName: aws.String("share"), PolicyDocument: &doc}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ListProjectPolicies(ctx, &rekognition.ListProjectPoliciesInput{ProjectArn: &project}); err != nil {
		t.Fatal(err)
	}
	cp, err := r.CopyProjectVersion(ctx, &rekognition.CopyProjectVersionInput{SourceProjectArn: &project, SourceProjectVersionArn: &arn,
		DestinationProjectArn: &project, VersionName: aws.String("v2"), OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("out")}})
	if err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "copy", 2*time.Minute, func() bool {
		d, err := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range d.ProjectVersionDescriptions {
			if v.Status == rtypes.ProjectVersionStatusCopyingInProgress {
				return false
			}
		}
		return true
	})
	for _, v := range []*string{&arn, cp.ProjectVersionArn} {
		if _, err := r.DeleteProjectVersion(ctx, &rekognition.DeleteProjectVersionInput{ProjectVersionArn: v}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []*string{&train, &test} {
		if _, err := r.DeleteDataset(ctx, &rekognition.DeleteDatasetInput{DatasetArn: d}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.DeleteProjectPolicy(ctx, &rekognition.DeleteProjectPolicyInput{ProjectArn: &project, PolicyName: aws.String("share")}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DeleteProject(ctx, &rekognition.DeleteProjectInput{ProjectArn: &project}); err != nil {
		t.Fatal(err)
	}

	rs := rec.all()
	c := &memberChecker{t: t, svc: apimodel.Rekognition, checked: map[string]int{}}
	c.checkAll(rs)
	// The states the issue names were really seen, with their messages.
	ds := statusesOf(t, rs, "DescribeDataset", "DatasetDescription.Status")
	ps := statusesOf(t, rs, "DescribeProjects", "ProjectDescriptions.Datasets.Status")
	vs := statusesOf(t, rs, "DescribeProjectVersions", "ProjectVersionDescriptions.Status")
	t.Logf("DescribeDataset states %v; DescribeProjects dataset states %v; DescribeProjectVersions states %v", ds, ps, vs)
	for _, want := range []struct {
		got   map[string]int
		state string
	}{{ds, "CREATE_IN_PROGRESS"}, {ds, "UPDATE_IN_PROGRESS"}, {ps, "CREATE_IN_PROGRESS"}, {ps, "UPDATE_IN_PROGRESS"}, {vs, "TRAINING_IN_PROGRESS"}} {
		if want.got[want.state] == 0 {
			t.Errorf("no response in %s was seen: the in-progress check did not run (states %v)", want.state, want.got)
		}
	}
	inProgressMessages(t, rs, "DescribeDataset", "DatasetDescription", map[string]string{"CREATE_IN_PROGRESS": msgOf(ocellus.DatasetCreateInProgress), "UPDATE_IN_PROGRESS": msgOf(ocellus.DatasetUpdateInProgress)})
	notLive := map[string]string{
		"Rekognition Geometry.BoundingBox": "detection models only; TestDetectionProject reads them through the SDK",
		"Rekognition BoundingBox.Width":    "detection models only",
		"Rekognition BoundingBox.Height":   "detection models only",
		"Rekognition BoundingBox.Left":     "detection models only",
		"Rekognition BoundingBox.Top":      "detection models only",
	}
	if modDir == "" {
		t.Logf("DetectModerationLabels members not checked: %s (%s)", modWhat, modFix)
		for k := range optionalMembers {
			if strings.HasPrefix(k, "Rekognition DetectModerationLabelsResponse.") || strings.HasPrefix(k, "Rekognition ModerationLabel.") || strings.HasPrefix(k, "Rekognition ContentType.") {
				notLive[k] = "no content moderation base model here"
			}
		}
	}
	c.covered(notLive)
	for _, k := range []string{"Rekognition DatasetDescription.StatusMessage", "Rekognition DatasetDescription.StatusMessageCode",
		"Rekognition DatasetMetadata.StatusMessage", "Rekognition DatasetMetadata.StatusMessageCode", "Rekognition ProjectVersionDescription.StatusMessage"} {
		if c.checked[k] == 0 {
			t.Errorf("%s was never checked", k)
		}
	}
}

func msgOf(s ocellus.DatasetStatus) string {
	m, _ := s.Message()
	return m
}

// covered fails for each "always" row of the service that no recorded
// response exercised, unless notLive names it with the reason.
func (c *memberChecker) covered(notLive map[string]string) {
	c.t.Helper()
	for k, why := range optionalMembers {
		if why != always || !strings.HasPrefix(k, c.svc.ID+" ") {
			continue
		}
		if _, skip := notLive[k]; skip {
			if c.checked[k] > 0 {
				c.t.Errorf("%s is exempted from the live check but was checked: drop the exemption", k)
			}
			continue
		}
		if c.checked[k] == 0 {
			c.t.Errorf("no recorded response exercised %s: call an operation that returns it", k)
		}
	}
}

// inProgressMessages checks that each in-progress state of obj (a member of
// op's output) came with its status message.
func inProgressMessages(t *testing.T, rs []rawResponse, op, obj string, want map[string]string) {
	t.Helper()
	for _, r := range rs {
		if r.op != op {
			continue
		}
		var v map[string]map[string]any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		d := v[obj]
		st, _ := d["Status"].(string)
		if msg, ok := want[st]; ok && d["StatusMessage"] != msg {
			t.Errorf("%s in %s: StatusMessage %v, want %q", op, st, d["StatusMessage"], msg)
		}
	}
}

// TestLookoutAlwaysMembers is the Lookout for Vision counterpart, driven
// with aws-sdk-go v1: CreateDataset's answer (CREATE_IN_PROGRESS),
// DescribeDataset/DescribeProject while the dataset is created and updated,
// CreateModel's answer and DescribeModel/ListModels while the model trains,
// starts and stops, and the packaging job while it runs.
func TestLookoutAlwaysMembers(t *testing.T) {
	if raceBuild {
		t.Skip("trains and hosts a model: too slow under the race detector; make test runs it without -race")
	}
	ts := e2e.Start(t, server.Config{})
	rec := &recorder{}
	c := ts.LookoutVision(alice)
	c.Handlers.Unmarshal.PushFront(func(req *request.Request) {
		if req.HTTPResponse == nil || req.HTTPResponse.StatusCode/100 != 2 {
			return
		}
		b, err := io.ReadAll(req.HTTPResponse.Body)
		if err != nil {
			req.Error = err
			return
		}
		req.HTTPResponse.Body = io.NopCloser(bytes.NewReader(b))
		rec.add(req.Operation.Name, b)
	})
	s := ts.S3(alice)
	mkBucket(t, s, "data")
	mkBucket(t, s, "out")
	mkey := synthDataset(t, s, "data", "ds", 60, 30, 96, 96, 5)
	p := v1aws.String("members")
	if _, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: p}); err != nil {
		t.Fatal(err)
	}
	cd, err := c.CreateDataset(&lv.CreateDatasetInput{ProjectName: p, DatasetType: v1aws.String("train"),
		DatasetSource: &lv.DatasetSource{GroundTruthManifest: &lv.DatasetGroundTruthManifest{S3Object: &lv.InputS3Object{Bucket: v1aws.String("data"), Key: v1aws.String(mkey)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if *cd.DatasetMetadata.Status != "CREATE_IN_PROGRESS" {
		t.Fatalf("CreateDataset status %s", *cd.DatasetMetadata.Status)
	}
	describeDataset := func() string {
		d, err := c.DescribeDataset(&lv.DescribeDatasetInput{ProjectName: p, DatasetType: v1aws.String("train")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.DescribeProject(&lv.DescribeProjectInput{ProjectName: p}); err != nil {
			t.Fatal(err)
		}
		return *d.DatasetDescription.Status
	}
	pollUntil(t, "dataset creation", 2*time.Minute, func() bool { return !strings.HasSuffix(describeDataset(), "IN_PROGRESS") })
	manifest, err := s.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String(mkey)})
	if err != nil {
		t.Fatal(err)
	}
	changes, _ := io.ReadAll(manifest.Body)
	manifest.Body.Close()
	if _, err := c.UpdateDatasetEntries(&lv.UpdateDatasetEntriesInput{ProjectName: p, DatasetType: v1aws.String("train"), Changes: changes}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "dataset update", 2*time.Minute, func() bool { return !strings.HasSuffix(describeDataset(), "IN_PROGRESS") })
	if _, err := c.ListDatasetEntries(&lv.ListDatasetEntriesInput{ProjectName: p, DatasetType: v1aws.String("train"), MaxResults: v1aws.Int64(2)}); err != nil {
		t.Fatal(err)
	}

	cm, err := c.CreateModel(&lv.CreateModelInput{ProjectName: p,
		OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("out")}}})
	if err != nil {
		t.Fatal(err)
	}
	if *cm.ModelMetadata.Status != "TRAINING" {
		t.Fatalf("CreateModel status %s", *cm.ModelMetadata.Status)
	}
	describeModel := func() string {
		d, err := c.DescribeModel(&lv.DescribeModelInput{ProjectName: p, ModelVersion: v1aws.String("1")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListModels(&lv.ListModelsInput{ProjectName: p}); err != nil {
			t.Fatal(err)
		}
		return *d.ModelDescription.Status
	}
	pollUntil(t, "training", 5*time.Minute, func() bool { return describeModel() != "TRAINING" })
	if st := describeModel(); st != "TRAINED" {
		t.Fatalf("training ended %s", st)
	}
	if _, err := c.StartModel(&lv.StartModelInput{ProjectName: p, ModelVersion: v1aws.String("1"), MinInferenceUnits: v1aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "hosting", 2*time.Minute, func() bool { return describeModel() != "STARTING_HOSTING" })
	img, _ := synthImage(t, rand.New(rand.NewSource(9)), 96, 96, true)
	if _, err := c.DetectAnomalies(&lv.DetectAnomaliesInput{ProjectName: p, ModelVersion: v1aws.String("1"),
		ContentType: v1aws.String("image/png"), Body: bytes.NewReader(img)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartModelPackagingJob(&lv.StartModelPackagingJobInput{ProjectName: p, ModelVersion: v1aws.String("1"), JobName: v1aws.String("pkg"),
		Configuration: &lv.ModelPackagingConfiguration{Greengrass: &lv.GreengrassConfiguration{ComponentName: v1aws.String("com.example.members"),
			TargetDevice: v1aws.String("jetson_xavier"), S3OutputLocation: &lv.S3Location{Bucket: v1aws.String("out"), Prefix: v1aws.String("pkg/")}}}}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "packaging", 2*time.Minute, func() bool {
		d, err := c.DescribeModelPackagingJob(&lv.DescribeModelPackagingJobInput{ProjectName: p, JobName: v1aws.String("pkg")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListModelPackagingJobs(&lv.ListModelPackagingJobsInput{ProjectName: p}); err != nil {
			t.Fatal(err)
		}
		st := *d.ModelPackagingDescription.Status
		return st != "CREATED" && st != "RUNNING"
	})
	if _, err := c.ListTagsForResource(&lv.ListTagsForResourceInput{ResourceArn: cm.ModelMetadata.ModelArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StopModel(&lv.StopModelInput{ProjectName: p, ModelVersion: v1aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "stopping", 2*time.Minute, func() bool { return describeModel() != "STOPPING_HOSTING" })
	if _, err := c.ListProjects(&lv.ListProjectsInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteModel(&lv.DeleteModelInput{ProjectName: p, ModelVersion: v1aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "model deletion", time.Minute, func() bool {
		m, err := c.ListModels(&lv.ListModelsInput{ProjectName: p})
		if err != nil {
			t.Fatal(err)
		}
		return len(m.Models) == 0
	})
	if _, err := c.DeleteDataset(&lv.DeleteDatasetInput{ProjectName: p, DatasetType: v1aws.String("train")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteProject(&lv.DeleteProjectInput{ProjectName: p}); err != nil {
		t.Fatal(err)
	}

	rs := rec.all()
	mc := &memberChecker{t: t, svc: apimodel.LookoutVision, checked: map[string]int{}}
	mc.checkAll(rs)
	ds := statusesOf(t, rs, "DescribeDataset", "DatasetDescription.Status")
	ms := statusesOf(t, rs, "DescribeModel", "ModelDescription.Status")
	js := statusesOf(t, rs, "DescribeModelPackagingJob", "ModelPackagingDescription.Status")
	t.Logf("DescribeDataset states %v; DescribeModel states %v; DescribeModelPackagingJob states %v", ds, ms, js)
	if statusesOf(t, rs, "CreateDataset", "DatasetMetadata.Status")["CREATE_IN_PROGRESS"] == 0 ||
		statusesOf(t, rs, "CreateModel", "ModelMetadata.Status")["TRAINING"] == 0 {
		t.Error("CreateDataset / CreateModel answers in progress were not recorded")
	}
	for _, want := range []struct {
		got   map[string]int
		state string
	}{{ds, "UPDATE_IN_PROGRESS"}, {ms, "TRAINING"}} {
		if want.got[want.state] == 0 {
			t.Errorf("no response in %s was seen: the in-progress check did not run (states %v)", want.state, want.got)
		}
	}
	inProgressMessages(t, rs, "DescribeDataset", "DatasetDescription", map[string]string{"CREATE_IN_PROGRESS": msgOf(ocellus.DatasetCreateInProgress), "UPDATE_IN_PROGRESS": msgOf(ocellus.DatasetUpdateInProgress)})
	mc.covered(nil)
	for _, k := range []string{"LookoutVision DatasetMetadata.StatusMessage", "LookoutVision DatasetDescription.StatusMessage",
		"LookoutVision ModelMetadata.StatusMessage", "LookoutVision ModelDescription.StatusMessage", "LookoutVision ModelPackagingDescription.StatusMessage"} {
		if mc.checked[k] == 0 {
			t.Errorf("%s was never checked", k)
		}
	}
}
