package jobs

import (
	"database/sql"
	"fmt"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// SQLiteDSN is the modernc.org/sqlite DSN for a queue database at path:
//
//   - busy_timeout(10000): waits up to 10 s for the lock instead of
//     failing at once (a previous owner may still be exiting). First, as the
//     pragmas apply in order and journal_mode already needs the lock;
//   - locking_mode(EXCLUSIVE): the connection keeps the file locked until
//     it closes, so a second process cannot open the same queue. Open
//     relies on that when it takes every running job for an orphan; the OS
//     drops the lock when the owner dies, even by SIGKILL. Set before WAL so
//     that the WAL index lives in memory, not in a shared -shm file;
//   - journal_mode(WAL): River's concurrent maintenance work otherwise hits
//     SQLITE_BUSY (River's own tests insist on it);
//   - synchronous(FULL): an enqueued job survives power loss, not only a
//     crash of the process.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=locking_mode(EXCLUSIVE)" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
}

// OpenSQLiteDB opens (creating it if needed) the SQLite database at path for
// a queue: SQLiteDSN, and one connection, as River's SQLite driver advises
// (SQLite runs one writer at a time, and River's goroutines would otherwise
// fail with SQLITE_BUSY). Give the queue its own file: the single connection
// would serialise any other use of the database behind the queue.
func OpenSQLiteDB(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("jobs: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	// Keep the one connection (and so the exclusive lock) for the life of db.
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	// Take the write lock now, so that a second process fails here, plainly,
	// rather than in the middle of River's start.
	if _, err := db.Exec("BEGIN IMMEDIATE; COMMIT"); err != nil {
		db.Close()
		return nil, fmt.Errorf("jobs: open %s (in use by another process?): %w", path, err)
	}
	return db, nil
}
