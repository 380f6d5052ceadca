#!/usr/bin/env bash
# README's main job: installs what is missing, builds kiln, compiles the
# reference MLP (examples/mlp.kiln) and prints its nn-dialect IR, then
# compiles its training step and runs five steps of it on one random batch
# with the reference evaluator (the native trainer comes with code
# generation).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
build_dir=${KILN_BUILD_DIR:-build}
"$build_dir/tools/kiln" examples/mlp.kiln --emit=nn
"$build_dir/tools/kiln" examples/mlp.kiln --emit=train -o "$build_dir/mlp-train.mlir"
echo "== @train_step (Adam) on one random batch of 64, reference evaluator:"
"$build_dir/tools/kiln-run/kiln-run" "$build_dir/mlp-train.mlir" \
  --function=train_step --random-inputs --initialize --seed=42 --batch=64 \
  --steps=5 | grep -E "^step|^loss"
