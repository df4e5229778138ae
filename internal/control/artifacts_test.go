package control

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocellus/ocellus/internal/keyring"
	"github.com/ocellus/ocellus/internal/ocellus"
)

func testKeyring(t *testing.T, dir string, fill byte) *keyring.Keyring {
	t.Helper()
	file := filepath.Join(t.TempDir(), "keyring.json")
	body := `[{"KeyId":"k1","Alias":"alias/one","Key":"` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{fill}, 32)) + `"}]`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := keyring.Open(dir, file)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestArtifactsSealWithTheModelsKey: Put seals with the key KmsKeyId
// names (the service-managed key for ""), Get opens it, another key does
// not, Delete removes the file, an unknown key is Invalid.
func TestArtifactsSealWithTheModelsKey(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a := NewArtifacts(dir, testKeyring(t, dir, 1), nil)
	plain := []byte("OCELLUS-ANOMALY\x00 a trained model")
	for _, kms := range []string{"alias/one", "arn:aws:kms:us-east-1:111111111111:key/k1", ""} {
		arn := ocellus.LookoutModelARN("us-east-1", "111111111111", "p", 1)
		rel, err := a.Put(ctx, arn, kms, plain)
		if err != nil {
			t.Fatalf("%q: %v", kms, err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil || bytes.Contains(raw, plain[:15]) {
			t.Fatalf("%q: file holds the model unsealed (%v)", kms, err)
		}
		got, err := a.Get(ctx, rel)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%q: get = %q, %v", kms, got, err)
		}
		// The same id with other key bytes (another server's keyring).
		other := NewArtifacts(dir, testKeyring(t, t.TempDir(), 2), nil)
		if _, err := other.Get(ctx, rel); err == nil {
			t.Fatalf("%q: another key opened the artifact", kms)
		}
		if err := a.Delete(ctx, rel); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, rel)); !os.IsNotExist(err) {
			t.Fatalf("%q: file left after Delete: %v", kms, err)
		}
		if err := a.Delete(ctx, rel); err != nil {
			t.Fatalf("deleting twice: %v", err)
		}
	}
	if _, err := a.Put(ctx, "arn:x", "alias/unknown", plain); ocellus.KindOf(err) != ocellus.Invalid {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := a.Get(ctx, ""); ocellus.KindOf(err) != ocellus.NotFound {
		t.Fatalf("no artifact: %v", err)
	}
	if _, err := NewArtifacts(dir, nil, nil).Put(ctx, "arn:x", "", plain); err == nil {
		t.Fatal("Put without a keyring succeeded")
	}
}
