package s3

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/atomicfile"
	"github.com/ocellus/ocellus/internal/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// store keeps metadata in SQLite and object bytes in immutable data files.
//
// Crash safety rests on one ordering rule: a data file is complete, fsynced
// and renamed into data/ before the SQLite transaction that references it
// commits, and it is removed only after the transaction that stops
// referencing it commits. A crash in between leaves an unreferenced file,
// which open() sweeps away; it can never leave a row pointing at a partial
// file.
type store struct {
	dir  string
	db   *sql.DB
	keys Keys // nil: no server-side encryption
}

func openStore(ctx context.Context, dir string) (*store, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{dir, filepath.Join(dir, "data"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	// Temp files are uploads that never completed: nobody references them.
	if err := cleanDir(filepath.Join(dir, "tmp")); err != nil {
		return nil, err
	}
	// One connection serialises writers (SQLite allows one anyway) and makes
	// every read-modify-write transaction race free without retry loops.
	// Handlers never hold a rows cursor while issuing another query.
	db, err := sqlitedb.Open(filepath.Join(dir, "meta.db"), sqlitedb.Options{BusyTimeout: 5 * time.Second, ForeignKeys: true, MaxOpenConns: 1})
	if err != nil {
		return nil, err
	}
	s := &store{dir: dir, db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.sweep(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *store) close() error { return s.db.Close() }

// migrate applies the embedded migrations (internal/sqlitedb's named
// scheme; a meta.db from the earlier PRAGMA user_version count is adopted).
func (s *store) migrate(ctx context.Context) error {
	return sqlitedb.Migrate(ctx, s.db, migrationFS, "migrations")
}

// sweep deletes data files that no row references (left by a crash between
// rename and commit, or between commit and remove).
func (s *store) sweep(ctx context.Context) error {
	used := map[string]bool{}
	for _, q := range []string{"SELECT data FROM versions WHERE data != ''", "SELECT data FROM parts"} {
		rows, err := s.db.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			used[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return filepath.WalkDir(filepath.Join(s.dir, "data"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !used[d.Name()] {
			return os.Remove(p)
		}
		return nil
	})
}

func cleanDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// dataPath spreads files over 256 directories so no directory grows huge.
func (s *store) dataPath(id string) string {
	return filepath.Join(s.dir, "data", id[:2], id)
}

func (s *store) open(id string) (*os.File, error) { return os.Open(s.dataPath(id)) }

// removeData deletes data files after the transaction that dropped them
// committed. Errors are ignored: a leftover file is swept at next start.
func (s *store) removeData(ids ...string) {
	for _, id := range ids {
		if id != "" {
			os.Remove(s.dataPath(id))
		}
	}
}

// tempFile is an object being written. Commit makes it durable under data/
// and returns its id; Discard removes it.
type tempFile struct {
	s   *store
	f   *os.File
	enc *sealWriter // nil: stored as written
}

// newTemp starts a data file, encrypted at rest when enc is set.
func (s *store) newTemp(enc *sseSpec) (*tempFile, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "up-*")
	if err != nil {
		return nil, err
	}
	t := &tempFile{s: s, f: f}
	if enc != nil {
		if t.enc, err = newSealWriter(f, s.keys, enc.KeyID); err != nil {
			t.Discard()
			return nil, err
		}
	}
	return t, nil
}

func (t *tempFile) Write(p []byte) (int, error) {
	if t.enc != nil {
		return t.enc.Write(p)
	}
	return t.f.Write(p)
}

func (t *tempFile) Discard() {
	if t.f != nil {
		t.f.Close()
		os.Remove(t.f.Name())
		t.f = nil
	}
}

// Commit fsyncs the file, renames it into data/ and fsyncs the directory,
// so that the file survives a crash once Commit returns.
func (t *tempFile) Commit() (string, error) {
	defer t.Discard()
	id := randomHex(16)
	if t.enc != nil {
		if err := t.enc.Close(); err != nil {
			return "", err
		}
		id += sseSuffix
	}
	if err := t.f.Sync(); err != nil {
		return "", err
	}
	p := t.s.dataPath(id)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(t.f.Name(), p); err != nil {
		return "", err
	}
	if err := atomicfile.SyncDir(filepath.Dir(p)); err != nil {
		return "", err
	}
	t.f.Close()
	t.f = nil
	return id, nil
}

// Rows.

type bucketRow struct {
	Name, Account, Region, Versioning string
	Created                           int64
}

type versionRow struct {
	ID           int64
	Bucket, Key  string
	VersionID    string
	Latest       bool
	DeleteMarker bool
	Size         int64
	ETag         string
	ContentType  string
	Meta         map[string]string
	Checksums    map[string]string
	Data         string
	Modified     int64
	Owner        string
	PartSizes    []int64 // multipart objects only
	SSE          *sseSpec
	Tags         []tagXML
}

const versionCols = "id, bucket, key, version_id, latest, delete_marker, size, etag, content_type, meta, checksums, data, modified, owner, part_sizes, sse, sse_key, tags"

type scanner interface{ Scan(...any) error }

func scanVersion(sc scanner) (*versionRow, error) {
	v := &versionRow{}
	var meta, sums, parts, sse, sseKey, tags string
	if err := sc.Scan(&v.ID, &v.Bucket, &v.Key, &v.VersionID, &v.Latest, &v.DeleteMarker, &v.Size, &v.ETag,
		&v.ContentType, &meta, &sums, &v.Data, &v.Modified, &v.Owner, &parts, &sse, &sseKey, &tags); err != nil {
		return nil, err
	}
	v.SSE = sseOf(sse, sseKey)
	v.Tags = tagsFromJSON(tags)
	json.Unmarshal([]byte(meta), &v.Meta)
	json.Unmarshal([]byte(sums), &v.Checksums)
	if parts != "" {
		json.Unmarshal([]byte(parts), &v.PartSizes)
	}
	return v, nil
}

func jsonString(m map[string]string) string {
	if m == nil {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func getBucket(ctx context.Context, q querier, name string) (*bucketRow, error) {
	b := &bucketRow{}
	err := q.QueryRowContext(ctx, "SELECT name, account, region, versioning, created FROM buckets WHERE name = ?", name).
		Scan(&b.Name, &b.Account, &b.Region, &b.Versioning, &b.Created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return b, err
}

// getVersion returns a version of key: the latest when versionID is "".
// It returns nil, nil when there is none.
func getVersion(ctx context.Context, q querier, bucket, key, versionID string) (*versionRow, error) {
	var row *sql.Row
	if versionID == "" {
		row = q.QueryRowContext(ctx, "SELECT "+versionCols+" FROM versions WHERE bucket = ? AND key = ? AND latest = 1", bucket, key)
	} else {
		row = q.QueryRowContext(ctx, "SELECT "+versionCols+" FROM versions WHERE bucket = ? AND key = ? AND version_id = ?", bucket, key, versionID)
	}
	v, err := scanVersion(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return v, err
}

// putVersion records a new latest version (object or delete marker) of a
// key inside tx. When the bucket is not versioning-enabled the new version
// is "null" and replaces any existing "null" version, whose data file id is
// returned for removal after commit.
func putVersion(ctx context.Context, tx *sql.Tx, b *bucketRow, v *versionRow) (replaced string, err error) {
	enabled := b.Versioning == "Enabled"
	if enabled {
		// Replaced by an id that carries the row's position once the row
		// exists (see newVersionID).
		v.VersionID = "pending." + randomHex(16)
	} else {
		v.VersionID = "null"
		old, err := getVersion(ctx, tx, b.Name, v.Key, "null")
		if err != nil {
			return "", err
		}
		if old != nil {
			if _, err := tx.ExecContext(ctx, "DELETE FROM versions WHERE id = ?", old.ID); err != nil {
				return "", err
			}
			replaced = old.Data
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE versions SET latest = 0 WHERE bucket = ? AND key = ? AND latest = 1", b.Name, v.Key); err != nil {
		return "", err
	}
	parts := ""
	if len(v.PartSizes) > 0 {
		b, _ := json.Marshal(v.PartSizes)
		parts = string(b)
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO versions (bucket, key, version_id, latest, delete_marker, size, etag, content_type, meta, checksums, data, modified, owner, part_sizes, sse, sse_key, tags) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		b.Name, v.Key, v.VersionID, v.DeleteMarker, v.Size, v.ETag, v.ContentType, jsonString(v.Meta), jsonString(v.Checksums), v.Data, v.Modified, v.Owner, parts,
		v.SSE.alg(), v.SSE.key(), tagsJSON(v.Tags))
	if err != nil {
		return "", err
	}
	if v.ID, err = res.LastInsertId(); err != nil {
		return "", err
	}
	if enabled {
		v.VersionID = newVersionID(v.ID)
		if _, err := tx.ExecContext(ctx, "UPDATE versions SET version_id = ? WHERE id = ?", v.VersionID, v.ID); err != nil {
			return "", err
		}
	}
	v.Latest = true
	return replaced, nil
}

// deleteVersionRow removes one version and, if it was the latest, promotes
// the newest remaining version of the key.
func deleteVersionRow(ctx context.Context, tx *sql.Tx, v *versionRow) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM versions WHERE id = ?", v.ID); err != nil {
		return err
	}
	if v.Latest {
		_, err := tx.ExecContext(ctx, `UPDATE versions SET latest = 1 WHERE id = (
			SELECT id FROM versions WHERE bucket = ? AND key = ? ORDER BY id DESC LIMIT 1)`, v.Bucket, v.Key)
		return err
	}
	return nil
}

// newVersionID returns the version id of row id: a random part, so that
// clients cannot rely on version id order, then the row's position. A
// ListObjectVersions version-id-marker is a position in the listing, not a
// lookup, so a marker whose version was deleted since the last page still
// resumes where that page ended (list-then-delete loops do exactly that).
func newVersionID(id int64) string { return randomHex(8) + "." + strconv.FormatInt(id, 16) }

// versionPosition is the row position a version id made by newVersionID
// carries; ok is false for "null" and for ids from before positions were
// encoded.
func versionPosition(vid string) (pos int64, ok bool) {
	r, p, found := strings.Cut(vid, ".")
	if !found || len(r) != 16 || !isHex(r) || p == "" || len(p) > 15 {
		return 0, false
	}
	n, err := strconv.ParseInt(p, 16, 64)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// copyRange streams length bytes at offset from data file id, whose
// plaintext is size bytes long, into w.
func (s *store) copyRange(w io.Writer, id string, size, offset, length int64) error {
	r, err := s.section(id, size, offset, length)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(w, r)
	return err
}

// inTx runs fn in a transaction.
func (s *store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return sqlitedb.InTx(ctx, s.db, fn)
}
