#!/bin/sh
# postinst of kipass-agent: registers the unit the way debhelper's
# dh_installsystemd does (deb-systemd-helper, deb-systemd-invoke), with one
# difference: a fresh install enables the unit but does not start it, since
# it first needs a real /etc/kipass/agent.json; an upgrade restarts a
# running agent (try-restart).
set -e
# The queue key as a systemd credential, sealed to this host (and its TPM2
# when there is one): made once. A key an older version kept in the state
# directory is moved into it, so the records it sealed stay readable.
cred=/etc/kipass/queue-key.cred
legacy=/var/lib/private/kipass/queue.db.key
if [ ! -e "$cred" ] && command -v systemd-creds >/dev/null 2>&1; then
	mkdir -p /etc/kipass
	tmp=$(mktemp)
	if [ -s "$legacy" ]; then
		cat "$legacy" >"$tmp"
	else
		head -c 32 /dev/urandom >"$tmp"
	fi
	if systemd-creds encrypt --name=queue-key "$tmp" "$cred"; then
		chmod 0600 "$cred"
		if [ -e "$legacy" ]; then
			shred -u "$legacy" 2>/dev/null || rm -f "$legacy"
		fi
	else
		echo "kipass-agent: could not make the queue key credential $cred" >&2
	fi
	shred -u "$tmp" 2>/dev/null || rm -f "$tmp"
fi
if [ "$1" = configure ] || [ "$1" = abort-upgrade ] || [ "$1" = abort-deconfigure ] || [ "$1" = abort-remove ]; then
	if command -v deb-systemd-helper >/dev/null; then
		# Only removes masks made by deb-systemd-helper on removal.
		deb-systemd-helper unmask kipass-agent.service >/dev/null || true
		# was-enabled is true on a first install, so the unit is enabled.
		if deb-systemd-helper --quiet was-enabled kipass-agent.service; then
			deb-systemd-helper enable kipass-agent.service >/dev/null || true
		else
			deb-systemd-helper update-state kipass-agent.service >/dev/null || true
		fi
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "$2" ]; then
			deb-systemd-invoke try-restart kipass-agent.service >/dev/null || true
		fi
	fi
fi
if [ "$1" = configure ] && [ -z "$2" ]; then
	echo "kipass-agent: edit /etc/kipass/agent.json, enroll (kipass-agent enroll --code CODE --config /etc/kipass/agent.json), then: systemctl start kipass-agent"
fi
exit 0
