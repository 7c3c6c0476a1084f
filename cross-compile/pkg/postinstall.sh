#!/bin/sh
# postinst of kipass-agent: registers the unit the way debhelper's
# dh_installsystemd does (deb-systemd-helper, deb-systemd-invoke), with one
# difference: a fresh install enables the unit but does not start it, since
# it first needs a real /etc/kipass/agent.json; an upgrade restarts a
# running agent (try-restart).
set -e
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
