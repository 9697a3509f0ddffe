#!/bin/sh
# jit package preremove: stop the server when the package is removed (deb:
# "remove"; rpm: 0 packages left), not when it is upgraded.
set -e
case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now jit.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
