#!/usr/bin/env bash
# sysroot.sh ARCH — build (or reuse) a Debian bookworm sysroot for cross-compiling
# the cgo parts of the agent (gocv + oto) for ARCH (arm64 or armhf).
#
# The sysroot is a plain directory extracted by mmdebstrap (--variant=extract:
# no install scripts run, nothing executes under emulation). It lives in the
# cache, outside the repository:
#     ${KIPASS_CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kipass-cross}/sysroot-ARCH
# Downloaded .debs are kept in .../debs-ARCH, so a rebuild downloads only what
# changed. A stamp file records the package list; with the same list the
# existing sysroot is reused and nothing is downloaded.
#
# Why not multiarch (apt-get install libopencv-dev:arm64)? On Debian 12 it wants
# to remove ~24 amd64 packages because gdal, gdcm, openexr & co. are not
# Multi-Arch: same. A separate sysroot avoids touching the host at all.
#
# Prints the sysroot path on stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ARCH=${1:?usage: sysroot.sh arm64|armhf}
TRIPLET=$(arch_triplet "$ARCH")
DIR=$(sysroot_dir "$ARCH")
DEBS=$CACHE_DIR/debs-$ARCH

# gocv compiles all of its .cpp files, so it needs these 11 OpenCV modules
# (core imgproc imgcodecs videoio highgui objdetect calib3d features2d dnn
# photo video) plus flann (features2d's dependency). opencv2/opencv.hpp also
# includes ml and stitching when opencv_modules.hpp lists them, and Debian's
# build lists them, so their headers must be present too.
# libopencv-contrib-dev (wechat_qrcode, aruco, ...) is opt-in: KIPASS_SYSROOT_CONTRIB=1.
PACKAGES=(
	libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
	libopencv-videoio-dev libopencv-highgui-dev libopencv-objdetect-dev
	libopencv-calib3d-dev libopencv-features2d-dev libopencv-flann-dev
	libopencv-dnn-dev libopencv-photo-dev libopencv-video-dev
	libopencv-ml-dev libopencv-stitching-dev
	libasound2-dev libc6-dev libstdc++-12-dev
)
if [ "${KIPASS_SYSROOT_CONTRIB:-0}" = 1 ]; then
	PACKAGES+=(libopencv-contrib-dev)
fi

STAMP_WANT="suite=$SUITE arch=$ARCH packages=${PACKAGES[*]} layout=3"
if [ -f "$DIR/.kipass-sysroot" ] && [ "$(cat "$DIR/.kipass-sysroot")" = "$STAMP_WANT" ]; then
	log "sysroot $ARCH: reusing $DIR"
	echo "$DIR"
	exit 0
fi

ensure_apt mmdebstrap debian-archive-keyring

mkdir -p "$CACHE_DIR" "$DEBS"
TMP="$DIR.tmp.$$"
rm -rf "$TMP"
trap 'rm -rf "$TMP"' EXIT

run_mmdebstrap() { # $@: extra sources
	local include
	include=$(IFS=,; echo "${PACKAGES[*]}")
	mmdebstrap --variant=extract --architectures="$ARCH" --include="$include" \
		--skip=download/empty \
		--setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
		--setup-hook="sync-in '$DEBS' /var/cache/apt/archives" \
		--extract-hook="sync-out /var/cache/apt/archives '$DEBS'" \
		"$SUITE" "$TMP" \
		"deb $MIRROR $SUITE main" \
		"deb $MIRROR $SUITE-updates main" \
		"$@" >&2
}

log "sysroot $ARCH: extracting ${#PACKAGES[@]} packages and their dependencies from $SUITE into $TMP (debs cached in $DEBS)"
if [ "${KIPASS_NO_SECURITY:-0}" != 1 ] && run_mmdebstrap "deb $SECURITY_MIRROR $SUITE-security main"; then
	:
else
	# The mirror's bookworm-security armhf index once had a size mismatch
	# that broke apt-get update; the sysroot only needs headers and link
	# libraries, so falling back to the main + updates suites is fine.
	log "sysroot $ARCH: retrying without $SUITE-security"
	rm -rf "$TMP"
	run_mmdebstrap
fi

# Extract mode runs no maintainer scripts, so update-alternatives never made
# libblas.so.3 / liblapack.so.3 (OpenCV core needs them: "undefined dsteqr_").
LIBDIR=$TMP/usr/lib/$TRIPLET
for lib in blas lapack; do
	if [ ! -e "$LIBDIR/lib$lib.so.3" ] && [ -e "$LIBDIR/$lib/lib$lib.so.3" ]; then
		ln -s "$lib/lib$lib.so.3" "$LIBDIR/lib$lib.so.3"
		log "sysroot $ARCH: linked lib$lib.so.3 -> $lib/lib$lib.so.3"
	fi
done

# Make absolute symlinks relative so they resolve inside the sysroot, both for
# the cross linker (--sysroot) and for qemu -L.
n=0
while IFS= read -r -d '' link; do
	target=$(readlink "$link")
	case $target in /*) ;; *) continue ;; esac
	rel=$(realpath -m --relative-to="$(dirname "$link")" "$TMP$target")
	ln -sfn "$rel" "$link"
	n=$((n + 1))
done < <(find "$TMP" -type l -print0)
log "sysroot $ARCH: made $n absolute symlinks relative"

echo "$STAMP_WANT" >"$TMP/.kipass-sysroot"
rm -rf "$DIR"
mv "$TMP" "$DIR"
trap - EXIT
log "sysroot $ARCH: ready at $DIR ($(du -sh "$DIR" | cut -f1))"
echo "$DIR"
