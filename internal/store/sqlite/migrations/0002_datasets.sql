CREATE TABLE datasets (
	arn                 TEXT PRIMARY KEY,
	project_arn         TEXT NOT NULL,
	account             TEXT NOT NULL,
	type                TEXT NOT NULL,
	status              TEXT NOT NULL,
	status_message      TEXT NOT NULL DEFAULT '',
	status_message_code TEXT NOT NULL DEFAULT '',
	source              TEXT NOT NULL DEFAULT '{}',
	labeled_entries     INTEGER NOT NULL DEFAULT 0,
	total_entries       INTEGER NOT NULL DEFAULT 0,
	total_labels        INTEGER NOT NULL DEFAULT 0,
	error_entries       INTEGER NOT NULL DEFAULT 0,
	created_ms          INTEGER NOT NULL,
	updated_ms          INTEGER NOT NULL,
	UNIQUE (project_arn, type)
);

CREATE TABLE dataset_entries (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	dataset_arn TEXT NOT NULL,
	source_ref  TEXT NOT NULL,
	line        TEXT NOT NULL,
	labeled     INTEGER NOT NULL,
	has_errors  INTEGER NOT NULL,
	UNIQUE (dataset_arn, source_ref)
);

CREATE TABLE dataset_entry_labels (
	dataset_arn TEXT NOT NULL,
	source_ref  TEXT NOT NULL,
	label       TEXT NOT NULL,
	boxes       INTEGER NOT NULL,
	PRIMARY KEY (dataset_arn, source_ref, label)
);
CREATE INDEX dataset_entry_labels_by_label ON dataset_entry_labels (dataset_arn, label);
