package s3

import (
	"net/http"
	"strings"
)

// Security headers that Ocellus does not implement are refused, never
// silently ignored.
//
// ACLs: every Ocellus bucket behaves as an AWS bucket created since April
// 2023 does by default, with Object Ownership "BucketOwnerEnforced": ACLs
// are disabled, the bucket owner owns every object and only that account
// has access. So Ocellus answers what AWS answers for such a bucket rather
// than NotImplemented: a PUT with no ACL, the canned ACL `private` or
// `bucket-owner-full-control` is accepted (each means "owner has full
// control", which is what happens); any other canned ACL or any
// x-amz-grant-* header on an object is 400 AccessControlListNotSupported,
// and on CreateBucket 400 InvalidBucketAclWithObjectOwnership. Another
// x-amz-object-ownership than BucketOwnerEnforced is 501 NotImplemented.
//
// Object Lock (retention, legal hold, a bucket created with lock enabled)
// is 501 NotImplemented naming the header.

var aclOps = map[string]bool{"PutObject": true, "CopyObject": true, "CreateMultipartUpload": true, "CreateBucket": true}

// checkSecurityHeaders runs before every handler.
func checkSecurityHeaders(op string, h http.Header) error {
	if err := checkSSEHeaders(op, h); err != nil {
		return err
	}
	if !aclOps[op] {
		return nil
	}
	refuse := func(header string) error {
		if op == "CreateBucket" {
			return errf("InvalidBucketAclWithObjectOwnership", "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting (header %s); Ocellus buckets have ACLs disabled.", header)
		}
		return errf("AccessControlListNotSupported", "The bucket does not allow ACLs (header %s); Ocellus buckets have ACLs disabled, as AWS buckets with Object Ownership BucketOwnerEnforced.", header)
	}
	for k := range h {
		lk := strings.ToLower(k)
		switch {
		case strings.HasPrefix(lk, "x-amz-grant-"):
			return refuse(lk)
		case strings.HasPrefix(lk, "x-amz-object-lock-"):
			return errf("NotImplemented", notImplementedBy, "S3 Object Lock", lk)
		}
	}
	switch v := h.Get("X-Amz-Acl"); v {
	case "", "private", "bucket-owner-full-control":
	default:
		return refuse("x-amz-acl: " + v)
	}
	if op == "CreateBucket" {
		if v := h.Get("X-Amz-Bucket-Object-Lock-Enabled"); v != "" && !strings.EqualFold(v, "false") {
			return errf("NotImplemented", notImplementedBy, "S3 Object Lock", "x-amz-bucket-object-lock-enabled")
		}
		if v := h.Get("X-Amz-Object-Ownership"); v != "" && v != "BucketOwnerEnforced" {
			return errf("NotImplemented", notImplementedBy, "ACL-based Object Ownership ("+v+")", "x-amz-object-ownership")
		}
	}
	return nil
}
