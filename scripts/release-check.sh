#!/usr/bin/env bash
# release-check.sh checks the release configuration offline: `goreleaser
# check` (failing on any deprecation notice), then a snapshot release with
# publishing skipped (binaries, archives, deb and rpm packages, SBOMs,
# checksums, the Homebrew cask) into dist/, then installs the .deb into a
# scratch root and builds the server image with podman from the snapshot
# (internal/releaseconfig's TestDebPackage… and TestContainerImage).
#
# By default the snapshot builds linux/amd64 only: the full matrix of 6
# targets took 4m40s here on 2 cores with a cold build cache (28s warm), while
# linux/amd64 alone reuses the cache the tests fill. `goreleaser release` has
# no --single-target (only `goreleaser build` does), so the check runs on a
# copy of .goreleaser.yaml whose build lists the one target. Pass --full (or
# set JIT_RELEASE_FULL=1) for linux and windows on amd64 and arm64; darwin is
# built (with cgo, for the Keychain) only on a Mac.
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

# darwin is built with cgo (the Keychain backend) and so only on a Mac (the
# release job, .github/workflows/release.yml); elsewhere the darwin build is
# skipped and internal/releaseconfig's test checks what it would link.
if [[ "$(uname -s)" != Darwin ]]; then
	export JIT_RELEASE_SKIP_DARWIN=1
fi

say "goreleaser check (and no deprecation notice)"
check_out=$(goreleaser check 2>&1) || { printf '%s\n' "${check_out}" >&2; die "goreleaser check failed"; }
printf '%s\n' "${check_out}"
if grep -qiE 'deprecat|phased out' <<<"${check_out}"; then
	die "goreleaser check reports a deprecated setting (see above); move to the replacement it names"
fi

args=(release --snapshot --clean --skip=publish)
if [[ -n "${full}" ]]; then
	say "snapshot release, full matrix (linux, windows × amd64, arm64; darwin only on a Mac)"
else
	say "snapshot release, linux/amd64 only (--full for every target)"
	one=$(mktemp /tmp/jit-goreleaser.XXXXXX.yaml)
	trap 'rm -f "${one}"' EXIT
	sed -e 's/^    goos: \[linux, windows\]$/    targets: [linux_amd64_v1]/' -e '/^    goarch: \[amd64, arm64\]$/d' \
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

# The .deb installed into a scratch root (unit, config, man pages; systemd-analyze
# verify) and the server image built with podman from this snapshot's binary.
say "package and image checks: go test -run 'TestDebPackage|TestContainerImage|TestSnapshotHas' ./internal/releaseconfig/"
JIT_REQUIRE_DIST=1 go test -count=1 -run 'TestDebPackage|TestContainerImage|TestSnapshotHas' ./internal/releaseconfig/
say "ok"
