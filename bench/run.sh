#!/usr/bin/env bash
# Times one full training step (forward, loss, backward, optimizer update)
# of each example model with its generated trainer (`trainer bench`) and, in
# the same run, the same model built with --no-fusion and PyTorch eager on
# the CPU with the same thread count and
# batch: ../shared/bench/torch_peers.py for mlp, lenet and cifar_cnn (the
# reference peers), bench/torch_examples.py for the rest. Prints medians and
# the ratios torch/kiln and unfused/fused (above 1: kiln, fusion faster),
# then kiln's per-kernel
# profile of the MLP and LeNet steps (GEMM and convolution GFLOP/s).
#
# Usage: bench/run.sh [MODEL...]   (default: every example)
#   THREADS=N (default: all cores), BATCH=N (default: each train block's),
#   STEPS=N (default 200), KILN_TORCH_PEERS=path/to/torch_peers.py,
#   PYTHON=interpreter with torch (default /usr/bin/python3: Debian's).
# Needs a built tree (scripts/build.sh) and python3-torch.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kiln=$root/build/tools/kiln
threads=${THREADS:-$(nproc)}
steps=${STEPS:-200}
python=${PYTHON:-/usr/bin/python3}
peers=${KILN_TORCH_PEERS:-$root/../shared/bench/torch_peers.py}
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(mlp lenet cifar_cnn conv_mnist two_layer binary regression custom_expr)
out=$root/build/bench
mkdir -p "$out"

"$python" -c 'import torch' 2>/dev/null ||
  { echo "bench: $python has no torch (apt-get install python3-torch)"; exit 1; }
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo unknown)
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $threads threads; $("$python" -c 'import torch; print("torch", torch.__version__)'), BLAS $blas"
case $blas in
  */blas/libblas.so.3*) echo "bench: warning: torch uses the reference BLAS; install libopenblas0-pthread for a fair peer" ;;
esac
printf '%-12s %6s %10s %10s %10s %11s %14s\n' model batch kiln_us unfused_us torch_us torch/kiln unfused/fused
for m in "${models[@]}"; do
  "$kiln" "$root/examples/$m.kiln" -o "$out/$m" 2>"$out/$m.build.log"
  batch=${BATCH:-$("$out/$m" info | sed -n 's/.*"batch":\([0-9]*\).*/\1/p')}
  "$kiln" "$root/examples/$m.kiln" --no-fusion -o "$out/$m-unfused" 2>>"$out/$m.build.log"
  median() { "$1" bench --batch "$batch" --threads "$threads" --steps "$steps" |
             sed -n 's/.*median \([0-9.]*\) us.*/\1/p'; }
  k=$(median "$out/$m")
  u=$(median "$out/$m-unfused")
  case $m in
    mlp|lenet|cifar_cnn)
      [ -f "$peers" ] || { echo "bench: no $peers (set KILN_TORCH_PEERS)"; exit 1; }
      line=$("$python" "$peers" --device cpu --threads "$threads" --models "$m" \
             --batches "$batch" --modes eager --steps "$steps" | grep "mode=eager") ;;
    *)
      line=$("$python" "$root/bench/torch_examples.py" --threads "$threads" \
             --models "$m" --batches "$batch" --steps "$steps") ;;
  esac
  t=$(echo "$line" | sed -n 's/.*median_us= *\([0-9.]*\).*/\1/p')
  printf '%-12s %6s %10s %10s %10s %11s %14s\n' "$m" "$batch" "$k" "$u" "$t" \
    "$(awk -v t="$t" -v k="$k" 'BEGIN { printf "%.2f", t / k }')" \
    "$(awk -v u="$u" -v k="$k" 'BEGIN { printf "%.2f", u / k }')"
done
for m in mlp lenet; do
  if [ -x "$out/$m" ]; then
    echo; echo "== $m: kernel profile (batch ${BATCH:-64}, $threads threads)"
    "$out/$m" bench --batch "${BATCH:-64}" --threads "$threads" --steps "$steps" --profile |
      sed -n '/kernel calls/,$p' | head -14
  fi
done
