package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// unavailable says why err is PostgreSQL's failure rather than the
// statement's (sqlstore.Dialect.Unavailable): the server is shutting down
// or starting, the connection was refused, lost or timed out, or the server
// is out of disk, memory or connections. The words name no host or account.
func unavailable(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch c := pgErr.Code; {
		case c == "57P01" || c == "57P02" || c == "57P03":
			return "PostgreSQL is restarting"
		case strings.HasPrefix(c, "08"):
			return "the connection to PostgreSQL failed"
		case c == "53100":
			return "PostgreSQL's disk is full"
		case strings.HasPrefix(c, "53"):
			return "PostgreSQL is out of resources (memory or connections)"
		}
		return ""
	}
	var connect *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connect):
		return "PostgreSQL cannot be reached"
	case pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded):
		return "PostgreSQL did not answer in time"
	case errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.As(err, &netErr) || pgconn.SafeToRetry(err):
		return "the connection to PostgreSQL was lost"
	}
	return ""
}
