-- Server-side encryption and tags of an object version or of a multipart
-- upload (which hands them to the object it completes). sse is '', 'AES256'
-- (SSE-S3) or 'aws:kms' (SSE-KMS); sse_key is the keyring key id that wraps
-- the data key (the data file itself names it too). tags is a JSON array of
-- {"Key","Value"} in the order given, '' for none.
ALTER TABLE versions ADD COLUMN sse TEXT NOT NULL DEFAULT '';
ALTER TABLE versions ADD COLUMN sse_key TEXT NOT NULL DEFAULT '';
ALTER TABLE versions ADD COLUMN tags TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN sse TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN sse_key TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN tags TEXT NOT NULL DEFAULT '';
