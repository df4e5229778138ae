// Package blob is how the control plane reads and writes S3 objects
// (manifests, images, training output) on behalf of an account. It uses the
// aws-sdk-go-v2 S3 client for both deployments: against the embedded S3
// endpoint it signs as the calling account and runs the request in-process
// through an http.RoundTripper, so the same permission checks apply as for
// a user's own request; against an external S3 it uses the network.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// Credentials returns the keys to sign with for an account.
type Credentials func(account string) (accessKeyID, secret string, ok bool)

// Config configures Blobs. Exactly one of Handler and Endpoint is set.
type Config struct {
	Handler     http.Handler // the embedded S3 endpoint, called in-process
	Endpoint    string       // an external S3 URL (path-style addressing)
	Region      string
	Credentials Credentials
	// Allow, when set, is asked before every request whether account may
	// read or write key in bucket; a refusal is the error S3's own
	// AccessDenied maps to. An external S3 is reached with the service's
	// credentials for every account, so it cannot tell accounts apart:
	// Allow keeps them apart instead (ocellus.Account.MayUseS3). Nil
	// allows everything, for the embedded endpoint, which checks each
	// bucket's owner itself.
	Allow func(account, bucket, key string) bool
}

// Blobs reads and writes objects as a given account.
type Blobs struct {
	cfg  Config
	http *http.Client
}

// New returns Blobs for cfg.
func New(cfg Config) *Blobs {
	b := &Blobs{cfg: cfg, http: http.DefaultClient}
	if cfg.Handler != nil {
		b.http = &http.Client{Transport: handlerTransport{cfg.Handler}}
		b.cfg.Endpoint = "http://s3.ocellus.internal"
	}
	return b
}

// Info describes an object.
type Info struct {
	Size      int64
	VersionID string
	ETag      string
	// Encryption is the object's x-amz-server-side-encryption ("" when
	// the endpoint reports none); KMSKeyID the key ARN for aws:kms.
	Encryption, KMSKeyID string
}

// s3For is the client to reach bucket/key with as account, once Allow
// let the account use it.
func (b *Blobs) s3For(account, bucket, key string) (*s3.Client, error) {
	if b.cfg.Allow != nil && !b.cfg.Allow(account, bucket, key) {
		return nil, mapErr(&smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}, bucket, key)
	}
	return b.client(account)
}

func (b *Blobs) client(account string) (*s3.Client, error) {
	key, secret, ok := b.cfg.Credentials(account)
	if !ok {
		return nil, ocellus.Errorf(ocellus.AccessDenied, "Account %s has no S3 credentials.", account)
	}
	return newClient(b.cfg.Endpoint, b.cfg.Region, key, secret, b.http), nil
}

func newClient(endpoint, region, key, secret string, hc *http.Client) *s3.Client {
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:   hc,
		// Checksums are verified by the server on upload; on download we
		// read ranges and prefixes, which a full-object checksum can't check.
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Open streams an object (a specific version when versionID is set).
func (b *Blobs) Open(ctx context.Context, account, bucket, key, versionID string) (io.ReadCloser, Info, error) {
	c, err := b.s3For(account, bucket, key)
	if err != nil {
		return nil, Info{}, err
	}
	in := &s3.GetObjectInput{Bucket: &bucket, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := c.GetObject(ctx, in)
	if err != nil {
		return nil, Info{}, mapErr(err, bucket, key)
	}
	return out.Body, Info{Size: aws.ToInt64(out.ContentLength), VersionID: aws.ToString(out.VersionId), ETag: aws.ToString(out.ETag)}, nil
}

// TooLargeError is ReadAll's answer for an object larger than the
// caller's limit. Size is the object's size, or -1 when the endpoint did not
// report it and the body ran past the limit.
type TooLargeError struct {
	Bucket, Key string
	Size, Limit int64
}

func (e *TooLargeError) Error() string {
	if e.Size < 0 {
		return fmt.Sprintf("the object s3://%s/%s is larger than the limit of %d bytes", e.Bucket, e.Key, e.Limit)
	}
	return fmt.Sprintf("the object s3://%s/%s is %d bytes; the limit is %d", e.Bucket, e.Key, e.Size, e.Limit)
}

// ReadAll reads a whole object (a specific version when versionID is set)
// of at most limit bytes: the one bounded read of the control plane. An
// object larger than limit is a *TooLargeError, found from its size before
// any of the body is read when the endpoint reports it, and never read past
// limit+1 bytes otherwise; each caller turns it into its API's error (an
// ImageTooLargeException, a bad training image). Open's errors pass as
// they are.
func (b *Blobs) ReadAll(ctx context.Context, account, bucket, key, versionID string, limit int64) ([]byte, Info, error) {
	rc, info, err := b.Open(ctx, account, bucket, key, versionID)
	if err != nil {
		return nil, info, err
	}
	defer rc.Close()
	if info.Size > limit {
		return nil, info, &TooLargeError{Bucket: bucket, Key: key, Size: info.Size, Limit: limit}
	}
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, info, ocellus.Wrap(err, "read s3://%s/%s", bucket, key)
	}
	if int64(len(data)) > limit {
		return nil, info, &TooLargeError{Bucket: bucket, Key: key, Size: -1, Limit: limit}
	}
	return data, info, nil
}

// Head returns an object's metadata.
func (b *Blobs) Head(ctx context.Context, account, bucket, key, versionID string) (Info, error) {
	c, err := b.s3For(account, bucket, key)
	if err != nil {
		return Info{}, err
	}
	in := &s3.HeadObjectInput{Bucket: &bucket, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := c.HeadObject(ctx, in)
	if err != nil {
		return Info{}, mapErr(err, bucket, key)
	}
	return Info{Size: aws.ToInt64(out.ContentLength), VersionID: aws.ToString(out.VersionId), ETag: aws.ToString(out.ETag),
		Encryption: string(out.ServerSideEncryption), KMSKeyID: aws.ToString(out.SSEKMSKeyId)}, nil
}

// Put writes an object.
func (b *Blobs) Put(ctx context.Context, account, bucket, key, contentType string, body io.ReadSeeker) error {
	return b.put(ctx, account, bucket, key, contentType, "", body)
}

// PutKMS writes an object encrypted at rest with SSE-KMS under kmsKeyID
// (a key id, alias or ARN), as AWS writes the output files of a model
// version created with a KmsKeyId.
func (b *Blobs) PutKMS(ctx context.Context, account, bucket, key, contentType, kmsKeyID string, body io.ReadSeeker) error {
	return b.put(ctx, account, bucket, key, contentType, kmsKeyID, body)
}

func (b *Blobs) put(ctx context.Context, account, bucket, key, contentType, kmsKeyID string, body io.ReadSeeker) error {
	c, err := b.s3For(account, bucket, key)
	if err != nil {
		return err
	}
	in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: body}
	if contentType != "" {
		in.ContentType = &contentType
	}
	if kmsKeyID != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = &kmsKeyID
	}
	_, err = c.PutObject(ctx, in)
	return mapErr(err, bucket, key)
}

// ParseURI splits "s3://bucket/key".
func ParseURI(uri string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3:// URI", uri)
	}
	bucket, key, ok = strings.Cut(rest, "/")
	if !ok || bucket == "" || key == "" {
		return "", "", fmt.Errorf("%q does not name a bucket and a key", uri)
	}
	return bucket, key, nil
}

// mapErr turns S3 errors into domain errors: a missing or forbidden object
// is InvalidS3Object (what Rekognition answers), anything else Internal.
func mapErr(err error, bucket, key string) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NoSuchBucket", "NotFound", "NoSuchVersion", "AccessDenied", "Forbidden", "InvalidArgument", "400", "403", "404":
			return &ocellus.Error{Kind: ocellus.InvalidS3Object, Err: err,
				Message: fmt.Sprintf("Unable to get object metadata from S3. Check object key, region and/or access permissions (s3://%s/%s: %s).", bucket, key, ae.ErrorCode())}
		}
	}
	return ocellus.Wrap(err, "S3 request for s3://%s/%s", bucket, key)
}
