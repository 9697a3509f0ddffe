#!/bin/sh
# jit package postremove: forget the unit. The jit user, /var/lib/jit (the
# SQLite store) and /var/log/jit (the audit export) are kept: they are data.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
