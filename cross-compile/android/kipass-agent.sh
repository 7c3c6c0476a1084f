#!/system/bin/sh
# kipass-agent.sh — start kipass-agent (android/arm64, static) with the
# environment a pure-Go binary does not get on Android. Used by the adb test,
# the Termux service and as the reference for an app's ProcessBuilder.
# Everything lives in KIPASS_HOME (default: this script's directory).
# See cross-compile/ANDROID.md.
KIPASS_HOME=${KIPASS_HOME:-$(cd "$(dirname "$0")" && pwd)}
cd "$KIPASS_HOME" || exit 1

# Go's default temp dir on Android, /data/local/tmp, is not writable by apps.
export TMPDIR="${TMPDIR:-$KIPASS_HOME/tmp}"
# Go on Android ignores TZ unless the agent applies it (ANDROID.md); set it anyway.
export TZ="${TZ:-Asia/Seoul}"
# TLS roots: the updatable Conscrypt store (Android 14+) first, then the system store.
export SSL_CERT_DIR="${SSL_CERT_DIR:-/apex/com.android.conscrypt/cacerts:/system/etc/security/cacerts}"
# No /etc/resolv.conf on Android: DNS servers for the agent's explicit resolver.
export KIPASS_DNS="${KIPASS_DNS:-1.1.1.1:53,8.8.8.8:53}"

mkdir -p "$TMPDIR" "$KIPASS_HOME/data"
chmod 700 "$TMPDIR" "$KIPASS_HOME/data"

BIN=${KIPASS_BIN:-$KIPASS_HOME/kipass-agent}
exec "$BIN" run --config "$KIPASS_HOME/agent.json"
