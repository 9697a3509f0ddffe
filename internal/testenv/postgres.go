package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresDSNEnv names the variable holding an admin DSN of a running
// PostgreSQL server (scripts/test.sh starts one and sets it).
const PostgresDSNEnv = "JIT_TEST_POSTGRES_DSN"

// Postgres creates a fresh, randomly named database on the server in
// $JIT_TEST_POSTGRES_DSN, returns a DSN for it and drops it when the test
// ends. Without the variable it is a missing peer (see MissingPeer): the
// test fails under CI and is skipped elsewhere, saying how to start PostgreSQL.
func Postgres(t testing.TB) string {
	t.Helper()
	SkipPeerInShortMode(t, "PostgreSQL")
	admin := os.Getenv(PostgresDSNEnv)
	if admin == "" {
		const how = "PostgreSQL tests need " + PostgresDSNEnv + " (an admin DSN such as " +
			"postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable); run them with `make test` " +
			"(scripts/test.sh starts PostgreSQL 15 from /usr/lib/postgresql/15/bin and sets it)"
		MissingPeer(t, how)
	}
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s=%q is not a postgres:// URL (err %v)", PostgresDSNEnv, admin, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "jit_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to PostgreSQL at %s=%s: %v", PostgresDSNEnv, admin, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
