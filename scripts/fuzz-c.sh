#!/usr/bin/env bash
# libFuzzer through the C ABI: fuzz/c/fuzz_abi.c built with clang and
# -fsanitize=fuzzer,address,undefined against libsts.a, seeded from
# ../shared/corpus and tests/vectors.
#
#   scripts/fuzz-c.sh SECONDS
#
# Needs clang and its runtime (Debian: clang-14 libclang-rt-14-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: fuzz-c.sh SECONDS}
clang=$(command -v clang-14 || command -v clang || true)
[ -n "$clang" ] || { echo "clang not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }
out=${BUILD:-build}/fuzz-c
mkdir -p "$out/corpus"
cargo build -q --release -p sts-ffi
"$clang" -g -O1 -std=c99 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -Iinclude -o "$out/fuzz_abi" fuzz/c/fuzz_abi.c target/release/libsts.a -lpthread -ldl -lm -lrt -lutil

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
