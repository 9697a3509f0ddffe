#!/usr/bin/env bash
# image.sh builds the jit server image (Containerfile) with podman from
# goreleaser's linux binaries: CI runs it on a snapshot (scripts/release-check.sh,
# checked by internal/releaseconfig's TestContainerImage), the release job on
# the released binaries, then pushes.
#
#   scripts/image.sh build [--dist DIR] [--tag IMAGE] [--platform linux/amd64,...]
#                          [--version V] [--revision R]
#
# Each platform's binary is dist/*_linux_<arch>*/jit. Without --platform, the
# platforms whose binaries exist are built. One platform: tagged IMAGE; several:
# a manifest list IMAGE with one image per platform. FROM scratch has no RUN
# step, so other architectures build without emulation.
set -euo pipefail

caller_dir=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'image: %s\n' "$*" >&2; }
die() { printf 'image: error: %s\n' "$*" >&2; exit 1; }

[[ "${1:-}" == build ]] || die "usage: scripts/image.sh build [--dist DIR] [--tag IMAGE] [--platform P,...] [--version V] [--revision R]"
shift
dist=dist tag=localhost/jit:snapshot platforms= version= revision=
while (($#)); do
	case "$1" in
	--dist) dist=$2; shift 2 ;;
	--tag) tag=$2; shift 2 ;;
	--platform) platforms=$2; shift 2 ;;
	--version) version=$2; shift 2 ;;
	--revision) revision=$2; shift 2 ;;
	*) die "unknown argument $1" ;;
	esac
done
[[ "${dist}" == /* ]] || dist="${caller_dir}/${dist}"
command -v podman >/dev/null 2>&1 || die "podman not found; run: bash scripts/deps.sh (apt-get install podman)"
ca=/etc/ssl/certs/ca-certificates.crt
[[ -s "${ca}" ]] || die "${ca} missing; run: apt-get install ca-certificates"

binary_for() { # binary_for ARCH: goreleaser's dist/jit_linux_ARCH*/jit
	find "${dist}" -maxdepth 2 -type f -name jit -path "*_linux_$1*" | sort | head -n 1
}
if [[ -z "${platforms}" ]]; then
	for arch in amd64 arm64; do
		[[ -n "$(binary_for "${arch}")" ]] && platforms+="${platforms:+,}linux/${arch}"
	done
	[[ -n "${platforms}" ]] || die "no linux binaries in ${dist}/ (run goreleaser, e.g. bash scripts/release-check.sh)"
fi
[[ -n "${revision}" ]] || revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
created=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo unknown)

ctx=$(mktemp -d /tmp/jit-image.XXXXXX)
trap 'rm -rf "${ctx}"' EXIT
# /var/lib comes with the root-owned rootfs: the state directory's COPY
# --chown would otherwise create /var and /var/lib owned by the jit user.
mkdir -p "${ctx}/rootfs/etc/ssl/certs" "${ctx}/rootfs/etc/jit" "${ctx}/rootfs/tmp" "${ctx}/rootfs/var/lib" "${ctx}/state"
chmod 1777 "${ctx}/rootfs/tmp"
chmod 0755 "${ctx}/rootfs/etc/jit" "${ctx}/rootfs/var" "${ctx}/rootfs/var/lib" "${ctx}/state"
cp "${ca}" "${ctx}/rootfs/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "${ctx}/rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\njit:x:65532:65532:jit server:/var/lib/jit:/sbin/nologin\n' >"${ctx}/rootfs/etc/passwd"
printf 'root:x:0:\njit:x:65532:\n' >"${ctx}/rootfs/etc/group"
chmod 0644 "${ctx}/rootfs/etc/passwd" "${ctx}/rootfs/etc/group"
cp Containerfile "${ctx}/Containerfile"

IFS=, read -r -a plats <<<"${platforms}"
for plat in "${plats[@]}"; do
	bin=$(binary_for "${plat#linux/}")
	[[ -n "${bin}" ]] || die "no ${plat} binary in ${dist}/"
	mkdir -p "${ctx}/${plat}"
	cp "${bin}" "${ctx}/${plat}/jit"
	chmod 0755 "${ctx}/${plat}/jit"
done
if [[ -z "${version}" ]]; then # what the binary says, when this machine can run it
	version=$("${ctx}/${plats[0]}/jit" version 2>/dev/null | awk '{print $2}') || true
	version=${version:-dev}
fi

build=(podman build --format oci --no-cache --layers=false --build-arg "VERSION=${version}" --build-arg "REVISION=${revision}"
	--build-arg "CREATED=${created}" -f "${ctx}/Containerfile")
if ((${#plats[@]} == 1)); then
	say "building ${tag} for ${plats[0]} (version ${version})"
	"${build[@]}" --platform "${plats[0]}" -t "${tag}" "${ctx}" >&2
else
	say "building manifest ${tag} for ${platforms} (version ${version})"
	podman manifest rm "${tag}" >/dev/null 2>&1 || true
	podman manifest create "${tag}" >/dev/null
	"${build[@]}" --platform "${platforms}" --manifest "${tag}" "${ctx}" >&2
fi
say "built ${tag}"
