-- Multipart uploads completed recently, so that a repeated
-- CompleteMultipartUpload (an SDK retry after a lost response) answers 200
-- with the same result, as S3 does, instead of NoSuchUpload.
CREATE TABLE completed_uploads (
	id         TEXT PRIMARY KEY,
	bucket     TEXT NOT NULL,
	key        TEXT NOT NULL,
	etag       TEXT NOT NULL,
	version_id TEXT NOT NULL,
	checksums  TEXT NOT NULL DEFAULT '{}',
	completed  INTEGER NOT NULL             -- unix nanoseconds
);
CREATE INDEX completed_uploads_time ON completed_uploads (completed);
