#!/bin/sh
# postrm of kipass-agent: masks the unit on removal and forgets it on purge
# (as dh_installsystemd does). Purge also deletes the state directory, i.e.
# the queue of scans that were not yet forwarded and the device credential
# (DynamicUser keeps it under /var/lib/private/kipass). Plain remove keeps it.
set -e
if [ "$1" = remove ] && command -v deb-systemd-helper >/dev/null; then
	deb-systemd-helper mask kipass-agent.service >/dev/null || true
fi
if [ "$1" = purge ]; then
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper purge kipass-agent.service >/dev/null || true
		deb-systemd-helper unmask kipass-agent.service >/dev/null || true
	fi
	rm -rf /var/lib/private/kipass /var/lib/kipass
fi
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
exit 0
