package sqlitedb

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var twoMigrations = fstest.MapFS{
	"m/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
	"m/0002_b.sql": {Data: []byte("CREATE TABLE b (y INTEGER); INSERT INTO b VALUES (7);")},
	"m/notes.txt":  {Data: []byte("not a migration")},
}

func versions(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func count(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestMigrateAppliesInOrderOnceAndRecordsNames(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	for i := 0; i < 2; i++ {
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := Migrate(ctx, db, twoMigrations, "m"); err != nil {
			t.Fatalf("migrate (open %d): %v", i, err)
		}
		// Applied once: the INSERT of 0002 did not run again.
		if n := count(t, db, `SELECT COUNT(*) FROM b`); n != 1 {
			t.Fatalf("open %d: b has %d rows, want 1", i, n)
		}
		if got := strings.Join(versions(t, db), ","); got != "0001_a,0002_b" {
			t.Fatalf("schema_migrations = %s", got)
		}
		db.Close()
	}
}

func TestMigrateAddsOnlyNewFiles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Migrate(ctx, db, twoMigrations, "m"); err != nil {
		t.Fatal(err)
	}
	more := fstest.MapFS{"m/0003_c.sql": {Data: []byte("INSERT INTO b VALUES (8);")}}
	for k, v := range twoMigrations {
		more[k] = v
	}
	if err := Migrate(ctx, db, more, "m"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM b`); n != 2 {
		t.Fatalf("b has %d rows, want 2 (0002 once, 0003 once)", n)
	}
}

func TestFailedMigrationLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	db, err := Open(filepath.Join(t.TempDir(), "x.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bad := fstest.MapFS{
		"m/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"m/0002_b.sql": {Data: []byte("CREATE TABLE b (y INTEGER); INSERT INTO nope VALUES (1);")},
	}
	err = Migrate(ctx, db, bad, "m")
	if err == nil || !strings.Contains(err.Error(), "migration 0002_b") {
		t.Fatalf("err = %v, want one naming migration 0002_b", err)
	}
	if got := strings.Join(versions(t, db), ","); got != "0001_a" {
		t.Fatalf("schema_migrations = %q, want only 0001_a", got)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'`); n != 0 {
		t.Fatal("table b of the failed migration exists")
	}
}

// A file migrated by the earlier scheme (PRAGMA user_version = files
// applied) is adopted: its files are recorded, not run again.
func TestMigrateAdoptsUserVersionScheme(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The old scheme applied 0001 and 0002 and counted them.
	for _, stmt := range []string{"CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y INTEGER)", "INSERT INTO b VALUES (7)", "PRAGMA user_version = 2"} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	more := fstest.MapFS{"m/0003_c.sql": {Data: []byte("INSERT INTO b VALUES (8);")}}
	for k, v := range twoMigrations {
		more[k] = v
	}
	if err := Migrate(ctx, db, more, "m"); err != nil {
		t.Fatalf("migrate an old-scheme file: %v", err)
	}
	if got := strings.Join(versions(t, db), ","); got != "0001_a,0002_b,0003_c" {
		t.Fatalf("schema_migrations = %s", got)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM b`); n != 2 {
		t.Fatalf("b has %d rows, want 2 (the old row and 0003's)", n)
	}
	if n := count(t, db, `PRAGMA user_version`); n != 0 {
		t.Fatalf("user_version = %d after adoption, want 0", n)
	}
}

func TestMigrateRefusesNewerUserVersion(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "x.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("PRAGMA user_version = 5"); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(context.Background(), db, twoMigrations, "m"); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("err = %v, want a newer-version error", err)
	}
}

func TestOpenPragmas(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "dir with ?#% chars.db"), Options{ForeignKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	if n := count(t, db, "PRAGMA synchronous"); n != 2 {
		t.Fatalf("synchronous = %d, want 2 (FULL)", n)
	}
	if n := count(t, db, "PRAGMA foreign_keys"); n != 1 {
		t.Fatalf("foreign_keys = %d, want 1", n)
	}
	if n := count(t, db, "PRAGMA busy_timeout"); n != 10000 {
		t.Fatalf("busy_timeout = %d, want 10000", n)
	}
}

func TestOpenExclusiveLocksOutASecondOpener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	db, err := Open(path, Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{Exclusive: true, BusyTimeout: 50e6}); err == nil {
		t.Fatal("a second exclusive open succeeded")
	}
	db.Close()
	db, err = Open(path, Options{Exclusive: true})
	if err != nil {
		t.Fatalf("open after the first closed: %v", err)
	}
	db.Close()
}

// TestMigrateWithHook: a migration's hook runs in its transaction before
// the SQL (it sees the old schema), its after step once the SQL has run;
// an error from the hook rolls the whole migration back; an applied
// migration's hook does not run again.
func TestMigrateWithHook(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Migrate(ctx, db, fstest.MapFS{"m/0001_a.sql": twoMigrations["m/0001_a.sql"]}, "m"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO a VALUES (5)`); err != nil {
		t.Fatal(err)
	}
	next := fstest.MapFS{"m/0001_a.sql": twoMigrations["m/0001_a.sql"], "m/0002_drop.sql": {Data: []byte("CREATE TABLE c (x INTEGER); DROP TABLE a;")}}
	boom := func(ctx context.Context, tx *sql.Tx) (func() error, error) { return nil, sql.ErrTxDone }
	if err := MigrateWith(ctx, db, next, "m", map[string]Hook{"0002_drop": boom}); err == nil {
		t.Fatal("a failing hook did not fail the migration")
	}
	if n := count(t, db, `SELECT COUNT(*) FROM a`); n != 1 {
		t.Fatalf("after the failed hook: a has %d rows", n)
	}
	var seen int
	hook := func(ctx context.Context, tx *sql.Tx) (func() error, error) {
		if err := tx.QueryRowContext(ctx, `SELECT x FROM a`).Scan(&seen); err != nil {
			return nil, err
		}
		return func() error {
			_, err := tx.ExecContext(ctx, `INSERT INTO c VALUES (?)`, seen)
			return err
		}, nil
	}
	if err := MigrateWith(ctx, db, next, "m", map[string]Hook{"0002_drop": hook}); err != nil {
		t.Fatal(err)
	}
	if seen != 5 || count(t, db, `SELECT COUNT(*) FROM c WHERE x = 5`) != 1 {
		t.Fatalf("hook saw %d; c = %d rows", seen, count(t, db, `SELECT COUNT(*) FROM c`))
	}
	if err := MigrateWith(ctx, db, next, "m", map[string]Hook{"0002_drop": boom}); err != nil {
		t.Fatalf("the hook of an applied migration ran again: %v", err)
	}
}

// TestExclusiveSurvivesInterruptedQuery: a query whose context ends mid-way
// is interrupted (sqlite3_interrupt). The driver then reports its connection
// invalid and database/sql would close it, dropping the exclusive lock until
// the pool opens a new one: a second process could open the file in between.
// The one connection of an exclusive database stays, and so does the lock.
func TestExclusiveSurvivesInterruptedQuery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	db, err := Open(path, Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		var n int
		err := db.QueryRowContext(ctx, `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c) SELECT count(*) FROM c`).Scan(&n)
		cancel()
		if err == nil {
			t.Fatal("an endless query ended without its context")
		}
		other, err := sql.Open("sqlite", DSN(path, Options{BusyTimeout: 50 * time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		var m int
		err = other.QueryRow("SELECT count(*) FROM t").Scan(&m)
		other.Close()
		if err == nil {
			t.Fatalf("after interrupted query %d a second connection read the exclusive database", i)
		}
		// The owner goes on working on the same connection.
		if _, err := db.Exec("INSERT INTO t VALUES (1)"); err != nil {
			t.Fatalf("owner after interrupted query %d: %v", i, err)
		}
	}
	if got := count(t, db, "SELECT count(*) FROM t"); got != 5 {
		t.Fatalf("rows = %d, want 5", got)
	}
	if s := db.Stats(); s.MaxIdleClosed+s.MaxLifetimeClosed+s.MaxIdleTimeClosed != 0 || s.OpenConnections != 1 {
		t.Fatalf("pool replaced its connection: %+v", s)
	}
}
