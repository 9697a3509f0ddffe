#!/usr/bin/env bash
# test.sh runs jit's checks against the real peers: it starts a throwaway
# PostgreSQL 15 on 127.0.0.1:55432 (unless JIT_TEST_POSTGRES_DSN is set), opens
# a D-Bus session with an unlocked gnome-keyring for the Secret Service tests,
# then runs the static checks (scripts/lint.sh: gofmt, go vet, staticcheck) and
# go test -race. Run scripts/deps.sh first
# (make test does). Exits non-zero on any failure.
#
# Environment: JIT_TOOLS_BIN (default ~/.cache/jit-tools/bin), JIT_PG_BIN
# (default /usr/lib/postgresql/15/bin), JIT_TEST_POSTGRES_DSN (use that server),
# GO_TEST_FLAGS (extra flags for go test, e.g. "-run TestX -v").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'test: %s\n' "$*"; }
die() { printf 'test: error: %s\n' "$*" >&2; exit 1; }

TOOLS_BIN="${JIT_TOOLS_BIN:-${HOME:-/root}/.cache/jit-tools/bin}"
export PATH="${TOOLS_BIN}:${PATH}"
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	export PATH="/usr/local/go/bin:${PATH}"
fi

# checks runs inside the D-Bus session: keyring, gofmt, vet, tests.
checks() {
	local keyring_dir=$1
	export XDG_DATA_HOME="${keyring_dir}/data" XDG_RUNTIME_DIR="${keyring_dir}/run"
	mkdir -p -m 700 "${XDG_DATA_HOME}" "${XDG_RUNTIME_DIR}"
	say "unlocking a throwaway gnome-keyring (Secret Service)"
	command -v gnome-keyring-daemon >/dev/null 2>&1 || die "gnome-keyring-daemon missing; run: make deps"
	echo "jit-test-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
	export JIT_TEST_SECRET_SERVICE=1

	bash scripts/lint.sh
	say "release config: goreleaser check and a snapshot build"
	bash scripts/release-check.sh
	# release-check left a snapshot in dist/: the .deb and image tests must find it.
	export JIT_REQUIRE_DIST=1
	say "go test -race -count=1 -timeout 20m ./..."
	# shellcheck disable=SC2086 # GO_TEST_FLAGS is a list of flags
	go test -race -count=1 -timeout 20m ${GO_TEST_FLAGS:-} ./...
}

if [[ "${1:-}" == "--in-session" ]]; then
	checks "$2"
	exit 0
fi

scratch=$(mktemp -d /tmp/jit-test.XXXXXX)
chmod 755 "${scratch}"
PG_BIN="${JIT_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT=55432
pg_data="${scratch}/pg"
pg_started=
as_postgres() {
	if [[ ${EUID} -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
	local rc=$?
	if [[ -n "${pg_started}" ]]; then
		say "stopping PostgreSQL"
		as_postgres "${PG_BIN}/pg_ctl" -D "${pg_data}" -m immediate -w stop >/dev/null || true
	fi
	rm -rf "${scratch}"
	exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n "${JIT_TEST_POSTGRES_DSN:-}" ]]; then
	say "using PostgreSQL from JIT_TEST_POSTGRES_DSN"
else
	[[ -x "${PG_BIN}/initdb" ]] || die "PostgreSQL 15 not found in ${PG_BIN}; run: apt-get install -y postgresql-15"
	say "starting PostgreSQL 15 on 127.0.0.1:${PG_PORT} (data in ${pg_data})"
	mkdir -p "${pg_data}"
	if [[ ${EUID} -eq 0 ]]; then chown postgres:postgres "${pg_data}"; fi
	as_postgres "${PG_BIN}/initdb" -D "${pg_data}" -U postgres --auth=trust -E UTF8 --no-sync >"${scratch}/initdb.log" 2>&1 ||
		{ cat "${scratch}/initdb.log" >&2; die "initdb failed"; }
	pg_started=1
	as_postgres "${PG_BIN}/pg_ctl" -D "${pg_data}" -l "${pg_data}/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p ${PG_PORT} -k ${pg_data} -c fsync=off" start >/dev/null ||
		{ cat "${pg_data}/server.log" >&2; die "PostgreSQL did not start (is port ${PG_PORT} taken?)"; }
	export JIT_TEST_POSTGRES_DSN="postgres://postgres@127.0.0.1:${PG_PORT}/postgres?sslmode=disable"
fi

command -v dbus-run-session >/dev/null 2>&1 || die "dbus-run-session missing; run: make deps"
mkdir -p "${scratch}/keyring"
dbus-run-session -- bash "${BASH_SOURCE[0]}" --in-session "${scratch}/keyring"
say "all checks passed"
