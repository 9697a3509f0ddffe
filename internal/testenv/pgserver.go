package testenv

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresBinEnv names the directory of PostgreSQL's server programs
// (initdb, pg_ctl); scripts/test.sh reads the same variable.
const PostgresBinEnv = "JIT_PG_BIN"

const postgresInstall = "apt-get install -y postgresql-15 (scripts/deps.sh installs it), or set " + PostgresBinEnv

// PostgresServer is a PostgreSQL server of one test's own, for tests that
// stop, restart or cut it off. The shared server in $JIT_TEST_POSTGRES_DSN
// is used by every other test at once and must never be restarted.
type PostgresServer struct {
	bin, data string
	port      int
	asUser    string // run the programs as this user (root may not run them)
}

// StartPostgres initialises a throwaway cluster (fsync off) under a fresh
// directory, starts it on a random 127.0.0.1 port and stops it (immediate
// shutdown) when the test ends. initdb refuses to run as root: as root the
// programs run as the postgres user. Missing programs are a missing peer.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	SkipPeerInShortMode(t, "PostgreSQL")
	bin := os.Getenv(PostgresBinEnv)
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "pg_ctl")); err != nil {
		MissingPeer(t, "PostgreSQL's pg_ctl not found in "+bin+": "+postgresInstall)
		return nil
	}
	s := &PostgresServer{bin: bin}
	// Not t.TempDir: its parent is 0700, and the postgres user must reach it.
	dir, err := os.MkdirTemp("", "jit-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s.data = filepath.Join(dir, "data")
	if err := os.Mkdir(s.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			MissingPeer(t, "running as root, PostgreSQL needs the postgres user: "+postgresInstall)
			return nil
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(s.data, uid, gid); err != nil {
			t.Fatal(err)
		}
		s.asUser = "postgres"
	}
	if out, err := s.command("initdb", "-D", s.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("testenv: initdb: %v\n%s", err, out)
	}
	var lastErr error
	for range 8 {
		s.port = 20000 + int(binary.BigEndian.Uint16(randomBytes(t, 2)))%40000
		if lastErr = s.Start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("testenv: PostgreSQL did not start: %v", lastErr)
	}
	t.Cleanup(func() { _ = s.Stop("immediate") })
	return s
}

func (s *PostgresServer) command(prog string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, prog)
	if s.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// Port is the TCP port it listens on (127.0.0.1).
func (s *PostgresServer) Port() int { return s.port }

// AdminDSN is the DSN of its postgres database as the superuser.
func (s *PostgresServer) AdminDSN() string { return s.DSN("postgres") }

// DSN is the DSN of database db on this server.
func (s *PostgresServer) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// CreateDatabase creates database name and returns its DSN.
func (s *PostgresServer) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		t.Fatalf("testenv: connect to the test's PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	return s.DSN(name)
}

// Start starts the server (again) and waits until it accepts connections.
func (s *PostgresServer) Start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200", s.port, s.data)
	cmd := s.command("pg_ctl", "-D", s.data, "-l", filepath.Join(s.data, "server.log"), "-w", "-t", "60", "-o", opts, "start")
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.data, "server.log"))
		return fmt.Errorf("pg_ctl start on port %d: %v\n%s\n%s", s.port, err, out, tail(log, 2000))
	}
	return nil
}

// Stop shuts the server down with mode: "fast" (roll back open
// transactions, close connections, checkpoint) or "immediate" (end every
// process at once, as a crash; recovery replays the WAL at the next start).
func (s *PostgresServer) Stop(mode string) error {
	if out, err := s.command("pg_ctl", "-D", s.data, "-m", mode, "-w", "-t", "60", "stop").CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
	return nil
}

// Restart stops the server with mode, waits down for pause, then starts
// it on the same port.
func (s *PostgresServer) Restart(mode string, down time.Duration) error {
	if err := s.Stop(mode); err != nil {
		return err
	}
	time.Sleep(down)
	return s.Start()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
