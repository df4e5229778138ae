-- Lookout for Vision: idempotency tokens, models (with their trained
-- artifact), the per-project model version counter, packaging jobs.
CREATE TABLE l4v_client_tokens (
	account     TEXT NOT NULL,
	token       TEXT NOT NULL,
	operation   TEXT NOT NULL,
	params_hash TEXT NOT NULL,
	result      BLOB NOT NULL,
	created_ms  INTEGER NOT NULL,
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
	created_ms      INTEGER NOT NULL,
	output_bucket   TEXT NOT NULL DEFAULT '',
	output_prefix   TEXT NOT NULL DEFAULT '',
	kms_key_id      TEXT NOT NULL DEFAULT '',
	min_units       INTEGER NOT NULL DEFAULT 0,
	max_units       INTEGER NOT NULL DEFAULT 0,
	has_performance INTEGER NOT NULL DEFAULT 0,
	f1              REAL NOT NULL DEFAULT 0,
	recall          REAL NOT NULL DEFAULT 0,
	precision_      REAL NOT NULL DEFAULT 0,
	eval_manifest   TEXT NOT NULL DEFAULT '',
	eval_result     TEXT NOT NULL DEFAULT '',
	eval_end_ms     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (project_arn, version)
);
CREATE INDEX l4v_models_by_status ON l4v_models (status);

CREATE TABLE l4v_model_artifacts (
	model_arn TEXT PRIMARY KEY,
	data      BLOB NOT NULL
);

CREATE TABLE l4v_packaging_jobs (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT,
	project_arn   TEXT NOT NULL,
	account       TEXT NOT NULL,
	name          TEXT NOT NULL,
	model_version INTEGER NOT NULL,
	description   TEXT NOT NULL DEFAULT '',
	method        TEXT NOT NULL DEFAULT '',
	config        BLOB NOT NULL,
	status        TEXT NOT NULL,
	message       TEXT NOT NULL DEFAULT '',
	output        BLOB NOT NULL,
	created_ms    INTEGER NOT NULL,
	updated_ms    INTEGER NOT NULL,
	UNIQUE (project_arn, name)
);
CREATE INDEX l4v_packaging_jobs_by_status ON l4v_packaging_jobs (status);
