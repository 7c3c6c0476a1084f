#!/usr/bin/env bash
# e2e-smoke.sh TARGET — one visitor, end to end, with the TARGET's binaries
# from dist/TARGET/ running under qemu-user (natively for linux-amd64):
#
#   kipass-issuer keygen + issue --png --screen   (TARGET binary)
#   kipass-central serve --dev on 127.0.0.1       (host binary, pure Go; --dev:
#       devices need no credential, counts need no login)
#   kipass-agent run --config ...                 (TARGET binary) with source
#       folder:DIR holding the phone-screen PNG, audio through an external
#       command that records what it was asked to play
#
# KIPASS_E2E_SOURCE=stdin feeds the token text on the agent's standard
# input instead ("source": "stdin", the scan-engine path used on Android).
#
# It passes when central's hourly counts show the visit, i.e. the ARM build
# decoded the QR, verified the token, committed it to its bbolt queue and
# forwarded it. Then it stops the agent with SIGTERM and checks the exit.
# Only loopback is used. Takes ~10-40 s under qemu.
set -euo pipefail
. "$(dirname "$0")/env.sh"
TARGET=${1:?usage: e2e-smoke.sh TARGET}
cd "$REPO_DIR"
DIST=${DIST:-dist}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd) # absolute from here on
ensure_apt curl binutils
BIN=$DIST/$TARGET
for b in kipass-agent kipass-issuer; do
	[ -x "$BIN/$b" ] || die "$BIN/$b missing: run make cross (or make cross-$TARGET) first"
done

W=$(mktemp -d "${TMPDIR:-/tmp}/kipass-e2e-$TARGET.XXXXXX")
mkdir -p "$W/frames" "$W/data" "$W/tmp"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ "${KIPASS_KEEP:-0}" = 1 ] && log "kept $W" || rm -rf "$W"
}
trap cleanup EXIT

run=()
case $TARGET in
linux-amd64) ;;
linux-arm64) ensure_apt qemu-user-static; run=(qemu-aarch64-static -L "$("$CROSS_DIR/sysroot.sh" arm64)") ;;
linux-armv7) ensure_apt qemu-user-static; run=(qemu-arm-static -L "$("$CROSS_DIR/sysroot.sh" armhf)") ;;
android-arm64) ensure_apt qemu-user-static; run=(qemu-aarch64-static -L "$("$CROSS_DIR/android-root.sh")") ;;
*) die "unknown target $TARGET" ;;
esac
# Android's Go default TMPDIR is /data/local/tmp; a device needs TMPDIR too.
export TMPDIR=$W/tmp

log "e2e $TARGET: building the host central"
(GOOS= GOARCH= GOARM= CGO_ENABLED=0 go build -o "$W/kipass-central" ./cmd/kipass-central)

"${run[@]}" "$BIN/kipass-issuer" keygen --issuer dev --out "$W/key.json" --keyset "$W/keys.json" >/dev/null
port=$((20000 + RANDOM % 20000))
"$W/kipass-central" serve --dev --addr "127.0.0.1:$port" --data "$W/central" --keys "$W/keys.json" --log-level warn 2>"$W/central.log" &
pids+=($!)

facility=FAC-E2E-$TARGET
cat >"$W/agent.json" <<JSON
{
  "facility": "$facility",
  "device": "e2e-1",
  "source": "$( [ "${KIPASS_E2E_SOURCE:-folder}" = stdin ] && echo stdin || echo "folder:$W/frames")",
  "data_dir": "$W/data",
  "central_url": "http://127.0.0.1:$port",
  "keys_file": "$W/keys.json",
  "audio": {"command": ["sh", "-c", "echo played \$0 >>$W/played.log", "{file}"]},
  "log_level": "info",
  "status": {"listen": "127.0.0.1:$((port + 1))"}
}
JSON

# Wait for central before issuing: the token is valid for 15 s.
for _ in $(seq 50); do
	curl -fsS "http://127.0.0.1:$port/v1/time" >/dev/null 2>&1 && break
	sleep 0.2
done
start=$(date +%s%N)
if [ "${KIPASS_E2E_SOURCE:-folder}" = stdin ]; then
	mkfifo "$W/stdin"
	"${run[@]}" "$BIN/kipass-agent" run --config "$W/agent.json" <"$W/stdin" 2>"$W/agent.log" &
	agent=$!
	exec 3>"$W/stdin"
	"${run[@]}" "$BIN/kipass-issuer" issue --key "$W/key.json" >&3
else
	"${run[@]}" "$BIN/kipass-issuer" issue --key "$W/key.json" --png "$W/frames/0001.png" --screen >/dev/null
	"${run[@]}" "$BIN/kipass-agent" run --config "$W/agent.json" 2>"$W/agent.log" &
	agent=$!
fi
pids+=($agent)

date_kst=$(TZ=Asia/Seoul date +%F)
total=0
for _ in $(seq 120); do
	total=$(curl -fsS "http://127.0.0.1:$port/v1/counts?facility=$facility&date=$date_kst" 2>/dev/null |
		sed -n 's/.*"total":\([0-9]*\).*/\1/p' || true)
	[ "${total:-0}" -ge 1 ] && break
	kill -0 "$agent" 2>/dev/null || break
	sleep 0.5
done
ms=$((($(date +%s%N) - start) / 1000000))
kill -TERM "$agent" 2>/dev/null || true
exec 3>&-
rc=0
wait "$agent" || rc=$?
if [ "${total:-0}" -ge 1 ]; then
	log "e2e $TARGET (${KIPASS_E2E_SOURCE:-folder} source): ok — central stored $total visit(s) ${ms} ms after the agent started; agent exit $rc on SIGTERM; audio: $(wc -l <"$W/played.log" 2>/dev/null || echo 0) prompt(s) played through the command"
	[ $rc -eq 0 ] || { cat "$W/agent.log" >&2; die "agent exited $rc on SIGTERM"; }
else
	log "e2e $TARGET: FAILED — central stored no visit within ${ms} ms. agent log:"
	cat "$W/agent.log" >&2
	exit 1
fi
