#!/usr/bin/env bash
# measure.sh [TARGET...] — print the size and start-up time of each binary in
# dist/TARGET/ (default: every target directory present). ARM binaries run
# under qemu-user (cgo ones with the sysroot as -L prefix, android ones in the
# fake /system/bin/linker64 root), amd64 natively.
#
# Start-up = wall time of `BINARY --version` (falls back to `-h` when the
# binary has no --version flag; the exit code is ignored, the run must only
# print something). "first" is the first run after the page cache was dropped
# (when /proc/sys/vm/drop_caches is writable, otherwise it says "warm"),
# "median" the median of KIPASS_MEASURE_RUNS further runs (default 5).
# Under qemu the time includes qemu's own start and emulating the dynamic
# loader: it is an upper bound for a real ARM device of similar clock speed,
# not a device figure.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$REPO_DIR"
DIST=${DIST:-dist}
RUNS=${KIPASS_MEASURE_RUNS:-5}
export TMPDIR=${TMPDIR:-/tmp}

if [ $# -eq 0 ]; then
	for d in "$DIST"/*/; do [ -d "$d" ] && set -- "$@" "$(basename "$d")"; done
fi

now_ns() { date +%s%N; }

# has_interp BINARY: true when BINARY names a program interpreter (ld.so).
has_interp() { case $(readelf -l "$1") in *"program interpreter"*) return 0 ;; esac; return 1; }
# needed_count BINARY: number of DT_NEEDED shared libraries.
needed_count() { readelf -d "$1" | awk '/\(NEEDED\)/ {n++} END {print n + 0}'; }

# runner TARGET BINARY: prints the command prefix that runs BINARY.
runner() {
	local target=$1 bin=$2
	case $target in
	linux-amd64) echo "" ;;
	linux-arm64 | linux-armv7)
		local q=qemu-aarch64-static arch=arm64
		[ "$target" = linux-armv7 ] && q=qemu-arm-static arch=armhf
		if has_interp "$bin"; then
			echo "$q -L $(sysroot_dir $arch)"
		else
			echo "$q"
		fi
		;;
	android-arm64) echo "qemu-aarch64-static -L $CACHE_DIR/android-root" ;;
	*) die "unknown target $target" ;;
	esac
}

# time_once CMD...: wall milliseconds of one run (output discarded).
time_once() {
	local t0 t1
	t0=$(now_ns)
	"$@" >/dev/null 2>&1 || true
	t1=$(now_ns)
	echo $(((t1 - t0) / 1000000))
}

drop_caches() {
	sync
	if { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then echo cold; else echo warm; fi
}

ensure_apt qemu-user-static binutils >/dev/null
[ -d "$CACHE_DIR/android-root" ] || "$CROSS_DIR/android-root.sh" >/dev/null

printf '%-14s %-15s %9s %-8s %-6s %8s %8s  %s\n' target binary bytes MiB cache first_ms med_ms "linked / run as"
for target in "$@"; do
	for bin in "$DIST/$target"/*; do
		[ -f "$bin" ] && [ -x "$bin" ] || continue
		name=$(basename "$bin")
		size=$(stat -c %s "$bin")
		mib=$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }')
		read -r -a run <<<"$(runner "$target" "$bin")"
		flag=--version
		if ! "${run[@]}" "$bin" --version >/dev/null 2>&1; then flag=-h; fi
		# make sure it runs at all: -h may exit 2 but must print usage
		if [ -z "$("${run[@]}" "$bin" $flag 2>&1 | head -c 1)" ]; then
			printf '%-14s %-15s %9s %-8s failed to run: %s %s %s\n' "$target" "$name" "$size" "$mib" "${run[*]}" "$bin" "$flag"
			continue
		fi
		state=$(drop_caches)
		first=$(time_once "${run[@]}" "$bin" $flag)
		times=()
		for _ in $(seq "$RUNS"); do times+=("$(time_once "${run[@]}" "$bin" $flag)"); done
		med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
		n=$(needed_count "$bin")
		if [ "$n" -gt 0 ]; then
			link="dynamic, $n libs"
		elif has_interp "$bin"; then
			link="static-pie"
		else
			link=static
		fi
		printf '%-14s %-15s %9s %-8s %-6s %8s %8s  %s; %s %s\n' "$target" "$name" "$size" "$mib" "$state" "$first" "$med" "$link" "${run[0]:-native}" "$flag"
	done
done
