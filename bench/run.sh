#!/usr/bin/env bash
# Times one full training step (forward, loss, backward, optimizer update)
# of each example model with its generated trainer (`trainer bench`) and, in
# the same run, the same model built with --no-fusion and PyTorch eager on
# the CPU with the same thread count and
# batch: ../shared/bench/torch_peers.py for mlp, lenet and cifar_cnn (the
# reference peers), bench/torch_examples.py for the rest. Prints medians and
# the ratios torch/kiln and unfused/fused (above 1: kiln, fusion faster),
# kernel calls and MB moved per step (fused/unfused) and train_step's
# planned intermediates in MiB (fused / unfused / unfused with one slot per
# tensor), then the per-kernel tables of the fused MLP and LeNet steps.
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
printf '%-12s %5s %8s %8s %8s %10s %13s %13s %15s %17s\n' model batch kiln_us \
  unfused_us torch_us torch/kiln unfused/fused kernels/step MB_moved/step \
  train_MiB_planned
# From a trainer's `bench --json` report: the step's median, kernel calls
# and MB moved; from its `info`: train_step's planned intermediates (at the
# train block's batch) and
# their total with one slot per tensor.
field() { "$python" -c 'import json, sys
s = json.load(open(sys.argv[1]))["step"]
print({"median": "%.1f" % s["median_us"], "calls": s["kernel_calls"],
       "mb": "%.2f" % (s["bytes"] / 1e6)}[sys.argv[2]])' "$1" "$2"; }
memory() { "$1" info 2>/dev/null |
  sed -n 's/.*train_step \([0-9.]*\) MiB planned (\([0-9.]*\) MiB.*/\1 \2/p'; }
for m in "${models[@]}"; do
  "$kiln" "$root/examples/$m.kiln" --gpu=none -o "$out/$m" 2>"$out/$m.build.log"
  batch=${BATCH:-$("$out/$m" info | sed -n 's/.*"batch":\([0-9]*\).*/\1/p')}
  "$kiln" "$root/examples/$m.kiln" --gpu=none --no-fusion -o "$out/$m-unfused" 2>>"$out/$m.build.log"
  for v in "$m" "$m-unfused"; do
    "$out/$v" bench --batch "$batch" --threads "$threads" --steps "$steps" \
      --json "$out/$v.json" >"$out/$v.bench.txt"
  done
  k=$(field "$out/$m.json" median)
  u=$(field "$out/$m-unfused.json" median)
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
  read -r fusedMiB _ <<<"$(memory "$out/$m")"
  read -r unfusedMiB unfusedAll <<<"$(memory "$out/$m-unfused")"
  printf '%-12s %5s %8s %8s %8s %10s %13s %13s %15s %17s\n' "$m" "$batch" "$k" "$u" "$t" \
    "$(awk -v t="$t" -v k="$k" 'BEGIN { printf "%.2f", t / k }')" \
    "$(awk -v u="$u" -v k="$k" 'BEGIN { printf "%.2f", u / k }')" \
    "$(field "$out/$m.json" calls)/$(field "$out/$m-unfused.json" calls)" \
    "$(field "$out/$m.json" mb)/$(field "$out/$m-unfused.json" mb)" \
    "$fusedMiB/$unfusedMiB/$unfusedAll"
done
for m in mlp lenet; do
  if [ -f "$out/$m.bench.txt" ]; then
    echo; echo "== $m: fused kernels (batch ${BATCH:-64}, $threads threads)"
    sed -n '/kernel calls/,$p' "$out/$m.bench.txt" | head -14
  fi
done
