#!/usr/bin/env bash
# build.sh TARGET... — cross-build the KI-Pass binaries into dist/TARGET/.
#
# TARGET: linux-arm64 | linux-armv7 | linux-amd64 | android-arm64
#
#   linux-*        kipass-agent with cgo in two builds: kipass-agent (oto, no
#                  OpenCV) and kipass-agent-opencv (gocv + oto; the first execs
#                  it when a source needs OpenCV), -tags customenv, PIE, linked
#                  against the OpenCV/ALSA of a Debian bookworm sysroot for ARM,
#                  of the host for amd64); kipass-central and kipass-issuer
#                  pure Go (CGO_ENABLED=0, static).
#   android-arm64  everything pure Go (CGO_ENABLED=0): no NDK here, so no
#                  gocv and no oto; the agent uses its pure-Go fallbacks.
#
# Environment:
#   KIPASS_BINS      commands to build (default: every ./cmd/kipass-* present;
#                    the probe when there is none yet)
#   KIPASS_CGO_BINS  which of them use cgo on linux (default: kipass-agent probe)
#   KIPASS_VERSION   version stamped with -X main.version (default: git describe)
#   KIPASS_NOCGO=1   build linux targets without cgo too (pure-Go fallbacks)
#   DIST             output directory (default: dist)
set -euo pipefail
. "$(dirname "$0")/env.sh"

[ $# -ge 1 ] || die "usage: build.sh TARGET..."
cd "$REPO_DIR"
DIST=${DIST:-dist}

if [ -z "${KIPASS_BINS:-}" ]; then
	KIPASS_BINS=
	for d in cmd/kipass-*; do
		if compgen -G "$d/*.go" >/dev/null; then KIPASS_BINS="$KIPASS_BINS ./$d"; fi
	done
	[ -n "$KIPASS_BINS" ] || KIPASS_BINS=./cross-compile/probe
fi
KIPASS_CGO_BINS=${KIPASS_CGO_BINS:-kipass-agent probe}
VERSION=${KIPASS_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}

for target in "$@"; do
	out=$DIST/$target
	mkdir -p "$out"
	for pkg in $KIPASS_BINS; do
		name=$(basename "$pkg")
		GO_TAGS=${KIPASS_TAGS:-}
		go_env "$target"
		mode="pure Go"
		buildmode=()
		if [[ $target == linux-* ]] && [ "${KIPASS_NOCGO:-0}" != 1 ] && [[ " $KIPASS_CGO_BINS " == *" $name "* ]]; then
			cgo_env "$target"
			mode="cgo, PIE, CC=$CC${KIPASS_SYSROOT:+, sysroot $KIPASS_SYSROOT}"
			# A position-independent executable, as Debian builds them (lintian:
			# hardening-no-pie); the C linker is at hand for cgo builds.
			buildmode=(-buildmode=pie)
		fi
		# The agent with cgo comes in two builds: kipass-agent without
		# OpenCV (oto only), and kipass-agent-opencv, which the first
		# replaces itself by when its source needs OpenCV.
		builds=("$name:$GO_TAGS")
		if [ "$name" = kipass-agent ] && [ ${#buildmode[@]} -gt 0 ]; then
			builds=("kipass-agent:${GO_TAGS:+$GO_TAGS,}nocv" "kipass-agent-opencv:$GO_TAGS")
		fi
		for b in "${builds[@]}"; do
			bname=${b%%:*} tags=${b#*:}
			log "build $target/$bname ($mode${tags:+, tags $tags})"
			start=$(date +%s)
			go build -trimpath "${buildmode[@]}" ${tags:+-tags "$tags"} \
				-ldflags "-s -w -X main.version=$VERSION" \
				-o "$out/$bname" "$pkg"
			log "  -> $out/$bname $(du -h "$out/$bname" | cut -f1) in $(($(date +%s) - start))s"
		done
	done
done
