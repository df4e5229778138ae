package keyring

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestSharedServiceKey: nodes given the same service-managed key (in
// OCELLUS_SERVICE_KEY or a keyring file entry) open each other's sealed
// data, and make no key file in their data directories; a shared database
// without a given key is refused with the way to give one.
func TestSharedServiceKey(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	b64 := base64.StdEncoding.EncodeToString(key)
	file := filepath.Join(t.TempDir(), "keys.json")
	os.WriteFile(file, []byte(`[{"KeyId":"`+ServiceKey+`","Key":"`+b64+`"}]`), 0o600)
	dirA, dirB := t.TempDir(), t.TempDir()
	a, err := OpenWith(Options{DataDir: dirA, ServiceKey: b64, Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenWith(Options{DataDir: dirB, File: file, Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := a.Seal(ServiceKey, []byte("model"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Unseal(sealed); err != nil || string(got) != "model" {
		t.Fatalf("the other node's Unseal = %q, %v", got, err)
	}
	for _, d := range []string{dirA, dirB} {
		if _, err := os.Stat(filepath.Join(d, "keys", "service.key")); !os.IsNotExist(err) {
			t.Errorf("a key file was made in %s (%v)", d, err)
		}
	}
	// Without a given key a shared database is refused, saying how.
	_, err = OpenWith(Options{DataDir: t.TempDir(), Shared: true})
	if !errors.Is(err, ErrNoSharedKey) || !strings.Contains(err.Error(), "OCELLUS_SERVICE_KEY") || !strings.Contains(err.Error(), "--keyring") {
		t.Fatalf("shared without a key: %v", err)
	}
	// Bad and contradicting keys are refused.
	for name, o := range map[string]Options{
		"not base64":           {DataDir: t.TempDir(), ServiceKey: "%%%"},
		"short":                {DataDir: t.TempDir(), ServiceKey: base64.StdEncoding.EncodeToString([]byte("short"))},
		"env differs":          {DataDir: t.TempDir(), File: file, ServiceKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))},
		"data dir has another": {DataDir: dirWithKey(t), ServiceKey: b64},
	} {
		if _, err := OpenWith(o); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	// The data directory's own key is still made and kept without Shared.
	dir := t.TempDir()
	if _, err := OpenWith(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "service.key")); err != nil {
		t.Fatalf("single node: %v", err)
	}
	// A given key equal to the data directory's is accepted.
	old, _ := os.ReadFile(filepath.Join(dir, "keys", "service.key"))
	if _, err := OpenWith(Options{DataDir: dir, ServiceKey: base64.StdEncoding.EncodeToString(old)}); err != nil {
		t.Fatalf("the same key as the data dir's: %v", err)
	}
}

func dirWithKey(t *testing.T) string {
	dir := t.TempDir()
	if _, err := Open(dir, ""); err != nil {
		t.Fatal(err)
	}
	return dir
}
