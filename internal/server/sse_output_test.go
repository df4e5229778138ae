package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	stypes "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// TestKmsKeyIdEncryptsTrainingOutput: a model version created with a
// KmsKeyId writes its OutputConfig files with SSE-KMS under that key, as
// AWS does; the embedded S3 shares the keyring that seals the artifact.
func TestKmsKeyIdEncryptsTrainingOutput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keyring.json")
	os.WriteFile(file, []byte(`[{"KeyId":"out-key","Alias":"alias/training-output","Key":"`+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))+`"}]`), 0o600)
	ts := e2e.Start(t, server.Config{Keyring: file})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("kms-out")})
	lines := colourDataset(t, s, "kms-out", "img", map[string]color.RGBA{"red": {200, 40, 40, 255}, "blue": {40, 40, 200, 255}}, 8)
	put(t, s, "kms-out", "train.manifest", []byte(strings.Join(lines, "\n")))
	project := createProject(t, r, "kms-output")
	m := &rtypes.GroundTruthManifest{S3Object: &rtypes.S3Object{Bucket: aws.String("kms-out"), Name: aws.String("train.manifest")}}
	_, err := r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String("v"),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("kms-out"), S3KeyPrefix: aws.String("out")}, KmsKeyId: aws.String("alias/training-output"),
		TrainingData: &rtypes.TrainingData{Assets: []rtypes.Asset{{GroundTruthManifest: m}}}, TestingData: &rtypes.TestingData{AutoCreate: true}})
	if err != nil {
		t.Fatal(err)
	}
	pv := waitTrained(t, r, project, "v")
	if pv.Status != rtypes.ProjectVersionStatusTrainingCompleted {
		t.Fatalf("training: %s %s", pv.Status, aws.ToString(pv.StatusMessage))
	}
	for _, o := range []*rtypes.S3Object{pv.EvaluationResult.Summary.S3Object, pv.ManifestSummary.S3Object, pv.TrainingDataResult.Output.Assets[0].GroundTruthManifest.S3Object} {
		h, err := s.HeadObject(ctx, &s3.HeadObjectInput{Bucket: o.Bucket, Key: o.Name})
		if err != nil {
			t.Fatal(err)
		}
		if h.ServerSideEncryption != stypes.ServerSideEncryptionAwsKms || aws.ToString(h.SSEKMSKeyId) != "arn:aws:kms:us-east-1:"+alice.ID+":key/out-key" {
			t.Fatalf("%s: SSE %q key %q", aws.ToString(o.Name), h.ServerSideEncryption, aws.ToString(h.SSEKMSKeyId))
		}
		g, err := s.GetObject(ctx, &s3.GetObjectInput{Bucket: o.Bucket, Key: o.Name})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(g.Body)
		g.Body.Close()
		if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
			t.Fatalf("%s does not read back as JSON: %.40q", aws.ToString(o.Name), b)
		}
	}
}
