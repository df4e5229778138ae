// Package keyring encrypts model artifacts at rest, standing in for AWS KMS:
// a KmsKeyId given to CreateProjectVersion or CopyProjectVersion selects a
// key from a local keyring file; without one, a service-managed key kept in
// the data directory is used. Sealed data names its key, so it can be
// opened without knowing which key sealed it.
package keyring

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ocellus/ocellus/internal/atomicfile"
)

// ServiceKey is the id of the service-managed key.
const ServiceKey = "ocellus-managed"

var magic = []byte("OCKR1\n")

// ErrUnknownKey is returned for a key id the keyring does not hold.
var ErrUnknownKey = errors.New("keyring: unknown key")

// Keyring holds 256-bit keys by id.
type Keyring struct {
	keys    map[string][]byte
	aliases map[string]string
}

type fileKey struct {
	KeyId string
	Alias string `json:",omitempty"`
	Key   string // base64 of 32 bytes
}

// Open loads the keyring: the service-managed key under dataDir (created on
// first use) and, when file is set, the keys listed in that JSON file
// ([{"KeyId":"...","Alias":"alias/name","Key":"<base64 32 bytes>"}]).
func Open(dataDir, file string) (*Keyring, error) {
	k := &Keyring{keys: map[string][]byte{}, aliases: map[string]string{}}
	svc, err := serviceKey(filepath.Join(dataDir, "keys", "service.key"))
	if err != nil {
		return nil, err
	}
	k.keys[ServiceKey] = svc
	if file == "" {
		return k, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("keyring file: %w", err)
	}
	var fks []fileKey
	if err := json.Unmarshal(b, &fks); err != nil {
		return nil, fmt.Errorf("keyring file %s: %w", file, err)
	}
	for i, fk := range fks {
		key, err := base64.StdEncoding.DecodeString(fk.Key)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("keyring file %s, entry %d: Key must be base64 of 32 bytes", file, i+1)
		}
		if fk.KeyId == "" || fk.KeyId == ServiceKey {
			return nil, fmt.Errorf("keyring file %s, entry %d: KeyId must be set and not %q", file, i+1, ServiceKey)
		}
		k.keys[fk.KeyId] = key
		if fk.Alias != "" {
			k.aliases[strings.TrimPrefix(fk.Alias, "alias/")] = fk.KeyId
		}
	}
	return k, nil
}

func serviceKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("service key %s is corrupt (%d bytes)", path, len(b))
		}
		return b, nil
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// Durable before any artifact is sealed with it: a key lost to a
	// power cut would leave every sealed artifact unreadable.
	if err := atomicfile.WriteFile(path, key, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

var keyARN = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[^:]*:[0-9]*:(key|alias)/(.+)$`)

// Resolve maps a KmsKeyId as users write it (key id, key ARN, alias name,
// alias ARN) to a key id of the keyring; "" is the service-managed key.
func (k *Keyring) Resolve(kmsKeyID string) (string, error) {
	if kmsKeyID == "" {
		return ServiceKey, nil
	}
	id := kmsKeyID
	if m := keyARN.FindStringSubmatch(id); m != nil {
		if m[1] == "alias" {
			id = "alias/" + m[2]
		} else {
			id = m[2]
		}
	}
	if a, ok := strings.CutPrefix(id, "alias/"); ok {
		id = k.aliases[a]
	}
	if _, ok := k.keys[id]; !ok || id == "" {
		return "", fmt.Errorf("%w: %s", ErrUnknownKey, kmsKeyID)
	}
	return id, nil
}

// Seal encrypts plaintext with the key id (AES-256-GCM).
func (k *Keyring) Seal(id string, plaintext []byte) ([]byte, error) {
	key, ok := k.keys[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownKey, id)
	}
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(magic)
	b.WriteByte(byte(len(id)))
	b.WriteString(id)
	b.Write(nonce)
	header := append([]byte(nil), b.Bytes()...)
	return aead.Seal(b.Bytes(), nonce, plaintext, header), nil
}

// Unseal decrypts data sealed by Seal.
func (k *Keyring) Unseal(sealed []byte) ([]byte, error) {
	if !bytes.HasPrefix(sealed, magic) || len(sealed) < len(magic)+1 {
		return nil, errors.New("keyring: not sealed data")
	}
	rest := sealed[len(magic):]
	n := int(rest[0])
	if len(rest) < 1+n {
		return nil, errors.New("keyring: truncated header")
	}
	id := string(rest[1 : 1+n])
	key, ok := k.keys[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s (sealed with it)", ErrUnknownKey, id)
	}
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	hdrLen := len(magic) + 1 + n + aead.NonceSize()
	if len(sealed) < hdrLen {
		return nil, errors.New("keyring: truncated header")
	}
	nonce := sealed[len(magic)+1+n : hdrLen]
	return aead.Open(nil, nonce, sealed[hdrLen:], sealed[:hdrLen])
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
