package apimodel

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/lookoutforvision"
)

// TestSDKRequests sends every Lookout for Vision operation with the real
// aws-sdk-go client and checks that what it puts on the wire routes to the
// same operation, decodes, and validates. This is the check that the
// routing and binding rules agree with a real client, not just with the
// model as read by this package.
func TestSDKRequests(t *testing.T) {
	type captured struct {
		req  *http.Request
		body []byte
	}
	got := make(chan captured, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Copy what arrived: the server still owns r after the handler.
		b, _ := io.ReadAll(r.Body)
		c := httptest.NewRequest(r.Method, r.URL.RequestURI(), nil)
		c.Header = r.Header.Clone()
		got <- captured{c, b}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	sess, err := session.NewSession(&aws.Config{
		Region:      aws.String("us-east-1"),
		Endpoint:    aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentials("AKID", "SECRET", ""),
		MaxRetries:  aws.Int(0),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := lookoutforvision.New(sess)
	p, v, arn := aws.String("p1"), aws.String("1"), aws.String(l4vArn)
	// aws-sdk-go v1 does not fill header idempotency tokens; v2 and boto3 do.
	tok := aws.String("0b7c5f7e-1111-4a2b-9c3d-123456789abc")
	when := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	calls := map[string]func() error{
		"CreateProject": func() error {
			_, err := c.CreateProject(&lookoutforvision.CreateProjectInput{ProjectName: p, ClientToken: tok})
			return err
		},
		"ListProjects": func() error {
			_, err := c.ListProjects(&lookoutforvision.ListProjectsInput{MaxResults: aws.Int64(10), NextToken: aws.String("t")})
			return err
		},
		"DescribeProject": func() error {
			_, err := c.DescribeProject(&lookoutforvision.DescribeProjectInput{ProjectName: p})
			return err
		},
		"DeleteProject": func() error {
			_, err := c.DeleteProject(&lookoutforvision.DeleteProjectInput{ProjectName: p, ClientToken: tok})
			return err
		},
		"CreateDataset": func() error {
			_, err := c.CreateDataset(&lookoutforvision.CreateDatasetInput{ProjectName: p, DatasetType: aws.String("train"),
				DatasetSource: &lookoutforvision.DatasetSource{GroundTruthManifest: &lookoutforvision.DatasetGroundTruthManifest{
					S3Object: &lookoutforvision.InputS3Object{Bucket: aws.String("bkt"), Key: aws.String("m.json")}}}})
			return err
		},
		"DescribeDataset": func() error {
			_, err := c.DescribeDataset(&lookoutforvision.DescribeDatasetInput{ProjectName: p, DatasetType: aws.String("train")})
			return err
		},
		"DeleteDataset": func() error {
			_, err := c.DeleteDataset(&lookoutforvision.DeleteDatasetInput{ProjectName: p, DatasetType: aws.String("test")})
			return err
		},
		"ListDatasetEntries": func() error {
			_, err := c.ListDatasetEntries(&lookoutforvision.ListDatasetEntriesInput{ProjectName: p, DatasetType: aws.String("train"),
				Labeled: aws.Bool(true), AnomalyClass: aws.String("anomaly"), BeforeCreationDate: aws.Time(when),
				AfterCreationDate: aws.Time(when.Add(-time.Hour)), SourceRefContains: aws.String("a b"), MaxResults: aws.Int64(5)})
			return err
		},
		"UpdateDatasetEntries": func() error {
			_, err := c.UpdateDatasetEntries(&lookoutforvision.UpdateDatasetEntriesInput{ProjectName: p, DatasetType: aws.String("train"),
				Changes: []byte(`{"source-ref":"s3://b/a.jpg"}`)})
			return err
		},
		"CreateModel": func() error {
			_, err := c.CreateModel(&lookoutforvision.CreateModelInput{ProjectName: p, Description: aws.String("first"),
				OutputConfig: &lookoutforvision.OutputConfig{S3Location: &lookoutforvision.S3Location{Bucket: aws.String("bkt"), Prefix: aws.String("out/")}},
				Tags:         []*lookoutforvision.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			return err
		},
		"DescribeModel": func() error {
			_, err := c.DescribeModel(&lookoutforvision.DescribeModelInput{ProjectName: p, ModelVersion: aws.String("latest")})
			return err
		},
		"ListModels": func() error {
			_, err := c.ListModels(&lookoutforvision.ListModelsInput{ProjectName: p, MaxResults: aws.Int64(3)})
			return err
		},
		"DeleteModel": func() error {
			_, err := c.DeleteModel(&lookoutforvision.DeleteModelInput{ProjectName: p, ModelVersion: v})
			return err
		},
		"StartModel": func() error {
			_, err := c.StartModel(&lookoutforvision.StartModelInput{ProjectName: p, ModelVersion: v, ClientToken: tok, MinInferenceUnits: aws.Int64(1), MaxInferenceUnits: aws.Int64(2)})
			return err
		},
		"StopModel": func() error {
			_, err := c.StopModel(&lookoutforvision.StopModelInput{ProjectName: p, ModelVersion: v})
			return err
		},
		"DetectAnomalies": func() error {
			_, err := c.DetectAnomalies(&lookoutforvision.DetectAnomaliesInput{ProjectName: p, ModelVersion: v,
				ContentType: aws.String("image/png"), Body: bytes.NewReader([]byte("\x89PNG\r\n\x1a\nfake"))})
			return err
		},
		"StartModelPackagingJob": func() error {
			_, err := c.StartModelPackagingJob(&lookoutforvision.StartModelPackagingJobInput{ProjectName: p, ModelVersion: v, JobName: aws.String("job-1"),
				Configuration: &lookoutforvision.ModelPackagingConfiguration{Greengrass: &lookoutforvision.GreengrassConfiguration{
					TargetDevice: aws.String("jetson_xavier"), ComponentName: aws.String("comp"),
					S3OutputLocation: &lookoutforvision.S3Location{Bucket: aws.String("bkt")}}}})
			return err
		},
		"ListModelPackagingJobs": func() error {
			_, err := c.ListModelPackagingJobs(&lookoutforvision.ListModelPackagingJobsInput{ProjectName: p, MaxResults: aws.Int64(2)})
			return err
		},
		"DescribeModelPackagingJob": func() error {
			_, err := c.DescribeModelPackagingJob(&lookoutforvision.DescribeModelPackagingJobInput{ProjectName: p, JobName: aws.String("job-1")})
			return err
		},
		"TagResource": func() error {
			_, err := c.TagResource(&lookoutforvision.TagResourceInput{ResourceArn: arn, Tags: []*lookoutforvision.Tag{{Key: aws.String("a"), Value: aws.String("1")}}})
			return err
		},
		"UntagResource": func() error {
			_, err := c.UntagResource(&lookoutforvision.UntagResourceInput{ResourceArn: arn, TagKeys: aws.StringSlice([]string{"a", "b"})})
			return err
		},
		"ListTagsForResource": func() error {
			_, err := c.ListTagsForResource(&lookoutforvision.ListTagsForResourceInput{ResourceArn: arn})
			return err
		},
	}
	for name := range LookoutVision.Operations {
		if calls[name] == nil {
			t.Errorf("no SDK call for %s", name)
		}
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); err != nil {
				t.Fatalf("SDK call: %v", err)
			}
			cap := <-got
			r := cap.req
			r.Body = io.NopCloser(bytes.NewReader(cap.body))
			op, labels, ok := LookoutVision.Match(r.Method, r.URL.EscapedPath())
			if !ok || op.Name != name {
				t.Fatalf("Match(%s %s) = %v, %v", r.Method, r.URL.EscapedPath(), op, ok)
			}
			in, err := LookoutVision.DecodeRest(op, r, labels)
			if err != nil {
				t.Fatalf("DecodeRest: %v", err)
			}
			if err := LookoutVision.Validate(name, in); err != nil {
				t.Fatalf("Validate: %v (input %v)", err, in)
			}
			switch name {
			case "UntagResource", "TagResource", "ListTagsForResource":
				if in["ResourceArn"] != l4vArn {
					t.Errorf("ResourceArn = %v (path %s)", in["ResourceArn"], r.URL.EscapedPath())
				}
			case "DetectAnomalies":
				if b, _ := in["Body"].([]byte); string(b) != "\x89PNG\r\n\x1a\nfake" || in["ContentType"] != "image/png" {
					t.Errorf("input = %v", in)
				}
			case "ListDatasetEntries":
				if in["BeforeCreationDate"] != jsonNumber("1609459200") || in["AfterCreationDate"] != jsonNumber("1609455600") {
					t.Errorf("timestamps = %v %v (query %s)", in["BeforeCreationDate"], in["AfterCreationDate"], r.URL.RawQuery)
				}
			}
			if op.Name == "CreateProject" || op.Name == "DeleteProject" || op.Name == "StartModel" {
				if in["ClientToken"] != *tok {
					t.Errorf("ClientToken = %v, want the X-Amzn-Client-Token header", in["ClientToken"])
				}
			}
		})
	}
}

func jsonNumber(s string) any { return json.Number(s) }
