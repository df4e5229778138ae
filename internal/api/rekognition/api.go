// Package rekognition is the Rekognition Custom Labels front-end: the
// awsJson1.1 protocol (POST /, X-Amz-Target: RekognitionService.<Op>).
// It authenticates, validates each request against the official API model
// (package apimodel), decodes it into wire shapes, calls the control plane
// and encodes the answer. Wire shapes live here, never in the domain.
package rekognition

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/ocellus/ocellus/internal/apimodel"
	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/sigv4"
	"github.com/ocellus/ocellus/internal/space"
)

// TargetPrefix marks a Rekognition request in X-Amz-Target.
const TargetPrefix = "RekognitionService."

const contentType = "application/x-amz-json-1.1"

// Config configures the front-end.
type Config struct {
	Region string
	Logger *slog.Logger // nil: discard
	// Space refuses operations that store new data while the data volume
	// is within its reserve; deletions always run. nil: no check.
	Space *space.Guard
}

// API serves the Rekognition Custom Labels operations.
type API struct {
	ctl *control.Control
	ops map[string]handler
	fe  *awsproto.Frontend
}

// handler runs one operation on a validated JSON body.
type handler func(ctx context.Context, id awsproto.Identity, body []byte) (any, error)

// op adapts a typed operation to a handler: decode, call, return.
func op[In, Out any](fn func(ctx context.Context, id awsproto.Identity, in *In) (*Out, error)) handler {
	return func(ctx context.Context, id awsproto.Identity, body []byte) (any, error) {
		in := new(In)
		if err := json.Unmarshal(body, in); err != nil {
			return nil, &apimodel.ValidationError{Kind: apimodel.Serialization, Message: err.Error()}
		}
		return fn(ctx, id, in)
	}
}

// New returns the front-end.
func New(ctl *control.Control, v *sigv4.Verifier, cfg Config) *API {
	a := &API{ctl: ctl}
	a.fe = &awsproto.Frontend{Service: ocellus.Rekognition, Region: cfg.Region, Verifier: v, Model: apimodel.Rekognition,
		ContentType: contentType, InternalCode: "InternalServerError", Log: cfg.Logger, Space: cfg.Space,
		Route: a.route, Errors: wireError}
	a.ops = map[string]handler{
		"CreateProject":       op(a.createProject),
		"DescribeProjects":    op(a.describeProjects),
		"DeleteProject":       op(a.deleteProject),
		"TagResource":         op(a.tagResource),
		"UntagResource":       op(a.untagResource),
		"ListTagsForResource": op(a.listTagsForResource),
		"PutProjectPolicy":    op(a.putProjectPolicy),
		"DeleteProjectPolicy": op(a.deleteProjectPolicy),
		"ListProjectPolicies": op(a.listProjectPolicies),

		"CreateDataset":            op(a.createDataset),
		"DescribeDataset":          op(a.describeDataset),
		"DeleteDataset":            op(a.deleteDataset),
		"ListDatasetEntries":       op(a.listDatasetEntries),
		"ListDatasetLabels":        op(a.listDatasetLabels),
		"UpdateDatasetEntries":     op(a.updateDatasetEntries),
		"DistributeDatasetEntries": op(a.distributeDatasetEntries),

		"CreateProjectVersion":    op(a.createProjectVersion),
		"DescribeProjectVersions": op(a.describeProjectVersions),
		"DeleteProjectVersion":    op(a.deleteProjectVersion),
		"CopyProjectVersion":      op(a.copyProjectVersion),
		"StartProjectVersion":     op(a.startProjectVersion),
		"StopProjectVersion":      op(a.stopProjectVersion),
		"DetectCustomLabels":      op(a.detectCustomLabels),

		"DetectModerationLabels": op(a.detectModerationLabels),
	}
	return a
}

// ServeHTTP handles one awsJson1.1 request (awsproto.Frontend's skeleton).
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.fe.ServeHTTP(w, r) }

// route finds the operation in X-Amz-Target (POST only).
func (a *API) route(r *http.Request, body []byte) (*awsproto.Call, error) {
	name := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	if _, ok := a.ops[name]; r.Method != http.MethodPost || !ok {
		return nil, &awsproto.AuthError{Status: http.StatusBadRequest, Code: "UnknownOperationException",
			Message: "Unknown operation " + r.Header.Get("X-Amz-Target") + ": Ocellus serves the Rekognition Custom Labels operations and DetectModerationLabels."}
	}
	return a.call(name, body)
}

// call decodes an operation's JSON body (empty is {}) into the form
// apimodel validates; the operation itself decodes the body into its wire
// shape.
func (a *API) call(name string, body []byte) (*awsproto.Call, error) {
	h, ok := a.ops[name]
	if !ok {
		return nil, &awsproto.AuthError{Status: http.StatusBadRequest, Code: "UnknownOperationException", Message: "Unknown operation " + name + "."}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	var input map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&input); err != nil || input == nil {
		return nil, &apimodel.ValidationError{Kind: apimodel.Serialization, Message: "The request body is not a JSON object."}
	}
	if dec.More() {
		return nil, &apimodel.ValidationError{Kind: apimodel.Serialization, Message: "The request body has data after the JSON object."}
	}
	return &awsproto.Call{Op: name, Input: input, Need: int64(len(body)),
		Run: func(ctx context.Context, id awsproto.Identity, _ map[string]any) (any, error) {
			return h(ctx, id, body)
		}}, nil
}

// errorCodes maps domain kinds to Rekognition exceptions.
var errorCodes = map[ocellus.Kind]string{
	ocellus.Invalid:                "InvalidParameterException",
	ocellus.NotFound:               "ResourceNotFoundException",
	ocellus.AlreadyExists:          "ResourceAlreadyExistsException",
	ocellus.InUse:                  "ResourceInUseException",
	ocellus.LimitExceeded:          "LimitExceededException",
	ocellus.QuotaExceeded:          "ServiceQuotaExceededException",
	ocellus.Throttled:              "ThrottlingException",
	ocellus.NotReady:               "ResourceNotReadyException",
	ocellus.AccessDenied:           "AccessDeniedException",
	ocellus.InvalidPaginationToken: "InvalidPaginationTokenException",
	ocellus.InvalidPolicyRevision:  "InvalidPolicyRevisionIdException",
	ocellus.MalformedPolicy:        "MalformedPolicyDocumentException",
	ocellus.Conflict:               "IdempotentParameterMismatchException",
	ocellus.InvalidS3Object:        "InvalidS3ObjectException",
	ocellus.InvalidImageFormat:     "InvalidImageFormatException",
	ocellus.ImageTooLarge:          "ImageTooLargeException",
	ocellus.CapacityExceeded:       "ProvisionedThroughputExceededException",
}

// wireError maps an error to the Rekognition wire error: validation
// errors are InvalidParameterException (SerializationException for a body
// that does not decode), domain kinds go by errorCodes, the rest is
// internal.
func wireError(_ *awsproto.Call, err error) (awsproto.WireError, bool) {
	var ve *apimodel.ValidationError
	if errors.As(err, &ve) {
		code := "InvalidParameterException"
		if ve.Kind == apimodel.Serialization {
			code = "SerializationException"
		}
		return awsproto.WireError{Status: http.StatusBadRequest, Code: code, Message: ve.Error()}, true
	}
	code, ok := errorCodes[ocellus.KindOf(err)]
	return awsproto.WireError{Status: http.StatusBadRequest, Code: code, Message: ocellus.MessageOf(err)}, ok
}
