package control

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/atomicfile"
	"github.com/ocellus/ocellus/internal/blob"
	"github.com/ocellus/ocellus/internal/keyring"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/space"
	"github.com/ocellus/ocellus/internal/vision"
)

// Artifacts is the one store of trained models, for both products: a
// Custom Labels model version and a Lookout for Vision model each keep
// their artifact as one object, sealed (AES-256-GCM, internal/keyring)
// with the key their KmsKeyId names, or the service-managed key when none
// was given. The object is a file under <data-dir>/models/, or, with an
// external S3 (--artifact-bucket), an object of the artifact bucket under
// the same key, which every node reads. The store's records hold the
// reference Put returned (ProjectVersion.Artifact, Model.Artifact): the
// file's data-dir relative path, or s3://bucket/key. Files written before
// an artifact bucket was configured keep working. Nothing of a model is
// kept unsealed.
type Artifacts struct {
	dir   string
	keys  *keyring.Keyring
	space *space.Guard
	// bucket, when set, receives new artifacts.
	bucket *blob.Bucket
}

// NewArtifacts returns the artifact store under dataDir. keys seals and
// opens the files (nil: every use fails, saying so); sp, when set, stops
// writes while the data volume is within its reserve.
func NewArtifacts(dataDir string, keys *keyring.Keyring, sp *space.Guard) *Artifacts {
	return &Artifacts{dir: dataDir, keys: keys, space: sp}
}

// InBucket returns a store like a that writes new artifacts to bucket
// (and still reads the files a wrote under the data dir).
func (a *Artifacts) InBucket(bucket *blob.Bucket) *Artifacts {
	b := *a
	b.bucket = bucket
	return &b
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

// Put seals plain with the key kmsKeyID names and writes it durably as the
// artifact of the model or version arn, replacing an earlier one: to the
// artifact bucket when there is one, else to a file (temp file, fsync,
// rename). It returns the reference to record.
func (a *Artifacts) Put(ctx context.Context, arn, kmsKeyID string, plain []byte) (string, error) {
	id, err := a.ResolveKey(kmsKeyID)
	if err != nil {
		return "", err
	}
	sealed, err := a.keys.Seal(id, plain)
	if err != nil {
		return "", err
	}
	key := "models/" + hashName(arn) + ".ocellus-model"
	if a.bucket != nil {
		if err := a.bucket.Put(ctx, key, sealed); err != nil {
			return "", err
		}
		return "s3://" + a.bucket.Name() + "/" + key, nil
	}
	if err := a.space.Check(int64(len(sealed))); err != nil {
		return "", err
	}
	rel := filepath.FromSlash(key)
	path := filepath.Join(a.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", err
	}
	return rel, atomicfile.WriteFile(path, sealed, 0o640)
}

// inBucket splits an s3:// reference into the artifact bucket's key; ok is
// false for a data-dir path. A reference to another bucket than this
// server's artifact bucket (or to one when it has none) is an error.
func (a *Artifacts) inBucket(ref string) (key string, ok bool, err error) {
	if !strings.HasPrefix(ref, "s3://") {
		return "", false, nil
	}
	bucket, key, err := blob.ParseURI(ref)
	if err != nil {
		return "", true, err
	}
	if a.bucket == nil || bucket != a.bucket.Name() {
		return "", true, fmt.Errorf("the artifact %s is not in this server's artifact bucket (--artifact-bucket %q)", ref, a.bucketName())
	}
	return key, true, nil
}

func (a *Artifacts) bucketName() string {
	if a.bucket == nil {
		return ""
	}
	return a.bucket.Name()
}

// Get opens the artifact at ref (a reference Put returned).
func (a *Artifacts) Get(ctx context.Context, ref string) ([]byte, error) {
	if ref == "" {
		return nil, ocellus.Errorf(ocellus.NotFound, "The model has no trained artifact.")
	}
	if a.keys == nil {
		return nil, errors.New("no keyring: the service-managed key could not be opened")
	}
	var sealed []byte
	key, ok, err := a.inBucket(ref)
	switch {
	case err != nil:
		return nil, err
	case ok:
		sealed, err = a.bucket.Get(ctx, key)
	default:
		sealed, err = os.ReadFile(filepath.Join(a.dir, ref))
	}
	if err != nil {
		return nil, err
	}
	return a.keys.Unseal(sealed)
}

// Delete removes the artifact at ref; one already gone is no error.
func (a *Artifacts) Delete(ctx context.Context, ref string) error {
	if ref == "" {
		return nil
	}
	key, ok, err := a.inBucket(ref)
	switch {
	case err != nil:
		return err
	case ok:
		return a.bucket.Delete(ctx, key)
	}
	if err := os.Remove(filepath.Join(a.dir, ref)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// SealLegacy seals a Lookout for Vision model artifact that an older
// Ocellus kept unsealed in SQLite, for the store's migration (see
// sqlite.Options.MoveArtifact). The space reserve does not apply: the
// bytes move out of the database, they are not new data. The migration
// runs while the server opens, outside any request.
func (a *Artifacts) SealLegacy(arn, kmsKeyID string, plain []byte) (string, error) {
	b := *a
	b.space = nil
	return b.Put(context.Background(), arn, kmsKeyID, plain)
}

// resolveKey maps a request's KmsKeyId to a keyring key id.
func (c *Control) resolveKey(kmsKeyID string) (string, error) { return c.arts.ResolveKey(kmsKeyID) }

// saveArtifact writes a model encrypted with the version's key and returns
// its data-dir relative path.
func (c *Control) saveArtifact(ctx context.Context, v *ocellus.ProjectVersion, m *vision.Model) (string, error) {
	var b bytes.Buffer
	if err := vision.Save(&b, m); err != nil {
		return "", err
	}
	return c.writeSealed(ctx, v, b.Bytes())
}

func (c *Control) writeSealed(ctx context.Context, v *ocellus.ProjectVersion, plain []byte) (string, error) {
	return c.arts.Put(ctx, v.ARN, v.KmsKeyID, plain)
}

// readArtifact returns a version's decrypted model bytes.
func (c *Control) readArtifact(ctx context.Context, v *ocellus.ProjectVersion) ([]byte, error) {
	return c.arts.Get(ctx, v.Artifact)
}

// loadModel decrypts and loads a version's model on the configured
// backbone. The hosting pool calls it when it loads a unit, outside the
// request that started the version, so the read has its own bound.
func (c *Control) loadModel(v *ocellus.ProjectVersion) (*vision.Model, error) {
	ctx, cancel := context.WithTimeout(context.Background(), artifactReadTimeout)
	defer cancel()
	plain, err := c.readArtifact(ctx, v)
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

// artifactReadTimeout bounds reading one artifact from the artifact bucket
// where no request's context does.
const artifactReadTimeout = 5 * time.Minute

func hashName(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}
