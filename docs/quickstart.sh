#!/usr/bin/env bash
# docs/quickstart.sh — one facility with two entrances, against a real
# central (not --dev: every device needs its credential), on this machine.
#
#   1. an issuer key, central's accounts file, `kipass-central serve`
#   2. `kipass-central register`: the facility and its manager credential
#   3. `kipass-central code` + `kipass-agent enroll` for 정문 (a camera
#      source reading a watched folder) and 후문 (a scan engine on stdin)
#   4. one visitor at each entrance, with a token issued right before the scan
#   5. `kipass-central devices` and `kipass-central counts`: both entrances
#
# Run it with `make quickstart` (which builds bin/ first) or, once built,
# `docs/quickstart.sh`. It uses loopback only and a fresh directory
# (KIPASS_QUICKSTART_DIR, default a temporary one, removed at the end
# unless KIPASS_KEEP=1). Exit 0 means central counted both visits.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
for b in kipass-central kipass-agent kipass-issuer; do
	[ -x "$BIN/$b" ] || { echo "quickstart: $BIN/$b missing: run make build (or make quickstart)" >&2; exit 1; }
done
BIN=$(cd "$BIN" && pwd)
W=${KIPASS_QUICKSTART_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/kipass-quickstart.XXXXXX")}
port=${KIPASS_QUICKSTART_PORT:-$((20000 + RANDOM % 20000))}
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KIPASS_KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
umask 077 # credentials, keys and queues are for this user only

# Every folder the session needs, first.
mkdir -p "$W/central" "$W/front/frames" "$W/front/data" "$W/back/data" "$W/tmp"

step "central (not --dev): issuer key set, accounts, serve on 127.0.0.1:$port"
"$BIN/kipass-issuer" keygen --issuer dev --out "$W/issuer-key.json" --keyset "$W/keys.json"
secret() { head -c 24 /dev/urandom | base64 | tr '+/' '-_'; }
admin=$(secret) authority=$(secret)
printf '{"admins":{"ops":"%s"},"authorities":{"kdca":"%s"}}\n' "$admin" "$authority" >"$W/accounts.json"
printf '%s\n' "$admin" >"$W/admin.credential"
"$BIN/kipass-central" serve --addr "127.0.0.1:$port" --data "$W/central" --keys "$W/keys.json" \
	--accounts "$W/accounts.json" 2>"$W/central.log" &
pids+=($!)
export KIPASS_CENTRAL_URL=http://127.0.0.1:$port
for _ in $(seq 50); do
	"$BIN/kipass-central" business-types >/dev/null 2>&1 && break
	sleep 0.2
done

step "register the facility (its manager credential goes to manager.credential, 0600)"
facility=$("$BIN/kipass-central" register --business-number 124-81-00998 --name "코인노래방 합정점" \
	--representative "최민수" --phone 02-555-0101 --address "서울 마포구 양화로 45" --type karaoke \
	--manager-credential "$W/manager.credential")
export KIPASS_FACILITY=$facility KIPASS_CREDENTIAL_FILE=$W/manager.credential

# enroll DIR ENTRANCE SOURCE STATUS_PORT: an agent config without facility
# or device, a one-time code for the entrance, and `kipass-agent enroll`,
# which fills in facility, device, entrance and credential_file.
enroll() {
	cp "$W/keys.json" "$W/$1/keys.json"
	cat >"$W/$1/agent.json" <<JSON
{
  "source": "$3",
  "data_dir": "data",
  "central_url": "$KIPASS_CENTRAL_URL",
  "keys_file": "keys.json",
  "audio": {"device": "none"},
  "status": {"listen": "127.0.0.1:$4"}
}
JSON
	local code
	code=$("$BIN/kipass-central" code --entrance "$2")
	"$BIN/kipass-agent" enroll --code "$code" --config "$W/$1/agent.json" --name "$1"
}
step "enroll 정문 (camera source: the watched folder front/frames) and 후문 (scan engine on stdin)"
enroll front 정문 folder:frames $((port + 1))
enroll back 후문 stdin $((port + 2))

step "start 후문's agent, its scan engine reading a pipe"
mkfifo "$W/back/scanner"
"$BIN/kipass-agent" run --config "$W/back/agent.json" <"$W/back/scanner" 2>"$W/back/agent.log" &
pids+=($!)
exec 3>"$W/back/scanner" # the scan engine: one token per line
until_up() { # until_up PORT: the agent's status page answers
	for _ in $(seq 50); do
		rc=0
		"$BIN/kipass-agent" status --addr "127.0.0.1:$1" >/dev/null 2>&1 || rc=$?
		[ $rc -ne 1 ] && return 0 # 0 scanning, 3 up but not scanning yet
		sleep 0.2
	done
}
until_up $((port + 2))

step "start 정문's agent, its camera source watching the empty folder front/frames"
"$BIN/kipass-agent" run --config "$W/front/agent.json" 2>"$W/front/agent.log" &
pids+=($!)
until_up $((port + 1))

step "a visitor at 정문: a fresh token's QR (valid 15 s) moved into the watched folder"
"$BIN/kipass-issuer" issue --key "$W/issuer-key.json" --png "$W/tmp/visitor.png" --screen >/dev/null
mv "$W/tmp/visitor.png" "$W/front/frames/visitor-0001.png" # whole files only: mv, not cp

step "a visitor at 후문: a fresh token, read by the scan engine"
"$BIN/kipass-issuer" issue --key "$W/issuer-key.json" >&3

step "wait until central has both visits"
total=0
for _ in $(seq 60); do
	total=$("$BIN/kipass-central" counts | awk '/^all entrances/ {print $4}') # 14 days: safe across midnight KST
	[ "${total:-0}" -ge 2 ] && break
	sleep 0.5
done
if [ "${total:-0}" -lt 2 ]; then
	echo "quickstart: central counted ${total:-0} of 2 visits; the logs:" >&2
	tail -n 20 "$W/central.log" "$W/front/agent.log" "$W/back/agent.log" >&2
	exit 1
fi

step "the facility's devices and today's visitors per entrance"
"$BIN/kipass-central" devices
echo
"$BIN/kipass-central" counts
