package store

import (
	"context"
	"time"
)

// HostingStore places the inference units of hosted models on nodes when
// several nodes share one database: every unit of a started Custom Labels
// version or Lookout for Vision model is a lease (ARN, unit index) held by
// one node until it expires, and every node renews its own by heartbeat. A
// node that dies stops renewing; once its leases have expired, the
// surviving nodes claim them. The node table says where each node answers
// the requests other nodes forward to it. A single node on SQLite keeps
// these tables empty.
type HostingStore interface {
	// PutNode registers a node or renews its row.
	PutNode(ctx context.Context, n Node) error
	// Nodes lists every node row, expired ones too, by id.
	Nodes(ctx context.Context) ([]Node, error)
	// DeleteNode removes a node's row (a node shutting down cleanly).
	DeleteNode(ctx context.Context, id string) error

	// Leases lists every lease, expired ones too, by ARN and unit.
	Leases(ctx context.Context) ([]Lease, error)
	// ClaimLease saves l (l.Node holding unit l.Unit of l.ARN until
	// l.Expires) if the unit has no lease, or its lease expired before now,
	// or l.Node holds it already. It reports whether l was saved: of
	// several nodes claiming one unit at once, at most one wins.
	ClaimLease(ctx context.Context, l Lease, now time.Time) (bool, error)
	// RenewLeases moves the expiry of every lease node holds to expires
	// and reports how many it holds.
	RenewLeases(ctx context.Context, node string, expires time.Time) (int, error)
	// ReleaseLeases removes node's leases of arn, or all of node's leases
	// when arn is "".
	ReleaseLeases(ctx context.Context, node, arn string) error
	// DeleteLeases removes every lease of arn, whichever node holds it (the
	// model is stopped or deleted).
	DeleteLeases(ctx context.Context, arn string) error
}

// Node is one Ocellus node sharing the database.
type Node struct {
	ID string
	// URL is where the node serves the cluster's internal requests
	// (http://host:port; the paths are under /_ocellus/cluster/).
	URL     string
	Expires time.Time
}

// Lease is one inference unit of a hosted model, held by a node.
type Lease struct {
	ARN     string // the ProjectVersionArn or the Lookout for Vision ModelArn
	Unit    int    // 0 .. units-1
	Node    string
	Expires time.Time
}

// Live reports whether the lease is still held at now.
func (l Lease) Live(now time.Time) bool { return l.Expires.After(now) }
