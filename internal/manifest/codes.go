package manifest

// Codes are the AWS Custom Labels validation codes, spelt exactly as AWS
// reports them in validation manifests, the manifest summary and
// ListDatasetEntries. Messages follow the AWS developer guide
// ("Non-Terminal JSON Line Validation Errors", "Terminal manifest content
// errors", "Terminal errors"); where a message carries context (which
// attribute, which box) it extends AWS's text rather than replacing it.
const (
	// Per-line (non-terminal) errors.
	CodeMissingSourceRef                    = "ERROR_MISSING_SOURCE_REF"
	CodeInvalidSourceRefFormat              = "ERROR_INVALID_SOURCE_REF_FORMAT"
	CodeNoLabelAttributes                   = "ERROR_NO_LABEL_ATTRIBUTES"
	CodeInvalidLabelAttributeFormat         = "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"
	CodeInvalidLabelAttributeMetadataFormat = "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"
	CodeNoValidLabelAttributes              = "ERROR_NO_VALID_LABEL_ATTRIBUTES"
	CodeMissingBoundingBoxConfidence        = "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"
	CodeMissingClassMapID                   = "ERROR_MISSING_CLASS_MAP_ID"
	CodeInvalidBoundingBox                  = "ERROR_INVALID_BOUNDING_BOX"
	CodeBoundingBoxTooSmall                 = "ERROR_BOUNDING_BOX_TOO_SMALL"
	CodeTooManyBoundingBoxes                = "ERROR_TOO_MANY_BOUNDING_BOXES"
	CodeInvalidJSONLine                     = "ERROR_INVALID_JSON_LINE"
	CodeInvalidImage                        = "ERROR_INVALID_IMAGE"
	CodeInvalidImageDimension               = "ERROR_INVALID_IMAGE_DIMENSION"
	CodeNoValidAnnotations                  = "ERROR_NO_VALID_ANNOTATIONS"
	CodeUnsupportedUseCaseType              = "ERROR_UNSUPPORTED_USE_CASE_TYPE"
	CodeInvalidLabelNameLength              = "ERROR_INVALID_LABEL_NAME_LENGTH"

	// Per-line warnings: the line is valid but unused (ignored_json_lines).
	CodeWarnUnannotatedRecord      = "WARNING_UNANNOTATED_RECORD"
	CodeWarnNoAnnotations          = "WARNING_NO_ANNOTATIONS"
	CodeWarnNoAttributeAnnotations = "WARNING_NO_ATTRIBUTE_ANNOTATIONS"

	// Terminal file errors: the dataset fails and no entries are kept.
	CodeManifestInaccessibleOrUnsupportedFormat = "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"
	CodeEmptyManifest                           = "ERROR_EMPTY_MANIFEST"
	CodeManifestSizeTooLarge                    = "ERROR_MANIFEST_SIZE_TOO_LARGE"
	CodeManifestRowsExceedsMaximum              = "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM"
	CodeManifestTooManyLabels                   = "ERROR_MANIFEST_TOO_MANY_LABELS"

	// Terminal content errors (reported in the manifest summary).
	CodeTooManyInvalidRowsInManifest = "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"
	CodeImagesInMultipleS3Buckets    = "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS"
	CodeManifestTooFewLabels         = "ERROR_MANIFEST_TOO_FEW_LABELS"
)

// messages are AWS's own wording for each code.
var messages = map[string]string{
	CodeMissingSourceRef:                        "The source-ref key is missing.",
	CodeInvalidSourceRefFormat:                  "The format of the source-ref value is invalid.",
	CodeNoLabelAttributes:                       "No label attributes found.",
	CodeInvalidLabelAttributeFormat:             "The format of the label attribute {} is invalid.",
	CodeInvalidLabelAttributeMetadataFormat:     "The format of the label attribute metadata is invalid.",
	CodeNoValidLabelAttributes:                  "No valid label attributes found.",
	CodeMissingBoundingBoxConfidence:            "One or more bounding boxes has a missing confidence value.",
	CodeMissingClassMapID:                       "One of more class ids is missing from the class map.",
	CodeInvalidBoundingBox:                      "The bounding box has off frame values.",
	CodeBoundingBoxTooSmall:                     "The height and width of the bounding box is too small.",
	CodeTooManyBoundingBoxes:                    "There are more bounding boxes than the allowed maximum.",
	CodeInvalidJSONLine:                         "The JSON Line has an invalid format.",
	CodeInvalidImage:                            "The image is invalid. Check S3 path and/or image properties.",
	CodeInvalidImageDimension:                   "The image dimension(s) do not conform to allowed dimensions.",
	CodeUnsupportedUseCaseType:                  "The use case type of the label attribute metadata is unsupported. Check the type field.",
	CodeInvalidLabelNameLength:                  "The length of a label name is too long. The maximum length is 256 characters.",
	CodeNoValidAnnotations:                      "No valid annotations found.",
	CodeWarnUnannotatedRecord:                   "Record is unannotated.",
	CodeWarnNoAnnotations:                       "No annotations were found.",
	CodeWarnNoAttributeAnnotations:              "No attribute annotations were found.",
	CodeManifestInaccessibleOrUnsupportedFormat: "The manifest file extension or contents are invalid.",
	CodeEmptyManifest:                           "The manifest file is empty.",
	CodeManifestSizeTooLarge:                    "The manifest file size exceeds the maximum supported size.",
	CodeManifestRowsExceedsMaximum:              "The manifest file has too many rows.",
	CodeManifestTooManyLabels:                   "The manifest file has too many labels.",
	CodeTooManyInvalidRowsInManifest:            "The manifest file contains too many invalid rows.",
	CodeImagesInMultipleS3Buckets:               "The manifest file contains images from multiple S3 buckets.",
	CodeManifestTooFewLabels:                    "The manifest file has too few labels.",
}

// Message returns AWS's message for code, or "" for an unknown code.
func Message(code string) string { return messages[code] }
