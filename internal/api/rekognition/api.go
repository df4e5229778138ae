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
	ctl      *control.Control
	verifier *sigv4.Verifier
	region   string
	log      *slog.Logger
	ops      map[string]handler
	space    *space.Guard
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
	a := &API{ctl: ctl, verifier: v, region: cfg.Region, log: cfg.Logger, space: cfg.Space}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
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
	}
	return a
}

// ServeHTTP handles one awsJson1.1 request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := awsproto.NewRequestID()
	body, err := awsproto.ReadBody(r)
	if err != nil {
		a.writeError(w, reqID, "", ocellus.Errorf(ocellus.Invalid, "The request body could not be read: %v", err))
		return
	}
	id, err := awsproto.Authenticate(r, body, a.verifier, ocellus.Rekognition, a.region)
	if err != nil {
		a.writeError(w, reqID, "", err)
		return
	}
	id.RequestID = reqID
	name := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	if _, ok := a.ops[name]; r.Method != http.MethodPost || !ok {
		a.writeError(w, reqID, name, &awsproto.AuthError{Status: http.StatusBadRequest, Code: "UnknownOperationException",
			Message: "Unknown operation " + r.Header.Get("X-Amz-Target") + ": Ocellus serves the Rekognition Custom Labels operations."})
		return
	}
	out, err := a.handle(r.Context(), id, name, body)
	if err != nil {
		a.writeError(w, reqID, name, err)
		return
	}
	awsproto.WriteJSON(w, reqID, contentType, http.StatusOK, out)
}

// handle decodes, validates and runs one operation on an authenticated
// request body.
func (a *API) handle(ctx context.Context, id awsproto.Identity, name string, body []byte) (any, error) {
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
	if err := apimodel.Rekognition.Validate(name, input); err != nil {
		return nil, err
	}
	if awsproto.StoresData(name) {
		if err := a.space.Check(int64(len(body))); err != nil {
			return nil, err
		}
	}
	return h(ctx, id, body)
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

// writeError maps any error to the Rekognition wire error. Internal causes
// are logged with the request id and never sent.
func (a *API) writeError(w http.ResponseWriter, reqID, opName string, err error) {
	var ae *awsproto.AuthError
	var ve *apimodel.ValidationError
	switch {
	case errors.As(err, &ae):
		awsproto.WriteError(w, reqID, ae.Status, ae.Code, ae.Message, nil)
	case errors.As(err, &ve) && ve.Kind == apimodel.Serialization:
		awsproto.WriteError(w, reqID, http.StatusBadRequest, "SerializationException", ve.Error(), nil)
	case errors.As(err, &ve):
		awsproto.WriteError(w, reqID, http.StatusBadRequest, "InvalidParameterException", ve.Error(), nil)
	default:
		kind := ocellus.KindOf(err)
		code, ok := errorCodes[kind]
		if !ok {
			a.log.Error("internal error", "request_id", reqID, "op", opName, "err", err)
			awsproto.WriteError(w, reqID, http.StatusInternalServerError, "InternalServerError", awsproto.InternalMessage(err, reqID), nil)
			return
		}
		awsproto.WriteError(w, reqID, http.StatusBadRequest, code, ocellus.MessageOf(err), nil)
	}
}
