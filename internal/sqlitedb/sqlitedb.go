// Package sqlitedb opens every SQLite file of the service the same way and
// migrates the ones whose schema is ours with one scheme.
//
// Open sets the pragmas every file needs (WAL, synchronous=FULL, a busy
// timeout) and those a caller asks for (foreign keys, an exclusive lock,
// immediate write transactions). Migrate applies embedded, ordered, named
// migrations (NNNN_name.sql), each in one transaction together with its row
// in schema_migrations, so a crash leaves every migration applied or not.
// Files are never renumbered: a name, once shipped, is applied once.
//
// Users: the metadata store (internal/store/sqlite), the embedded S3
// endpoint's metadata (internal/api/s3) and the job queue (internal/jobs,
// whose schema River's own migrator owns).
package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options are what differs between the files.
type Options struct {
	// BusyTimeout is how long a statement waits for a lock held by another
	// connection before failing with SQLITE_BUSY (10 s when zero).
	BusyTimeout time.Duration
	// ForeignKeys enforces FOREIGN KEY clauses.
	ForeignKeys bool
	// Exclusive keeps the file locked by the first connection until it
	// closes (locking_mode EXCLUSIVE, set before WAL so that the WAL index
	// lives in memory): a second process cannot open it.
	Exclusive bool
	// Immediate begins every transaction with BEGIN IMMEDIATE, taking the
	// write lock at once rather than failing on upgrade from a read.
	Immediate bool
	// MaxOpenConns bounds the pool (1 when zero: SQLite runs one writer at
	// a time, and one connection makes read-modify-write transactions race
	// free). With Exclusive, it must stay 1.
	MaxOpenConns int
}

// DSN is the modernc.org/sqlite data source name for the file at path.
// The path is escaped as a URI path (SQLite opens "file:" names as URIs),
// so a directory holding '?', '#' or '%' names the right file. Pragmas apply
// in order: the busy timeout first, as journal_mode already needs the lock.
func DSN(p string, o Options) string {
	busy := o.BusyTimeout
	if busy == 0 {
		busy = 10 * time.Second
	}
	q := []string{fmt.Sprintf("_pragma=busy_timeout(%d)", busy.Milliseconds())}
	if o.Exclusive {
		q = append(q, "_pragma=locking_mode(EXCLUSIVE)")
	}
	q = append(q, "_pragma=journal_mode(WAL)", "_pragma=synchronous(FULL)")
	if o.ForeignKeys {
		q = append(q, "_pragma=foreign_keys(1)")
	}
	if o.Immediate {
		q = append(q, "_txlock=immediate")
	}
	return "file:" + (&url.URL{Path: p}).EscapedPath() + "?" + strings.Join(q, "&")
}

// Open opens (creating it if needed) the SQLite file at path with o. With
// Exclusive it takes the write lock before returning, so that a second
// process fails here, plainly.
func Open(p string, o Options) (*sql.DB, error) {
	open := func(dsn string) (*sql.DB, error) { return sql.Open("sqlite", dsn) }
	if o.Exclusive {
		open = openExclusive
	}
	db, err := open(DSN(p, o))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	n := o.MaxOpenConns
	if n <= 0 || o.Exclusive {
		n = 1
	}
	db.SetMaxOpenConns(n)
	if o.Exclusive {
		// Keep the one connection (and so the lock) for the life of db,
		// even after an interrupted statement (keptConn).
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		if _, err := db.Exec("BEGIN IMMEDIATE; COMMIT"); err != nil {
			db.Close()
			return nil, fmt.Errorf("open %s (in use by another process?): %w", p, err)
		}
		return db, nil
	}
	// Open is lazy: fail here on a file that is not a database or a
	// directory that cannot hold one, not on the first query.
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	return db, nil
}

// Migrate applies the migrations dir/*.sql of fsys that the database has not
// recorded, in file-name order, each in its own transaction with its row in
// schema_migrations (version = the file name without ".sql").
//
// A database from the earlier S3 scheme, which counted applied files in
// PRAGMA user_version instead, is adopted on first sight: its first
// user_version files are recorded as applied (not run again) and the count
// is cleared, in one transaction.
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS, dir string) error {
	return MigrateWith(ctx, db, fsys, dir, nil)
}

// Hook is Go code a migration needs besides its SQL (data to move out of
// the database, say). It runs in the migration's transaction before the
// SQL; the after step it returns (nil: none) runs in the same transaction
// once the SQL has run. An error from either rolls the migration back.
type Hook func(ctx context.Context, tx *sql.Tx) (after func() error, err error)

// MigrateWith is Migrate with hooks, by version, for the migrations that
// need them.
func MigrateWith(ctx context.Context, db *sql.DB, fsys fs.FS, dir string, hooks map[string]Hook) error {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_ms INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrations table: %w", err)
	}
	if err := adoptUserVersion(ctx, db, names); err != nil {
		return err
	}
	for _, name := range names {
		version := strings.TrimSuffix(path.Base(name), ".sql")
		err := InTx(ctx, db, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			body, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			var after func() error
			if h := hooks[version]; h != nil {
				if after, err = h(ctx, tx); err != nil {
					return fmt.Errorf("migration %s: %w", version, err)
				}
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", version, err)
			}
			if after != nil {
				if err := after(); err != nil {
					return fmt.Errorf("migration %s: %w", version, err)
				}
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)`, version, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// adoptUserVersion records the first PRAGMA user_version migrations as
// applied when schema_migrations is still empty.
func adoptUserVersion(ctx context.Context, db *sql.DB, names []string) error {
	return InTx(ctx, db, func(tx *sql.Tx) error {
		var applied int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&applied); err != nil {
			return err
		}
		if applied == 0 {
			return nil
		}
		var recorded int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&recorded); err != nil {
			return err
		}
		if recorded > 0 {
			return fmt.Errorf("the database has both PRAGMA user_version %d and schema_migrations rows", applied)
		}
		if applied > len(names) {
			return fmt.Errorf("the database has %d migrations applied (PRAGMA user_version) but this build knows only %d: it was written by a newer version", applied, len(names))
		}
		now := time.Now().UnixMilli()
		for _, name := range names[:applied] {
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)`, strings.TrimSuffix(path.Base(name), ".sql"), now); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "PRAGMA user_version = 0")
		return err
	})
}

// InTx runs fn in a transaction: committed when fn returns nil, rolled
// back otherwise.
func InTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
