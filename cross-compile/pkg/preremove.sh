#!/bin/sh
# prerm of kipass-agent: stop and disable the unit on removal (not on upgrade).
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
	systemctl disable --now kipass-agent.service >/dev/null 2>&1 || true
fi
exit 0
