package s3

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ocellus/ocellus/internal/sqlitedb"
)

// TestOpenUpgradesUserVersionMetaDB: a data directory written before
// internal/sqlitedb, whose meta.db counted its four applied migrations in
// PRAGMA user_version, opens with its data and is not migrated again.
func TestOpenUpgradesUserVersionMetaDB(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The old scheme, as openStore ran it: every file in order, then
	// PRAGMA user_version = the count.
	old, err := sql.Open("sqlite", sqlitedb.DSN(filepath.Join(dir, "meta.db"), sqlitedb.Options{ForeignKeys: true}))
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	if len(names) < 4 {
		t.Fatalf("%d migrations embedded, want at least the old scheme's 4", len(names))
	}
	for i, name := range names[:4] {
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.Exec(string(b)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := old.Exec(fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := old.Exec(`INSERT INTO buckets (name, account, region, created) VALUES ('old-bucket', '111122223333', 'us-east-1', 1)`); err != nil {
		t.Fatal(err)
	}
	old.Close()

	for i := 0; i < 2; i++ {
		s, err := openStore(ctx, dir)
		if err != nil {
			t.Fatalf("open %d of an old-scheme meta.db: %v", i, err)
		}
		var owner string
		if err := s.db.QueryRow(`SELECT account FROM buckets WHERE name = 'old-bucket'`).Scan(&owner); err != nil || owner != "111122223333" {
			t.Fatalf("open %d: bucket owner = %q, %v", i, owner, err)
		}
		rows, err := s.db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var v string
			rows.Scan(&v)
			got = append(got, v)
		}
		rows.Close()
		var want []string
		for _, n := range names {
			want = append(want, strings.TrimSuffix(filepath.Base(n), ".sql"))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("open %d: schema_migrations = %v, want %v", i, got, want)
		}
		var uv int
		if err := s.db.QueryRow(`PRAGMA user_version`).Scan(&uv); err != nil || uv != 0 {
			t.Fatalf("open %d: user_version = %d, %v; want 0 after adoption", i, uv, err)
		}
		s.close()
	}
}
