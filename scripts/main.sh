#!/usr/bin/env bash
# README's main job: installs what is missing, builds kiln, and compiles the
# reference MLP (examples/mlp.kiln), printing its nn-dialect IR.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
build_dir=${KILN_BUILD_DIR:-build}
"$build_dir/tools/kiln" examples/mlp.kiln --emit=nn
