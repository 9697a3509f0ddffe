#!/usr/bin/env bash
# release-check.sh checks the release configuration offline: `goreleaser
# check`, then a snapshot release with publishing skipped (binaries, archives,
# deb and rpm packages, checksums, the Homebrew formula) into dist/.
#
# By default the snapshot builds linux/amd64 only: the full matrix of 6
# targets took 4m40s here on 2 cores with a cold build cache (28s warm), while
# linux/amd64 alone reuses the cache the tests fill. `goreleaser release` has
# no --single-target (only `goreleaser build` does), so the check runs on a
# copy of .goreleaser.yaml whose build lists the one target. Pass --full (or
# set JIT_RELEASE_FULL=1) for linux, darwin and windows on amd64 and arm64.
#
# Environment: JIT_TOOLS_BIN (default ~/.cache/jit-tools/bin, where
# scripts/deps.sh installs goreleaser).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'release-check: %s\n' "$*"; }
die() { printf 'release-check: error: %s\n' "$*" >&2; exit 1; }

TOOLS_BIN="${JIT_TOOLS_BIN:-${HOME:-/root}/.cache/jit-tools/bin}"
export PATH="${TOOLS_BIN}:${PATH}"
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	export PATH="/usr/local/go/bin:${PATH}"
fi
command -v goreleaser >/dev/null 2>&1 || die "goreleaser not found in ${TOOLS_BIN}; run: bash scripts/deps.sh"

full="${JIT_RELEASE_FULL:-}"
for arg in "$@"; do
	case "${arg}" in
	--full) full=1 ;;
	*) die "unknown argument ${arg} (only --full)" ;;
	esac
done

say "goreleaser check"
goreleaser check

args=(release --snapshot --clean --skip=publish)
if [[ -n "${full}" ]]; then
	say "snapshot release, full matrix (linux, darwin, windows × amd64, arm64)"
else
	say "snapshot release, linux/amd64 only (--full for every target)"
	one=$(mktemp /tmp/jit-goreleaser.XXXXXX.yaml)
	trap 'rm -f "${one}"' EXIT
	sed -e 's/^    goos: \[linux, darwin, windows\]$/    targets: [linux_amd64_v1]/' -e '/^    goarch: \[amd64, arm64\]$/d' \
		.goreleaser.yaml >"${one}"
	grep -q '^    targets: \[linux_amd64_v1\]$' "${one}" && ! grep -q '^    goarch:' "${one}" ||
		die "could not narrow .goreleaser.yaml to linux/amd64 (did its goos/goarch lines change?)"
	args+=(--config "${one}")
fi
start=${SECONDS}
goreleaser "${args[@]}"
say "snapshot built in $((SECONDS - start))s; artifacts in dist/"

# The archive must carry what the packages and the formula install.
archive=$(find dist -maxdepth 1 -name 'jit_*_linux_amd64.tar.gz' | head -n 1)
[[ -n "${archive}" ]] || die "no linux/amd64 archive in dist/"
listing=$(tar -tzf "${archive}")
for want in LICENSE README.md completions/jit.bash completions/_jit completions/jit.fish completions/jit.ps1 docs/man/jit.1; do
	grep -qx "${want}" <<<"${listing}" || die "${archive} lacks ${want}"
done
# jit configure aws writes the path of jit-credential-process, beside jit.
grep -qx jit-credential-process <<<"${listing}" || die "${archive} lacks jit-credential-process"
deb=$(find dist -maxdepth 1 -name 'jit_*_amd64.deb' | head -n 1)
if [[ -n "${deb}" ]] && command -v dpkg-deb >/dev/null; then
	deb_listing=$(dpkg-deb -c "${deb}")
	grep -q ' ./usr/bin/jit-credential-process$' <<<"${deb_listing}" || die "${deb} lacks /usr/bin/jit-credential-process"
fi
bin=$(find dist -path '*linux_amd64*' -type f -name jit | head -n 1)
[[ -x "${bin}" ]] || die "no linux/amd64 jit binary in dist/"
version=$("${bin}" version)
say "${version}"
[[ "${version}" != *" dev "* && "${version}" != "jit dev"* ]] || die "the binary is not stamped with a version (ldflags)"
say "ok"
