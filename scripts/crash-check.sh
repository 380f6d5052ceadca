#!/usr/bin/env bash
# Runs `kiln FILE --emit=train` on every file of the given directories (for
# example the fuzzer's corpus) and reports any input that crashed the
# compiler instead of getting a diagnostic: a signal, an assertion, or a
# sanitizer report. Use with a sanitizer build:
#   cmake -G Ninja -S . -B build-asan -DCMAKE_CXX_FLAGS=-fsanitize=address,undefined \
#     -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined && ninja -C build-asan kiln
#   scripts/crash-check.sh build-asan/tools/kiln corpus/
set -uo pipefail
kiln=$1; shift
checked=0; crashed=0
log=$(mktemp); trap 'rm -f "$log"' EXIT
while IFS= read -r -d '' f; do
  checked=$((checked + 1))
  timeout 20 "$kiln" "$f" --emit=train >/dev/null 2>"$log"; rc=$?
  err=$(tr -d '\0' <"$log")
  if [ $rc -ge 124 ] || grep -qE "Assertion|AddressSanitizer|runtime error|LLVM ERROR|PLEASE submit" <<<"$err"; then
    crashed=$((crashed + 1)); echo "CRASH (exit $rc): $f"; head -5 <<<"$err"
  fi
done < <(find "$@" -type f -print0)
echo "$checked inputs, $crashed crashed"
[ $crashed -eq 0 ]
