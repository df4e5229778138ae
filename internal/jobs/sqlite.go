package jobs

import (
	"database/sql"
	"fmt"

	"github.com/ocellus/ocellus/internal/sqlitedb"
)

// sqliteOptions are the queue database's pragmas (internal/sqlitedb):
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
var sqliteOptions = sqlitedb.Options{Exclusive: true}

// SQLiteDSN is the modernc.org/sqlite DSN for a queue database at path.
func SQLiteDSN(path string) string { return sqlitedb.DSN(path, sqliteOptions) }

// OpenSQLiteDB opens (creating it if needed) the SQLite database at path for
// a queue: SQLiteDSN, and one connection, as River's SQLite driver advises
// (SQLite runs one writer at a time, and River's goroutines would otherwise
// fail with SQLITE_BUSY), holding the write lock from the start so that a
// second process fails here, plainly, rather than in the middle of River's
// start. Give the queue its own file: the single connection would serialise
// any other use of the database behind the queue. River's migrator owns the
// schema.
func OpenSQLiteDB(path string) (*sql.DB, error) {
	db, err := sqlitedb.Open(path, sqliteOptions)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return db, nil
}
