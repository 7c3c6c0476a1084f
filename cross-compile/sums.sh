#!/usr/bin/env bash
# sums.sh — write dist/SHA256SUMS over every file in dist/ (binaries and .debs).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_DIR/${DIST:-dist}"
find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -r sha256sum >SHA256SUMS
log "wrote ${DIST:-dist}/SHA256SUMS ($(wc -l <SHA256SUMS) files)"
