package s3

import (
	"context"
	"database/sql"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// afterPrefix is an exclusive lower bound that skips every key starting
// with p: keys are UTF-8 (validated on write) and 0xFF never occurs in
// UTF-8, so p+"\xff" sorts after all of them under SQLite's BINARY order.
func afterPrefix(p string) string { return p + "\xff" }

// listEntry is one item of a listing: an object version or a common prefix.
type listEntry struct {
	v      *versionRow
	prefix string
}

// lister walks versions in key order, folding keys into common prefixes
// when a delimiter is set. It queries in batches and never holds a cursor
// across another query (the store has one connection).
type lister struct {
	db        *sql.DB
	bucket    string
	prefix    string
	delimiter string
	// all lists every version (newest first per key), not just the latest
	// non-deleted ones.
	all bool
}

// walk returns up to max entries after the exclusive cursor (key, id) and
// whether more entries exist. For latest-only listings id is ignored.
func (l *lister) walk(ctx context.Context, afterKey string, afterID int64, max int) ([]listEntry, bool, error) {
	var out []listEntry
	if max <= 0 {
		// S3 answers max-keys=0 with an empty, untruncated page.
		return nil, false, nil
	}
	cursorKey, cursorID := afterKey, afterID
	if cursorKey < l.prefix {
		// Jump straight to the prefix; "\x00"-free keys mean nothing sorts
		// between prefix-minus-epsilon and prefix.
		cursorKey, cursorID = l.prefix, 1<<62
		if !l.all {
			cursorKey = l.prefix
		}
	}
	first := true
	for {
		var rows *sql.Rows
		var err error
		const batch = 1000
		if l.all {
			rows, err = l.db.QueryContext(ctx, "SELECT "+versionCols+" FROM versions WHERE bucket = ? AND (key > ? OR (key = ? AND id < ?)) ORDER BY key, id DESC LIMIT ?",
				l.bucket, cursorKey, cursorKey, cursorID, batch)
		} else {
			op := ">"
			if first && cursorKey == l.prefix && afterKey < l.prefix {
				op = ">=" // the prefix itself may be a key
			}
			rows, err = l.db.QueryContext(ctx, "SELECT "+versionCols+" FROM versions WHERE bucket = ? AND latest = 1 AND delete_marker = 0 AND key "+op+" ? ORDER BY key LIMIT ?",
				l.bucket, cursorKey, batch)
		}
		first = false
		if err != nil {
			return nil, false, err
		}
		var vs []*versionRow
		for rows.Next() {
			v, err := scanVersion(rows)
			if err != nil {
				rows.Close()
				return nil, false, err
			}
			vs = append(vs, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, false, err
		}
		if len(vs) == 0 {
			return out, false, nil
		}
		jumped := false
		for _, v := range vs {
			if !strings.HasPrefix(v.Key, l.prefix) {
				if v.Key > l.prefix {
					return out, false, nil // past the contiguous prefix range
				}
				cursorKey, cursorID = v.Key, v.ID
				continue
			}
			e := listEntry{v: v}
			if l.delimiter != "" {
				if i := strings.Index(v.Key[len(l.prefix):], l.delimiter); i >= 0 {
					e = listEntry{prefix: v.Key[:len(l.prefix)+i+len(l.delimiter)]}
				}
			}
			if len(out) == max {
				return out, true, nil
			}
			out = append(out, e)
			if e.prefix != "" {
				cursorKey, cursorID = afterPrefix(e.prefix), 1<<62
				jumped = true
				break
			}
			cursorKey, cursorID = v.Key, v.ID
		}
		if !jumped && len(vs) < batch {
			return out, false, nil
		}
	}
}

// resumeAfter turns a v1 marker into the exclusive cursor to resume from:
// a marker that names a common prefix of this listing (not a key) must skip
// the whole prefix.
func (l *lister) resumeAfter(marker string) string {
	if l.delimiter != "" && strings.HasPrefix(marker, l.prefix) &&
		strings.HasSuffix(marker, l.delimiter) && strings.Contains(marker[len(l.prefix):], l.delimiter) {
		return afterPrefix(marker)
	}
	return marker
}

func maxKeys(q *request, name string) (int, error) {
	s := q.query.Get(name)
	if s == "" {
		return 1000, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errf("InvalidArgument", "Provided %s not an integer or within integer range", name)
	}
	return min(n, 1000), nil
}

func encodingType(q *request) (encoder, string, error) {
	switch et := q.query.Get("encoding-type"); et {
	case "":
		return false, "", nil
	case "url":
		return true, et, nil
	default:
		return false, "", errf("InvalidArgument", "Invalid Encoding Method specified in Request")
	}
}

func objectEntry(v *versionRow, enc encoder, withOwner bool) objectXML {
	o := objectXML{Key: enc.s(v.Key), LastModified: isoTime(v.Modified), ETag: v.ETag, Size: v.Size, StorageClass: "STANDARD",
		ChecksumAlgorithm: checksumAlgsOf(v.Checksums), ChecksumType: v.Checksums["type"]}
	if withOwner {
		o.Owner = &owner{ID: v.Owner, DisplayName: v.Owner}
	}
	return o
}

// startListing is the prologue of the three listings: the body drained,
// the bucket checked, max-keys and encoding-type read, and a lister over
// prefix and delimiter.
func (s *Server) startListing(q *request) (l *lister, max int, enc encoder, et string, err error) {
	if err = drain(q); err != nil {
		return
	}
	if _, err = s.bucketFor(q); err != nil {
		return
	}
	if max, err = maxKeys(q, "max-keys"); err != nil {
		return
	}
	if enc, et, err = encodingType(q); err != nil {
		return
	}
	l = &lister{db: s.store.db, bucket: q.bucket, prefix: q.query.Get("prefix"), delimiter: q.query.Get("delimiter")}
	return
}

func (s *Server) listObjectsV2(w http.ResponseWriter, q *request) error {
	l, max, enc, et, err := s.startListing(q)
	if err != nil {
		return err
	}
	token := q.query.Get("continuation-token")
	_, hasToken := q.query["continuation-token"]
	startAfter := q.query.Get("start-after")
	after := startAfter
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return errf("InvalidArgument", "The continuation token provided is incorrect")
		}
		after = string(b)
	}
	entries, truncated, err := l.walk(q.ctx, after, 0, max)
	if err != nil {
		return err
	}
	res := listBucketResultV2{Xmlns: xmlns, Name: q.bucket, Prefix: enc.s(l.prefix), Delimiter: enc.s(l.delimiter), MaxKeys: max,
		EncodingType: et, StartAfter: enc.s(startAfter), IsTruncated: truncated}
	if hasToken {
		// Echoed even when empty, as S3 does.
		res.ContinuationToken = &token
	}
	fetchOwner := q.query.Get("fetch-owner") == "true"
	for _, e := range entries {
		if e.prefix != "" {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: enc.s(e.prefix)})
		} else {
			res.Contents = append(res.Contents, objectEntry(e.v, enc, fetchOwner))
		}
	}
	res.KeyCount = len(entries)
	if truncated && len(entries) > 0 {
		// The token is the exclusive cursor itself, past a whole common
		// prefix when the page ended on one.
		last := entries[len(entries)-1]
		cursor := afterPrefix(last.prefix)
		if last.prefix == "" {
			cursor = last.v.Key
		}
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(cursor))
	}
	return writeXML(w, http.StatusOK, res)
}

func (s *Server) listObjectsV1(w http.ResponseWriter, q *request) error {
	l, max, enc, et, err := s.startListing(q)
	if err != nil {
		return err
	}
	marker := q.query.Get("marker")
	entries, truncated, err := l.walk(q.ctx, l.resumeAfter(marker), 0, max)
	if err != nil {
		return err
	}
	// S3 documents (and clients decode) Delimiter, Marker, NextMarker, Key
	// and CommonPrefixes as encoded in v1 listings, not Prefix.
	res := listBucketResultV1{Xmlns: xmlns, Name: q.bucket, Prefix: l.prefix, Marker: enc.s(marker), Delimiter: enc.s(l.delimiter),
		MaxKeys: max, EncodingType: et, IsTruncated: truncated}
	for _, e := range entries {
		if e.prefix != "" {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: enc.s(e.prefix)})
		} else {
			res.Contents = append(res.Contents, objectEntry(e.v, enc, true))
		}
	}
	if truncated && len(entries) > 0 {
		last := entries[len(entries)-1]
		if last.prefix != "" {
			res.NextMarker = enc.s(last.prefix)
		} else {
			res.NextMarker = enc.s(last.v.Key)
		}
	}
	return writeXML(w, http.StatusOK, res)
}

func (s *Server) listObjectVersions(w http.ResponseWriter, q *request) error {
	l, max, enc, et, err := s.startListing(q)
	if err != nil {
		return err
	}
	l.all = true
	km, vm := q.query.Get("key-marker"), q.query.Get("version-id-marker")
	afterKey, afterID := l.resumeAfter(km), int64(1<<62)
	if km != "" && vm != "" {
		if pos, ok := versionPosition(vm); ok {
			afterID = pos // a position: valid even if that version is gone
		} else {
			v, err := getVersion(q.ctx, s.store.db, q.bucket, km, vm)
			switch {
			case err != nil:
				return err
			case v != nil:
				afterID = v.ID
			case vm == "null":
				// The null version carries no position: resume at the
				// newest remaining version of the key.
			default:
				return errf("InvalidArgument", "Invalid version id specified")
			}
		}
	} else if km != "" {
		afterID = 0 // past every version of the marker key
	}
	entries, truncated, err := l.walk(q.ctx, afterKey, afterID, max)
	if err != nil {
		return err
	}
	res := listVersionsResult{Xmlns: xmlns, Name: q.bucket, Prefix: enc.s(l.prefix), KeyMarker: enc.s(km), VersionIDMarker: vm,
		Delimiter: enc.s(l.delimiter), MaxKeys: max, EncodingType: et, IsTruncated: truncated}
	for _, e := range entries {
		if e.prefix != "" {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: enc.s(e.prefix)})
			continue
		}
		v := e.v
		x := versionXML{Key: enc.s(v.Key), VersionID: v.VersionID, IsLatest: v.Latest, LastModified: isoTime(v.Modified),
			Owner: owner{ID: v.Owner, DisplayName: v.Owner}}
		if v.DeleteMarker {
			x.XMLName.Local = "DeleteMarker"
		} else {
			x.XMLName.Local = "Version"
			size := v.Size
			x.ETag, x.Size, x.StorageClass = v.ETag, &size, "STANDARD"
		}
		res.Entries = append(res.Entries, x)
	}
	if truncated && len(entries) > 0 {
		last := entries[len(entries)-1]
		if last.prefix != "" {
			res.NextKeyMarker = enc.s(last.prefix)
		} else {
			res.NextKeyMarker, res.NextVersionIDMarker = enc.s(last.v.Key), last.v.VersionID
		}
	}
	return writeXML(w, http.StatusOK, res)
}
