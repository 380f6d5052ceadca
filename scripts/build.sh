#!/usr/bin/env bash
# Installs missing dependencies, then configures and builds kiln in
# ${KILN_BUILD_DIR:-build} with Ninja. Used by test.sh and main.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build_dir=${KILN_BUILD_DIR:-build}
cmake -G Ninja -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build_dir" -j "${KILN_JOBS:-$(nproc)}"
