package s3

import (
	"database/sql"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Object tagging: Put/Get/DeleteObjectTagging (?tagging, per version),
// x-amz-tagging on PutObject, CreateMultipartUpload and CopyObject (with
// x-amz-tagging-directive), and x-amz-tagging-count on GET/HEAD. Tags live
// in the version row; S3's limits apply: at most 10 tags per object, keys
// of 1-128 and values of 0-256 Unicode characters, unique keys, no aws:
// prefix.

const (
	maxObjectTags = 10
	maxTagKey     = 128
	maxTagValue   = 256
)

type tagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	TagSet  []tagXML `xml:"TagSet>Tag"`
}

func tagsJSON(t []tagXML) string {
	if len(t) == 0 {
		return ""
	}
	b, _ := json.Marshal(t)
	return string(b)
}

func tagsFromJSON(s string) []tagXML {
	if s == "" {
		return nil
	}
	var t []tagXML
	json.Unmarshal([]byte(s), &t)
	return t
}

// tagChar is the character set S3 allows in tag keys and values: letters,
// digits and spaces representable in UTF-8, and + - = . _ : / @.
func tagChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsSpace(r) || strings.ContainsRune("+-=._:/@", r)
}

func validTagString(s string) bool {
	for _, r := range s {
		if !tagChar(r) {
			return false
		}
	}
	return true
}

// checkTags applies S3's tag rules.
func checkTags(tags []tagXML) error {
	if len(tags) > maxObjectTags {
		return errf("BadRequest", "Object tags cannot be greater than %d", maxObjectTags)
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if n := utf8.RuneCountInString(t.Key); n < 1 || n > maxTagKey || !utf8.ValidString(t.Key) || !validTagString(t.Key) {
			return errf("InvalidTag", "The TagKey you have provided is invalid")
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return errf("InvalidTag", "Your TagKey cannot be prefixed with aws:")
		}
		if n := utf8.RuneCountInString(t.Value); n > maxTagValue || !utf8.ValidString(t.Value) || !validTagString(t.Value) {
			return errf("InvalidTag", "The TagValue you have provided is invalid")
		}
		if seen[t.Key] {
			return errf("InvalidTag", "Cannot provide multiple Tags with the same key")
		}
		seen[t.Key] = true
	}
	return nil
}

// tagsFromHeader parses x-amz-tagging: URL query encoded key=value pairs.
func tagsFromHeader(h string) ([]tagXML, error) {
	if h == "" {
		return nil, nil
	}
	var tags []tagXML
	for _, kv := range strings.Split(h, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, errf("InvalidArgument", "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
		}
		tags = append(tags, tagXML{Key: key, Value: val})
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	return tags, nil
}

// tagsForCopy is the destination's tags: the source's (COPY, the
// default) or x-amz-tagging (REPLACE).
func tagsForCopy(r *http.Request, src []tagXML) ([]tagXML, error) {
	switch d := r.Header.Get("X-Amz-Tagging-Directive"); d {
	case "", "COPY":
		return src, nil
	case "REPLACE":
		return tagsFromHeader(r.Header.Get("X-Amz-Tagging"))
	default:
		return nil, errf("InvalidArgument", "Unknown tagging directive.")
	}
}

func setTaggingCount(h http.Header, tags []tagXML) {
	if len(tags) > 0 {
		h.Set("X-Amz-Tagging-Count", strconv.Itoa(len(tags)))
	}
}

func (s *Server) getObjectTagging(w http.ResponseWriter, q *request) error {
	if err := drain(q); err != nil {
		return err
	}
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	v, err := s.lookupObject(q, q.bucket, q.key, q.query.Get("versionId"))
	if err != nil {
		return err
	}
	setVersionHeader(w.Header(), v.VersionID)
	return writeXML(w, http.StatusOK, tagging{Xmlns: xmlns, TagSet: v.Tags})
}

// setTags replaces the tags of the version a request names.
func (s *Server) setTags(q *request, tags []tagXML) (*versionRow, error) {
	var v *versionRow
	err := s.store.inTx(q.ctx, func(tx *sql.Tx) error {
		var err error
		if v, err = getVersion(q.ctx, tx, q.bucket, q.key, q.query.Get("versionId")); err != nil {
			return err
		}
		if v == nil || v.DeleteMarker {
			// lookupObject outside the transaction gives S3's exact errors.
			return nil
		}
		_, err = tx.ExecContext(q.ctx, "UPDATE versions SET tags = ? WHERE id = ?", tagsJSON(tags), v.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if v == nil || v.DeleteMarker {
		return s.lookupObject(q, q.bucket, q.key, q.query.Get("versionId"))
	}
	return v, nil
}

func (s *Server) putObjectTagging(w http.ResponseWriter, q *request) error {
	var t tagging
	if err := readXML(q, &t, false); err != nil {
		return err
	}
	if err := checkTags(t.TagSet); err != nil {
		return err
	}
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	v, err := s.setTags(q, t.TagSet)
	if err != nil {
		return err
	}
	setVersionHeader(w.Header(), v.VersionID)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteObjectTagging(w http.ResponseWriter, q *request) error {
	if err := drain(q); err != nil {
		return err
	}
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	v, err := s.setTags(q, nil)
	if err != nil {
		return err
	}
	setVersionHeader(w.Header(), v.VersionID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
