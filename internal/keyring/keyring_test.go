package keyring

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSealUnsealAndResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keys.json")
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	os.WriteFile(file, []byte(`[{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","Alias":"alias/models","Key":"`+key+`"}]`), 0o600)
	k, err := Open(dir, file)
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"": ServiceKey, "1234abcd-12ab-34cd-56ef-1234567890ab": "1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab": "1234abcd-12ab-34cd-56ef-1234567890ab",
		"alias/models": "1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:us-east-1:111111111111:alias/models": "1234abcd-12ab-34cd-56ef-1234567890ab",
	} {
		got, err := k.Resolve(in)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"nope", "alias/nope", "arn:aws:kms:us-east-1:1:key/nope"} {
		if _, err := k.Resolve(bad); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("Resolve(%q) = %v", bad, err)
		}
	}
	for _, id := range []string{ServiceKey, "1234abcd-12ab-34cd-56ef-1234567890ab"} {
		sealed, err := k.Seal(id, []byte("model bytes"))
		if err != nil || bytes.Contains(sealed, []byte("model bytes")) {
			t.Fatalf("Seal: %v", err)
		}
		got, err := k.Unseal(sealed)
		if err != nil || string(got) != "model bytes" {
			t.Fatalf("Unseal = %q, %v", got, err)
		}
		sealed[len(sealed)-1] ^= 1
		if _, err := k.Unseal(sealed); err == nil {
			t.Fatal("tampered data unsealed")
		}
	}
	// The service key persists across opens.
	sealed, _ := k.Seal(ServiceKey, []byte("x"))
	k2, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k2.Unseal(sealed); err != nil || string(got) != "x" {
		t.Fatalf("reopened keyring: %q, %v", got, err)
	}
}
