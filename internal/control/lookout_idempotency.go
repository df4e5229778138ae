package control

import (
	"context"
	"sync"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// ClientToken idempotency of the Lookout for Vision operations that take one.

// ClientTokenTTL is how long an idempotency token stays active.
const ClientTokenTTL = 8 * time.Hour

// Idempotent runs fn once per client token: a token seen before (within
// ClientTokenTTL) with the same parameters returns the first answer
// without running fn; with other parameters, or for another operation, it
// is a Conflict that says why. params identifies the request (a hash of
// everything but the token). An empty token runs fn unguarded. Only
// successful answers are remembered, so a failed request can be retried
// with the same token.
func (l *Lookout) Idempotent(ctx context.Context, account, op, token, params string, fn func() ([]byte, error)) ([]byte, error) {
	if token == "" {
		return fn()
	}
	key := account + "\x00" + token
	l.tokMu.Lock()
	mu, ok := l.tokens[key]
	if !ok {
		mu = &sync.Mutex{}
		l.tokens[key] = mu
	}
	l.tokMu.Unlock()
	mu.Lock()
	defer func() {
		mu.Unlock()
		l.tokMu.Lock()
		if l.tokens[key] == mu {
			delete(l.tokens, key)
		}
		l.tokMu.Unlock()
	}()
	now := ocellus.Now(l.c.now)
	prev, err := l.c.store.ClientToken(ctx, account, token)
	switch {
	case err == nil && now.Sub(prev.Created) < ClientTokenTTL:
		if prev.Operation != op {
			return nil, ocellus.Errorf(ocellus.Conflict, "The client token %s was already used for %s; use a new token for %s.", token, prev.Operation, op)
		}
		if prev.ParamsHash != params {
			return nil, ocellus.Errorf(ocellus.Conflict, "The client token %s was already used for a %s request with different parameters in the last %s; use a new token or repeat the same parameters.", token, op, ClientTokenTTL)
		}
		return prev.Result, nil
	case err != nil && ocellus.KindOf(err) != ocellus.NotFound:
		return nil, err
	}
	out, err := fn()
	if err != nil {
		return nil, err
	}
	if err := l.c.store.PutClientToken(ctx, &store.ClientToken{Account: account, Token: token, Operation: op, ParamsHash: params, Result: out, Created: now}); err != nil {
		l.c.log.Error("save client token", "op", op, "err", err)
	}
	return out, nil
}
