CREATE TABLE projects (
	arn         TEXT PRIMARY KEY,
	account     TEXT NOT NULL,
	service     TEXT NOT NULL,
	name        TEXT NOT NULL,
	feature     TEXT NOT NULL DEFAULT '',
	auto_update TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL,
	created_ms  INTEGER NOT NULL,
	UNIQUE (account, service, name)
);
CREATE INDEX projects_by_account ON projects (account, service, created_ms, arn);

CREATE TABLE tags (
	arn   TEXT NOT NULL,
	key   TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY (arn, key)
);

CREATE TABLE project_policies (
	project_arn TEXT NOT NULL,
	name        TEXT NOT NULL,
	revision_id TEXT NOT NULL,
	document    TEXT NOT NULL,
	created_ms  INTEGER NOT NULL,
	updated_ms  INTEGER NOT NULL,
	PRIMARY KEY (project_arn, name)
);
