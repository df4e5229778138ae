package s3

import (
	"context"
	"net/http"
	"strings"
)

// writeCond is a conditional write (PutObject, CompleteMultipartUpload):
// If-None-Match: * writes only if the key has no current object, If-Match
// only if the current object's ETag matches.
type writeCond struct {
	noneMatch bool
	match     string
}

// writeCondition reads the conditional-write headers of r; nil when there
// are none. S3 supports only "*" in If-None-Match on writes.
func writeCondition(r *http.Request) (*writeCond, error) {
	_, hasINM := r.Header["If-None-Match"]
	_, hasIM := r.Header["If-Match"]
	if !hasINM && !hasIM {
		return nil, nil
	}
	c := &writeCond{}
	if hasINM {
		if strings.TrimSpace(r.Header.Get("If-None-Match")) != "*" {
			return nil, errf("NotImplemented", "A header you provided implies functionality that is not implemented: If-None-Match accepts only * on writes")
		}
		c.noneMatch = true
	}
	if hasIM {
		c.match = strings.TrimSpace(r.Header.Get("If-Match"))
		if c.match == "" {
			return nil, errf("InvalidArgument", "If-Match must name an ETag")
		}
	}
	return c, nil
}

// check evaluates the condition against the key's current version inside
// the committing transaction, so that two racing conditional writes cannot
// both succeed.
func (c *writeCond) check(ctx context.Context, tx querier, bucket, key string) error {
	if c == nil {
		return nil
	}
	cur, err := getVersion(ctx, tx, bucket, key, "")
	if err != nil {
		return err
	}
	exists := cur != nil && !cur.DeleteMarker
	if c.noneMatch && exists {
		return errf("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	}
	if c.match != "" {
		if !exists {
			return errf("NoSuchKey", "")
		}
		if !etagMatch(c.match, cur.ETag) {
			return errf("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
		}
	}
	return nil
}
