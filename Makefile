# KI-Pass scanner agent. `make demo` and `make test` work on a fresh Debian 12
# machine with Go at /usr/local/go: they install the missing Debian packages
# first (as root, or through sudo).

export PATH := /usr/local/go/bin:$(PATH)
GO      ?= go
BIN     ?= bin
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build and the tests need.
DEB_BUILD := gcc g++ pkg-config libopencv-dev libasound2-dev
# Reference decoders for the decode benchmarks (zxing-cpp in-process through
# Debian's Python, ZXingReader for batch timing); voice tools for `make voices`.
DEB_BENCH := zxing-cpp-tools python3-zxing-cpp python3-numpy
DEB_VOICE := espeak-ng sox

.PHONY: all build demo quickstart test deps deps-bench deps-voice vet clean help prompts

all: build

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

# install-debs PACKAGES: installs the packages that are missing, once.
define install-debs
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

include status/status.mk
include central/central.mk
include trust/trust.mk
include cross-compile/cross.mk
include faults/faults.mk
include decode/decode.mk
include soak/soak.mk

deps: ## install the Debian packages the build needs
	@command -v $(GO) >/dev/null || { echo "Go is missing: install Go 1.26+ to /usr/local/go (https://go.dev/dl)"; exit 1; }
	$(call install-debs,$(DEB_BUILD))

deps-bench:
	$(call install-debs,$(DEB_BENCH))

deps-voice:
	$(call install-debs,$(DEB_VOICE))

build: deps ## build into bin/: kipass-agent (no OpenCV), kipass-agent-opencv (loaded only for a source that needs it), kipass-central, kipass-issuer
	$(GO) build -tags nocv -o $(BIN)/ ./cmd/...
	$(GO) build -o $(BIN)/kipass-agent-opencv ./cmd/kipass-agent

demo: build ## run the whole scan path on a generated sample
	$(BIN)/kipass-agent demo

quickstart: build ## a facility with two entrances against a real (non-dev) central: docs/quickstart.sh
	BIN=$(BIN) docs/quickstart.sh

vet: deps
	$(GO) vet ./...

test: deps deps-browser deps-pg ## go vet and the race-enabled test suite (with a throwaway PostgreSQL)
	$(GO) vet ./...
	central/pg/testdb.sh run -- $(GO) test -race ./...

prompts: deps-voice ## regenerate the voice clips in audio/prompts (espeak-ng + sox)
	sh audio/prompts/make-prompts.sh

bench-decode: deps deps-bench ## decode rate and ms per frame: ours vs zxing-cpp, both in-process on one thread, on generated screen photos
	nice $(GO) run ./decode/cmd/benchdecode -n 12 -seq 6

clean:
	rm -rf $(BIN) dist
