// Package pgtx carries one PostgreSQL transaction through a context, so that
// two adapters on the same database, the metadata store
// (internal/store/postgres) and the job queue (internal/jobs on River), write
// in it together: a record and the job that works on it are committed at
// once or not at all. The store begins and commits the transaction
// (Store.InTx); every store call and the queue's Enqueue made with the
// context it gives use it.
package pgtx

import (
	"context"

	"github.com/jackc/pgx/v5"
)

type key struct{}

// With returns ctx carrying tx.
func With(ctx context.Context, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, key{}, tx)
}

// From returns the transaction ctx carries, or nil.
func From(ctx context.Context) pgx.Tx {
	tx, _ := ctx.Value(key{}).(pgx.Tx)
	return tx
}
