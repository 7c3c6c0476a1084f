#!/usr/bin/env bash
# package.sh TARGET... — build the kipass-agent .deb for each linux TARGET
# (linux-arm64 -> arm64, linux-armv7 -> armhf, linux-amd64 -> amd64) from
# dist/TARGET/kipass-agent into dist/kipass-agent_VERSION_ARCH.deb, with nfpm.
#
# Runtime dependencies are read from the binary's ELF NEEDED entries and
# mapped to Debian 12 package names (libopencv_core.so.406 -> libopencv-core406,
# libasound.so.2 -> libasound2, ...), so the .deb asks for exactly the OpenCV
# modules the agent links.
#
# nfpm is installed once with `go install` into the cache (pinned: v2.44.0;
# v2.48.0 needs a module that the Go module proxy here refuses).
#
# Environment: KIPASS_VERSION, DIST, KIPASS_DEB_BIN (binary name in dist/TARGET,
# default kipass-agent), KIPASS_DEB_CONFIG (the default /etc/kipass/agent.json;
# default docs/agent.example.json).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$CROSS_DIR/env.sh"

NFPM_VERSION=v2.44.0
[ $# -ge 1 ] || die "usage: package.sh TARGET..."
cd "$REPO_DIR"
DIST=${DIST:-dist}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd) # absolute from here on
ensure_apt binutils

NFPM=$CACHE_DIR/bin/nfpm-$NFPM_VERSION
if [ ! -x "$NFPM" ]; then
	log "installing nfpm $NFPM_VERSION (go install) into $CACHE_DIR/bin"
	mkdir -p "$CACHE_DIR/bin"
	tmp=$(mktemp -d)
	(cd "$tmp" && GOBIN="$tmp" CGO_ENABLED=0 GOOS= GOARCH= GOFLAGS= go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION")
	mv "$tmp/nfpm" "$NFPM"
	rm -rf "$tmp"
fi

# Debian-compatible version: a tag v1.2.3 -> 1.2.3, else 0.0.0~gitDATE.HASH.
if [ -z "${KIPASS_DEB_VERSION:-}" ]; then
	if [ -n "${KIPASS_VERSION:-}" ]; then
		KIPASS_DEB_VERSION=${KIPASS_VERSION#v}
	elif tag=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null); then
		KIPASS_DEB_VERSION=${tag#v}
	else
		KIPASS_DEB_VERSION="0.0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d%H%M 2>/dev/null || date +%Y%m%d%H%M).$(git rev-parse --short HEAD 2>/dev/null || echo local)"
	fi
fi
export KIPASS_DEB_VERSION

# The changelog (a native package: changelog.gz) and the manual page,
# compressed as Debian wants them (gzip -9n: no name, no timestamp).
GEN=$(mktemp -d)
trap 'rm -rf "$GEN"' EXIT
{
	printf 'kipass-agent (%s) stable; urgency=medium\n\n' "$KIPASS_DEB_VERSION"
	printf '  * Built from commit %s: %s\n\n' "$(git rev-parse --short HEAD 2>/dev/null || echo local)" \
		"$(git log -1 --format=%s 2>/dev/null | cut -c1-45 || echo 'local build')"
	printf ' -- KI-Pass team <kipass@example.invalid>  %s\n' \
		"$(LC_ALL=C date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")"
} | gzip -9n >"$GEN/changelog.gz"
gzip -9n <"$CROSS_DIR/pkg/kipass-agent.1" >"$GEN/kipass-agent.1.gz"
export KIPASS_DEB_CHANGELOG=$GEN/changelog.gz KIPASS_DEB_MANPAGE=$GEN/kipass-agent.1.gz

KIPASS_DEB_CONFIG=${KIPASS_DEB_CONFIG:-$REPO_DIR/docs/agent.example.json}
[ -f "$KIPASS_DEB_CONFIG" ] || die "default config $KIPASS_DEB_CONFIG missing"
export KIPASS_DEB_CONFIG

# deb_depends BINARY...: Debian dependencies from the ELF NEEDED entries.
deb_depends() {
	local lib deps=()
	while read -r lib; do
		case $lib in
		libopencv_*.so.*) # libopencv_core.so.406 -> libopencv-core406
			local mod=${lib#libopencv_} soname
			soname=${mod##*.so.}
			mod=${mod%%.so.*}
			deps+=("libopencv-${mod//_/-}$soname") ;;
		libasound.so.2) deps+=(libasound2) ;;
		libstdc++.so.6) deps+=(libstdc++6) ;;
		libgcc_s.so.1) deps+=(libgcc-s1) ;;
		libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | libresolv.so.2) deps+=(libc6) ;;
		*) die "no Debian package known for $lib (extend deb_depends in package.sh)" ;;
		esac
	done < <(for f in "$@"; do readelf -d "$f"; done | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
	# The unit hands the queue key over as an encrypted credential
	# (LoadCredentialEncrypted=, systemd-creds): systemd 250 or later.
	deps+=("systemd (>= 250)")
	printf '%s\n' "${deps[@]}" | sort -u | paste -sd, - | sed 's/,/, /g'
}

for target in "$@"; do
	arch=$(target_debarch "$target")
	[[ $target == linux-* ]] || die "no .deb for $target"
	bin=$DIST/$target/${KIPASS_DEB_BIN:-kipass-agent}
	[ -x "$bin" ] || die "$bin missing: run cross-compile/build.sh $target (make cross) first"
	cvbin=$(dirname "$bin")/kipass-agent-opencv
	[ -x "$cvbin" ] || die "$cvbin missing: run cross-compile/build.sh $target (make cross) first"
	export KIPASS_DEB_ARCH=$arch KIPASS_DEB_BINARY=$bin KIPASS_DEB_OPENCV_BINARY=$cvbin KIPASS_PKG_DIR=$CROSS_DIR/pkg
	KIPASS_DEB_DEPENDS=$(deb_depends "$bin" "$cvbin")
	export KIPASS_DEB_DEPENDS
	rm -f "$DIST/kipass-agent_"*"_$arch.deb"
	out=$DIST/kipass-agent_${KIPASS_DEB_VERSION}_$arch.deb
	log "package $out (depends: ${KIPASS_DEB_DEPENDS:-none})"
	(cd "$CROSS_DIR/pkg" && "$NFPM" package --config nfpm.yaml --packager deb --target "$out" >&2)
done
