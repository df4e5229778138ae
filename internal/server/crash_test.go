package server_test

import (
	"context"
	"image/color"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/server"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// ocellusBinary builds cmd/ocellus once per test process.
func ocellusBinary(t testing.TB) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ocellus-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ocellus")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/ocellus").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return binPath
}

// process is the real binary serving on a free port.
type process struct {
	cmd *exec.Cmd
	ts  *testServer
}

// startProcess starts the binary on dataDir; env is added to the
// environment (e.g. server.TestHoldEnv+"=kind:point").
func startProcess(t *testing.T, dataDir, accounts string, env ...string) *process {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(ocellusBinary(t), "serve", "--addr", addr, "--data-dir", dataDir, "--accounts", accounts)
	cmd.Stderr = os.Stderr
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p := &process{cmd: cmd, ts: &testServer{URL: "http://" + addr, DataDir: dataDir}}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

func (p *process) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

func TestKill9DuringTrainingResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	accounts := filepath.Join(dir, "accounts.json")
	os.WriteFile(accounts, []byte(`[{"AccountId":"111111111111","AccessKeyId":"AKIDALICE","SecretAccessKey":"alice-secret"}]`), 0o600)
	data := filepath.Join(dir, "data")
	// Training is held once its version is loaded: the kill lands while
	// it is TRAINING_IN_PROGRESS however fast the machine.
	p := startProcess(t, data, accounts, server.TestHoldEnv+"="+control.JobTrain+":"+control.HoldAfterLoad)
	ctx := context.Background()
	s, r := s3c(p.ts, alice), rek(p.ts, alice)
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
	waitHeld(t, data, control.JobTrain, control.HoldAfterLoad)
	if st := d.ProjectVersionDescriptions[0].Status; st != rtypes.ProjectVersionStatusTrainingInProgress {
		t.Fatalf("training is held, yet the version is %s", st)
	}
	p.kill9()

	p2 := startProcess(t, data, accounts)
	r2 := rek(p2.ts, alice)
	w := rekognition.NewProjectVersionTrainingCompletedWaiter(r2, func(o *rekognition.ProjectVersionTrainingCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	if err := w.Wait(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project}, 3*time.Minute); err != nil {
		d, _ := r2.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project})
		t.Fatalf("after kill -9 and restart: %v (%s: %s)", err, d.ProjectVersionDescriptions[0].Status, aws.ToString(d.ProjectVersionDescriptions[0].StatusMessage))
	}
}
