#!/usr/bin/env bash
# deps.sh installs what jit needs on Debian 12, skipping whatever is already
# present; it prints one line per step and stops at the first error.
#
#   scripts/deps.sh [test]   everything `make test` uses: the apt packages of the
#                            real test peers (AWS CLI, boto3, keyrings, tmux,
#                            hyperfine, chromium, podman for the image, PostgreSQL
#                            15, slapd and ldap-utils for the directory target)
#                            and, into a tools cache, MinIO, its admin client
#                            mc, staticcheck, goreleaser and cyclonedx-gomod (the
#                            SBOMs), and with npm ci the Node test peers
#                            (oidc-provider, @cloud-copilot/iam-simulate,
#                            @modelcontextprotocol/sdk)
#                            (the default)
#   scripts/deps.sh demo     only what `make demo` runs: the AWS CLI and MinIO
#
# Environment: JIT_TOOLS_BIN (default ~/.cache/jit-tools/bin).
set -euo pipefail

TOOLS_BIN="${JIT_TOOLS_BIN:-${HOME:-/root}/.cache/jit-tools/bin}"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
GORELEASER_VERSION="v2.15.1"
MC_VERSION="v0.0.0-20250313080218-cf909e1063a9"
STATICCHECK_VERSION="v0.8.2"
CYCLONEDX_GOMOD_VERSION="v1.10.0"
MODE="${1:-test}"
case "${MODE}" in
test) APT_PACKAGES=(awscli python3-boto3 gnome-keyring dbus libsecret-tools keyutils tmux hyperfine chromium podman ca-certificates slapd ldap-utils) ;;
demo) APT_PACKAGES=(awscli ca-certificates) ;;
*) printf 'deps: error: unknown mode %s (want test or demo)\n' "${MODE}" >&2; exit 2 ;;
esac
PG_BIN="${JIT_PG_BIN:-/usr/lib/postgresql/15/bin}"

say() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }
trap 'die "failed at line ${LINENO}: ${BASH_COMMAND}"' ERR

if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	export PATH="/usr/local/go/bin:${PATH}"
fi
command -v go >/dev/null 2>&1 || die "go not found (install Go 1.26 at /usr/local/go)"

SUDO=()
if [[ ${EUID} -ne 0 ]]; then
	command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot apt-get install"
	SUDO=(sudo)
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
	installed "${pkg}" || missing+=("${pkg}")
done
if [[ "${MODE}" == test && ! -x "${PG_BIN}/postgres" ]]; then
	missing+=(postgresql-15)
fi
if ((${#missing[@]} == 0)); then
	say "apt packages present (${MODE}): ${APT_PACKAGES[*]}"
else
	say "apt-get update"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	if [[ " ${missing[*]} " == *" slapd "* ]]; then
		# The tests start their own slapd (internal/testenv.LDAP): no system
		# directory, database or service.
		echo 'slapd slapd/no_configuration boolean true' | "${SUDO[@]}" debconf-set-selections
	fi
	say "apt-get install ${missing[*]}"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# has_module BINARY MODULE VERSION: the binary exists and was built from MODULE@VERSION.
has_module() {
	[[ -x "$1" ]] && go version -m "$1" 2>/dev/null | grep -qE "^[[:space:]]+mod[[:space:]]+$2[[:space:]]+$3([[:space:]]|$)"
}

mkdir -p "${TOOLS_BIN}"
go_tool() { # go_tool NAME MODULE PACKAGE VERSION
	local name=$1 module=$2 pkg=$3 version=$4
	if has_module "${TOOLS_BIN}/${name}" "${module}" "${version}"; then
		say "${name} ${version} present in ${TOOLS_BIN}"
		return
	fi
	say "go install ${pkg}@${version} into ${TOOLS_BIN} (takes a few minutes)"
	GOBIN="${TOOLS_BIN}" GOFLAGS= go install "${pkg}@${version}"
	has_module "${TOOLS_BIN}/${name}" "${module}" "${version}" || die "${name} not built at ${TOOLS_BIN}/${name}"
}
go_tool minio github.com/minio/minio github.com/minio/minio "${MINIO_VERSION}"
if [[ "${MODE}" == test ]]; then
	go_tool mc github.com/minio/mc github.com/minio/mc "${MC_VERSION}"
	go_tool staticcheck honnef.co/go/tools honnef.co/go/tools/cmd/staticcheck "${STATICCHECK_VERSION}"
	go_tool goreleaser github.com/goreleaser/goreleaser/v2 github.com/goreleaser/goreleaser/v2 "${GORELEASER_VERSION}"
	# goreleaser's sboms step (one CycloneDX document per binary).
	go_tool cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod "${CYCLONEDX_GOMOD_VERSION}"
fi

# npm_peer DIR PACKAGE: npm ci in DIR (pinned by its package-lock.json)
# unless the version DIR/package.json pins for PACKAGE is installed there.
npm_peer() {
	local dir=$1 pkg=$2 version
	version="$(sed -n "s|.*\"${pkg}\": \"\([0-9.]*\)\".*|\1|p" "${dir}/package.json")"
	[[ -n "${version}" ]] || die "${dir}/package.json pins no exact version of ${pkg}"
	if grep -q "\"version\": \"${version}\"" "${dir}/node_modules/${pkg}/package.json" 2>/dev/null; then
		say "${pkg} ${version} present in ${dir}"
		return
	fi
	command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js 20+ and npm (apt-get install nodejs npm)"
	say "npm ci in ${dir} (${pkg} ${version})"
	(cd "${dir}" && npm ci --no-audit --no-fund --loglevel=error)
}

if [[ "${MODE}" == test ]]; then
	ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
	# The second test IdP (npm's oidc-provider).
	npm_peer "${ROOT}/internal/testidp/oidcprovider" oidc-provider
	# The independent IAM policy evaluator (AGPL; a separate test program).
	npm_peer "${ROOT}/internal/iamsim/node" @cloud-copilot/iam-simulate
	# The independent MCP client (npm's @modelcontextprotocol/sdk) that drives `jit mcp`.
	npm_peer "${ROOT}/internal/mcpclient/node" @modelcontextprotocol/sdk
fi

say "done (${MODE}); tools in ${TOOLS_BIN}"
