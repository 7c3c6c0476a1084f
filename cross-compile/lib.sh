# shellcheck shell=bash
# Shared helpers for the cross-compile scripts. Source it; do not run it.
#
# Environment:
#   KIPASS_CROSS_CACHE  cache for sysroots and downloaded .debs
#                       (default ${XDG_CACHE_HOME:-$HOME/.cache}/kipass-cross)
#   KIPASS_NO_APT=1     never call apt-get; fail if a tool is missing

set -euo pipefail

CROSS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$CROSS_DIR/.." && pwd)
CACHE_DIR=${KIPASS_CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kipass-cross}

# Debian suite of the sysroots; gocv v0.31.0 needs bookworm's OpenCV 4.6.
SUITE=${KIPASS_SUITE:-bookworm}
MIRROR=${KIPASS_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${KIPASS_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

log() { printf '[cross] %s\n' "$*" >&2; }
die() { printf '[cross] error: %s\n' "$*" >&2; exit 1; }

_apt_updated=0

# ensure_apt PKG... installs the Debian packages that are not installed yet.
# Idempotent: with everything present it runs no apt-get at all.
ensure_apt() {
	local missing=() p
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "${KIPASS_NO_APT:-0}" = 1 ] && die "missing Debian packages (KIPASS_NO_APT=1): ${missing[*]}"
	local sudo=
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	log "installing Debian packages: ${missing[*]}"
	if [ $_apt_updated = 0 ]; then
		log "apt-get update"
		$sudo apt-get update -qq || log "apt-get update reported errors; trying the install anyway"
		_apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Debian architecture name -> GNU triplet, qemu binary, Go GOARCH/GOARM.
arch_triplet() {
	case $1 in
	arm64) echo aarch64-linux-gnu ;;
	armhf) echo arm-linux-gnueabihf ;;
	amd64) echo x86_64-linux-gnu ;;
	*) die "unknown Debian architecture: $1" ;;
	esac
}
arch_qemu() {
	case $1 in
	arm64) echo qemu-aarch64-static ;;
	armhf) echo qemu-arm-static ;;
	*) die "no qemu for $1" ;;
	esac
}

sysroot_dir() { echo "$CACHE_DIR/sysroot-$1"; }
