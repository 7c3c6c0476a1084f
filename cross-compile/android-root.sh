#!/usr/bin/env bash
# android-root.sh — make (or reuse) a fake Android root for running
# GOOS=android GOARCH=arm64 binaries under qemu-aarch64-static -L ROOT.
#
# Go links android/arm64 executables as PIE with the interpreter
# /system/bin/linker64, also with CGO_ENABLED=0. Without the NDK there is no
# bionic linker here, so the fake root gets glibc's arm64 ld.so (from the arm64
# sysroot) under that name; for a static PIE it only maps and relocates the
# binary. The root also gets /system/etc/security/cacerts (from the host's CA
# bundle) so TLS code finds roots where it would on a device.
# Prints the root's path.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$CACHE_DIR/android-root
if [ -x "$ROOT/system/bin/linker64" ]; then
	echo "$ROOT"
	exit 0
fi
S=$("$CROSS_DIR/sysroot.sh" arm64)
mkdir -p "$ROOT/system/bin" "$ROOT/system/etc/security/cacerts"
cp "$S/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1" "$ROOT/system/bin/linker64"
if [ -d /etc/ssl/certs ]; then
	find /etc/ssl/certs -maxdepth 1 -name '*.0' -exec cp -L {} "$ROOT/system/etc/security/cacerts/" \; 2>/dev/null || true
fi
log "android root: $ROOT (linker64 = glibc arm64 ld.so, $(ls "$ROOT/system/etc/security/cacerts" | wc -l) CA certs)"
echo "$ROOT"
