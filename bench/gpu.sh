#!/usr/bin/env bash
# kiln's CUDA trainers against PyTorch on the GPU, in one run: for the
# reference models (mlp, lenet, cifar_cnn) at batch 64 and 1024, the
# median time of one full training step (forward, loss, backward, Adam) of
# `trainer bench --device cuda` and of ../shared/bench/torch_peers.py
# (eager, and torch.compile with CUDA graphs), and the ratios
# torch/kiln (above 1: kiln faster).
#
# kiln needs Halide and MLIR to build the trainers; the trainers need only
# the CUDA driver. So build where kiln is built, then run on the GPU
# machine with the build directory carried there:
#   bench/gpu.sh build          # writes build/bench-gpu/<model> (CUDA kernels)
#   bench/gpu.sh run            # times them and PyTorch; needs a GPU and torch
# STEPS=N (default 200), BATCHES="64 1024", MODELS="mlp lenet cifar_cnn",
# PYTHON=interpreter with CUDA torch (default python3),
# KILN_TORCH_PEERS=path/to/torch_peers.py.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/bench-gpu
models=(${MODELS:-mlp lenet cifar_cnn})
batches=(${BATCHES:-64 1024})
steps=${STEPS:-200}
python=${PYTHON:-python3}
peers=${KILN_TORCH_PEERS:-$root/../shared/bench/torch_peers.py}

case ${1:-} in
  build)
    mkdir -p "$out"
    for m in "${models[@]}"; do
      "$root/build/tools/kiln" "$root/examples/$m.kiln" --gpu=cuda -o "$out/$m"
    done ;;
  run)
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader ||
      { echo "bench: no GPU here (nvidia-smi failed)"; exit 1; }
    "$python" -c 'import torch; assert torch.cuda.is_available()' ||
      { echo "bench: $python has no CUDA torch"; exit 1; }
    [ -f "$peers" ] || { echo "bench: no $peers (set KILN_TORCH_PEERS)"; exit 1; }
    printf '%-10s %6s %10s %10s %12s %11s %13s\n' model batch kiln_us \
      eager_us compiled_us eager/kiln compiled/kiln
    for m in "${models[@]}"; do
      for b in "${batches[@]}"; do
        "$out/$m" bench --device cuda --batch "$b" --steps "$steps" \
          --json "$out/$m-$b.json" >"$out/$m-$b.txt"
        k=$("$python" -c 'import json, sys
print("%.1f" % json.load(open(sys.argv[1]))["step"]["median_us"])' "$out/$m-$b.json")
        peer() {
          "$python" "$peers" --device cuda --models "$m" --batches "$b" \
            --modes "$1" --steps "$steps" | grep "mode=$1" |
            sed -n 's/.*median_us= *\([0-9.]*\).*/\1/p'
        }
        e=$(peer eager)
        c=$(peer compile-cudagraphs)
        printf '%-10s %6s %10s %10s %12s %11s %13s\n' "$m" "$b" "$k" "$e" "$c" \
          "$(awk -v t="$e" -v k="$k" 'BEGIN { printf "%.2f", t / k }')" \
          "$(awk -v t="$c" -v k="$k" 'BEGIN { printf "%.2f", t / k }')"
      done
    done
    echo
    echo "per-kernel tables: $out/<model>-<batch>.txt" ;;
  *)
    echo "usage: bench/gpu.sh build | run   (see the comment at the top)"
    exit 2 ;;
esac
