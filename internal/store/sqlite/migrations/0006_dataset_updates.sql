-- The lines of an UpdateDatasetEntries call, stored with the dataset's
-- UPDATE_IN_PROGRESS status before the update-dataset job is enqueued, so
-- that an update interrupted by a crash runs again after restart.
CREATE TABLE dataset_updates (
	dataset_arn TEXT PRIMARY KEY,
	lines       BLOB NOT NULL
);
