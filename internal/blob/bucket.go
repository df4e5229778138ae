package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// Bucket is a bucket of an external S3 that the service itself keeps
// objects in (the artifact bucket of --artifact-bucket), reached with the
// service's own credentials rather than as an account.
type Bucket struct {
	name string
	c    *s3.Client
}

// NewBucket returns the bucket name of the S3 at endpoint (path-style),
// signed with the service credentials accessKeyID/secret in region.
func NewBucket(endpoint, region, accessKeyID, secret, name string) *Bucket {
	return &Bucket{name: name, c: newClient(endpoint, region, accessKeyID, secret, http.DefaultClient)}
}

// Name is the bucket's name.
func (b *Bucket) Name() string { return b.name }

// Check answers whether the bucket exists and the credentials may use it
// (HeadBucket), for the readiness check.
func (b *Bucket) Check(ctx context.Context) error {
	if _, err := b.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &b.name}); err != nil {
		return ocellus.Wrap(err, "HeadBucket %s", b.name)
	}
	return nil
}

// Put writes data as key, replacing an object already there.
func (b *Bucket) Put(ctx context.Context, key string, data []byte) error {
	_, err := b.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.name, Key: &key, Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/octet-stream")})
	if err != nil {
		return ocellus.Wrap(err, "put s3://%s/%s", b.name, key)
	}
	return nil
}

// Get reads the whole object key. A missing object is NotFound.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := b.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		var nk *types.NoSuchKey
		if errors.As(err, &nk) {
			return nil, &ocellus.Error{Kind: ocellus.NotFound, Err: err, Message: "The model's artifact s3://" + b.name + "/" + key + " is missing."}
		}
		return nil, ocellus.Wrap(err, "get s3://%s/%s", b.name, key)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, ocellus.Wrap(err, "read s3://%s/%s", b.name, key)
	}
	return data, nil
}

// Delete removes key; an object already gone is no error (S3's
// DeleteObject succeeds on a missing key).
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if _, err := b.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.name, Key: &key}); err != nil {
		return ocellus.Wrap(err, "delete s3://%s/%s", b.name, key)
	}
	return nil
}
