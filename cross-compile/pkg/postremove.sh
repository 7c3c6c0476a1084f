#!/bin/sh
# postrm of kipass-agent: on purge, delete the state directory, i.e. the
# queue of scans that were not yet forwarded (DynamicUser keeps it under
# /var/lib/private/kipass). Plain remove keeps it.
set -e
if [ "$1" = purge ]; then
	rm -rf /var/lib/private/kipass /var/lib/kipass
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
