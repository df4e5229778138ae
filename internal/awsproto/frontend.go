package awsproto

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/ocellus/ocellus/internal/apimodel"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/sigv4"
)

// Frontend is the request skeleton both AWS JSON front-ends share: read the
// body, authenticate, find the operation and decode its input (the
// protocol's Route), validate the input against the API model, refuse
// data-storing operations when the volume is within its reserve, run the
// operation and write the answer, or write the error (the protocol's
// Errors; an AuthError as it is; anything unmapped as the internal error,
// logged with the request id and never sent). A front-end keeps only its
// protocol's differences: how a request names its operation, its error
// table and its own operation handlers.
type Frontend struct {
	Service     string // the SigV4 service name (ocellus.Rekognition, ...)
	Region      string
	Verifier    *sigv4.Verifier
	Model       *apimodel.Service
	ContentType string // of success answers
	// InternalCode is the exception unmapped errors are answered with
	// (status 500).
	InternalCode string
	Log          *slog.Logger // nil: discard
	// Space refuses the operations that store new data (StoresData) while
	// the data volume is within its reserve. nil: no check.
	Space interface{ Check(need int64) error }
	// Route finds the operation of an authenticated request and decodes
	// its input. An error returned with a Call is written with that Call
	// (so that the error can name the operation's resource).
	Route func(r *http.Request, body []byte) (*Call, error)
	// Errors maps an error that is not an AuthError to the wire; ok false
	// for an internal error. c is nil before the operation is known.
	Errors func(c *Call, err error) (we WireError, ok bool)
}

// Call is one routed operation.
type Call struct {
	Op    string
	Input map[string]any // apimodel's decoded form, validated before Run
	// Status is the success status (the model's; 0 is 200).
	Status int
	// Need is what the operation asks of the space reserve, in bytes.
	Need int64
	Run  func(ctx context.Context, id Identity, in map[string]any) (any, error)
}

// WireError is an error as a protocol answers it.
type WireError struct {
	Status  int
	Code    string
	Message string
	Extra   map[string]any // shape members such as ResourceId
}

// ServeHTTP handles one request.
// The request's Outcome (see WithOutcome), if any, learns the routed
// operation and the error code answered.
func (f *Frontend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := NewRequestID()
	o := OutcomeOf(r.Context())
	fail := func(c *Call, err error) { o.SetCode(f.WriteError(w, reqID, c, err)) }
	body, err := ReadBody(r)
	if err != nil {
		fail(nil, ocellus.Errorf(ocellus.Invalid, "The request body could not be read: %v", err))
		return
	}
	id, err := Authenticate(r, body, f.Verifier, f.Service, f.Region)
	if err != nil {
		fail(nil, err)
		return
	}
	id.RequestID = reqID
	c, err := f.Route(r, body)
	if c != nil {
		o.SetOp(c.Op)
	}
	if err != nil {
		fail(c, err)
		return
	}
	out, err := f.Handle(r.Context(), id, c)
	if err != nil {
		fail(c, err)
		return
	}
	status := c.Status
	if status == 0 {
		status = http.StatusOK
	}
	WriteJSON(w, reqID, f.ContentType, status, out)
}

// Handle validates a routed call's input, checks the space reserve and runs
// it.
func (f *Frontend) Handle(ctx context.Context, id Identity, c *Call) (any, error) {
	if err := f.Model.Validate(c.Op, c.Input); err != nil {
		return nil, err
	}
	if f.Space != nil && StoresData(c.Op) {
		if err := f.Space.Check(c.Need); err != nil {
			return nil, err
		}
	}
	return c.Run(ctx, id, c.Input)
}

// WriteError writes err as the protocol answers it; c is the routed call
// (nil before routing). It returns the error code it wrote.
func (f *Frontend) WriteError(w http.ResponseWriter, reqID string, c *Call, err error) (code string) {
	var ae *AuthError
	if errors.As(err, &ae) {
		WriteError(w, reqID, ae.Status, ae.Code, ae.Message, nil)
		return ae.Code
	}
	we, ok := f.Errors(c, err)
	if !ok {
		op := ""
		if c != nil {
			op = c.Op
		}
		log := f.Log
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		log.Error("internal error", "request_id", reqID, "op", op, "err", err)
		WriteError(w, reqID, http.StatusInternalServerError, f.InternalCode, InternalMessage(err, reqID), nil)
		return f.InternalCode
	}
	WriteError(w, reqID, we.Status, we.Code, we.Message, we.Extra)
	return we.Code
}
