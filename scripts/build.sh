#!/usr/bin/env bash
# Configures and builds everything into build/ (Release with debug info). Extra arguments are
# ninja targets; none builds all.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build "$@"
