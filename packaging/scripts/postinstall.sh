#!/bin/sh
# jit package postinstall (deb and rpm): create the jit system user, let it
# read /etc/jit/jit.yaml, and tell systemd about the unit. The service is not
# enabled or started: edit the config first, then `systemctl enable --now jit`.
set -e
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers /usr/lib/sysusers.d/jit.conf
elif ! getent passwd jit >/dev/null 2>&1; then
	useradd --system --user-group --home-dir /var/lib/jit --no-create-home --shell /usr/sbin/nologin jit
fi
if [ -f /etc/jit/jit.yaml ] && getent group jit >/dev/null 2>&1; then
	chgrp jit /etc/jit/jit.yaml
	chmod 0640 /etc/jit/jit.yaml
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	# An upgrade restarts a running server so it runs the new binary
	# (migrations are forward-only: back up first, see docs/deployment.md).
	systemctl try-restart jit.service >/dev/null 2>&1 || true
fi
exit 0
