# cross.mk — cross-compiled builds, tests under qemu-user and .deb packages.
# Include it from the top-level Makefile:   include cross-compile/cross.mk
# or use it alone:                          make -f cross-compile/cross.mk cross
#
# The scripts install the Debian packages they need (apt-get, idempotent) and
# keep sysroots, .debs and tools in $(KIPASS_CROSS_CACHE), outside the repo.
# Each recipe is one script call that handles its targets in sequence, so
# `make -j` cannot run two apt-get at once.
#
#   make cross             dist/{linux-arm64,linux-armv7,linux-amd64,android-arm64}/ + dist/SHA256SUMS
#   make cross-linux-arm64 one target (also -linux-armv7, -linux-amd64, -android-arm64)
#   make cross-sysroots    just the arm64 and armhf sysroots (mmdebstrap)
#   make test-arm64        go test ./... for linux/arm64, CGO_ENABLED=0, under qemu (CI)
#   make test-arm64-cgo    go test ./... for linux/arm64 with cgo (gocv, oto) and the sysroot
#   make test-armv7        go test ./... for linux/armv7, CGO_ENABLED=0, under qemu
#   make test-android-arm64 go test ./... for android/arm64 (pure Go) under qemu
#   make cross-smoke       the probe's checks (bbolt, gozxing, gocv, oto) on every ARM target under qemu
#   make cross-e2e         one visitor end to end with each target's dist/ binaries (qemu for ARM):
#                          issuer -> QR PNG -> agent (folder source) -> bbolt -> central counts;
#                          plus android with the token on the agent's stdin (scan-engine path)
#   make cross-e2e-linux-arm64  the same for one target
#   make deb               dist/kipass-agent_VERSION_{arm64,armhf,amd64}.deb (+ SHA256SUMS)
#   make lint-deb          the amd64 .deb, checked by lintian: no error, no warning (CI)
#   make deb-install-check install, run and purge the amd64 .deb here (root; CI)
#   make cross-measure     size and start-up time of every dist/ binary (qemu for ARM)
#   make cross-clean       remove dist/; cross-clean-cache also removes the sysroots

CROSS_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
KIPASS_DIST ?= dist
KIPASS_CROSS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kipass-cross
CROSS_TARGETS := linux-arm64 linux-armv7 linux-amd64 android-arm64
DEB_TARGETS := linux-arm64 linux-armv7 linux-amd64
# Packages tested under qemu; override e.g. CROSS_TEST_PKGS='./queue/... ./token/...'
CROSS_TEST_PKGS ?= ./...

export KIPASS_CROSS_CACHE
CROSS_ENV := DIST=$(KIPASS_DIST)

.PHONY: cross $(addprefix cross-,$(CROSS_TARGETS)) $(addprefix cross-e2e-,$(CROSS_TARGETS)) cross-sysroots cross-sums \
	test-arm64 test-arm64-cgo test-armv7 test-android-arm64 cross-smoke cross-e2e \
	deb lint-deb deb-install-check cross-measure cross-clean cross-clean-cache

cross: ## cross-compile dist/ for linux-arm64, linux-armv7 (cgo: gocv+oto via a Debian sysroot), linux-amd64, android-arm64 (pure Go) + SHA256SUMS
	$(CROSS_ENV) $(CROSS_DIR)/build.sh $(CROSS_TARGETS)
	$(CROSS_ENV) $(CROSS_DIR)/sums.sh

$(addprefix cross-,$(CROSS_TARGETS)): cross-%:
	$(CROSS_ENV) $(CROSS_DIR)/build.sh $*
	$(CROSS_ENV) $(CROSS_DIR)/sums.sh

cross-sysroots: ## build the arm64/armhf sysroots (mmdebstrap, cached outside the repo)
	$(CROSS_DIR)/sysroot.sh arm64 >/dev/null
	$(CROSS_DIR)/sysroot.sh armhf >/dev/null

cross-sums:
	$(CROSS_ENV) $(CROSS_DIR)/sums.sh

test-arm64: ## go test ./... for linux/arm64 (CGO_ENABLED=0) under qemu-user
	$(CROSS_DIR)/test-arm.sh --arch linux-arm64 $(CROSS_TEST_PKGS)

test-arm64-cgo: ## go test ./... for linux/arm64 with cgo (gocv, oto) under qemu-user
	$(CROSS_DIR)/test-arm.sh --cgo --arch linux-arm64 $(CROSS_TEST_PKGS)

test-armv7: ## go test ./... for linux/armv7 (CGO_ENABLED=0) under qemu-user
	$(CROSS_DIR)/test-arm.sh --arch linux-armv7 $(CROSS_TEST_PKGS)

test-android-arm64: ## go test ./... for android/arm64 (pure Go) under qemu-user
	$(CROSS_DIR)/test-arm.sh --arch android-arm64 $(CROSS_TEST_PKGS)

cross-smoke: ## probe checks (bbolt, gozxing, gocv, oto) on each ARM target under qemu
	KIPASS_TEST_FLAGS='-count=1 -v' $(CROSS_DIR)/test-arm.sh --cgo --arch linux-arm64 ./cross-compile/probe
	KIPASS_TEST_FLAGS='-count=1 -v' $(CROSS_DIR)/test-arm.sh --cgo --arch linux-armv7 ./cross-compile/probe
	KIPASS_TEST_FLAGS='-count=1 -v' $(CROSS_DIR)/test-arm.sh --arch android-arm64 ./cross-compile/probe

cross-e2e: ## one visitor end to end with each target's dist/ binaries (qemu for ARM)
	@for t in $(CROSS_TARGETS); do $(CROSS_ENV) $(CROSS_DIR)/e2e-smoke.sh $$t || exit 1; done
	$(CROSS_ENV) KIPASS_E2E_SOURCE=stdin $(CROSS_DIR)/e2e-smoke.sh android-arm64

$(addprefix cross-e2e-,$(CROSS_TARGETS)): cross-e2e-%:
	$(CROSS_ENV) $(CROSS_DIR)/e2e-smoke.sh $*

deb: ## kipass-agent .deb for arm64, armhf, amd64 (nfpm, hardened systemd unit)
	@for t in $(DEB_TARGETS); do [ -e $(KIPASS_DIST)/$$t/kipass-agent ] || { $(CROSS_ENV) $(CROSS_DIR)/build.sh $$t || exit 1; }; done
	$(CROSS_ENV) $(CROSS_DIR)/package.sh $(DEB_TARGETS)
	$(CROSS_ENV) $(CROSS_DIR)/sums.sh

lint-deb: ## build the amd64 kipass-agent .deb and check it with lintian (fails on any error or warning)
	$(call install-debs,lintian)
	KIPASS_BINS=./cmd/kipass-agent $(CROSS_ENV) $(CROSS_DIR)/build.sh linux-amd64
	$(CROSS_ENV) $(CROSS_DIR)/package.sh linux-amd64
	lintian --fail-on error,warning --info $(KIPASS_DIST)/kipass-agent_*_amd64.deb
	@echo "lintian: $$(ls $(KIPASS_DIST)/kipass-agent_*_amd64.deb) has no error and no warning"

deb-install-check: lint-deb ## install the amd64 .deb on this machine, run it, purge it, and check nothing is left (root)
	KIPASS_DIST=$(KIPASS_DIST) $(CROSS_DIR)/deb-install.sh

cross-measure: ## size and start-up time of every dist/ binary (qemu for ARM)
	$(CROSS_ENV) $(CROSS_DIR)/measure.sh

cross-clean: ## remove dist/
	rm -rf $(KIPASS_DIST)

cross-clean-cache: cross-clean ## also remove the sysroots and cached downloads
	rm -rf $(KIPASS_CROSS_CACHE)
