#!/usr/bin/env bash
# Installs the amd64 kipass-agent .deb on this machine (root), checks what
# the maintainer scripts made, purges it, and checks that nothing of the
# device's state or keys is left: the queue key credential, the state
# directory, the unit's enablement. Run by `make deb-install-check` (CI).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
deb=$(ls "${KIPASS_DIST:-dist}"/kipass-agent_*_amd64.deb)
[ "$(id -u)" = 0 ] || die "needs root (it installs and purges $deb)"
dpkg -s kipass-agent >/dev/null 2>&1 && die "kipass-agent is already installed here; not touching it"
fail() { echo "deb-install: FAIL: $*" >&2; dpkg --purge kipass-agent >/dev/null 2>&1 || true; exit 1; }
# apt-get installs what the package depends on (systemd, OpenCV, ALSA) too.
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$(realpath "$deb")" >/dev/null
[ -x /usr/bin/kipass-agent ] || fail "/usr/bin/kipass-agent missing after install"
[ -f /etc/kipass/agent.json ] || fail "/etc/kipass/agent.json missing after install"
if command -v systemd-creds >/dev/null; then
	[ -s /etc/kipass/queue-key.cred ] || fail "no queue key credential after install"
	[ "$(stat -c %a /etc/kipass/queue-key.cred)" = 600 ] || fail "queue key credential is not mode 0600"
fi
/usr/bin/kipass-agent --help >/dev/null 2>&1 || fail "the installed kipass-agent does not run"
/usr/libexec/kipass/kipass-agent-opencv --version >/dev/null 2>&1 || fail "the installed OpenCV build does not run"
# OpenCV is loaded only by the OpenCV build, for a source that needs it.
readelf -d /usr/bin/kipass-agent | grep -q 'NEEDED.*libopencv' && fail "/usr/bin/kipass-agent links OpenCV"
mkdir -p /var/lib/private/kipass && echo x >/var/lib/private/kipass/queue.db # what a device leaves
dpkg --purge kipass-agent >/dev/null
for p in /usr/bin/kipass-agent /usr/libexec/kipass /etc/kipass/queue-key.cred /etc/kipass /var/lib/private/kipass \
	/etc/systemd/system/multi-user.target.wants/kipass-agent.service; do
	[ ! -e "$p" ] || fail "$p is left after purge"
done
echo "deb-install: installed, ran and purged $(basename "$deb"); nothing left"
