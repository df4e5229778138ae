package postgres

import (
	"context"
	"time"

	"github.com/ocellus/ocellus/internal/store"
)

// PutNode registers or renews a node.
func (s *Store) PutNode(ctx context.Context, n store.Node) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO cluster_nodes (node, url, expires_ms) VALUES ($1, $2, $3)
		ON CONFLICT (node) DO UPDATE SET url = excluded.url, expires_ms = excluded.expires_ms`, n.ID, n.URL, n.Expires.UnixMilli())
	return wrap(err, "put node")
}

// Nodes lists every node by id.
func (s *Store) Nodes(ctx context.Context) ([]store.Node, error) {
	rows, err := s.pool.Query(ctx, `SELECT node, url, expires_ms FROM cluster_nodes ORDER BY node`)
	if err != nil {
		return nil, wrap(err, "list nodes")
	}
	defer rows.Close()
	var out []store.Node
	for rows.Next() {
		var n store.Node
		var ms int64
		if err := rows.Scan(&n.ID, &n.URL, &ms); err != nil {
			return nil, wrap(err, "list nodes")
		}
		n.Expires = time.UnixMilli(ms).UTC()
		out = append(out, n)
	}
	return out, wrap(rows.Err(), "list nodes")
}

// DeleteNode removes a node's row.
func (s *Store) DeleteNode(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM cluster_nodes WHERE node = $1`, id)
	return wrap(err, "delete node")
}

// Leases lists every lease by ARN and unit.
func (s *Store) Leases(ctx context.Context) ([]store.Lease, error) {
	rows, err := s.pool.Query(ctx, `SELECT arn, unit, node, expires_ms FROM hosting_leases ORDER BY arn, unit`)
	if err != nil {
		return nil, wrap(err, "list leases")
	}
	defer rows.Close()
	var out []store.Lease
	for rows.Next() {
		var l store.Lease
		var ms int64
		if err := rows.Scan(&l.ARN, &l.Unit, &l.Node, &ms); err != nil {
			return nil, wrap(err, "list leases")
		}
		l.Expires = time.UnixMilli(ms).UTC()
		out = append(out, l)
	}
	return out, wrap(rows.Err(), "list leases")
}

// ClaimLease inserts the lease, or takes over one that expired or is the
// node's own. The upsert locks the row: of two concurrent claims the
// second waits, then re-checks the WHERE on the row the first committed.
func (s *Store) ClaimLease(ctx context.Context, l store.Lease, now time.Time) (bool, error) {
	res, err := s.pool.Exec(ctx, `INSERT INTO hosting_leases (arn, unit, node, expires_ms) VALUES ($1, $2, $3, $4)
		ON CONFLICT (arn, unit) DO UPDATE SET node = excluded.node, expires_ms = excluded.expires_ms
		WHERE hosting_leases.expires_ms <= $5 OR hosting_leases.node = excluded.node`,
		l.ARN, l.Unit, l.Node, l.Expires.UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, wrap(err, "claim lease")
	}
	return res.RowsAffected() == 1, nil
}

// RenewLeases extends every lease of node.
func (s *Store) RenewLeases(ctx context.Context, node string, expires time.Time) (int, error) {
	res, err := s.pool.Exec(ctx, `UPDATE hosting_leases SET expires_ms = $1 WHERE node = $2`, expires.UnixMilli(), node)
	if err != nil {
		return 0, wrap(err, "renew leases")
	}
	return int(res.RowsAffected()), nil
}

// ReleaseLeases removes node's leases of arn (all of them for "").
func (s *Store) ReleaseLeases(ctx context.Context, node, arn string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM hosting_leases WHERE node = $1 AND ($2 = '' OR arn = $3)`, node, arn, arn)
	return wrap(err, "release leases")
}

// DeleteLeases removes every lease of arn.
func (s *Store) DeleteLeases(ctx context.Context, arn string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM hosting_leases WHERE arn = $1`, arn)
	return wrap(err, "delete leases")
}
