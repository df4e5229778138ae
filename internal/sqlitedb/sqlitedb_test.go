package sqlitedb

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
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
