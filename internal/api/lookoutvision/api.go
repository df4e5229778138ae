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
	l   *control.Lookout
	ops map[string]handler
	fe  *awsproto.Frontend
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
	a := &API{l: l}
	a.fe = &awsproto.Frontend{Service: ocellus.LookoutVision, Region: cfg.Region, Verifier: v, Model: apimodel.LookoutVision,
		ContentType: contentType, InternalCode: internalError.code, Log: cfg.Logger, Space: cfg.Space,
		Route: a.route, Errors: wireErrorOf}
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

// ServeHTTP handles one restJson1 request (awsproto.Frontend's skeleton).
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.fe.ServeHTTP(w, r) }

// route finds the operation by method and raw (escaped) path and decodes
// its input from the labels, query, headers and body.
func (a *API) route(r *http.Request, body []byte) (*awsproto.Call, error) {
	o, labels, ok := apimodel.LookoutVision.Match(r.Method, r.URL.EscapedPath())
	if !ok || a.ops[o.Name] == nil {
		return nil, &awsproto.AuthError{Status: http.StatusNotFound, Code: "UnknownOperationException",
			Message: "No Lookout for Vision operation is " + r.Method + " " + r.URL.EscapedPath() + "."}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	in, err := apimodel.LookoutVision.DecodeRest(o, r, labels)
	return a.call(o, in), err
}

func (a *API) call(o *apimodel.Operation, in map[string]any) *awsproto.Call {
	return &awsproto.Call{Op: o.Name, Input: in, Status: o.ResponseCode,
		Run: func(ctx context.Context, id awsproto.Identity, in map[string]any) (any, error) {
			return a.run(ctx, id, o.Name, in)
		}}
}

// run runs a validated operation. Operations with a ClientToken member are
// idempotent: the control plane remembers the first answer per token (see
// control.Lookout.Idempotent).
func (a *API) run(ctx context.Context, id awsproto.Identity, name string, in map[string]any) (any, error) {
	h := a.ops[name]
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
	out, err := a.l.Idempotent(ctx, id.Account, name, token, hex.EncodeToString(sum[:]), func() ([]byte, error) {
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

// wireErrorOf maps an error to the Lookout for Vision wire error:
// validation errors are ValidationException, domain kinds go by
// errorCodes (with the resource members for the shapes that have them),
// the rest is internal.
func wireErrorOf(c *awsproto.Call, err error) (awsproto.WireError, bool) {
	var ve *apimodel.ValidationError
	if errors.As(err, &ve) {
		return awsproto.WireError{Status: http.StatusBadRequest, Code: "ValidationException", Message: ve.Error()}, true
	}
	we, ok := errorCodes[ocellus.KindOf(err)]
	if !ok {
		return awsproto.WireError{}, false
	}
	var extra map[string]any
	if withResource[we.code] {
		typ, rid := defaultResource(c)
		var de *ocellus.Error
		if errors.As(err, &de) && de.ResourceType != "" {
			typ, rid = de.ResourceType, de.ResourceID
		}
		extra = map[string]any{"ResourceType": typ, "ResourceId": rid}
		if we.code == "ServiceQuotaExceededException" {
			extra["ServiceCode"], extra["QuotaCode"] = "lookoutvision", "L-"+strings.ToUpper(typ)
		}
	}
	return awsproto.WireError{Status: we.status, Code: we.code, Message: ocellus.MessageOf(err), Extra: extra}, true
}

// defaultResource names the resource an operation is about, for errors
// that did not name one.
func defaultResource(c *awsproto.Call) (typ, id string) {
	var in map[string]any
	if c != nil {
		in = c.Input
	}
	str := func(k string) string { s, _ := in[k].(string); return s }
	typ, id = control.ResourceProject, str("ProjectName")
	if c == nil {
		return typ, id
	}
	switch {
	case strings.Contains(c.Op, "Packaging"):
		typ, id = control.ResourcePackageJob, str("JobName")
	case strings.Contains(c.Op, "Model") || c.Op == "DetectAnomalies":
		typ, id = control.ResourceModel, str("ModelVersion")
	case strings.Contains(c.Op, "Dataset"):
		typ, id = control.ResourceDataset, str("DatasetType")
	case strings.Contains(c.Op, "Tag"):
		id = str("ResourceArn")
	}
	if id == "" {
		id = str("ProjectName")
	}
	return typ, id
}
