#!/usr/bin/env bash
# Installs the Debian 12 packages kiln needs, and only those that are
# missing. Idempotent; uses sudo when not root; never prompts.
set -euo pipefail

packages=(
  cmake ninja-build g++ python3 zlib1g-dev libzstd-dev
  libmlir-19-dev mlir-19-tools llvm-19-dev llvm-19-tools
  libhalide14-0-dev
  # LLVM 14's llvm-as (a dependency of Halide 14's headers anyway) assembles
  # codegen/x86_avx512.ll into bitcode Halide's LLVM can link.
  llvm-14
  libgtest-dev libgmock-dev
  dataset-fashion-mnist
  # OpenCL on the CPU (PoCL), and libOpenCL.so for Halide's runtime to load:
  # the tests run the GPU kernels there when no GPU is at hand.
  pocl-opencl-icd ocl-icd-opencl-dev
)
# The parser fuzzer needs clang 19 with its sanitizer runtimes; optional.
if [ "${KILN_WITH_FUZZER:-0}" = 1 ]; then
  packages+=(clang-19 libclang-rt-19-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
