-- The metadata schema, as the SQLite store's migrations 0001-0006 leave it
-- (Lookout for Vision artifacts are sealed files, never rows). Times are
-- Unix milliseconds, as there.
CREATE TABLE projects (
	arn         TEXT PRIMARY KEY,
	account     TEXT NOT NULL,
	service     TEXT NOT NULL,
	name        TEXT NOT NULL,
	feature     TEXT NOT NULL DEFAULT '',
	auto_update TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL,
	created_ms  BIGINT NOT NULL,
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
	created_ms  BIGINT NOT NULL,
	updated_ms  BIGINT NOT NULL,
	PRIMARY KEY (project_arn, name)
);

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
	created_ms          BIGINT NOT NULL,
	updated_ms          BIGINT NOT NULL,
	UNIQUE (project_arn, type)
);
CREATE INDEX datasets_by_status ON datasets (status);

-- id orders entries by first insertion (an upsert keeps it).
CREATE TABLE dataset_entries (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	dataset_arn TEXT NOT NULL,
	source_ref  TEXT NOT NULL,
	line        TEXT NOT NULL,
	labeled     BOOLEAN NOT NULL,
	has_errors  BOOLEAN NOT NULL,
	UNIQUE (dataset_arn, source_ref)
);
CREATE INDEX dataset_entries_by_dataset ON dataset_entries (dataset_arn, id);

CREATE TABLE dataset_entry_labels (
	dataset_arn TEXT NOT NULL,
	source_ref  TEXT NOT NULL,
	label       TEXT NOT NULL,
	boxes       INTEGER NOT NULL,
	PRIMARY KEY (dataset_arn, source_ref, label)
);
CREATE INDEX dataset_entry_labels_by_label ON dataset_entry_labels (dataset_arn, label);

-- The lines of an UpdateDatasetEntries call, stored with the dataset's
-- UPDATE_IN_PROGRESS status before its job is enqueued.
CREATE TABLE dataset_updates (
	dataset_arn TEXT PRIMARY KEY,
	lines       BYTEA NOT NULL
);

CREATE TABLE project_versions (
	arn         TEXT PRIMARY KEY,
	project_arn TEXT NOT NULL,
	account     TEXT NOT NULL,
	name        TEXT NOT NULL,
	status      TEXT NOT NULL,
	created_ms  BIGINT NOT NULL,
	body        TEXT NOT NULL, -- the rest of the version, JSON (store.VersionBody)
	UNIQUE (project_arn, name)
);
CREATE INDEX project_versions_by_project ON project_versions (project_arn, created_ms);
CREATE INDEX project_versions_by_status ON project_versions (status);

-- Lookout for Vision: idempotency tokens, models, the per-project model
-- version counter, packaging jobs.
CREATE TABLE l4v_client_tokens (
	account     TEXT NOT NULL,
	token       TEXT NOT NULL,
	operation   TEXT NOT NULL,
	params_hash TEXT NOT NULL,
	result      BYTEA NOT NULL,
	created_ms  BIGINT NOT NULL,
	PRIMARY KEY (account, token)
);

CREATE TABLE l4v_model_counters (
	project_arn  TEXT PRIMARY KEY,
	last_version INTEGER NOT NULL
);

CREATE TABLE l4v_models (
	project_arn     TEXT NOT NULL,
	version         INTEGER NOT NULL,
	arn             TEXT NOT NULL UNIQUE,
	account         TEXT NOT NULL,
	description     TEXT NOT NULL DEFAULT '',
	status          TEXT NOT NULL,
	message         TEXT NOT NULL DEFAULT '',
	created_ms      BIGINT NOT NULL,
	output_bucket   TEXT NOT NULL DEFAULT '',
	output_prefix   TEXT NOT NULL DEFAULT '',
	kms_key_id      TEXT NOT NULL DEFAULT '',
	min_units       INTEGER NOT NULL DEFAULT 0,
	max_units       INTEGER NOT NULL DEFAULT 0,
	has_performance BOOLEAN NOT NULL DEFAULT FALSE,
	f1              DOUBLE PRECISION NOT NULL DEFAULT 0,
	recall          DOUBLE PRECISION NOT NULL DEFAULT 0,
	precision_      DOUBLE PRECISION NOT NULL DEFAULT 0,
	eval_manifest   TEXT NOT NULL DEFAULT '',
	eval_result     TEXT NOT NULL DEFAULT '',
	eval_end_ms     BIGINT NOT NULL DEFAULT 0,
	artifact        TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (project_arn, version)
);
CREATE INDEX l4v_models_by_status ON l4v_models (status);

CREATE TABLE l4v_packaging_jobs (
	seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	project_arn   TEXT NOT NULL,
	account       TEXT NOT NULL,
	name          TEXT NOT NULL,
	model_version INTEGER NOT NULL,
	description   TEXT NOT NULL DEFAULT '',
	method        TEXT NOT NULL DEFAULT '',
	config        BYTEA NOT NULL,
	status        TEXT NOT NULL,
	message       TEXT NOT NULL DEFAULT '',
	output        BYTEA NOT NULL,
	created_ms    BIGINT NOT NULL,
	updated_ms    BIGINT NOT NULL,
	UNIQUE (project_arn, name)
);
CREATE INDEX l4v_packaging_jobs_by_status ON l4v_packaging_jobs (status);
