#!/usr/bin/env bash
# lint.sh runs jit's static checks: the gofmt check, go vet and staticcheck.
# It needs no test peer; `make lint` runs it, and scripts/test.sh (make test)
# runs it before the tests. staticcheck comes from scripts/deps.sh (make deps)
# into ~/.cache/jit-tools/bin (JIT_TOOLS_BIN overrides). Exits non-zero on any
# finding.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'lint: %s\n' "$*"; }
die() { printf 'lint: error: %s\n' "$*" >&2; exit 1; }

TOOLS_BIN="${JIT_TOOLS_BIN:-${HOME:-/root}/.cache/jit-tools/bin}"
export PATH="${TOOLS_BIN}:${PATH}"
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	export PATH="/usr/local/go/bin:${PATH}"
fi

say "gofmt"
unformatted=$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l)
if [[ -n "${unformatted}" ]]; then
	printf 'lint: gofmt needed on (run: gofmt -w FILE):\n%s\n' "${unformatted}" >&2
	exit 1
fi
say "go vet ./..."
go vet ./...
say "staticcheck ./..."
command -v staticcheck >/dev/null 2>&1 || die "staticcheck missing; run: make deps (or scripts/deps.sh)"
staticcheck ./...
