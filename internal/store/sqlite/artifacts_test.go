package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// oldDatabase builds a database as the code before migration 0005 left
// it: migrations 0001-0004 applied, a trained Lookout for Vision model with
// its artifact as an unsealed BLOB, and the BLOB of a model since deleted.
func oldDatabase(t *testing.T) (path, arn string) {
	t.Helper()
	ctx := context.Background()
	path = filepath.Join(t.TempDir(), "meta.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_ms INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"0001_projects", "0002_datasets", "0003_versions", "0004_lookout"} {
		body, err := migrations.ReadFile("migrations/" + v + ".sql")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_ms) VALUES (?, 0)`, v); err != nil {
			t.Fatal(err)
		}
	}
	const proj = "arn:aws:lookoutvision:us-east-1:111111111111:project/p"
	arn = ocellus.LookoutModelARN("us-east-1", "111111111111", "p", 1)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO l4v_models (project_arn, version, arn, account, status, created_ms, kms_key_id) VALUES (?, 1, ?, '111111111111', 'TRAINED', 1000, 'alias/mine')`, []any{proj, arn}},
		{`INSERT INTO l4v_model_artifacts (model_arn, data) VALUES (?, ?)`, []any{arn, []byte("OCELLUS-ANOMALY\x00 model bytes")}},
		{`INSERT INTO l4v_model_artifacts (model_arn, data) VALUES (?, ?)`, []any{ocellus.LookoutModelARN("us-east-1", "111111111111", "p", 9), []byte("orphan")}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	return path, arn
}

func tableExists(t *testing.T, s *Store, name string) bool {
	var n int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestOldArtifactsMoveOutOfTheDatabase: opening a database of the old code
// hands each stored artifact (with its model's KmsKeyId) to MoveArtifact,
// records the returned path on the model and drops the BLOB table.
func TestOldArtifactsMoveOutOfTheDatabase(t *testing.T) {
	ctx := context.Background()
	path, arn := oldDatabase(t)
	type call struct{ arn, key, data string }
	var calls []call
	s, err := OpenWith(ctx, path, Options{MoveArtifact: func(a, k string, d []byte) (string, error) {
		calls = append(calls, call{a, k, string(d)})
		return "models/moved.ocellus-model", nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(calls) != 1 || calls[0] != (call{arn, "alias/mine", "OCELLUS-ANOMALY\x00 model bytes"}) {
		t.Fatalf("moved = %q (the orphan BLOB has no model to keep it for)", calls)
	}
	m, err := s.LookoutModel(ctx, "arn:aws:lookoutvision:us-east-1:111111111111:project/p", 1)
	if err != nil || m.Artifact != "models/moved.ocellus-model" || m.Status != ocellus.ModelTrained || m.KmsKeyID != "alias/mine" {
		t.Fatalf("model after the move = %+v, %v", m, err)
	}
	if tableExists(t, s, "l4v_model_artifacts") {
		t.Fatal("the BLOB table is still there")
	}
	s.Close()
	// Reopening moves nothing more.
	s, err = OpenWith(ctx, path, Options{MoveArtifact: func(string, string, []byte) (string, error) {
		t.Fatal("moved again")
		return "", nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestOldArtifactsKeptWhenTheyCannotMove: without an artifact store, or
// when sealing fails, Open fails and the BLOBs stay where they were.
func TestOldArtifactsKeptWhenTheyCannotMove(t *testing.T) {
	ctx := context.Background()
	path, _ := oldDatabase(t)
	if _, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "unsealed Lookout for Vision model artifact") {
		t.Fatalf("open without MoveArtifact: %v", err)
	}
	boom := errors.New("keyring: unknown key")
	if _, err := OpenWith(ctx, path, Options{MoveArtifact: func(string, string, []byte) (string, error) { return "", boom }}); !errors.Is(err, boom) {
		t.Fatalf("open with a failing MoveArtifact: %v", err)
	}
	s, err := OpenWith(ctx, path, Options{MoveArtifact: func(string, string, []byte) (string, error) { return "models/x.ocellus-model", nil }})
	if err != nil {
		t.Fatalf("the BLOBs were lost by the failed opens: %v", err)
	}
	defer s.Close()
	if m, err := s.LookoutModel(ctx, "arn:aws:lookoutvision:us-east-1:111111111111:project/p", 1); err != nil || m.Artifact != "models/x.ocellus-model" {
		t.Fatalf("model = %+v, %v", m, err)
	}
}
