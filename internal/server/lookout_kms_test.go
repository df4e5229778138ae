package server_test

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1aws "github.com/aws/aws-sdk-go/aws"
	lv "github.com/aws/aws-sdk-go/service/lookoutforvision"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/keyring"
	"github.com/ocellus/ocellus/internal/server"
	"github.com/ocellus/ocellus/internal/vision/anomaly"

	_ "modernc.org/sqlite"
)

// writeKeyring writes a keyring file holding one customer key.
func writeKeyring(t *testing.T, dir, keyID, alias string, fill byte) string {
	t.Helper()
	file := filepath.Join(dir, "keyring-"+keyID+"-"+string('a'+fill%26)+".json")
	body := `[{"KeyId":"` + keyID + `","Alias":"` + alias + `","Key":"` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{fill}, 32)) + `"}]`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// modelArtifacts lists the sealed artifact files of a data dir.
func modelArtifacts(t *testing.T, dataDir string) []string {
	t.Helper()
	fs, err := filepath.Glob(filepath.Join(dataDir, "models", "*.ocellus-model"))
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestLookoutModelArtifactSealedWithKmsKey: a Lookout for Vision model
// created with a KmsKeyId keeps its trained artifact as a file sealed with
// that key: the raw bytes are not the model, the key opens it, another key
// does not. Deleting the model deletes the file. A data dir of an older
// Ocellus, which kept the artifact unsealed in SQLite, still works: the
// BLOB becomes a sealed file on start and the model is hosted from it.
func TestLookoutModelArtifactSealedWithKmsKey(t *testing.T) {
	if raceBuild {
		t.Skip("one more training run; TestLookoutModelLifecycle covers the races")
	}
	keys := t.TempDir()
	file := writeKeyring(t, keys, "lookout-key", "alias/lookout", 7)
	ts := e2e.Start(t, server.Config{Keyring: file})
	c, s := ts.LookoutVision(alice), ts.S3(alice)

	// A key the keyring does not hold is refused up front, as Custom
	// Labels refuses it, rather than training a model it cannot seal.
	if _, err := c.CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String("sealed")}); err != nil {
		t.Fatal(err)
	}
	mkBucket(t, s, "data")
	mkey := synthDataset(t, s, "data", "ds", 20, 10, 64, 64, 5)
	if _, err := c.CreateDataset(&lv.CreateDatasetInput{ProjectName: v1aws.String("sealed"), DatasetType: v1aws.String("train"),
		DatasetSource: &lv.DatasetSource{GroundTruthManifest: &lv.DatasetGroundTruthManifest{S3Object: &lv.InputS3Object{Bucket: v1aws.String("data"), Key: v1aws.String(mkey)}}}}); err != nil {
		t.Fatal(err)
	}
	waitL4VDataset(t, c, "sealed", "train")
	_, err := c.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String("sealed"), KmsKeyId: v1aws.String("arn:aws:kms:us-east-1:111111111111:key/not-in-keyring"),
		OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("data")}}})
	wantL4VErr(t, err, "ValidationException", 400)
	if !strings.Contains(err.Error(), "keyring") {
		t.Fatalf("unknown key: %v", err)
	}

	const kmsKey = "arn:aws:kms:us-east-1:111111111111:alias/lookout"
	if _, err := c.CreateModel(&lv.CreateModelInput{ProjectName: v1aws.String("sealed"), KmsKeyId: v1aws.String(kmsKey),
		OutputConfig: &lv.OutputConfig{S3Location: &lv.S3Location{Bucket: v1aws.String("data")}}}); err != nil {
		t.Fatal(err)
	}
	md := waitModel(t, c, "sealed", "1", 5*time.Minute, "TRAINING")
	if *md.Status != "TRAINED" || *md.KmsKeyId != kmsKey {
		t.Fatalf("trained model = %v", md)
	}
	files := modelArtifacts(t, ts.DataDir)
	if len(files) != 1 {
		t.Fatalf("artifact files = %v, want one", files)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if anomaly.IsModelFile(raw) || bytes.Contains(raw, []byte("OCELLUS-ANOMALY")) {
		t.Fatal("the artifact file holds the model unsealed")
	}
	if _, err := anomaly.ReadMeta(raw); err == nil {
		t.Fatal("the raw artifact file parses as a model")
	}
	right, err := keyring.Open(ts.DataDir, file)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := right.Unseal(raw)
	if err != nil {
		t.Fatalf("the model's key does not open its artifact: %v", err)
	}
	meta, err := anomaly.ReadMeta(plain)
	if err != nil || meta.ImageWidth != 64 || meta.ImageHeight != 64 {
		t.Fatalf("unsealed artifact: %+v, %v", meta, err)
	}
	// Another key of the same id, and the service-managed key alone, fail.
	other, err := keyring.Open(t.TempDir(), writeKeyring(t, keys, "lookout-key", "alias/lookout", 8))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Unseal(raw); err == nil {
		t.Fatal("another key opened the artifact")
	}
	serviceOnly, err := keyring.Open(ts.DataDir, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serviceOnly.Unseal(raw); err == nil {
		t.Fatal("the service-managed key opened an artifact sealed with the model's key")
	}

	// Turn the data dir into one of the old code: the artifact as an
	// unsealed BLOB in SQLite, no artifact column, migration 0005 not run,
	// no file.
	ts.Stop()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(ts.DataDir, "ocellus.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE l4v_model_artifacts (model_arn TEXT PRIMARY KEY, data BLOB NOT NULL)`,
		`ALTER TABLE l4v_models DROP COLUMN artifact`,
		`DELETE FROM schema_migrations WHERE version = '0005_lookout_artifacts'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := db.Exec(`INSERT INTO l4v_model_artifacts (model_arn, data) VALUES (?, ?)`, *md.ModelArn, plain); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}

	ts2 := e2e.Start(t, server.Config{DataDir: ts.DataDir, Keyring: file})
	c2 := ts2.LookoutVision(alice)
	files = modelArtifacts(t, ts2.DataDir)
	if len(files) != 1 {
		t.Fatalf("after the upgrade: artifact files = %v, want one", files)
	}
	raw, _ = os.ReadFile(files[0])
	if got, err := right.Unseal(raw); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("moved artifact: sealed with the model's key? %v", err)
	}
	if _, err := other.Unseal(raw); err == nil {
		t.Fatal("another key opened the moved artifact")
	}
	db, err = sql.Open("sqlite", "file:"+filepath.Join(ts.DataDir, "ocellus.db"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'l4v_model_artifacts'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the BLOB table is still there (%d, %v)", n, err)
	}
	db.Close()
	// The moved model is hosted from its sealed file and answers.
	if _, err := c2.StartModel(&lv.StartModelInput{ProjectName: v1aws.String("sealed"), ModelVersion: v1aws.String("1"), MinInferenceUnits: v1aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	if md := waitModel(t, c2, "sealed", "1", time.Minute, "STARTING_HOSTING"); *md.Status != "HOSTED" {
		t.Fatalf("hosting the moved model: %v", md)
	}
	img, _ := synthImage(t, rand.New(rand.NewSource(9)), 64, 64, false)
	if _, err := c2.DetectAnomalies(&lv.DetectAnomaliesInput{ProjectName: v1aws.String("sealed"), ModelVersion: v1aws.String("1"),
		ContentType: v1aws.String("image/png"), Body: bytes.NewReader(img)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.StopModel(&lv.StopModelInput{ProjectName: v1aws.String("sealed"), ModelVersion: v1aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	waitModel(t, c2, "sealed", "1", time.Minute, "STOPPING_HOSTING")

	// Deleting the model deletes its file.
	if _, err := c2.DeleteModel(&lv.DeleteModelInput{ProjectName: v1aws.String("sealed"), ModelVersion: v1aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	if files := modelArtifacts(t, ts2.DataDir); len(files) != 0 {
		t.Fatalf("artifact files left after DeleteModel: %v", files)
	}
}
