# Fault suite and queue benchmark (issue 6). Include from the Makefile:
#   include faults/faults.mk
# The disk-full scenario mounts a loop ext4 filesystem (root, mkfs.ext4 from
# e2fsprogs, mount from util-linux); without them it falls back to the
# queue's capacity limit and says so on its line. The power-loss scenario
# mounts a FUSE filesystem in process (go-fuse, DirectMount: root and
# /dev/fuse; no fusermount needed); without them its line says SKIP.

DEB_FAULTS := e2fsprogs mount

.PHONY: faults faults-short bench-queue deps-faults

deps-faults:
	$(call install-debs,$(DEB_FAULTS))

# The long version: 200 kill -9 cycles, bigger backlogs, longer fault windows.
faults: build deps-faults ## fault suite, long version (one line per scenario)
	$(GO) run ./faults/cmd/kipass-faults suite -bin $(BIN)

# The CI version: a few minutes on 2 cores.
faults-short: build deps-faults ## fault suite, short (CI) version
	$(GO) run ./faults/cmd/kipass-faults suite -short -bin $(BIN)

bench-queue: ## durable enqueue rate and backlog drain rate (scans/s)
	$(GO) run ./faults/cmd/kipass-faults bench-queue
