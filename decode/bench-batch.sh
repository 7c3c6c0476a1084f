#!/usr/bin/env bash
# bench-batch.sh — batch wall time and peak memory of a folder of stills:
# `kipass-agent decode --json` in the cgo build (OpenCV stage) and the pure
# Go build, against one ZXingReader process (zxing-cpp's command line), on
# the same PNG files. Each figure is the best of RUNS runs (default 3);
# reading the PNGs is timed on every side (they are files here).
#
# Usage: decode/bench-batch.sh [DIR]  (default: the stills written by
# benchdecode -n 4 -keep, 4 per category and size, into a temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=${1:-}
if [ -z "$dir" ]; then
	dir=$work/stills
	go run ./decode/cmd/benchdecode -n 4 -testdata=false -keep "$dir" >/dev/null
fi
n=$(ls "$dir"/*.png | wc -l)
go build -o "$work/cgo/kipass-agent" ./cmd/kipass-agent
CGO_ENABLED=0 go build -o "$work/purego/kipass-agent" ./cmd/kipass-agent
command -v ZXingReader >/dev/null || { echo "ZXingReader missing: apt-get install zxing-cpp-tools" >&2; exit 1; }

# best RUNS: prints "wall_s peak_kib read"
measure() {
	local best_wall="" best_rss="" read=0 i out wall rss
	for i in $(seq "$runs"); do
		/usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>/dev/null || true
		read -r wall rss < <(tail -1 "$work/time")
		if [ -z "$best_wall" ] || awk "BEGIN{exit !($wall < $best_wall)}"; then best_wall=$wall; fi
		if [ -z "$best_rss" ] || [ "$rss" -lt "$best_rss" ]; then best_rss=$rss; fi
	done
	case $1 in
	*ZXingReader) read=$(grep -c '^Text:' "$work/out" || true) ;;
	*) read=$(grep -c '"ok":true' "$work/out" || true) ;;
	esac
	echo "$best_wall $best_rss $read"
}

echo "batch: $n stills in $dir, best of $runs runs, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %8s %10s %6s\n' build wall "peak RSS" read
for b in cgo purego; do
	read -r wall rss got < <(measure "$work/$b/kipass-agent" decode --json "$dir"/*.png)
	label=$([ $b = cgo ] && echo "kipass-agent decode (cgo, OpenCV)" || echo "kipass-agent decode (pure Go)")
	printf '%-34s %7ss %7d MiB %6s\n' "$label" "$wall" $((rss / 1024)) "$got"
done
read -r wall rss got < <(measure ZXingReader -format QRCode "$dir"/*.png)
printf '%-34s %7ss %7d MiB %6s\n' "ZXingReader (one process)" "$wall" $((rss / 1024)) "$got"
