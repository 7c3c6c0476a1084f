#!/bin/sh
# postinst of kipass-agent: register the unit. The service is enabled but
# only (re)started when it was already running (an upgrade): a fresh install
# first needs a real /etc/kipass/agent.json.
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
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	if [ "$1" = configure ] || [ "$1" = 1 ]; then
		systemctl enable kipass-agent.service >/dev/null 2>&1 || true
		systemctl try-restart kipass-agent.service || true
	fi
fi
if [ "$1" = configure ] && [ -z "$2" ]; then
	echo "kipass-agent: edit /etc/kipass/agent.json, then: systemctl start kipass-agent"
fi
exit 0
