#!/bin/sh
# postinst of kipass-agent: register the unit. The service is enabled but
# only (re)started when it was already running (an upgrade): a fresh install
# first needs a real /etc/kipass/agent.json.
set -e
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
