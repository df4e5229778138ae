package sqlitedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
)

// exclusiveConnector opens the connections of an Exclusive database: the
// driver's own, wrapped in keptConn.
type exclusiveConnector struct {
	dsn string
	drv driver.Driver
}

func (c exclusiveConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return keptConn{conn.(sqliteConn)}, nil
}

func (c exclusiveConnector) Driver() driver.Driver { return c.drv }

// sqliteConn is what database/sql uses of a modernc.org/sqlite connection.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
}

// keptConn is the one connection of an Exclusive database, which holds the
// file's lock for as long as it stays open. The driver reports a connection
// whose last statement was interrupted (its context ended) as invalid, and
// database/sql then closes it and opens another on next use: the lock would
// be free in between, for another process to take. For a file database the
// interrupted connection is sound (SQLite clears the interrupt when the next
// statement starts with none running), so keptConn leaves out the driver's
// SessionResetter and Validator and database/sql keeps it, unless a driver
// call itself reports driver.ErrBadConn.
type keptConn struct{ sqliteConn }

// openExclusive is sql.Open for an Exclusive database, through the
// registered "sqlite" driver.
func openExclusive(dsn string) (*sql.DB, error) {
	probe, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	drv := probe.Driver()
	if err := probe.Close(); err != nil {
		return nil, err
	}
	return sql.OpenDB(exclusiveConnector{dsn: dsn, drv: drv}), nil
}
