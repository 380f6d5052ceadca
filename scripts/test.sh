#!/usr/bin/env bash
# README's test command: installs what is missing, builds everything and runs
# every test (lit suites and GoogleTest executables) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir "${KILN_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"
