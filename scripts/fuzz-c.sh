#!/usr/bin/env bash
# libFuzzer through the C ABI: fuzz/c/fuzz_abi.c built with clang and
# -fsanitize=fuzzer,address,undefined against libsts.a, seeded from
# ../shared/corpus and tests/vectors.
#
#   scripts/fuzz-c.sh SECONDS
#
# STS_FUZZ_C_COVERAGE=0 links the ordinary libsts.a instead (libFuzzer then
# sees only the harness's edges: random testing of the boundary).
#
# Needs clang and its runtime (Debian: clang-14 libclang-rt-14-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: fuzz-c.sh SECONDS}
clang=$(command -v clang-14 || command -v clang || true)
[ -n "$clang" ] || { echo "clang not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }
out=${BUILD:-build}/fuzz-c
mkdir -p "$out/corpus"
# The Rust library gets the coverage instrumentation cargo-fuzz gives a
# Rust target, so libFuzzer is guided by the edges inside libsts, not only
# the harness's own. An explicit --target keeps the flags off build scripts
# and proc macros; without LTO the instrumentation of every crate stays.
host=$(rustc -vV | sed -n 's/^host: //p')
tdir=${CARGO_TARGET_DIR:-target}/fuzz-c
if [ "${STS_FUZZ_C_COVERAGE:-1}" = 1 ]; then
  RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions" \
    CARGO_PROFILE_RELEASE_LTO=false cargo build -q --release -p sts-ffi --target "$host" --target-dir "$tdir"
  lib=$tdir/$host/release/libsts.a
else
  cargo build -q --release -p sts-ffi
  lib=${CARGO_TARGET_DIR:-target}/release/libsts.a
fi
"$clang" -g -O1 -std=c99 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -Iinclude -o "$out/fuzz_abi" fuzz/c/fuzz_abi.c "$lib" -lpthread -ldl -lm -lrt -lutil

# Seeds: each corpus policy behind selector byte 0, and a few records.
i=0
for f in ../shared/corpus/policies/*.txt; do
  { printf '\000'; cat "$f"; } > "$out/corpus/policy-$i"
  i=$((i + 1))
done
printf '\001v=STSv1; id=20260101;' > "$out/corpus/txt"
printf '\002*.example.com\000mx1.example.com' > "$out/corpus/mx"
printf '\003v=TLSRPTv1; rua=mailto:a@example.com,https://r.example/x' > "$out/corpus/tlsrpt"

ASAN_OPTIONS=detect_leaks=1 "$out/fuzz_abi" -max_total_time="$seconds" -rss_limit_mb=2048 \
  -artifact_prefix="$out/" "$out/corpus"
