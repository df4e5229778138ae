package manifest

import (
	"bytes"
	"path"
	"strings"
	"time"
)

// DefaultAttribute is the label attribute name of lines written by
// ClassificationLine unless the caller picks another.
const DefaultAttribute = "ocellus-classification"

// FolderLabel returns the label of an image in a folder-per-label layout,
// as the console's "automatically assign labels based on the folder"
// import does: the immediate parent folder. rel is the slash-separated
// path below the root; ok is false for files that are not JPEG/PNG by
// extension or that sit directly in the root (they have no folder).
func FolderLabel(rel string) (label string, ok bool) {
	rel = strings.Trim(rel, "/")
	switch strings.ToLower(path.Ext(rel)) {
	case ".jpg", ".jpeg", ".png":
	default:
		return "", false
	}
	dir := path.Dir(rel)
	if dir == "." || dir == "" {
		return "", false
	}
	label = path.Base(dir)
	if strings.HasPrefix(label, ".") {
		return "", false // .thumbnails and other hidden folders
	}
	return label, true
}

// ClassificationLine returns one Ground Truth image-classification line
// (no newline) for sourceRef with label, in the member order Ground Truth
// writes. attribute "" means DefaultAttribute.
func ClassificationLine(sourceRef, attribute, label string, created time.Time) []byte {
	if attribute == "" {
		attribute = DefaultAttribute
	}
	var b bytes.Buffer
	b.WriteString(`{"source-ref":`)
	writeString(&b, sourceRef)
	b.WriteByte(',')
	writeString(&b, attribute)
	b.WriteString(`:1,`)
	writeString(&b, attribute+"-metadata")
	b.WriteString(`:{"class-name":`)
	writeString(&b, label)
	b.WriteString(`,"confidence":1,"type":"groundtruth/image-classification","job-name":`)
	writeString(&b, "labeling-job/"+attribute)
	b.WriteString(`,"human-annotated":"yes","creation-date":`)
	writeString(&b, created.UTC().Format("2006-01-02T15:04:05.000000"))
	b.WriteString(`}}`)
	return b.Bytes()
}
