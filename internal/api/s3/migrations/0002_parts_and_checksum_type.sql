-- Part sizes of a completed multipart object, so GetObject?partNumber=N can
-- serve one part (the Go SDK transfer manager downloads that way).
-- JSON array of sizes; '' for objects uploaded in one piece.
ALTER TABLE versions ADD COLUMN part_sizes TEXT NOT NULL DEFAULT '';

-- x-amz-checksum-type of a multipart upload: COMPOSITE (default) or
-- FULL_OBJECT (a CRC over the whole object, as newer SDKs request).
ALTER TABLE uploads ADD COLUMN checksum_type TEXT NOT NULL DEFAULT '';
