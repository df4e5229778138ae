CREATE TABLE project_versions (
	arn                TEXT PRIMARY KEY,
	project_arn        TEXT NOT NULL,
	account            TEXT NOT NULL,
	name               TEXT NOT NULL,
	status             TEXT NOT NULL,
	created_ms         INTEGER NOT NULL,
	body               TEXT NOT NULL, -- the rest of the version, JSON
	UNIQUE (project_arn, name)
);
CREATE INDEX project_versions_by_project ON project_versions (project_arn, created_ms);
