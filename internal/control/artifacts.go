package control

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"

	"github.com/ocellus/ocellus/internal/atomicfile"
	"github.com/ocellus/ocellus/internal/keyring"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/vision"
)

// resolveKey maps a request's KmsKeyId to a keyring key id.
func (c *Control) resolveKey(kmsKeyID string) (string, error) {
	if c.keys == nil {
		return "", errors.New("no keyring: the service-managed key could not be opened")
	}
	id, err := c.keys.Resolve(kmsKeyID)
	if errors.Is(err, keyring.ErrUnknownKey) {
		return "", ocellus.Errorf(ocellus.Invalid, "The KMS key %s is not in this server's keyring (--keyring); omit KmsKeyId to use the service-managed key.", kmsKeyID)
	}
	return id, err
}

// saveArtifact writes a model encrypted with the version's key, durably
// (temp file, fsync, rename), and returns its data-dir relative path.
func (c *Control) saveArtifact(v *ocellus.ProjectVersion, m *vision.Model) (string, error) {
	var b bytes.Buffer
	if err := vision.Save(&b, m); err != nil {
		return "", err
	}
	return c.writeSealed(v, b.Bytes())
}

func (c *Control) writeSealed(v *ocellus.ProjectVersion, plain []byte) (string, error) {
	id, err := c.resolveKey(v.KmsKeyID)
	if err != nil {
		return "", err
	}
	sealed, err := c.keys.Seal(id, plain)
	if err != nil {
		return "", err
	}
	if err := c.space.Check(int64(len(sealed))); err != nil {
		return "", err
	}
	rel := filepath.Join("models", hashName(v.ARN)+".ocellus-model")
	path := filepath.Join(c.dataDir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", err
	}
	return rel, atomicfile.WriteFile(path, sealed, 0o640)
}

// readArtifact returns a version's decrypted model bytes.
func (c *Control) readArtifact(v *ocellus.ProjectVersion) ([]byte, error) {
	sealed, err := os.ReadFile(filepath.Join(c.dataDir, v.Artifact))
	if err != nil {
		return nil, err
	}
	return c.keys.Unseal(sealed)
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
