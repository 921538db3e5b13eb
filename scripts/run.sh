#!/usr/bin/env bash
# Installs what is missing, builds, and runs `xoal serve` on the embedded SQLite store in
# ./xoal-data (or XOAL_DATA_DIR), listening on 127.0.0.1:8080 (or XOAL_LISTEN). Extra arguments
# go to `xoal serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh xoal
exec build/src/xoal serve "$@"
