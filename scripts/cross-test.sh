#!/usr/bin/env bash
# Cross tests under qemu-user: sts-core's unit, corpus and property tests,
# and tests/c/vectors.c against libsts.a, on aarch64 (little-endian, the
# portable SWAR path) and s390x (big-endian). See ../shared/notes/cross-arch.md.
#
#   scripts/cross-test.sh [TARGET...]     default: aarch64 and s390x (gnu)
#                                         also: armv7-unknown-linux-gnueabihf (32-bit)
#
# Needs (Debian, root): qemu-user, gcc-aarch64-linux-gnu libc6-dev-arm64-cross,
# gcc-s390x-linux-gnu libc6-dev-s390x-cross (armv7: gcc-arm-linux-gnueabihf
# libc6-dev-armhf-cross); rustup targets are added here.
# No binfmt registration is needed: cargo's runner is set per target.
# Ends with one "TARGET: ..." line per target; exits 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${CORPUS:-../shared/corpus}
build=${BUILD:-build}/cross
tdir=${CARGO_TARGET_DIR:-target}
mkdir -p "$build"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(aarch64-unknown-linux-gnu s390x-unknown-linux-gnu)
fi

summary=()
failed=0
for target in "${targets[@]}"; do
  arch=${target%%-*}
  gnu=$arch-linux-gnu
  case $target in
  # 32-bit ARM: the word path's non-64-bit branches run only here.
  armv7-unknown-linux-gnueabihf) arch=arm gnu=arm-linux-gnueabihf ;;
  esac
  for tool in "$gnu-gcc" "qemu-$arch"; do
    command -v "$tool" >/dev/null || {
      echo "$tool not found (apt-get install qemu-user gcc-$gnu)" >&2
      exit 2
    }
  done
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
  var=$(tr 'a-z-' 'A-Z_' <<<"$target")
  export "CARGO_TARGET_${var}_LINKER=$gnu-gcc"
  export "CARGO_TARGET_${var}_RUNNER=qemu-$arch -L /usr/$gnu"

  echo "== $target: sts-core tests (unit, corpus, property) under qemu-$arch"
  core=ok
  if ! cargo test -q -p sts-core --target "$target" --no-fail-fast 2>&1 | tee "$build/core-$target.log" |
    grep -E "^test result|FAILED|panicked"; then
    core=error
  fi
  counts=$(awk '/^test result/ { p += $4; f += $6 } END { printf "%d passed, %d failed", p, f }' \
    "$build/core-$target.log")
  if grep -q "FAILED\|^error" "$build/core-$target.log"; then
    core="$counts (failed: $(sed -n 's/ --- FAILED$//p' "$build/core-$target.log" | sort -u | tr '\n' ' '))"
  elif [ "$core" = ok ]; then
    core=$counts
  fi

  echo "== $target: tests/c/vectors.c against libsts.a under qemu-$arch"
  cargo build -q -p sts-ffi --target "$target"
  lib=$tdir/$target/debug/libsts.a
  "$gnu-gcc" -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -g -Iinclude -o "$build/vectors-$arch" \
    tests/c/vectors.c "$lib" -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
  vectors=$(qemu-"$arch" -L /usr/"$gnu" "$build/vectors-$arch" tests/vectors/abi.tsv "$corpus" | tail -1)
  echo "$vectors"
  case $vectors in
  *" 0 failed") ;;
  *) failed=1 ;;
  esac
  summary+=("$target: sts-core $core; vectors.c $vectors")
  case $core in
  *"(failed"* | error) failed=1 ;;
  esac
done
printf '%s\n' "${summary[@]}"
exit $failed
