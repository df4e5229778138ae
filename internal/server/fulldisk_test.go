package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// smallDisk mounts a tmpfs of the given size (MB) on a temporary directory
// and returns it; the test is skipped where mounting is not allowed.
func smallDisk(t *testing.T, mb int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", mb), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestFullDisk fills the data volume (a 24 MB tmpfs) through S3 and checks
// that every write then fails with a clear error, that nothing stored
// before is lost, that no partial upload is left behind, and that the
// service works normally again once space is freed, also after a restart.
func TestFullDisk(t *testing.T) {
	data := filepath.Join(smallDisk(t, 24), "data")
	ts := e2e.Start(t, server.Config{DataDir: data})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	const bucket = "full-disk"
	if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	// A project with a dataset, stored while there is room.
	uploadImages(t, s, bucket, "img", 20)
	var lines []string
	for i := 0; i < 20; i++ {
		lines = append(lines, classLine(bucket, fmt.Sprintf("img/%04d.jpg", i), []string{"a", "b"}[i%2]))
	}
	put(t, s, bucket, "train.manifest", []byte(strings.Join(lines, "\n")))
	project := createProject(t, r, "before")
	ds := createDataset(t, r, project, rtypes.DatasetTypeTrain, bucket, "train.manifest")
	if d := waitDataset(t, r, ds); d.Status != rtypes.DatasetStatusCreateComplete {
		t.Fatalf("dataset before: %s %s", d.Status, aws.ToString(d.StatusMessage))
	}

	// Fill the volume with 1 MB objects.
	body := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 1<<20) }
	stored := 0
	var full error
	for i := 0; i < 40; i++ {
		_, full = s.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("fill/%02d", i)), Body: bytes.NewReader(body(i))})
		if full != nil {
			break
		}
		stored++
	}
	if full == nil || errCode(full) != "InsufficientStorage" || !strings.Contains(full.Error(), "data volume is full") {
		t.Fatalf("after %d MB: %v, want InsufficientStorage saying the volume is full", stored, full)
	}
	t.Logf("volume full after %d MB of objects: %v", stored, full)
	// Metadata writes use the space left above the reserve, then are refused
	// saying why; a project is either created or not there at all.
	created := 0
	var metaErr error
	for i := 0; i < 5000 && metaErr == nil; i++ {
		if _, metaErr = r.CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String(fmt.Sprintf("during-%04d", i))}); metaErr == nil {
			created++
		}
	}
	if errCode(metaErr) != "ServiceQuotaExceededException" || !strings.Contains(metaErr.Error(), "data volume is full") {
		t.Fatalf("CreateProject on a full volume, after %d: %v", created, metaErr)
	}
	t.Logf("metadata full after %d more projects: %v", created, metaErr)
	if leftovers := tempFiles(t, data); len(leftovers) != 0 {
		t.Errorf("partial uploads left on the full volume: %v", leftovers)
	}

	// Free half of the filler.
	for i := 1; i < stored; i += 2 {
		if _, err := s.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("fill/%02d", i))}); err != nil {
			t.Fatalf("delete fill/%02d: %v", i, err)
		}
	}
	check := func(r *rekognition.Client, s *s3.Client) {
		t.Helper()
		for i := 0; i < stored; i += 2 {
			out, err := s.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("fill/%02d", i))})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if !bytes.Equal(b, body(i)) {
				t.Fatalf("fill/%02d changed", i)
			}
		}
		d := waitDataset(t, r, ds)
		if d.Status != rtypes.DatasetStatusCreateComplete || aws.ToInt32(d.DatasetStats.TotalEntries) != 20 {
			t.Fatalf("dataset before, after the full volume: %s, %d entries", d.Status, aws.ToInt32(d.DatasetStats.TotalEntries))
		}
		n := 0
		p := rekognition.NewDescribeProjectsPaginator(r, &rekognition.DescribeProjectsInput{})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, pd := range page.ProjectDescriptions {
				if strings.Contains(aws.ToString(pd.ProjectArn), ":project/during-") {
					n++
				}
			}
		}
		if n != created {
			t.Fatalf("%d projects created while the volume filled up, %d listed", created, n)
		}
	}
	check(r, s)
	if _, err := s.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("after"), Body: bytes.NewReader(body(99))}); err != nil {
		t.Fatalf("put after freeing space: %v", err)
	}
	p2 := createProject(t, r, "after")
	if d := waitDataset(t, r, createDataset(t, r, p2, rtypes.DatasetTypeTrain, bucket, "train.manifest")); d.Status != rtypes.DatasetStatusCreateComplete {
		t.Fatalf("dataset after freeing space: %s %s", d.Status, aws.ToString(d.StatusMessage))
	}
	// And after a restart.
	ts.Stop()
	ts = e2e.Start(t, server.Config{DataDir: data})
	check(ts.Rekognition(alice), ts.S3(alice))
}

// tempFiles lists the files under any "tmp" directory of the data dir.
func tempFiles(t *testing.T, data string) []string {
	var out []string
	filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(p)) == "tmp" {
			out = append(out, p)
		}
		return nil
	})
	return out
}
