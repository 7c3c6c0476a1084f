#!/usr/bin/env bash
# sums.sh — write DIST/SHA256SUMS (default dist/) over every file in it
# (binaries and .debs), with paths relative to DIST.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_DIR"
cd "${DIST:-dist}"
find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -r sha256sum >SHA256SUMS
log "wrote $(pwd)/SHA256SUMS ($(wc -l <SHA256SUMS) files)"
