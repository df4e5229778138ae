package server_test

import (
	"context"
	"image/color"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

func TestKill9DuringTrainingResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	// Training is held once its version is loaded: the kill lands while
	// it is TRAINING_IN_PROGRESS however fast the machine.
	p := e2e.StartBinary(t, e2e.BinaryConfig{Env: []string{server.TestHoldEnv + "=" + control.JobTrain + ":" + control.HoldAfterLoad}})
	ctx := context.Background()
	s, r := p.S3(alice), p.Rekognition(alice)
	s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("crash")})
	lines := colourDataset(t, s, "crash", "img", map[string]color.RGBA{"red": {200, 40, 40, 255}, "blue": {40, 40, 200, 255}}, 60)
	put(t, s, "crash", "train.manifest", []byte(strings.Join(lines, "\n")))
	project := createProject(t, r, "crash")
	m := &rtypes.GroundTruthManifest{S3Object: &rtypes.S3Object{Bucket: aws.String("crash"), Name: aws.String("train.manifest")}}
	if _, err := r.CreateProjectVersion(ctx, &rekognition.CreateProjectVersionInput{ProjectArn: &project, VersionName: aws.String("v1"),
		OutputConfig: &rtypes.OutputConfig{S3Bucket: aws.String("crash")},
		TrainingData: &rtypes.TrainingData{Assets: []rtypes.Asset{{GroundTruthManifest: m}}}, TestingData: &rtypes.TestingData{AutoCreate: true}}); err != nil {
		t.Fatal(err)
	}
	d, err := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project})
	if err != nil {
		t.Fatal(err)
	}
	waitHeld(t, p.DataDir, control.JobTrain, control.HoldAfterLoad)
	if st := d.ProjectVersionDescriptions[0].Status; st != rtypes.ProjectVersionStatusTrainingInProgress {
		t.Fatalf("training is held, yet the version is %s", st)
	}
	p.Kill9()

	p2 := e2e.StartBinary(t, e2e.BinaryConfig{DataDir: p.DataDir})
	r2 := p2.Rekognition(alice)
	w := rekognition.NewProjectVersionTrainingCompletedWaiter(r2, func(o *rekognition.ProjectVersionTrainingCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	if err := w.Wait(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project}, 3*time.Minute); err != nil {
		d, _ := r2.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project})
		t.Fatalf("after kill -9 and restart: %v (%s: %s)", err, d.ProjectVersionDescriptions[0].Status, aws.ToString(d.ProjectVersionDescriptions[0].StatusMessage))
	}
}
