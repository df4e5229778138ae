// Package lookoutvision is the Amazon Lookout for Vision front-end: the
// restJson1 protocol (method + URI under /2020-11-20/, JSON bodies, the raw
// image body of DetectAnomalies). It authenticates, routes each request by
// its method and raw (escaped) path against the official API model
// (package apimodel), validates the input, decodes it into this package's
// wire shapes, calls the control plane and encodes the answer. Wire shapes
// live here, never in the domain.
package lookoutvision

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
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

const contentType = "application/json"

// Config configures the front-end.
type Config struct {
	Region string
	Logger *slog.Logger // nil: discard
	// Space refuses operations that store new data while the data volume
	// is within its reserve; deletions always run. nil: no check.
	Space *space.Guard
}

// API serves the Lookout for Vision operations.
type API struct {
	l        *control.Lookout
	verifier *sigv4.Verifier
	region   string
	log      *slog.Logger
	ops      map[string]handler
	space    *space.Guard
}

// handler runs one operation on a validated input (apimodel's decoded form).
type handler func(ctx context.Context, id awsproto.Identity, in map[string]any) (any, error)

// op adapts a typed operation to a handler: the validated input is
// re-encoded as JSON and decoded into the operation's wire shape (blobs
// travel as base64 both ways, timestamps as epoch seconds).
func op[In, Out any](fn func(ctx context.Context, id awsproto.Identity, in *In) (*Out, error)) handler {
	return func(ctx context.Context, id awsproto.Identity, raw map[string]any) (any, error) {
		b, err := json.Marshal(raw)
		if err != nil {
			return nil, &apimodel.ValidationError{Kind: apimodel.Serialization, Message: err.Error()}
		}
		in := new(In)
		if err := json.Unmarshal(b, in); err != nil {
			return nil, &apimodel.ValidationError{Kind: apimodel.Serialization, Message: err.Error()}
		}
		return fn(ctx, id, in)
	}
}

// New returns the front-end.
func New(l *control.Lookout, v *sigv4.Verifier, cfg Config) *API {
	a := &API{l: l, verifier: v, region: cfg.Region, log: cfg.Logger, space: cfg.Space}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.ops = map[string]handler{
		"CreateProject":   op(a.createProject),
		"DescribeProject": op(a.describeProject),
		"ListProjects":    op(a.listProjects),
		"DeleteProject":   op(a.deleteProject),

		"CreateDataset":        op(a.createDataset),
		"DescribeDataset":      op(a.describeDataset),
		"DeleteDataset":        op(a.deleteDataset),
		"ListDatasetEntries":   op(a.listDatasetEntries),
		"UpdateDatasetEntries": op(a.updateDatasetEntries),

		"CreateModel":     op(a.createModel),
		"DescribeModel":   op(a.describeModel),
		"ListModels":      op(a.listModels),
		"DeleteModel":     op(a.deleteModel),
		"StartModel":      op(a.startModel),
		"StopModel":       op(a.stopModel),
		"DetectAnomalies": op(a.detectAnomalies),

		"StartModelPackagingJob":    op(a.startModelPackagingJob),
		"DescribeModelPackagingJob": op(a.describeModelPackagingJob),
		"ListModelPackagingJobs":    op(a.listModelPackagingJobs),

		"TagResource":         op(a.tagResource),
		"UntagResource":       op(a.untagResource),
		"ListTagsForResource": op(a.listTagsForResource),
	}
	return a
}

// ServeHTTP handles one restJson1 request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := awsproto.NewRequestID()
	body, err := awsproto.ReadBody(r)
	if err != nil {
		a.writeError(w, reqID, nil, nil, ocellus.Errorf(ocellus.Invalid, "The request body could not be read: %v", err))
		return
	}
	id, err := awsproto.Authenticate(r, body, a.verifier, ocellus.LookoutVision, a.region)
	if err != nil {
		a.writeError(w, reqID, nil, nil, err)
		return
	}
	id.RequestID = reqID
	o, labels, ok := apimodel.LookoutVision.Match(r.Method, r.URL.EscapedPath())
	if !ok || a.ops[o.Name] == nil {
		a.writeError(w, reqID, nil, nil, &awsproto.AuthError{Status: http.StatusNotFound, Code: "UnknownOperationException",
			Message: "No Lookout for Vision operation is " + r.Method + " " + r.URL.EscapedPath() + "."})
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	in, err := apimodel.LookoutVision.DecodeRest(o, r, labels)
	if err != nil {
		a.writeError(w, reqID, o, in, err)
		return
	}
	out, err := a.handle(r.Context(), id, o, in)
	if err != nil {
		a.writeError(w, reqID, o, in, err)
		return
	}
	if raw, ok := out.(json.RawMessage); ok {
		writeRaw(w, reqID, o.ResponseCode, raw)
		return
	}
	awsproto.WriteJSON(w, reqID, contentType, o.ResponseCode, out)
}

func writeRaw(w http.ResponseWriter, reqID string, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("x-amzn-RequestId", reqID)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// handle validates the input and runs the operation. Operations with a
// ClientToken member are idempotent: the control plane remembers the first
// answer per token (see control.Lookout.Idempotent).
func (a *API) handle(ctx context.Context, id awsproto.Identity, o *apimodel.Operation, in map[string]any) (any, error) {
	if err := apimodel.LookoutVision.Validate(o.Name, in); err != nil {
		return nil, err
	}
	if awsproto.StoresData(o.Name) {
		if err := a.space.Check(0); err != nil {
			return nil, err
		}
	}
	h := a.ops[o.Name]
	token, _ := in["ClientToken"].(string)
	if token == "" {
		return h(ctx, id, in)
	}
	params := make(map[string]any, len(in))
	for k, v := range in {
		if k != "ClientToken" {
			params[k] = v
		}
	}
	pb, err := json.Marshal(params) // map keys are sorted: a stable encoding
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pb)
	out, err := a.l.Idempotent(ctx, id.Account, o.Name, token, hex.EncodeToString(sum[:]), func() ([]byte, error) {
		v, err := h(ctx, id, in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(v)
	})
	if err != nil {
		return nil, err
	}
	return json.RawMessage(out), nil
}

// wireError is a Lookout for Vision exception and its HTTP status.
type wireError struct {
	code   string
	status int
}

// errorCodes maps domain kinds to Lookout for Vision exceptions; the
// statuses are the API model's (checked by a test).
var errorCodes = map[ocellus.Kind]wireError{
	ocellus.Invalid:                {"ValidationException", http.StatusBadRequest},
	ocellus.InvalidPaginationToken: {"ValidationException", http.StatusBadRequest},
	ocellus.InvalidS3Object:        {"ValidationException", http.StatusBadRequest},
	ocellus.InvalidImageFormat:     {"ValidationException", http.StatusBadRequest},
	ocellus.ImageTooLarge:          {"ValidationException", http.StatusBadRequest},
	ocellus.MalformedPolicy:        {"ValidationException", http.StatusBadRequest},
	ocellus.QuotaExceeded:          {"ServiceQuotaExceededException", http.StatusPaymentRequired},
	ocellus.LimitExceeded:          {"ServiceQuotaExceededException", http.StatusPaymentRequired},
	ocellus.AccessDenied:           {"AccessDeniedException", http.StatusForbidden},
	ocellus.NotFound:               {"ResourceNotFoundException", http.StatusNotFound},
	ocellus.AlreadyExists:          {"ConflictException", http.StatusConflict},
	ocellus.InUse:                  {"ConflictException", http.StatusConflict},
	ocellus.NotReady:               {"ConflictException", http.StatusConflict},
	ocellus.Conflict:               {"ConflictException", http.StatusConflict},
	ocellus.InvalidPolicyRevision:  {"ConflictException", http.StatusConflict},
	ocellus.Throttled:              {"ThrottlingException", http.StatusTooManyRequests},
	ocellus.CapacityExceeded:       {"ThrottlingException", http.StatusTooManyRequests},
}

// internalError is what every unmapped error becomes.
var internalError = wireError{"InternalServerException", http.StatusInternalServerError}

// withResource lists the exceptions whose shape has ResourceId and
// ResourceType (both required there).
var withResource = map[string]bool{"ConflictException": true, "ResourceNotFoundException": true, "ServiceQuotaExceededException": true}

// writeError maps any error to the Lookout for Vision wire error. Internal
// causes are logged with the request id and never sent.
func (a *API) writeError(w http.ResponseWriter, reqID string, o *apimodel.Operation, in map[string]any, err error) {
	var ae *awsproto.AuthError
	var ve *apimodel.ValidationError
	switch {
	case errors.As(err, &ae):
		awsproto.WriteError(w, reqID, ae.Status, ae.Code, ae.Message, nil)
		return
	case errors.As(err, &ve):
		awsproto.WriteError(w, reqID, http.StatusBadRequest, "ValidationException", ve.Error(), nil)
		return
	}
	we, ok := errorCodes[ocellus.KindOf(err)]
	if !ok {
		name := ""
		if o != nil {
			name = o.Name
		}
		a.log.Error("internal error", "request_id", reqID, "op", name, "err", err)
		awsproto.WriteError(w, reqID, internalError.status, internalError.code, awsproto.InternalMessage(err, reqID), nil)
		return
	}
	var extra map[string]any
	if withResource[we.code] {
		typ, rid := defaultResource(o, in)
		var de *ocellus.Error
		if errors.As(err, &de) && de.ResourceType != "" {
			typ, rid = de.ResourceType, de.ResourceID
		}
		extra = map[string]any{"ResourceType": typ, "ResourceId": rid}
		if we.code == "ServiceQuotaExceededException" {
			extra["ServiceCode"], extra["QuotaCode"] = "lookoutvision", "L-"+strings.ToUpper(typ)
		}
	}
	awsproto.WriteError(w, reqID, we.status, we.code, ocellus.MessageOf(err), extra)
}

// defaultResource names the resource an operation is about, for errors
// that did not name one.
func defaultResource(o *apimodel.Operation, in map[string]any) (typ, id string) {
	str := func(k string) string { s, _ := in[k].(string); return s }
	typ, id = control.ResourceProject, str("ProjectName")
	if o == nil {
		return typ, id
	}
	switch {
	case strings.Contains(o.Name, "Packaging"):
		typ, id = control.ResourcePackageJob, str("JobName")
	case strings.Contains(o.Name, "Model") || o.Name == "DetectAnomalies":
		typ, id = control.ResourceModel, str("ModelVersion")
	case strings.Contains(o.Name, "Dataset"):
		typ, id = control.ResourceDataset, str("DatasetType")
	case strings.Contains(o.Name, "Tag"):
		id = str("ResourceArn")
	}
	if id == "" {
		id = str("ProjectName")
	}
	return typ, id
}
