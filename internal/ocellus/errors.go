// Package ocellus holds the domain vocabulary shared by every part of the
// service: accounts, projects, tags, policies, their ARNs and states, and the
// one error type. It imports only the standard library; the AWS wire shapes
// live in the API packages, which translate to and from these types.
package ocellus

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// Kind classifies an error. The zero value is Internal. The list is
// append-only: API packages map each kind to their own exception names.
type Kind int

const (
	Internal               Kind = iota // a fault of ours; the cause is logged, never sent
	Invalid                            // the request is malformed or breaks a rule
	NotFound                           // the named resource does not exist (for this caller)
	AlreadyExists                      // a resource with that name exists
	InUse                              // the resource's state forbids the operation
	LimitExceeded                      // a rate or concurrency limit
	QuotaExceeded                      // a count quota (tags, policies, projects)
	Throttled                          // too many requests
	NotReady                           // the resource is not ready (e.g. model not running)
	AccessDenied                       // the caller may not touch the resource
	InvalidPaginationToken             // NextToken not issued by us or for another query
	InvalidPolicyRevision              // project policy revision id mismatch
	MalformedPolicy                    // a policy document that is not an IAM policy
	Conflict                           // idempotency token reused with other parameters
	InvalidS3Object                    // an S3 object that cannot be read
	InvalidImageFormat                 // an image that is not a decodable PNG/JPEG
	ImageTooLarge                      // an image over the size limit
	CapacityExceeded                   // hosted model capacity (inference units) exceeded
)

var kindNames = [...]string{"Internal", "Invalid", "NotFound", "AlreadyExists", "InUse", "LimitExceeded",
	"QuotaExceeded", "Throttled", "NotReady", "AccessDenied", "InvalidPaginationToken",
	"InvalidPolicyRevision", "MalformedPolicy", "Conflict", "InvalidS3Object", "InvalidImageFormat",
	"ImageTooLarge", "CapacityExceeded"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is the domain error. Message is safe to show to the caller; Err, the
// cause, is only logged.
type Error struct {
	Kind    Kind
	Message string
	// ResourceType and ResourceID name the resource involved, when the
	// wire error shape has room for them (Lookout for Vision does).
	ResourceType string
	ResourceID   string
	Err          error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Kind.String() + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Kind.String() + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with a formatted message.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Internal error carrying cause; the message is generic.
func Wrap(cause error, format string, args ...any) error {
	if cause == nil {
		return nil
	}
	var e *Error
	if errors.As(cause, &e) {
		return cause
	}
	return &Error{Kind: Internal, Message: fmt.Sprintf(format, args...), Err: cause}
}

// KindOf returns the kind of err, Internal for foreign errors.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// MessageOf returns the caller-safe message of err.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal {
		return e.Message
	}
	if DiskFull(err) {
		return DiskFullMessage
	}
	return "An internal error occurred."
}

// DiskFullMessage is what callers are told when the data volume is full.
const DiskFullMessage = "The Ocellus data volume is full, so the request was not carried out; what was stored before is intact. Free space (delete objects, datasets or models, or grow the volume) and retry."

// DiskFull reports whether err comes from a full data volume: a write that
// failed with ENOSPC, or SQLite's SQLITE_FULL ("database or disk is full").
func DiskFull(err error) bool {
	return err != nil && (errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "database or disk is full"))
}
