package awsproto

import "context"

// Outcome is what a front-end tells the server's metrics about one request:
// the operation its dispatch table routed the request to ("" when none
// was found, e.g. an unauthenticated or unknown operation) and the error
// code it answered with ("" on success). The server puts one in the
// request's context (WithOutcome) before dispatching, and reads it once the
// front-end has answered; front-ends fill it where they dispatch and where
// their one error writer runs, never per operation.
type Outcome struct {
	Op   string
	Code string
}

type outcomeKey struct{}

// WithOutcome returns ctx carrying a new, empty Outcome.
func WithOutcome(ctx context.Context) (context.Context, *Outcome) {
	o := &Outcome{}
	return context.WithValue(ctx, outcomeKey{}, o), o
}

// WithoutOutcome returns ctx carrying no Outcome: for a request one
// front-end makes to another in-process (the control plane reading S3 on a
// caller's behalf), which must not overwrite the outer request's Outcome.
func WithoutOutcome(ctx context.Context) context.Context {
	return context.WithValue(ctx, outcomeKey{}, (*Outcome)(nil))
}

// OutcomeOf is the Outcome ctx carries, or nil: the setters below do
// nothing on a nil Outcome, so front-ends need not check.
func OutcomeOf(ctx context.Context) *Outcome {
	o, _ := ctx.Value(outcomeKey{}).(*Outcome)
	return o
}

// SetOp records the routed operation.
func (o *Outcome) SetOp(op string) {
	if o != nil {
		o.Op = op
	}
}

// SetCode records the error code answered.
func (o *Outcome) SetCode(code string) {
	if o != nil {
		o.Code = code
	}
}
