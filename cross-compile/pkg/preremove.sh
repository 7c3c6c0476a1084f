#!/bin/sh
# prerm of kipass-agent: stops the agent on removal, not on upgrade (as
# dh_installsystemd does).
set -e
if [ -z "${DPKG_ROOT:-}" ] && [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	deb-systemd-invoke stop kipass-agent.service >/dev/null || true
fi
exit 0
