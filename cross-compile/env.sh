# shellcheck shell=bash
# env.sh — sourced by the build and test scripts: target tables and the cgo
# environment for the gocv/oto cross builds.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# OpenCV modules gocv v0.31.0 links (it compiles all of its .cpp files).
# Used with -tags customenv instead of `pkg-config opencv4`, which would link
# every module of Debian's build including contrib.
OPENCV_LIBS="-lopencv_core -lopencv_imgproc -lopencv_imgcodecs -lopencv_videoio -lopencv_highgui -lopencv_objdetect -lopencv_calib3d -lopencv_features2d -lopencv_dnn -lopencv_photo -lopencv_video"

# target_debarch TARGET -> Debian architecture of a dist target.
target_debarch() {
	case $1 in
	linux-arm64) echo arm64 ;;
	linux-armv7) echo armhf ;;
	linux-amd64) echo amd64 ;;
	android-arm64) echo arm64 ;;
	*) die "unknown target $1 (want linux-arm64, linux-armv7, linux-amd64, android-arm64)" ;;
	esac
}

# go_env TARGET: exports GOOS/GOARCH/GOARM for TARGET and clears cgo settings.
go_env() {
	unset KIPASS_SYSROOT GOARM CC CXX CGO_CFLAGS CGO_CXXFLAGS CGO_LDFLAGS PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH
	export CGO_ENABLED=0
	case $1 in
	linux-arm64) export GOOS=linux GOARCH=arm64 ;;
	linux-armv7) export GOOS=linux GOARCH=arm GOARM=7 ;;
	linux-amd64) export GOOS=linux GOARCH=amd64 ;;
	android-arm64) export GOOS=android GOARCH=arm64 ;;
	*) die "unknown target $1" ;;
	esac
}

# cgo_env TARGET: sets up cgo (gocv + oto) for a linux TARGET. For ARM it makes
# sure the cross compiler and the sysroot exist (installing/building them when
# missing) and exports KIPASS_SYSROOT. Adds customenv to GO_TAGS.
cgo_env() {
	local target=$1 arch triplet s inc libs
	arch=$(target_debarch "$target")
	triplet=$(arch_triplet "$arch")
	case $target in
	android-*) die "cgo for Android needs the NDK, which is not available; build android with CGO_ENABLED=0" ;;
	esac
	ensure_apt pkg-config
	export CGO_ENABLED=1
	GO_TAGS="${GO_TAGS:+$GO_TAGS,}customenv"
	if [ "$arch" = amd64 ]; then
		ensure_apt gcc g++ libopencv-dev libasound2-dev
		s=
		export CC=gcc CXX=g++
	else
		ensure_apt "crossbuild-essential-$arch"
		s=$("$CROSS_DIR/sysroot.sh" "$arch")
		export KIPASS_SYSROOT=$s
		export CC="$triplet-gcc" CXX="$triplet-g++"
		export PKG_CONFIG_LIBDIR="$s/usr/lib/$triplet/pkgconfig:$s/usr/share/pkgconfig"
		export PKG_CONFIG_SYSROOT_DIR=$s
	fi
	local sys=${s:+--sysroot=$s}
	inc="-I$s/usr/include/opencv4 -I$s/usr/include/$triplet/opencv4"
	libs="-L$s/usr/lib/$triplet"
	if [ -n "$s" ]; then
		libs="$libs -Wl,-rpath-link=$s/usr/lib/$triplet:$s/lib/$triplet:$s/usr/lib/$triplet/blas:$s/usr/lib/$triplet/lapack"
	fi
	export CGO_CFLAGS="-O2 $sys $inc"
	export CGO_CXXFLAGS="-O2 --std=c++11 $sys $inc"
	export CGO_LDFLAGS="$sys $libs $OPENCV_LIBS"
}
