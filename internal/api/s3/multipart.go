package s3

import (
	"crypto/md5"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// minPartSize is S3's minimum size of every part but the last.
const minPartSize = 5 << 20

const maxPartNumber = 10000

type uploadRow struct {
	ID, Bucket, Key, ContentType, Algorithm, Owner string
	ChecksumType                                   string
	Meta                                           map[string]string
	Initiated                                      int64
	SSE                                            *sseSpec
	Tags                                           []tagXML
}

type partRow struct {
	Number    int
	Size      int64
	ETag      string
	Checksums map[string]string
	Data      string
	Modified  int64
}

func getUpload(q *request, tx querier, id string) (*uploadRow, error) {
	u := &uploadRow{}
	var meta, sse, sseKey, tags string
	err := tx.QueryRowContext(q.ctx, "SELECT id, bucket, key, content_type, algorithm, owner, meta, initiated, checksum_type, sse, sse_key, tags FROM uploads WHERE id = ?", id).
		Scan(&u.ID, &u.Bucket, &u.Key, &u.ContentType, &u.Algorithm, &u.Owner, &meta, &u.Initiated, &u.ChecksumType, &sse, &sseKey, &tags)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (u.Bucket != q.bucket || u.Key != q.key)) {
		return nil, errf("NoSuchUpload", "")
	}
	if err != nil {
		return nil, err
	}
	u.Meta = map[string]string{}
	jsonUnmarshal(meta, &u.Meta)
	u.SSE, u.Tags = sseOf(sse, sseKey), tagsFromJSON(tags)
	return u, nil
}

func listPartRows(q *request, tx querier, uploadID string, after, limit int) ([]partRow, error) {
	rows, err := tx.QueryContext(q.ctx, "SELECT number, size, etag, checksums, data, modified FROM parts WHERE upload_id = ? AND number > ? ORDER BY number LIMIT ?", uploadID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []partRow
	for rows.Next() {
		var p partRow
		var sums string
		if err := rows.Scan(&p.Number, &p.Size, &p.ETag, &sums, &p.Data, &p.Modified); err != nil {
			return nil, err
		}
		jsonUnmarshal(sums, &p.Checksums)
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *Server) createMultipartUpload(w http.ResponseWriter, q *request) error {
	if err := drain(q); err != nil {
		return err
	}
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	if err := checkKey(q.key); err != nil {
		return err
	}
	alg := strings.ToUpper(q.r.Header.Get("X-Amz-Checksum-Algorithm"))
	if alg != "" && newChecksum(alg) == nil {
		return errf("InvalidRequest", "Checksum algorithm provided is unsupported.")
	}
	ctype := strings.ToUpper(q.r.Header.Get("X-Amz-Checksum-Type"))
	switch {
	case ctype == "" && alg != "":
		ctype = "COMPOSITE"
		if alg == "CRC64NVME" {
			ctype = "FULL_OBJECT" // the only type S3 allows for CRC64NVME
		}
	case ctype == "":
	case ctype != "COMPOSITE" && ctype != "FULL_OBJECT", alg == "":
		return errf("InvalidRequest", "The x-amz-checksum-type header requires a valid x-amz-checksum-algorithm.")
	case ctype == "FULL_OBJECT" && strings.HasPrefix(alg, "SHA"):
		return errf("InvalidRequest", "The FULL_OBJECT checksum type cannot be used with the %s checksum algorithm.", strings.ToLower(alg))
	}
	enc, err := s.sseFromRequest(q.r)
	if err != nil {
		return err
	}
	tags, err := tagsFromHeader(q.r.Header.Get("X-Amz-Tagging"))
	if err != nil {
		return err
	}
	id := randomHex(24)
	_, err = s.store.db.ExecContext(q.ctx, "INSERT INTO uploads (id, bucket, key, initiated, content_type, meta, algorithm, owner, checksum_type, sse, sse_key, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		id, q.bucket, q.key, s.now().UnixNano(), contentType(q.r), jsonString(metaFromRequest(q.r)), alg, q.account, ctype, enc.alg(), enc.key(), tagsJSON(tags))
	if err != nil {
		return err
	}
	s.setSSEHeaders(w.Header(), enc, q.account)
	if alg != "" {
		w.Header().Set("X-Amz-Checksum-Algorithm", alg)
		w.Header().Set("X-Amz-Checksum-Type", ctype)
	}
	return writeXML(w, http.StatusOK, initiateMultipartUploadResult{Xmlns: xmlns, Bucket: q.bucket, Key: q.key, UploadID: id})
}

func partNumber(q *request) (int, error) {
	n, err := strconv.Atoi(q.query.Get("partNumber"))
	if err != nil || n < 1 || n > maxPartNumber {
		return 0, errf("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
	}
	return n, nil
}

// savePart records a part, replacing an earlier upload of the same number.
func (s *Server) savePart(q *request, uploadID string, n int, rc *received) error {
	var replaced string
	err := s.store.inTx(q.ctx, func(tx *sql.Tx) error {
		if _, err := getUpload(q, tx, uploadID); err != nil {
			return err
		}
		err := tx.QueryRowContext(q.ctx, "SELECT data FROM parts WHERE upload_id = ? AND number = ?", uploadID, n).Scan(&replaced)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(q.ctx, "INSERT OR REPLACE INTO parts (upload_id, number, size, etag, checksums, data, modified) VALUES (?, ?, ?, ?, ?, ?, ?)",
			uploadID, n, rc.size, rc.etag, jsonString(rc.sums), rc.data, s.now().UnixNano())
		return err
	})
	if err != nil {
		s.store.removeData(rc.data)
		return err
	}
	s.store.removeData(replaced)
	return nil
}

func (s *Server) uploadPart(w http.ResponseWriter, q *request) error {
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	n, err := partNumber(q)
	if err != nil {
		return err
	}
	uploadID := q.query.Get("uploadId")
	u, err := getUpload(q, s.store.db, uploadID)
	if err != nil {
		return err
	}
	rc, err := s.receive(q, u.Algorithm, u.SSE)
	if err != nil {
		return err
	}
	if err := s.savePart(q, uploadID, n, rc); err != nil {
		return err
	}
	s.setSSEHeaders(w.Header(), u.SSE, u.Owner)
	w.Header().Set("ETag", rc.etag)
	delete(rc.sums, "type")
	setChecksumHeaders(w.Header(), rc.sums)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) uploadPartCopy(w http.ResponseWriter, q *request) error {
	if err := drain(q); err != nil {
		return err
	}
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	n, err := partNumber(q)
	if err != nil {
		return err
	}
	uploadID := q.query.Get("uploadId")
	u, err := getUpload(q, s.store.db, uploadID)
	if err != nil {
		return err
	}
	src, err := s.openCopySource(q)
	if err != nil {
		return err
	}
	start, length := int64(0), src.Size
	if h := q.r.Header.Get("X-Amz-Copy-Source-Range"); h != "" {
		a, b, ok := strings.Cut(strings.TrimPrefix(h, "bytes="), "-")
		first, err1 := strconv.ParseInt(a, 10, 64)
		last, err2 := strconv.ParseInt(b, 10, 64)
		if !strings.HasPrefix(h, "bytes=") || !ok || err1 != nil || err2 != nil || first < 0 || first > last {
			return errf("InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
		}
		if last >= src.Size {
			return errf("InvalidRange", "The requested range is not satisfiable")
		}
		start, length = first, last-first+1
	}
	var algs []string
	if u.Algorithm != "" {
		algs = []string{u.Algorithm}
	}
	rc, err := s.copyData(src, start, length, algs, u.SSE)
	if err != nil {
		return err
	}
	if err := s.savePart(q, uploadID, n, rc); err != nil {
		return err
	}
	if src.VersionID != "null" {
		w.Header().Set("X-Amz-Copy-Source-Version-Id", src.VersionID)
	}
	s.setSSEHeaders(w.Header(), u.SSE, u.Owner)
	delete(rc.sums, "type")
	return writeXML(w, http.StatusOK, copyPartResult{Xmlns: xmlns, LastModified: isoTime(s.now().UnixNano()), ETag: rc.etag, checksumXML: checksumsToXML(rc.sums)})
}

// parseCompleteMultipart decodes and checks the CompleteMultipartUpload
// body: at least one part, ascending part numbers.
func parseCompleteMultipart(b []byte) (*completeMultipartUpload, error) {
	var c completeMultipartUpload
	if err := xmlUnmarshal(b, &c); err != nil {
		return nil, errf("MalformedXML", "")
	}
	if len(c.Parts) == 0 {
		return nil, errf("MalformedXML", "You must specify at least one part")
	}
	for i, p := range c.Parts {
		if p.PartNumber < 1 || p.PartNumber > maxPartNumber {
			return nil, errf("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
		}
		if i > 0 && p.PartNumber <= c.Parts[i-1].PartNumber {
			return nil, errf("InvalidPartOrder", "")
		}
	}
	return &c, nil
}

func normETag(e string) string { return strings.Trim(strings.TrimSpace(e), `"`) }

func (s *Server) completeMultipartUpload(w http.ResponseWriter, q *request) error {
	// The x-amz-checksum-* headers of this request describe the object
	// being completed, not the XML body: read it unchecked.
	body, err := readBodyRaw(q)
	if err != nil {
		return err
	}
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	req, err := parseCompleteMultipart(body)
	if err != nil {
		return err
	}
	cond, err := writeCondition(q.r)
	if err != nil {
		return err
	}
	uploadID := q.query.Get("uploadId")
	u, err := getUpload(q, s.store.db, uploadID)
	if err != nil {
		if done, derr := s.completedResult(w, q, uploadID); derr != nil || done {
			return derr
		}
		return err
	}
	all, err := listPartRows(q, s.store.db, uploadID, 0, maxPartNumber)
	if err != nil {
		return err
	}
	byNum := map[int]partRow{}
	for _, p := range all {
		byNum[p.Number] = p
	}
	parts := make([]partRow, len(req.Parts))
	for i, rp := range req.Parts {
		p, ok := byNum[rp.PartNumber]
		if !ok || normETag(rp.ETag) != normETag(p.ETag) {
			return errf("InvalidPart", "")
		}
		if u.Algorithm != "" {
			if c := rp.get(u.Algorithm); c != "" && c != p.Checksums[u.Algorithm] {
				return errf("InvalidPart", "The %s checksum of part %d does not match the uploaded part.", u.Algorithm, rp.PartNumber)
			}
		}
		if i < len(req.Parts)-1 && p.Size < minPartSize {
			return errf("EntityTooSmall", "")
		}
		parts[i] = p
	}
	// Concatenate the parts into one immutable data file. The ETag is the
	// MD5 of the binary part MD5s, suffixed with the part count.
	tmp, err := s.store.newTemp(u.SSE)
	if err != nil {
		return err
	}
	defer tmp.Discard()
	etagHash := md5.New()
	var size int64
	var partSums []string
	var sizes []int64
	// A full-object checksum is computed while concatenating: the data
	// passes through anyway, so no CRC-combination maths is needed.
	writers := []io.Writer{tmp}
	full := newChecksum(u.Algorithm)
	if full != nil && u.ChecksumType == "FULL_OBJECT" {
		writers = append(writers, full)
	}
	// Full-object checksums the request declares in other algorithms than
	// the upload's own are verified too.
	declared := map[string]string{}
	extra := map[string]hash.Hash{}
	for _, alg := range checksumAlgs {
		if v := strings.TrimSpace(q.r.Header.Get(checksumHeader(alg))); v != "" {
			declared[alg] = v
			if alg != u.Algorithm {
				extra[alg] = newChecksum(alg)
				writers = append(writers, extra[alg])
			}
		}
	}
	w2 := io.MultiWriter(writers...)
	for _, p := range parts {
		raw, err := hex.DecodeString(normETag(p.ETag))
		if err != nil {
			return fmt.Errorf("part %d has a malformed stored etag: %w", p.Number, err)
		}
		etagHash.Write(raw)
		if err := s.store.copyRange(w2, p.Data, p.Size, 0, p.Size); err != nil {
			return err
		}
		size += p.Size
		sizes = append(sizes, p.Size)
		partSums = append(partSums, p.Checksums[u.Algorithm])
	}
	sums := map[string]string{}
	if u.Algorithm != "" {
		if u.ChecksumType == "FULL_OBJECT" {
			sums[u.Algorithm] = base64.StdEncoding.EncodeToString(full.Sum(nil))
			sums["type"] = "FULL_OBJECT"
		} else if c, ok := compositeChecksum(u.Algorithm, partSums); ok {
			sums[u.Algorithm] = c
			sums["type"] = "COMPOSITE"
		}
	}
	for alg, want := range declared {
		got := sums[alg]
		if h := extra[alg]; h != nil {
			got = base64.StdEncoding.EncodeToString(h.Sum(nil))
		} else if sums["type"] == "COMPOSITE" && !strings.Contains(want, "-") {
			got, _, _ = strings.Cut(got, "-") // the composite value without its part count
		}
		if want != got {
			return errf("BadDigest", "The %s you specified did not match the calculated checksum.", alg)
		}
	}
	data, err := tmp.Commit()
	if err != nil {
		return err
	}
	v := &versionRow{Bucket: q.bucket, Key: q.key, Size: size, ETag: fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(etagHash.Sum(nil)), len(parts)),
		ContentType: u.ContentType, Meta: u.Meta, Checksums: sums, Data: data, Modified: s.now().UnixNano(), Owner: q.account, PartSizes: sizes,
		SSE: u.SSE, Tags: u.Tags}
	var replaced string
	err = s.store.inTx(q.ctx, func(tx *sql.Tx) error {
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
		// The upload may have been completed or aborted meanwhile.
		if _, err := getUpload(q, tx, uploadID); err != nil {
			return err
		}
		if err := cond.check(q.ctx, tx, q.bucket, q.key); err != nil {
			return err
		}
		if replaced, err = putVersion(q.ctx, tx, b, v); err != nil {
			return err
		}
		now := s.now().UnixNano()
		if _, err := tx.ExecContext(q.ctx, "DELETE FROM completed_uploads WHERE completed < ?", now-int64(completedRetention)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(q.ctx, "INSERT INTO completed_uploads (id, bucket, key, etag, version_id, checksums, completed) VALUES (?, ?, ?, ?, ?, ?, ?)",
			uploadID, q.bucket, q.key, v.ETag, v.VersionID, jsonString(sums), now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(q.ctx, "DELETE FROM parts WHERE upload_id = ?", uploadID); err != nil {
			return err
		}
		_, err = tx.ExecContext(q.ctx, "DELETE FROM uploads WHERE id = ?", uploadID)
		return err
	})
	if err != nil {
		s.store.removeData(data)
		return err
	}
	s.store.removeData(replaced)
	for _, p := range all {
		s.store.removeData(p.Data)
	}
	s.setSSEHeaders(w.Header(), v.SSE, v.Owner)
	return writeCompleteResult(w, q, v.ETag, v.VersionID, sums)
}

func writeCompleteResult(w http.ResponseWriter, q *request, etag, versionID string, sums map[string]string) error {
	setVersionHeader(w.Header(), versionID)
	return writeXML(w, http.StatusOK, completeMultipartUploadResult{Xmlns: xmlns, Location: "/" + q.bucket + "/" + q.key,
		Bucket: q.bucket, Key: q.key, ETag: etag, checksumXML: checksumsToXML(sums)})
}

// completedRetention is how long a completed upload's result is kept for
// repeated CompleteMultipartUpload requests.
const completedRetention = 24 * time.Hour

// completedResult answers a CompleteMultipartUpload repeated on an upload
// that was already completed: S3 answers 200 with the same result. done is
// false when uploadID was not completed here (recently).
func (s *Server) completedResult(w http.ResponseWriter, q *request, uploadID string) (done bool, err error) {
	var etag, versionID, sums string
	err = s.store.db.QueryRowContext(q.ctx, "SELECT etag, version_id, checksums FROM completed_uploads WHERE id = ? AND bucket = ? AND key = ? AND completed >= ?",
		uploadID, q.bucket, q.key, s.now().UnixNano()-int64(completedRetention)).Scan(&etag, &versionID, &sums)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	m := map[string]string{}
	jsonUnmarshal(sums, &m)
	return true, writeCompleteResult(w, q, etag, versionID, m)
}

func (s *Server) abortMultipartUpload(w http.ResponseWriter, q *request) error {
	if err := drain(q); err != nil {
		return err
	}
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	uploadID := q.query.Get("uploadId")
	var files []string
	err := s.store.inTx(q.ctx, func(tx *sql.Tx) error {
		if _, err := getUpload(q, tx, uploadID); err != nil {
			return err
		}
		ps, err := listPartRows(q, tx, uploadID, 0, maxPartNumber)
		if err != nil {
			return err
		}
		for _, p := range ps {
			files = append(files, p.Data)
		}
		if _, err := tx.ExecContext(q.ctx, "DELETE FROM parts WHERE upload_id = ?", uploadID); err != nil {
			return err
		}
		_, err = tx.ExecContext(q.ctx, "DELETE FROM uploads WHERE id = ?", uploadID)
		return err
	})
	if err != nil {
		return err
	}
	s.store.removeData(files...)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listParts(w http.ResponseWriter, q *request) error {
	if err := drain(q); err != nil {
		return err
	}
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	uploadID := q.query.Get("uploadId")
	u, err := getUpload(q, s.store.db, uploadID)
	if err != nil {
		return err
	}
	max, err := maxKeys(q, "max-parts")
	if err != nil {
		return err
	}
	marker := 0
	if m := q.query.Get("part-number-marker"); m != "" {
		if marker, err = strconv.Atoi(m); err != nil {
			return errf("InvalidArgument", "Invalid part-number-marker")
		}
	}
	ps, err := listPartRows(q, s.store.db, uploadID, marker, max+1)
	if err != nil {
		return err
	}
	res := listPartsResult{Xmlns: xmlns, Bucket: q.bucket, Key: q.key, UploadID: uploadID, Initiator: owner{u.Owner, u.Owner},
		Owner: owner{u.Owner, u.Owner}, StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: max, ChecksumAlgorithm: u.Algorithm}
	if len(ps) > max {
		ps, res.IsTruncated = ps[:max], true
	}
	for _, p := range ps {
		delete(p.Checksums, "type")
		res.Parts = append(res.Parts, partXML{PartNumber: p.Number, LastModified: isoTime(p.Modified), ETag: p.ETag, Size: p.Size, checksumXML: checksumsToXML(p.Checksums)})
		res.NextPartNumberMarker = p.Number
	}
	return writeXML(w, http.StatusOK, res)
}

func (s *Server) listMultipartUploads(w http.ResponseWriter, q *request) error {
	if err := drain(q); err != nil {
		return err
	}
	if _, err := s.bucketFor(q); err != nil {
		return err
	}
	max, err := maxKeys(q, "max-uploads")
	if err != nil {
		return err
	}
	prefix, km, um := q.query.Get("prefix"), q.query.Get("key-marker"), q.query.Get("upload-id-marker")
	rows, err := s.store.db.QueryContext(q.ctx, "SELECT id, key, initiated, algorithm, owner FROM uploads WHERE bucket = ? AND key >= ? ORDER BY key, initiated, id", q.bucket, km)
	if err != nil {
		return err
	}
	type up struct {
		id, key, alg, owner string
		initiated           int64
	}
	var ups []up
	for rows.Next() {
		var u up
		if err := rows.Scan(&u.id, &u.key, &u.initiated, &u.alg, &u.owner); err != nil {
			rows.Close()
			return err
		}
		ups = append(ups, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	delim := q.query.Get("delimiter")
	res := listMultipartUploadsResult{Xmlns: xmlns, Bucket: q.bucket, KeyMarker: km, UploadIDMarker: um, Prefix: prefix, Delimiter: delim, MaxUploads: max}
	// Skip what the markers say was already listed: keys before key-marker
	// are excluded by SQL; within key-marker, uploads up to upload-id-marker.
	seen := false
	for _, u := range ups {
		if !strings.HasPrefix(u.key, prefix) {
			continue
		}
		if delim != "" && strings.HasSuffix(km, delim) && strings.HasPrefix(u.key, km) {
			continue // the previous page ended on this common prefix
		}
		if km != "" && u.key == km {
			if um == "" {
				continue
			}
			if !seen {
				seen = u.id == um
				continue
			}
		}
		if delim != "" {
			if i := strings.Index(u.key[len(prefix):], delim); i >= 0 {
				cp := u.key[:len(prefix)+i+len(delim)]
				if n := len(res.CommonPrefixes); n > 0 && res.CommonPrefixes[n-1].Prefix == cp {
					continue
				}
				if len(res.Uploads)+len(res.CommonPrefixes) == max {
					res.IsTruncated = true
					break
				}
				res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: cp})
				res.NextKeyMarker, res.NextUploadIDMarker = cp, ""
				continue
			}
		}
		if len(res.Uploads)+len(res.CommonPrefixes) == max {
			res.IsTruncated = true
			break
		}
		res.Uploads = append(res.Uploads, uploadXML{Key: u.key, UploadID: u.id, Initiator: owner{u.owner, u.owner}, Owner: owner{u.owner, u.owner},
			StorageClass: "STANDARD", Initiated: isoTime(u.initiated), ChecksumAlgorithm: u.alg})
		res.NextKeyMarker, res.NextUploadIDMarker = u.key, u.id
	}
	return writeXML(w, http.StatusOK, res)
}

// readBody reads a small XML request body in full, verifying it.
func readBody(q *request) ([]byte, error) {
	b, err := readBodyRaw(q)
	if err != nil {
		return nil, err
	}
	return b, checkSmallBody(q, b)
}

// readBodyRaw reads a small request body in full; the signed SHA-256 is
// still checked by q.body, the checksum headers are not.
func readBodyRaw(q *request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(q.body, maxXMLBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxXMLBody {
		return nil, errf("MalformedXML", "The XML you provided was too large.")
	}
	return b, nil
}
