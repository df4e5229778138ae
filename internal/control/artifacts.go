package control

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"

	"github.com/ocellus/ocellus/internal/atomicfile"
	"github.com/ocellus/ocellus/internal/keyring"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/space"
	"github.com/ocellus/ocellus/internal/vision"
)

// Artifacts is the one store of trained models, for both products: a
// Custom Labels model version and a Lookout for Vision model each keep
// their artifact as one file under <data-dir>/models/, sealed
// (AES-256-GCM, internal/keyring) with the key their KmsKeyId names, or
// the service-managed key when none was given. The store's records hold
// the file's data-dir relative path (ProjectVersion.Artifact,
// Model.Artifact); nothing of a model is kept unsealed.
type Artifacts struct {
	dir   string
	keys  *keyring.Keyring
	space *space.Guard
}

// NewArtifacts returns the artifact store under dataDir. keys seals and
// opens the files (nil: every use fails, saying so); sp, when set, stops
// writes while the data volume is within its reserve.
func NewArtifacts(dataDir string, keys *keyring.Keyring, sp *space.Guard) *Artifacts {
	return &Artifacts{dir: dataDir, keys: keys, space: sp}
}

// ResolveKey maps a request's KmsKeyId to a keyring key id: Invalid when
// the keyring does not hold it.
func (a *Artifacts) ResolveKey(kmsKeyID string) (string, error) {
	if a.keys == nil {
		return "", errors.New("no keyring: the service-managed key could not be opened")
	}
	id, err := a.keys.Resolve(kmsKeyID)
	if errors.Is(err, keyring.ErrUnknownKey) {
		return "", ocellus.Errorf(ocellus.Invalid, "The KMS key %s is not in this server's keyring (--keyring); omit KmsKeyId to use the service-managed key.", kmsKeyID)
	}
	return id, err
}

// Put seals plain with the key kmsKeyID names and writes it durably (temp
// file, fsync, rename) as the artifact of the model or version arn,
// replacing an earlier one. It returns the file's data-dir relative path.
func (a *Artifacts) Put(arn, kmsKeyID string, plain []byte) (string, error) {
	id, err := a.ResolveKey(kmsKeyID)
	if err != nil {
		return "", err
	}
	sealed, err := a.keys.Seal(id, plain)
	if err != nil {
		return "", err
	}
	if err := a.space.Check(int64(len(sealed))); err != nil {
		return "", err
	}
	rel := filepath.Join("models", hashName(arn)+".ocellus-model")
	path := filepath.Join(a.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", err
	}
	return rel, atomicfile.WriteFile(path, sealed, 0o640)
}

// Get opens the artifact at rel (a path Put returned).
func (a *Artifacts) Get(rel string) ([]byte, error) {
	if rel == "" {
		return nil, ocellus.Errorf(ocellus.NotFound, "The model has no trained artifact.")
	}
	if a.keys == nil {
		return nil, errors.New("no keyring: the service-managed key could not be opened")
	}
	sealed, err := os.ReadFile(filepath.Join(a.dir, rel))
	if err != nil {
		return nil, err
	}
	return a.keys.Unseal(sealed)
}

// Delete removes the artifact at rel; one already gone is no error.
func (a *Artifacts) Delete(rel string) error {
	if rel == "" {
		return nil
	}
	if err := os.Remove(filepath.Join(a.dir, rel)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// SealLegacy seals a Lookout for Vision model artifact that an older
// Ocellus kept unsealed in SQLite, for the store's migration (see
// sqlite.Options.MoveArtifact). The space reserve does not apply: the
// bytes move out of the database, they are not new data.
func (a *Artifacts) SealLegacy(arn, kmsKeyID string, plain []byte) (string, error) {
	b := *a
	b.space = nil
	return b.Put(arn, kmsKeyID, plain)
}

// resolveKey maps a request's KmsKeyId to a keyring key id.
func (c *Control) resolveKey(kmsKeyID string) (string, error) { return c.arts.ResolveKey(kmsKeyID) }

// saveArtifact writes a model encrypted with the version's key and returns
// its data-dir relative path.
func (c *Control) saveArtifact(v *ocellus.ProjectVersion, m *vision.Model) (string, error) {
	var b bytes.Buffer
	if err := vision.Save(&b, m); err != nil {
		return "", err
	}
	return c.writeSealed(v, b.Bytes())
}

func (c *Control) writeSealed(v *ocellus.ProjectVersion, plain []byte) (string, error) {
	return c.arts.Put(v.ARN, v.KmsKeyID, plain)
}

// readArtifact returns a version's decrypted model bytes.
func (c *Control) readArtifact(v *ocellus.ProjectVersion) ([]byte, error) {
	return c.arts.Get(v.Artifact)
}

// loadModel decrypts and loads a version's model on the configured backbone.
func (c *Control) loadModel(v *ocellus.ProjectVersion) (*vision.Model, error) {
	plain, err := c.readArtifact(v)
	if err != nil {
		return nil, err
	}
	m, err := vision.Decode(bytes.NewReader(plain))
	if err != nil {
		return nil, err
	}
	bb := c.backbone
	if m.Kind == vision.Detection {
		bb = c.detector
	}
	if err := m.Attach(bb); err != nil {
		return nil, err
	}
	return m, nil
}

func hashName(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}
