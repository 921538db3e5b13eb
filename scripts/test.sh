#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (ctest). Exits non-zero if any fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 300 -j "$(nproc)"
