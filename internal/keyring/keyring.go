// Package keyring encrypts model artifacts at rest, standing in for AWS KMS:
// a KmsKeyId given to CreateProjectVersion or CopyProjectVersion selects a
// key from a local keyring file; without one, the service-managed key is
// used: kept in the data directory, or given to every node (a keyring file
// entry or OCELLUS_SERVICE_KEY) when several share one database. Sealed data names its key, so it can be
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

// Options says where the keyring's keys come from.
type Options struct {
	// DataDir holds the service-managed key (keys/service.key), created on
	// first use, unless ServiceKey or the File supplies it.
	DataDir string
	// File is a JSON keyring file
	// ([{"KeyId":"...","Alias":"alias/name","Key":"<base64 32 bytes>"}]).
	// An entry whose KeyId is ServiceKey supplies the service-managed key.
	File string
	// ServiceKey is the service-managed key as base64 of 32 bytes
	// (OCELLUS_SERVICE_KEY), for nodes that must all use the same one.
	ServiceKey string
	// Shared means several nodes use the same database: a key made in one
	// node's data directory would leave the others unable to open what it
	// sealed, so the service-managed key must come from ServiceKey or File.
	Shared bool
}

// ErrNoSharedKey is returned by OpenWith when Options.Shared is set and no
// service-managed key was given.
var ErrNoSharedKey = errors.New("with a shared database every node needs the same service-managed key: " +
	"set OCELLUS_SERVICE_KEY to the base64 of 32 random bytes (for example `head -c 32 /dev/urandom | base64`) on every node, " +
	`or list {"KeyId":"` + ServiceKey + `","Key":"<base64 of 32 bytes>"} in the --keyring file`)

// Open loads the keyring: the service-managed key under dataDir (created on
// first use, unless file lists it) and, when file is set, the keys listed
// in that JSON file. It is OpenWith(Options{DataDir: dataDir, File: file}).
func Open(dataDir, file string) (*Keyring, error) {
	return OpenWith(Options{DataDir: dataDir, File: file})
}

// OpenWith loads the keyring as o says. A service-managed key given both
// in o.ServiceKey and in o.File must be the same key; one given while the
// data directory already holds a different one is refused, since the
// artifacts sealed with the old key would no longer open.
func OpenWith(o Options) (*Keyring, error) {
	k := &Keyring{keys: map[string][]byte{}, aliases: map[string]string{}}
	var given []byte
	if o.ServiceKey != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(o.ServiceKey))
		if err != nil || len(key) != 32 {
			return nil, errors.New("OCELLUS_SERVICE_KEY must be the base64 of 32 bytes (for example `head -c 32 /dev/urandom | base64`)")
		}
		given = key
	}
	if o.File != "" {
		b, err := os.ReadFile(o.File)
		if err != nil {
			return nil, fmt.Errorf("keyring file: %w", err)
		}
		var fks []fileKey
		if err := json.Unmarshal(b, &fks); err != nil {
			return nil, fmt.Errorf("keyring file %s: %w", o.File, err)
		}
		for i, fk := range fks {
			key, err := base64.StdEncoding.DecodeString(fk.Key)
			if err != nil || len(key) != 32 {
				return nil, fmt.Errorf("keyring file %s, entry %d: Key must be base64 of 32 bytes", o.File, i+1)
			}
			if fk.KeyId == "" {
				return nil, fmt.Errorf("keyring file %s, entry %d: KeyId must be set", o.File, i+1)
			}
			if fk.KeyId == ServiceKey {
				if fk.Alias != "" {
					return nil, fmt.Errorf("keyring file %s, entry %d: the service-managed key %q takes no Alias", o.File, i+1, ServiceKey)
				}
				if given != nil && !bytes.Equal(given, key) {
					return nil, fmt.Errorf("keyring file %s, entry %d: the service-managed key differs from OCELLUS_SERVICE_KEY; give one of them", o.File, i+1)
				}
				given = key
				continue
			}
			k.keys[fk.KeyId] = key
			if fk.Alias != "" {
				k.aliases[strings.TrimPrefix(fk.Alias, "alias/")] = fk.KeyId
			}
		}
	}
	path := filepath.Join(o.DataDir, "keys", "service.key")
	switch {
	case given != nil:
		// A key the data directory made earlier sealed this node's
		// artifacts: replacing it silently would make them unreadable.
		if old, err := os.ReadFile(path); err == nil && !bytes.Equal(old, given) {
			return nil, fmt.Errorf("the service-managed key given (OCELLUS_SERVICE_KEY or the --keyring file) differs from %s, which sealed this data directory's artifacts: give that key (base64 of the file) or move the file away", path)
		}
		k.keys[ServiceKey] = given
	case o.Shared:
		return nil, ErrNoSharedKey
	default:
		svc, err := serviceKey(path)
		if err != nil {
			return nil, err
		}
		k.keys[ServiceKey] = svc
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
