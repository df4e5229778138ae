package control

import (
	"context"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// ClientToken idempotency of the Lookout for Vision operations that take one.

// ClientTokenTTL is how long an idempotency token stays active.
const ClientTokenTTL = 8 * time.Hour

// tokenClaimTimeout is how long a claimed token's first request may run
// before a retry takes the claim over: the node that claimed it may have
// died. The operations that take a token only record and enqueue, which
// takes milliseconds.
const tokenClaimTimeout = time.Minute

// Idempotent runs fn once per client token: a token seen before (within
// ClientTokenTTL) with the same parameters returns the first answer
// without running fn; with other parameters, or for another operation, it
// is a Conflict that says why. params identifies the request (a hash of
// everything but the token). An empty token runs fn unguarded. Only
// successful answers are remembered, so a failed request can be retried
// with the same token.
//
// The database decides, not this process: the token is claimed (a pending
// record, saved only if the record is still as read) before fn runs, so of
// several requests racing with one token on any nodes exactly one runs fn,
// and the others wait for its answer.
func (l *Lookout) Idempotent(ctx context.Context, account, op, token, params string, fn func() ([]byte, error)) ([]byte, error) {
	if token == "" {
		return fn()
	}
	st := l.c.store
	wait := 10 * time.Millisecond
	for {
		now := ocellus.Now(l.c.now)
		prev, err := st.ClientToken(ctx, account, token)
		switch {
		case ocellus.KindOf(err) == ocellus.NotFound:
			prev = nil
		case err != nil:
			return nil, err
		}
		if prev != nil && tokenLive(prev, now) {
			if prev.Operation != op {
				return nil, ocellus.Errorf(ocellus.Conflict, "The client token %s was already used for %s; use a new token for %s.", token, prev.Operation, op)
			}
			if prev.ParamsHash != params {
				return nil, ocellus.Errorf(ocellus.Conflict, "The client token %s was already used for a %s request with different parameters in the last %s; use a new token or repeat the same parameters.", token, op, ClientTokenTTL)
			}
			if !prev.Pending {
				return prev.Result, nil
			}
			// The first request is still running, here or on another node.
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			wait = min(2*wait, 200*time.Millisecond)
			continue
		}
		claim := &store.ClientToken{Account: account, Token: token, Operation: op, ParamsHash: params, Pending: true, Created: now}
		ok, err := st.ClaimClientToken(ctx, claim, prev)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // another request claimed it first: read its record
		}
		out, err := fn()
		if err != nil {
			if rerr := st.ReleaseClientToken(context.WithoutCancel(ctx), account, token, claim.Created); rerr != nil {
				l.c.log.Error("release client token", "op", op, "err", rerr)
			}
			return nil, err
		}
		done := *claim
		done.Pending, done.Result = false, out
		if ok, err := st.ClaimClientToken(context.WithoutCancel(ctx), &done, claim); err != nil || !ok {
			// Taken over after tokenClaimTimeout (or unsaved): the answer
			// stands, a retry may run the request again.
			l.c.log.Error("save client token", "op", op, "err", err, "taken_over", !ok)
		}
		return out, nil
	}
}

// tokenLive tells a record that still binds its token at now: an answer
// within ClientTokenTTL, or a claim whose request may still be running.
func tokenLive(t *store.ClientToken, now time.Time) bool {
	if t.Pending {
		return now.Sub(t.Created) < tokenClaimTimeout
	}
	return now.Sub(t.Created) < ClientTokenTTL
}
