#!/usr/bin/env bash
# run.sh is `make bench`: it starts a throwaway PostgreSQL 15 on
# 127.0.0.1:${JIT_BENCH_PG_PORT:-a port in 55500-55899} (unless JIT_TEST_POSTGRES_DSN is set),
# opens a D-Bus session with an unlocked gnome-keyring when one is installed
# (so Secret Service is measured too), then runs the side-by-side suite in
# internal/bench, which writes docs/benchmarks.md and its charts.
# Run `make deps` first (MinIO, mc, PostgreSQL, gnome-keyring, hyperfine).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

say() { printf 'bench: %s\n' "$*"; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

export PATH="${JIT_TOOLS_BIN:-${HOME:-/root}/.cache/jit-tools/bin}:${PATH}:/usr/local/go/bin"

run_suite() {
	say "go test -run 'TestBench|TestFaultsUnderLoad' ./internal/bench (about 11 minutes, plus about 25 for growth with history)"
	JIT_BENCH=1 go test -count=1 -run '^(TestBench(FastPath|KeyringStartup|Growth|PostgresCycle)?|TestFaultsUnderLoad)$' -v -timeout 3h ./internal/bench
}

if [[ "${1:-}" == "--in-session" ]]; then
	dir=$2
	export XDG_DATA_HOME="${dir}/data" XDG_RUNTIME_DIR="${dir}/run"
	mkdir -p -m 700 "${XDG_DATA_HOME}" "${XDG_RUNTIME_DIR}"
	echo "jit-bench-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
	export JIT_TEST_SECRET_SERVICE=1
	run_suite
	exit 0
fi

scratch=$(mktemp -d /tmp/jit-bench.XXXXXX)
chmod 755 "${scratch}"
PG_BIN="${JIT_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT="${JIT_BENCH_PG_PORT:-$((55500 + RANDOM % 400))}"
pg_data="${scratch}/pg"
pg_started=
as_postgres() { if [[ ${EUID} -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
	local rc=$?
	if [[ -n "${pg_started}" ]]; then
		as_postgres "${PG_BIN}/pg_ctl" -D "${pg_data}" -m immediate -w stop >/dev/null || true
	fi
	rm -rf "${scratch}"
	exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${JIT_TEST_POSTGRES_DSN:-}" ]]; then
	if [[ -x "${PG_BIN}/initdb" ]]; then
		say "starting PostgreSQL 15 on 127.0.0.1:${PG_PORT} (fsync=off, data in ${pg_data})"
		mkdir -p "${pg_data}"
		if [[ ${EUID} -eq 0 ]]; then chown postgres:postgres "${pg_data}"; fi
		as_postgres "${PG_BIN}/initdb" -D "${pg_data}" -U postgres --auth=trust -E UTF8 --no-sync >"${scratch}/initdb.log" 2>&1 ||
			{ cat "${scratch}/initdb.log" >&2; die "initdb failed"; }
		pg_started=1
		started=
		for _ in 1 2 3 4 5; do
			if as_postgres "${PG_BIN}/pg_ctl" -D "${pg_data}" -l "${pg_data}/server.log" -w -t 60 \
				-o "-c listen_addresses=127.0.0.1 -p ${PG_PORT} -k ${pg_data} -c fsync=off -c max_connections=300" start >/dev/null; then
				started=1
				break
			fi
			say "port ${PG_PORT} is taken; trying another"
			PG_PORT=$((55500 + RANDOM % 400))
		done
		[[ -n "${started}" ]] || { cat "${pg_data}/server.log" >&2; die "PostgreSQL did not start (set JIT_BENCH_PG_PORT)"; }
		export JIT_TEST_POSTGRES_DSN="postgres://postgres@127.0.0.1:${PG_PORT}/postgres?sslmode=disable"
	else
		say "PostgreSQL 15 not found in ${PG_BIN}: its figures are skipped (make deps installs it)"
	fi
fi

if command -v dbus-run-session >/dev/null 2>&1 && command -v gnome-keyring-daemon >/dev/null 2>&1; then
	mkdir -p "${scratch}/keyring"
	dbus-run-session -- bash "${BASH_SOURCE[0]}" --in-session "${scratch}/keyring"
else
	say "no dbus-run-session/gnome-keyring: Secret Service is not measured"
	DBUS_SESSION_BUS_ADDRESS=disabled: run_suite
fi
