package s3

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxObjectSize is S3's single PUT limit; parts share it.
const maxObjectSize = 5 << 30

// maxKeyLen is S3's key length limit in bytes.
const maxKeyLen = 1024

// storedHeaders are request headers kept with an object and returned on GET.
var storedHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

// metaFromRequest collects user metadata (x-amz-meta-*) and the standard
// representation headers to store with an object. Metadata names are kept
// lower-case, as S3 stores and returns them (net/http canonicalises them on
// the way in).
func metaFromRequest(r *http.Request) map[string]string {
	m := map[string]string{}
	for k, vs := range r.Header {
		if strings.HasPrefix(k, "X-Amz-Meta-") && len(vs) > 0 {
			m[strings.ToLower(k)] = strings.Join(vs, ",")
		}
	}
	for _, h := range storedHeaders {
		v := strings.Join(r.Header.Values(h), ", ")
		if h == "Content-Encoding" {
			v = withoutAwsChunked(v)
		}
		if v != "" {
			m[h] = v
		}
	}
	return m
}

// withoutAwsChunked drops the aws-chunked coding, which describes this
// request's transfer, not the object; anything else is kept as sent.
func withoutAwsChunked(v string) string {
	parts := strings.Split(v, ",")
	keep := parts[:0]
	found := false
	for _, e := range parts {
		if strings.EqualFold(strings.TrimSpace(e), "aws-chunked") {
			found = true
			continue
		}
		keep = append(keep, e)
	}
	if !found {
		return v
	}
	return strings.TrimSpace(strings.Join(keep, ","))
}

// setMetaHeaders writes stored metadata as response headers; user metadata
// goes out lower-case (x-amz-meta-name), as S3 sends it, bypassing
// net/http's canonicalisation. Objects stored before names were kept
// lower-case are lower-cased here.
func setMetaHeaders(h http.Header, meta map[string]string) {
	for k, val := range meta {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-meta-") {
			h[lk] = []string{val}
			continue
		}
		h.Set(k, val)
	}
}

func contentType(r *http.Request) string {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		return ct
	}
	return "binary/octet-stream"
}

// checkKey applies S3's key rules: UTF-8 (listing relies on it), at most
// 1024 bytes.
func checkKey(k string) error {
	if len(k) > maxKeyLen {
		return errf("KeyTooLongError", "")
	}
	if !utf8.ValidString(k) {
		return errf("InvalidArgument", "Object keys must be valid UTF-8")
	}
	return nil
}

// received is an upload body made durable under data/ but not yet
// referenced by any row.
type received struct {
	size int64
	etag string
	sums map[string]string
	data string
}

// receive streams the request body to a temp file while computing its MD5
// and checksums, verifies everything the client declared, and only then
// makes the file durable. On any error nothing is left behind.
func (s *Server) receive(q *request, extraAlg string, enc *sseSpec) (*received, error) {
	d, err := newDigester(q.r, extraAlg)
	if err != nil {
		return nil, err
	}
	tmp, err := s.store.newTemp(enc)
	if err != nil {
		return nil, err
	}
	defer tmp.Discard()
	buf := make([]byte, 256<<10)
	n, err := io.CopyBuffer(io.MultiWriter(tmp, d), io.LimitReader(q.body, maxObjectSize+1), buf)
	if err != nil {
		if _, ok := asS3Error(err); ok {
			return nil, err
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errf("IncompleteBody", "")
		}
		return nil, err
	}
	if n > maxObjectSize {
		return nil, errf("EntityTooLarge", "")
	}
	var trailers map[string]string
	if q.trailers != nil {
		trailers = q.trailers()
	}
	etag, sums, err := d.finish(q.r, trailers)
	if err != nil {
		return nil, err
	}
	id, err := tmp.Commit()
	if err != nil {
		return nil, err
	}
	return &received{size: n, etag: etag, sums: sums, data: id}, nil
}

// setChecksumHeaders returns stored checksums as x-amz-checksum-* headers.
func setChecksumHeaders(h http.Header, sums map[string]string) {
	for alg, v := range sums {
		if alg == "type" {
			h.Set("X-Amz-Checksum-Type", v)
			continue
		}
		h.Set(checksumHeader(alg), v)
	}
}

func setVersionHeader(h http.Header, versionID string) {
	if versionID != "" && versionID != "null" {
		h.Set("X-Amz-Version-Id", versionID)
	}
}

// commitVersion records v as the newest version of its key, re-reading the
// bucket inside the transaction so a concurrent DeleteBucket cannot leave
// an orphan row, and checking cond (nil: unconditional) there. On failure
// it removes v's data file.
func (s *Server) commitVersion(q *request, v *versionRow, cond *writeCond) error {
	var replaced string
	err := s.store.inTx(q.ctx, func(tx *sql.Tx) error {
		b, err := getBucket(q.ctx, tx, q.bucket)
		if err != nil {
			return err
		}
		if b == nil {
			return errf("NoSuchBucket", "")
		}
		if b.Account != q.account {
			return errf("AccessDenied", "") // deleted and re-created by someone else meanwhile
		}
		if err := cond.check(q.ctx, tx, q.bucket, q.key); err != nil {
			return err
		}
		replaced, err = putVersion(q.ctx, tx, b, v)
		return err
	})
	if err != nil {
		s.store.removeData(v.Data)
		return err
	}
	s.store.removeData(replaced)
	return nil
}

func (s *Server) putObject(w http.ResponseWriter, q *request) error {
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	if err := checkKey(q.key); err != nil {
		return err
	}
	cond, err := writeCondition(q.r)
	if err != nil {
		return err
	}
	enc, err := s.sseFromRequest(q.r)
	if err != nil {
		return err
	}
	tags, err := tagsFromHeader(q.r.Header.Get("X-Amz-Tagging"))
	if err != nil {
		return err
	}
	rc, err := s.receive(q, "", enc)
	if err != nil {
		return err
	}
	v := &versionRow{Bucket: q.bucket, Key: q.key, Size: rc.size, ETag: rc.etag, ContentType: contentType(q.r),
		Meta: metaFromRequest(q.r), Checksums: rc.sums, Data: rc.data, Modified: s.now().UnixNano(), Owner: q.account,
		SSE: enc, Tags: tags}
	if err := s.commitVersion(q, v, cond); err != nil {
		return err
	}
	s.setSSEHeaders(w.Header(), v.SSE, v.Owner)
	w.Header().Set("ETag", v.ETag)
	setVersionHeader(w.Header(), v.VersionID)
	setChecksumHeaders(w.Header(), v.Checksums)
	w.WriteHeader(http.StatusOK)
	return nil
}

// lookupObject finds the version a GET/HEAD/copy names, mapping absence
// and delete markers to S3's errors.
func (s *Server) lookupObject(q *request, bucket, key, versionID string) (*versionRow, error) {
	v, err := getVersion(q.ctx, s.store.db, bucket, key, versionID)
	if err != nil {
		return nil, err
	}
	if v == nil {
		if versionID != "" {
			return nil, errf("NoSuchVersion", "")
		}
		return nil, errf("NoSuchKey", "")
	}
	if v.DeleteMarker {
		hdr := map[string]string{"X-Amz-Delete-Marker": "true", "X-Amz-Version-Id": v.VersionID}
		if versionID != "" {
			e := errf("MethodNotAllowed", "")
			e.Header = hdr
			hdr["Allow"] = "DELETE"
			return nil, e
		}
		e := errf("NoSuchKey", "")
		e.Header = hdr
		return nil, e
	}
	return v, nil
}

// checkConditions applies If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since with S3's precedence.
func checkConditions(r *http.Request, etag string, modified time.Time) error {
	modified = modified.Truncate(time.Second)
	im, inm := r.Header.Get("If-Match"), r.Header.Get("If-None-Match")
	if im != "" && !etagMatch(im, etag) {
		return errf("PreconditionFailed", "")
	}
	if im == "" {
		if t, err := http.ParseTime(r.Header.Get("If-Unmodified-Since")); err == nil && modified.After(t) {
			return errf("PreconditionFailed", "")
		}
	}
	if inm != "" && etagMatch(inm, etag) {
		return errf("NotModified", "")
	}
	if inm == "" {
		if t, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !modified.After(t) {
			return errf("NotModified", "")
		}
	}
	return nil
}

func etagMatch(list, etag string) bool {
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "*" || strings.Trim(e, `"`) == strings.Trim(etag, `"`) {
			return true
		}
	}
	return false
}

// parseRange parses a single-range "bytes=" header. ok is false for a
// header S3 ignores (absent or syntactically invalid); an unsatisfiable
// range returns InvalidRange.
func parseRange(h string, size int64) (start, length int64, ok bool, err error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, nil
	}
	invalid := func() (int64, int64, bool, error) {
		e := errf("InvalidRange", "")
		e.Header = map[string]string{"Content-Range": fmt.Sprintf("bytes */%d", size)}
		return 0, 0, false, e
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, nil
		}
		if n == 0 {
			return invalid()
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	s, err := strconv.ParseInt(a, 10, 64)
	if err != nil || s < 0 {
		return 0, 0, false, nil
	}
	end := size - 1
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < s {
			return 0, 0, false, nil
		}
		end = min(e, size-1)
	}
	if s >= size {
		return invalid()
	}
	return s, end - s + 1, true, nil
}

// responseOverrides are the GetObject query parameters that replace
// response headers (used by presigned download links).
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// getObject serves GetObject and HeadObject.
func (s *Server) getObject(w http.ResponseWriter, q *request) error {
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
	h := w.Header()
	mod := time.Unix(0, v.Modified)
	if err := checkConditions(q.r, v.ETag, mod); err != nil {
		if e, ok := err.(*Error); ok && e.Status == http.StatusNotModified {
			h.Set("ETag", v.ETag)
			h.Set("Last-Modified", httpTime(v.Modified))
		}
		return err
	}
	start, length, partial, err := parseRange(q.r.Header.Get("Range"), v.Size)
	if err != nil {
		return err
	}
	if pn := q.query.Get("partNumber"); pn != "" {
		if partial {
			return errf("InvalidRequest", "Cannot specify both Range header and partNumber query parameter")
		}
		if start, length, err = partRange(v, pn); err != nil {
			return err
		}
		partial = length > 0 // an empty object has no range to report
		h.Set("X-Amz-Mp-Parts-Count", strconv.Itoa(max(1, len(v.PartSizes))))
	}
	if !partial {
		start, length = 0, v.Size
	}
	h.Set("ETag", v.ETag)
	h.Set("Last-Modified", httpTime(v.Modified))
	h.Set("Content-Type", v.ContentType)
	h.Set("Accept-Ranges", "bytes")
	setVersionHeader(h, v.VersionID)
	setMetaHeaders(h, v.Meta)
	for p, hn := range responseOverrides {
		if val := q.query.Get(p); val != "" {
			h.Set(hn, val)
		}
	}
	if strings.EqualFold(q.r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") && !partial {
		setChecksumHeaders(h, v.Checksums)
	}
	if mp := multipartCount(v.ETag); mp > 0 {
		h.Set("X-Amz-Mp-Parts-Count", strconv.Itoa(mp))
	}
	s.setSSEHeaders(h, v.SSE, v.Owner)
	setTaggingCount(h, v.Tags)
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, v.Size))
		status = http.StatusPartialContent
	}
	if q.r.Method == http.MethodHead || length == 0 {
		w.WriteHeader(status)
		return nil
	}
	if err := s.checkReadable(v); err != nil {
		return err
	}
	f, err := s.store.section(v.Data, v.Size, start, length)
	if err != nil {
		return err
	}
	defer f.Close()
	w.WriteHeader(status)
	// Once the status is written, errors can only be logged: the client
	// sees a short body against Content-Length.
	if _, err := io.Copy(w, f); err != nil {
		s.log.Debug("s3 get: client went away", "request_id", q.id, "err", err)
	}
	return nil
}

// partRange locates part n of an object; an object uploaded in one piece
// has exactly one part.
func partRange(v *versionRow, pn string) (start, length int64, err error) {
	n, perr := strconv.Atoi(pn)
	if perr != nil || n < 1 || n > maxPartNumber {
		return 0, 0, errf("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
	}
	sizes := v.PartSizes
	if len(sizes) == 0 {
		sizes = []int64{v.Size}
	}
	if n > len(sizes) {
		return 0, 0, errf("InvalidPartNumber", "")
	}
	for _, sz := range sizes[:n-1] {
		start += sz
	}
	return start, sizes[n-1], nil
}

func multipartCount(etag string) int {
	_, n, ok := strings.Cut(strings.Trim(etag, `"`), "-")
	if !ok {
		return 0
	}
	c, _ := strconv.Atoi(n)
	return c
}

// deleteOne deletes key (or one version of it) in bucket b, following the
// bucket's versioning state, and reports what happened as DeleteObjects
// does.
func (s *Server) deleteOne(q *request, bucket, key, versionID string) (deletedXML, error) {
	res := deletedXML{Key: key, VersionID: versionID}
	var removed []string
	err := s.store.inTx(q.ctx, func(tx *sql.Tx) error {
		b, err := getBucket(q.ctx, tx, bucket)
		if err != nil {
			return err
		}
		if b == nil {
			return errf("NoSuchBucket", "")
		}
		if b.Account != q.account {
			return errf("AccessDenied", "") // deleted and re-created by someone else meanwhile
		}
		if versionID != "" {
			v, err := getVersion(q.ctx, tx, bucket, key, versionID)
			if err != nil || v == nil {
				return err // deleting a version that is not there succeeds
			}
			res.DeleteMarker = v.DeleteMarker
			if v.DeleteMarker {
				res.DeleteMarkerVersionID = v.VersionID
			}
			removed = append(removed, v.Data)
			return deleteVersionRow(q.ctx, tx, v)
		}
		if b.Versioning == "" {
			v, err := getVersion(q.ctx, tx, bucket, key, "")
			if err != nil || v == nil {
				return err
			}
			removed = append(removed, v.Data)
			return deleteVersionRow(q.ctx, tx, v)
		}
		dm := &versionRow{Bucket: bucket, Key: key, DeleteMarker: true, Modified: s.now().UnixNano(), Owner: q.account}
		replaced, err := putVersion(q.ctx, tx, b, dm)
		if err != nil {
			return err
		}
		removed = append(removed, replaced)
		res.DeleteMarker = true
		res.DeleteMarkerVersionID = dm.VersionID
		return nil
	})
	if err != nil {
		return res, err
	}
	s.store.removeData(removed...)
	return res, nil
}

func (s *Server) deleteObject(w http.ResponseWriter, q *request) error {
	if err := drain(q); err != nil {
		return err
	}
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	res, err := s.deleteOne(q, q.bucket, q.key, q.query.Get("versionId"))
	if err != nil {
		return err
	}
	if res.DeleteMarker {
		w.Header().Set("X-Amz-Delete-Marker", "true")
	}
	if res.VersionID != "" {
		w.Header().Set("X-Amz-Version-Id", res.VersionID)
	} else if res.DeleteMarkerVersionID != "" {
		w.Header().Set("X-Amz-Version-Id", res.DeleteMarkerVersionID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteObjects(w http.ResponseWriter, q *request) error {
	var req deleteRequest
	if err := readXML(q, &req, false); err != nil {
		return err
	}
	if len(req.Objects) == 0 || len(req.Objects) > 1000 {
		return errf("MalformedXML", "")
	}
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	res := deleteResult{Xmlns: xmlns}
	for _, o := range req.Objects {
		d, err := s.deleteOne(q, q.bucket, o.Key, o.VersionID)
		if err != nil {
			e, ok := asS3Error(err)
			if !ok {
				s.log.Error("s3 delete objects", "request_id", q.id, "key", o.Key, "err", err)
				e = errf("InternalError", "")
			}
			res.Errors = append(res.Errors, deleteErrorXML{Key: o.Key, VersionID: o.VersionID, Code: e.Code, Message: e.Message})
			continue
		}
		if !req.Quiet {
			res.Deleted = append(res.Deleted, d)
		}
	}
	return writeXML(w, http.StatusOK, res)
}

// copySource parses x-amz-copy-source: "[/]bucket/key[?versionId=v]",
// URL-encoded.
func copySource(h string) (bucket, key, versionID string, err error) {
	path, query, _ := strings.Cut(h, "?")
	if query != "" {
		vs, perr := url.ParseQuery(query)
		if perr != nil {
			return "", "", "", errf("InvalidArgument", "Invalid copy source version id")
		}
		versionID = vs.Get("versionId")
	}
	p, perr := url.PathUnescape(path)
	if perr != nil {
		return "", "", "", errf("InvalidArgument", "Invalid copy source encoding")
	}
	bucket, key, _ = strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if bucket == "" || key == "" {
		return "", "", "", errf("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	return bucket, key, versionID, nil
}

// openCopySource resolves x-amz-copy-source for the caller, who must own
// the source bucket, and applies the x-amz-copy-source-if-* conditions.
func (s *Server) openCopySource(q *request) (*versionRow, error) {
	sb, sk, sv, err := copySource(q.r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return nil, err
	}
	src, err := getBucket(q.ctx, s.store.db, sb)
	if err != nil {
		return nil, err
	}
	if src == nil {
		return nil, errf("NoSuchBucket", "")
	}
	if src.Account != q.account {
		return nil, errf("AccessDenied", "")
	}
	v, err := s.lookupObject(q, sb, sk, sv)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == "MethodNotAllowed" {
			return nil, errf("InvalidRequest", "The source of a copy request may not specifically refer to a delete marker by version id.")
		}
		return nil, err
	}
	hd := q.r.Header
	if m := hd.Get("X-Amz-Copy-Source-If-Match"); m != "" && !etagMatch(m, v.ETag) {
		return nil, errf("PreconditionFailed", "")
	}
	if m := hd.Get("X-Amz-Copy-Source-If-None-Match"); m != "" && etagMatch(m, v.ETag) {
		return nil, errf("PreconditionFailed", "")
	}
	return v, nil
}

// copyData streams length bytes of src at offset into a new data file,
// computing MD5 and the checksum algorithms requested.
func (s *Server) copyData(src *versionRow, offset, length int64, algs []string, enc *sseSpec) (*received, error) {
	if err := s.checkReadable(src); err != nil {
		return nil, err
	}
	d := newBareDigester(algs)
	tmp, err := s.store.newTemp(enc)
	if err != nil {
		return nil, err
	}
	defer tmp.Discard()
	if err := s.store.copyRange(io.MultiWriter(tmp, d), src.Data, src.Size, offset, length); err != nil {
		return nil, err
	}
	etag, sums, err := d.finish(&http.Request{Header: http.Header{}}, nil)
	if err != nil {
		return nil, err
	}
	id, err := tmp.Commit()
	if err != nil {
		return nil, err
	}
	return &received{size: d.n, etag: etag, sums: sums, data: id}, nil
}

// checksumAlgsOf lists the algorithms of stored checksums, so a copy keeps
// the same kinds of checksum as its source.
func checksumAlgsOf(sums map[string]string) []string {
	var out []string
	for k := range sums {
		if k != "type" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) copyObject(w http.ResponseWriter, q *request) error {
	if err := drain(q); err != nil {
		return err
	}
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	if err := checkKey(q.key); err != nil {
		return err
	}
	src, err := s.openCopySource(q)
	if err != nil {
		return err
	}
	directive := q.r.Header.Get("X-Amz-Metadata-Directive")
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return errf("InvalidArgument", "Unknown metadata directive.")
	}
	if src.Bucket == q.bucket && src.Key == q.key && directive != "REPLACE" && q.r.Header.Get("X-Amz-Checksum-Algorithm") == "" && q.r.Header.Get(hdrSSE) == "" {
		return errf("InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	algs := checksumAlgsOf(src.Checksums)
	if a := q.r.Header.Get("X-Amz-Checksum-Algorithm"); a != "" {
		if newChecksum(strings.ToUpper(a)) == nil {
			return errf("InvalidRequest", "Value for x-amz-checksum-algorithm header is invalid.")
		}
		algs = []string{strings.ToUpper(a)}
	}
	enc, err := s.copyEncryption(q.r, src)
	if err != nil {
		return err
	}
	tags, err := tagsForCopy(q.r, src.Tags)
	if err != nil {
		return err
	}
	rc, err := s.copyData(src, 0, src.Size, algs, enc)
	if err != nil {
		return err
	}
	v := &versionRow{Bucket: q.bucket, Key: q.key, Size: rc.size, ETag: rc.etag, ContentType: src.ContentType,
		Meta: src.Meta, Checksums: rc.sums, Data: rc.data, Modified: s.now().UnixNano(), Owner: q.account, SSE: enc, Tags: tags}
	if directive == "REPLACE" {
		v.ContentType, v.Meta = contentType(q.r), metaFromRequest(q.r)
	}
	if err := s.commitVersion(q, v, nil); err != nil {
		return err
	}
	setVersionHeader(w.Header(), v.VersionID)
	s.setSSEHeaders(w.Header(), v.SSE, v.Owner)
	if src.VersionID != "null" {
		w.Header().Set("X-Amz-Copy-Source-Version-Id", src.VersionID)
	}
	return writeXML(w, http.StatusOK, copyObjectResult{Xmlns: xmlns, LastModified: isoTime(v.Modified), ETag: v.ETag, checksumXML: checksumsToXML(v.Checksums)})
}
