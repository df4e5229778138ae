package server_test

import (
	"context"
	"encoding/json"
	"image/color"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/e2e/pgtest"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/server"
	"github.com/ocellus/ocellus/internal/store/postgres"
)

// TestPostgresDatabaseTrainsEndToEnd: a server started with --database
// postgres:// keeps its metadata and its job queue in PostgreSQL (no
// SQLite file in the data dir), imports a dataset and trains a Custom
// Labels model through the SDK, reports the database healthy, and a
// restarted server finds the version.
func TestPostgresDatabaseTrainsEndToEnd(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	ctx := context.Background()
	ts := e2e.Start(t, server.Config{Database: url})
	s, r := ts.S3(alice), ts.Rekognition(alice)
	for _, b := range []string{"train", "out"} {
		if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	lines := colourDataset(t, s, "train", "img", map[string]color.RGBA{"red": {200, 40, 40, 255}, "blue": {40, 40, 200, 255}}, 15)
	put(t, s, "train", "train.manifest", []byte(strings.Join(lines, "\n")))
	project := createProject(t, r, "pg-colours")
	train := createDataset(t, r, project, rtypes.DatasetTypeTrain, "train", "train.manifest")
	if d := waitDataset(t, r, train); d.Status != rtypes.DatasetStatusCreateComplete || aws.ToInt32(d.DatasetStats.TotalEntries) != 30 {
		t.Fatalf("dataset: %s %s, stats %+v", d.Status, aws.ToString(d.StatusMessage), d.DatasetStats)
	}
	test := createDataset(t, r, project, rtypes.DatasetTypeTest, "", "")
	if _, err := r.DistributeDatasetEntries(ctx, &rekognition.DistributeDatasetEntriesInput{Datasets: []rtypes.DistributeDataset{{Arn: &train}, {Arn: &test}}}); err != nil {
		t.Fatal(err)
	}
	arn := trainAndWait(t, r, project, "v1", "out", 5*time.Minute)
	d, err := r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project})
	if err != nil || len(d.ProjectVersionDescriptions) != 1 {
		t.Fatalf("describe: %+v, %v", d, err)
	}
	if pv := d.ProjectVersionDescriptions[0]; pv.Status != rtypes.ProjectVersionStatusTrainingCompleted || pv.EvaluationResult == nil || aws.ToFloat32(pv.EvaluationResult.F1Score) < 0.9 {
		t.Fatalf("version: %s %s, evaluation %+v", pv.Status, aws.ToString(pv.StatusMessage), pv.EvaluationResult)
	}
	// Neither the metadata nor the queue went to SQLite.
	for _, f := range []string{"ocellus.db", "jobs.db"} {
		if _, err := os.Stat(filepath.Join(ts.DataDir, f)); !os.IsNotExist(err) {
			t.Errorf("%s in the data dir with --database postgres:// (%v)", f, err)
		}
	}
	st, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if v, err := st.Version(ctx, arn); err != nil || v.Status != ocellus.VersionTrainingCompleted || v.Artifact == "" {
		t.Fatalf("the version in PostgreSQL: %+v, %v", v, err)
	}
	// The health check reads PostgreSQL.
	resp, err := http.Get(ts.URL + "/_ocellus/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Checks map[string]string }
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || h.Checks["database"] != "ok" {
		t.Fatalf("health: %d %+v, %v", resp.StatusCode, h, err)
	}
	ts.Stop()
	r = e2e.Start(t, server.Config{Database: url, DataDir: ts.DataDir}).Rekognition(alice)
	d, err = r.DescribeProjectVersions(ctx, &rekognition.DescribeProjectVersionsInput{ProjectArn: &project, VersionNames: []string{"v1"}})
	if err != nil || len(d.ProjectVersionDescriptions) != 1 || d.ProjectVersionDescriptions[0].Status != rtypes.ProjectVersionStatusTrainingCompleted {
		t.Fatalf("after restart: %+v, %v", d, err)
	}
}

// TestPostgresDatabaseRefusedClearly: a --database URL that is not one,
// or names no reachable server, stops Open with a message that says so
// (and does not echo the password).
func TestPostgresDatabaseRefusedClearly(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"postgres://u:secret@127.0.0.1:notaport/db", "not a valid PostgreSQL URL"},
		{"postgres://u:secret@127.0.0.1:1/db?connect_timeout=2", "--database 127.0.0.1:1/db"},
		{"mysql://x", "expected empty (SQLite in the data dir) or a postgres:// URL"},
	} {
		_, err := server.Open(context.Background(), server.Config{DataDir: t.TempDir(), Database: c.url})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %v, want an error with %q and no password", c.url, err, c.want)
		}
	}
}
