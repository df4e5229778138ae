package server_test

import (
	"context"
	"encoding/base64"
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
	ts := e2e.Start(t, server.Config{Database: url, ServiceKey: sharedKey, ClusterSecret: clusterSecret})
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
	r = e2e.Start(t, server.Config{Database: url, ServiceKey: sharedKey, ClusterSecret: clusterSecret, DataDir: ts.DataDir}).Rekognition(alice)
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
		_, err := server.Open(context.Background(), server.Config{DataDir: t.TempDir(), Database: c.url, ServiceKey: sharedKey, ClusterSecret: clusterSecret, ClusterURL: "http://127.0.0.1:1"})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %v, want an error with %q and no password", c.url, err, c.want)
		}
	}
}

// sharedKey is the service-managed key the tests' nodes of one PostgreSQL
// database share (OCELLUS_SERVICE_KEY).
var sharedKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// clusterSecret is the --cluster-secret of the tests' PostgreSQL nodes.
const clusterSecret = "test-cluster-secret"

// TestPostgresNeedsSharedKey: with a PostgreSQL database a node never
// makes a service-managed key of its own (another node could not open what
// it sealed): without OCELLUS_SERVICE_KEY or a keyring entry it refuses to
// start, saying how to give one, before touching the database.
func TestPostgresNeedsSharedKey(t *testing.T) {
	dir := t.TempDir()
	_, err := server.Open(context.Background(), server.Config{DataDir: dir, Database: "postgres://u:p@127.0.0.1:1/db"})
	if err == nil || !strings.Contains(err.Error(), "OCELLUS_SERVICE_KEY") || !strings.Contains(err.Error(), "--keyring") {
		t.Fatalf("Open without a shared key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "service.key")); !os.IsNotExist(err) {
		t.Fatalf("a key was made in the data dir (%v)", err)
	}
	// A keyring file entry for the service-managed key is enough.
	file := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(file, []byte(`[{"KeyId":"ocellus-managed","Key":"`+sharedKey+`"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = server.Open(context.Background(), server.Config{DataDir: dir, Database: "postgres://u:p@127.0.0.1:1/db?connect_timeout=2", Keyring: file, ClusterSecret: clusterSecret, ClusterURL: "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "--database 127.0.0.1:1/db") {
		t.Fatalf("Open with the key in the keyring file: %v, want the database's error", err)
	}
	// SQLite keeps making its own key.
	ts := e2e.Start(t, server.Config{DataDir: dir})
	ts.Stop()
	if _, err := os.Stat(filepath.Join(dir, "keys", "service.key")); err != nil {
		t.Fatalf("SQLite: %v", err)
	}
}
