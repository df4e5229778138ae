-- Buckets are global by name; account is the owner.
CREATE TABLE buckets (
	name       TEXT PRIMARY KEY,
	account    TEXT NOT NULL,
	region     TEXT NOT NULL,
	created    INTEGER NOT NULL,            -- unix nanoseconds
	versioning TEXT NOT NULL DEFAULT ''     -- '', 'Enabled' or 'Suspended'
);

-- Every object version and delete marker. version_id is 'null' for objects
-- written while versioning was off or suspended. Exactly one row per
-- (bucket, key) has latest = 1. Keys compare with the BINARY collation, which
-- is the UTF-8 byte order S3 lists in.
CREATE TABLE versions (
	id            INTEGER PRIMARY KEY AUTOINCREMENT, -- newer versions have larger ids
	bucket        TEXT NOT NULL,
	key           TEXT NOT NULL,
	version_id    TEXT NOT NULL,
	latest        INTEGER NOT NULL,
	delete_marker INTEGER NOT NULL,
	size          INTEGER NOT NULL DEFAULT 0,
	etag          TEXT NOT NULL DEFAULT '',
	content_type  TEXT NOT NULL DEFAULT '',
	meta          TEXT NOT NULL DEFAULT '{}',   -- JSON: header name -> value
	checksums     TEXT NOT NULL DEFAULT '{}',   -- JSON: algorithm -> base64 value, plus "type"
	data          TEXT NOT NULL DEFAULT '',     -- data file id under data/
	modified      INTEGER NOT NULL,
	owner         TEXT NOT NULL,
	UNIQUE (bucket, key, version_id)
);
CREATE INDEX versions_latest ON versions (bucket, latest, key);
CREATE INDEX versions_key ON versions (bucket, key, id);

CREATE TABLE uploads (
	id           TEXT PRIMARY KEY,
	bucket       TEXT NOT NULL,
	key          TEXT NOT NULL,
	initiated    INTEGER NOT NULL,
	content_type TEXT NOT NULL DEFAULT '',
	meta         TEXT NOT NULL DEFAULT '{}',
	algorithm    TEXT NOT NULL DEFAULT '',     -- x-amz-checksum-algorithm of the upload
	owner        TEXT NOT NULL
);
CREATE INDEX uploads_bucket ON uploads (bucket, key, initiated);

CREATE TABLE parts (
	upload_id TEXT NOT NULL,
	number    INTEGER NOT NULL,
	size      INTEGER NOT NULL,
	etag      TEXT NOT NULL,
	checksums TEXT NOT NULL DEFAULT '{}',
	data      TEXT NOT NULL,
	modified  INTEGER NOT NULL,
	PRIMARY KEY (upload_id, number)
);
