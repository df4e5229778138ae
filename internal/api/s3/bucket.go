package s3

import (
	"database/sql"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// validBucketName applies the S3 general-purpose bucket naming rules.
func validBucketName(n string) bool {
	if len(n) < 3 || len(n) > 63 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	first, last := n[0], n[len(n)-1]
	if first == '.' || first == '-' || last == '.' || last == '-' {
		return false
	}
	if strings.Contains(n, "..") || strings.Contains(n, ".-") || strings.Contains(n, "-.") {
		return false
	}
	if strings.HasPrefix(n, "xn--") || strings.HasPrefix(n, "sthree-") ||
		strings.HasSuffix(n, "-s3alias") || strings.HasSuffix(n, "--ol-s3") {
		return false
	}
	// Not an IP address: four dot-separated all-digit labels.
	parts := strings.Split(n, ".")
	if len(parts) == 4 {
		ip := true
		for _, p := range parts {
			if p == "" || strings.Trim(p, "0123456789") != "" {
				ip = false
			}
		}
		if ip {
			return false
		}
	}
	return true
}

// maxBuckets is ListBuckets' page size limit (max-buckets).
const maxBuckets = 10000

func (s *Server) listBuckets(w http.ResponseWriter, q *request) error {
	if err := drain(q); err != nil {
		return err
	}
	limit := maxBuckets
	if v, ok := q.query["max-buckets"]; ok {
		n, err := strconv.Atoi(strings.Join(v, ""))
		if err != nil || n < 1 || n > maxBuckets {
			return errf("InvalidArgument", "Argument max-buckets must be an integer between 1 and 10000")
		}
		limit = n
	}
	prefix := q.query.Get("prefix")
	after := ""
	if tok := q.query.Get("continuation-token"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) == 0 {
			return errf("InvalidArgument", "The continuation token provided is incorrect")
		}
		after = string(b)
	}
	rows, err := s.store.db.QueryContext(q.ctx, "SELECT name, created, region FROM buckets WHERE account = ? AND name > ? AND substr(name, 1, ?) = ? ORDER BY name LIMIT ?",
		q.account, after, len(prefix), prefix, limit+1)
	if err != nil {
		return err
	}
	defer rows.Close()
	res := listAllMyBucketsResult{Xmlns: xmlns, Owner: owner{ID: q.account, DisplayName: q.account}, Prefix: prefix}
	for rows.Next() {
		var name, region string
		var created int64
		if err := rows.Scan(&name, &created, &region); err != nil {
			return err
		}
		if len(res.Buckets) == limit {
			res.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.Buckets[limit-1].Name))
			break
		}
		res.Buckets = append(res.Buckets, bucketXML{Name: name, CreationDate: isoTime(created), BucketRegion: region})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return writeXML(w, http.StatusOK, res)
}

func (s *Server) createBucket(w http.ResponseWriter, q *request) error {
	var cfg createBucketConfiguration
	if err := readXML(q, &cfg, true); err != nil {
		return err
	}
	if !validBucketName(q.bucket) {
		return errf("InvalidBucketName", "")
	}
	region := s.cfg.Region
	if cfg.LocationConstraint != "" {
		region = cfg.LocationConstraint
	}
	err := s.store.inTx(q.ctx, func(tx *sql.Tx) error {
		b, err := getBucket(q.ctx, tx, q.bucket)
		if err != nil {
			return err
		}
		if b != nil {
			if b.Account == q.account {
				if b.Region == "us-east-1" && region == "us-east-1" {
					// AWS's legacy us-east-1 behaviour: re-creating your
					// own bucket there succeeds and changes nothing.
					return nil
				}
				return errf("BucketAlreadyOwnedByYou", "")
			}
			return errf("BucketAlreadyExists", "")
		}
		_, err = tx.ExecContext(q.ctx, "INSERT INTO buckets (name, account, region, created) VALUES (?, ?, ?, ?)",
			q.bucket, q.account, region, s.now().UnixNano())
		return err
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/"+q.bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) headBucket(w http.ResponseWriter, q *request) error {
	b, err := s.bucketFor(q)
	if err != nil {
		return err
	}
	w.Header().Set("X-Amz-Bucket-Region", b.Region)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucket(w http.ResponseWriter, q *request) error {
	if err := drain(q); err != nil {
		return err
	}
	var partFiles []string
	err := s.store.inTx(q.ctx, func(tx *sql.Tx) error {
		b, err := getBucket(q.ctx, tx, q.bucket)
		if err != nil {
			return err
		}
		if b == nil {
			return errf("NoSuchBucket", "")
		}
		if b.Account != q.account {
			return errf("AccessDenied", "")
		}
		var n int
		if err := tx.QueryRowContext(q.ctx, "SELECT count(*) FROM versions WHERE bucket = ?", q.bucket).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errf("BucketNotEmpty", "")
		}
		// Unfinished multipart uploads do not keep a bucket alive; they go
		// with it.
		rows, err := tx.QueryContext(q.ctx, "SELECT p.data FROM parts p JOIN uploads u ON u.id = p.upload_id WHERE u.bucket = ?", q.bucket)
		if err != nil {
			return err
		}
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return err
			}
			partFiles = append(partFiles, d)
		}
		rows.Close()
		for _, stmt := range []string{
			"DELETE FROM parts WHERE upload_id IN (SELECT id FROM uploads WHERE bucket = ?)",
			"DELETE FROM uploads WHERE bucket = ?",
			"DELETE FROM completed_uploads WHERE bucket = ?",
			"DELETE FROM buckets WHERE name = ?",
		} {
			if _, err := tx.ExecContext(q.ctx, stmt, q.bucket); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.store.removeData(partFiles...)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getBucketLocation(w http.ResponseWriter, q *request) error {
	b, err := s.bucketFor(q)
	if err != nil {
		return err
	}
	// us-east-1 is reported as an empty constraint, as on AWS.
	loc := b.Region
	if loc == "us-east-1" {
		loc = ""
	}
	return writeXML(w, http.StatusOK, locationConstraint{Xmlns: xmlns, Value: loc})
}

func (s *Server) getBucketVersioning(w http.ResponseWriter, q *request) error {
	b, err := s.bucketFor(q)
	if err != nil {
		return err
	}
	return writeXML(w, http.StatusOK, versioningConfiguration{Xmlns: xmlns, Status: b.Versioning})
}

func (s *Server) putBucketVersioning(w http.ResponseWriter, q *request) error {
	var v versioningConfiguration
	if err := readXML(q, &v, false); err != nil {
		return err
	}
	if v.Status != "Enabled" && v.Status != "Suspended" {
		return errf("MalformedXML", "")
	}
	b, err := s.bucketFor(q)
	if err != nil {
		return err
	}
	if _, err := s.store.db.ExecContext(q.ctx, "UPDATE buckets SET versioning = ? WHERE name = ?", v.Status, b.Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
