-- Hosting across nodes: a lease per inference unit of a hosted model (a
-- Custom Labels version or a Lookout for Vision model), held by one node
-- until expires_ms and renewed by its heartbeat, and the nodes with the URL
-- they answer forwarded requests on. PostgreSQL is what several nodes share.
CREATE TABLE hosting_leases (
	arn        TEXT NOT NULL,
	unit       INTEGER NOT NULL,
	node       TEXT NOT NULL,
	expires_ms BIGINT NOT NULL,
	PRIMARY KEY (arn, unit)
);
CREATE INDEX hosting_leases_by_node ON hosting_leases (node);

CREATE TABLE cluster_nodes (
	node       TEXT PRIMARY KEY,
	url        TEXT NOT NULL,
	expires_ms BIGINT NOT NULL
);
