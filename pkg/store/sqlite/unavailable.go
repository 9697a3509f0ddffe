package sqlite

import (
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// unavailable says why err is the database file's failure rather than the
// statement's (sqlstore.Dialect.Unavailable): the disk is full, the file
// cannot be written or read, or another process holds it past the busy
// timeout. Reads go on while the disk is full; writes fail with it and
// leave nothing half-written (SQLite rolls the transaction back).
func unavailable(err error) string {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return ""
	}
	switch e.Code() & 0xff { // the primary result code of an extended one
	case sqlite3.SQLITE_FULL:
		return "the database's disk is full (reads still work; writes wait for space)"
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		return "the database file cannot be read or written"
	case sqlite3.SQLITE_READONLY:
		return "the database file is read-only"
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return "the database file is locked by another process"
	case sqlite3.SQLITE_NOMEM:
		return "the server is out of memory"
	}
	return ""
}
