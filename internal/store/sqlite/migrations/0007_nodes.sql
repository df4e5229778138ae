-- Several nodes on one database. A client token is claimed (pending = 1)
-- before its request runs and completed with the answer, so that two nodes
-- racing with one token run the request once. Hosting leases place the
-- inference units of started models on nodes; cluster_nodes says where each
-- live node answers forwarded requests. On a single SQLite node the leases
-- stay empty.
ALTER TABLE l4v_client_tokens ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;

CREATE TABLE hosting_leases (
	arn        TEXT NOT NULL,    -- the model version (or Lookout model) ARN
	unit       INTEGER NOT NULL, -- 0 .. units-1
	node       TEXT NOT NULL,
	expires_ms INTEGER NOT NULL,
	PRIMARY KEY (arn, unit)
);
CREATE INDEX hosting_leases_by_node ON hosting_leases (node);

CREATE TABLE cluster_nodes (
	node       TEXT PRIMARY KEY,
	url        TEXT NOT NULL,
	expires_ms INTEGER NOT NULL
);
