// Package manifest reads SageMaker Ground Truth manifests (JSON Lines) the
// way Rekognition Custom Labels and Lookout for Vision do: image-level
// classification (one or many labels per image), object detection (class
// map, pixel boxes, image_size), and Lookout for Vision's normal/anomaly
// classification with optional anomaly masks.
//
// ParseLine checks one line and reports problems with AWS's own per-line
// codes (ERROR_INVALID_BOUNDING_BOX, WARNING_NO_ANNOTATIONS, ...), placed
// where AWS places them when it renders the line back (Entry.JSONLine).
// Validate streams a whole manifest: it parses line by line with a bounded
// buffer, probes images concurrently through an ImageProber while emitting
// entries in manifest order, and then applies the dataset-level rules
// (one bucket, label counts, the 20% invalid-lines rule) and terminal
// checks (empty, too large, too many lines). Nothing here touches S3: the
// server supplies a prober over its blob store; FSProber serves the CLI
// and tests.
//
// The rules follow the Custom Labels developer guide ("Validation rules
// for manifest files", "Non-Terminal JSON Line Validation Errors",
// "Terminal errors", "Guidelines and quotas"); comments cite the section
// where a rule is not obvious. Where AWS is lenient, so is this package:
// unknown members, any creation-date format, any integer label value,
// missing confidence and BACKGROUND in Lookout for Vision manifests.
package manifest
