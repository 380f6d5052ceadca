#!/usr/bin/env bash
# README's main job: installs what is missing, builds kiln, compiles the
# reference MLP (examples/mlp.kiln) into a native trainer, trains it on
# Fashion-MNIST (Debian's dataset-fashion-mnist) with the train block's
# settings, and prints the test report: loss, accuracy, per-class
# precision/recall/F1 and the confusion matrix. The checkpoint is left in
# the build directory (mlp.safetensors and mlp.optim.safetensors).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
build_dir=${KILN_BUILD_DIR:-build}
"$build_dir/tools/kiln" examples/mlp.kiln -o "$build_dir/mlp"
"$build_dir/mlp" train --save "$build_dir/mlp.safetensors"
