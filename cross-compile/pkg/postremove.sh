#!/bin/sh
# postrm of kipass-agent: masks the unit on removal and forgets it on purge
# (as dh_installsystemd does). Purge also deletes the state directory, i.e.
# the queue of scans that were not yet forwarded and the device credential
# (DynamicUser keeps it under /var/lib/private/kipass), and the queue key
# credential /etc/kipass/queue-key.cred. Plain remove keeps both.
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
	# The queue key credential goes with the queue it sealed.
	if [ -e /etc/kipass/queue-key.cred ]; then
		shred -u /etc/kipass/queue-key.cred 2>/dev/null || rm -f /etc/kipass/queue-key.cred
	fi
	rmdir /etc/kipass 2>/dev/null || true
fi
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
exit 0
