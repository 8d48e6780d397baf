#!/usr/bin/env bash
# Instructions per operation of sts-core, counted by callgrind.
#
#   scripts/callgrind.sh [--check] [--annotate] [OP...]
#
# Builds core/examples/bench_one.rs in release mode, runs each OP under
# `valgrind --tool=callgrind` with N=$N1 and N=$N2 iterations, and prints
# (Ir(N2) - Ir(N1)) / (N2 - N1): the instructions of one operation, without
# process start-up and input loading. The loop itself costs what `noop`
# shows (a few instructions).
#
# OPs (default: all of them): parse:FILE, match:FILE, newlines:FILE and
# newlines_chunked:FILE (a count LLVM vectorises: the SIMD floor) and
# classify:FILE (the mx scan's byte classifier over the whole text, the
# floor of any parser that checks every byte with it) for FILE in
# ../shared/bench (typical_crlf small testing large); pattern, txt, tlsrpt,
# noop.
#
# The C boundary: abi_parse:FILE and abi_match:FILE run the same operation
# through libsts.so (tests/c/bench_abi.c, struct filled, check word, NULL
# checks, panic boundary); rust_parse:FILE and rust_match:FILE run it on
# sts-core with the whole result kept (ffi/examples/bench_rust.rs), the
# fair baseline: their difference is what the C ABI adds per call.
#
#   --check     exit 1 if a budget is missed: parse:typical_crlf < 600,
#               match:typical_crlf (3 mx) < 100, parse:large (200 mx) < 10000
#   --annotate  also print callgrind_annotate of the N2 run for each OP
#
# Environment: N1 (default 100), N2 (default 1100), CARGO_TARGET_DIR,
# STS_CALLGRIND_OUT (where callgrind.out files go; default a temp dir).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
n1=${N1:-100}
n2=${N2:-1100}
check=0
annotate=0
ops=()
for a in "$@"; do
    case $a in
    --check) check=1 ;;
    --annotate) annotate=1 ;;
    -h | --help)
        sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) ops+=("$a") ;;
    esac
done
if [[ ${#ops[@]} -eq 0 ]]; then
    ops=(parse:typical_crlf parse:small parse:testing parse:large
        match:typical_crlf match:small match:testing match:large
        pattern txt tlsrpt newlines:typical_crlf newlines:large
        newlines_chunked:typical_crlf newlines_chunked:large
        classify:typical_crlf classify:large noop
        rust_parse:typical_crlf abi_parse:typical_crlf rust_match:typical_crlf abi_match:typical_crlf)
fi

command -v valgrind >/dev/null || {
    echo "callgrind.sh: valgrind not found (apt-get install valgrind)" >&2
    exit 2
}

cd "$root"
cargo build --quiet --release -p sts-core --example bench_one
target_dir=${CARGO_TARGET_DIR:-$root/target}
bin=$target_dir/release/examples/bench_one
bench_dir=${STS_BENCH_DIR:-$root/../shared/bench}
if [[ " ${ops[*]}" == *" abi_"* || " ${ops[*]}" == *" rust_"* ]]; then
    # The example alone builds sts-ffi as an rlib; bench_abi links the cdylib.
    cargo build --quiet --release -p sts-ffi --lib --example bench_rust
    # The run-time name is the SONAME (what `make lib` links too).
    ln -sf libsts.so "$target_dir/release/libsts.so.0"
    mkdir -p "$target_dir/bench-abi"
    cc -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -g -I"$root/include" -o "$target_dir/bench-abi/bench_abi" \
        "$root/tests/c/bench_abi.c" -L"$target_dir/release" -lsts -Wl,-rpath,"$target_dir/release"
fi
out=${STS_CALLGRIND_OUT:-$(mktemp -d)}
mkdir -p "$out"

# Total instructions (Ir) of one callgrind run.
count() {
    local op=$1 n=$2 file=$out/callgrind.out.${1//[:\/]/_}.$2
    local cmd=("$bin" "$op" "$n")
    case $op in
    abi_*) cmd=("$target_dir/bench-abi/bench_abi" "${op#abi_}" "$n" "$bench_dir") ;;
    rust_*) cmd=("$target_dir/release/examples/bench_rust" "${op#rust_}" "$n" "$bench_dir") ;;
    esac
    valgrind --tool=callgrind --callgrind-out-file="$file" "${cmd[@]}" >/dev/null 2>"$file.log" || {
        cat "$file.log" >&2
        return 1
    }
    awk '/^(summary|totals):/ { print $2; exit }' "$file"
}

budget() {
    case $1 in
    parse:typical_crlf) echo 600 ;;
    match:typical_crlf) echo 100 ;;
    parse:large) echo 10000 ;;
    *) echo "" ;;
    esac
}

missed=0
printf '%-30s %10s %10s  %s\n' operation instr/op budget verdict
for op in "${ops[@]}"; do
    i1=$(count "$op" "$n1")
    i2=$(count "$op" "$n2")
    per=$(awk -v a="$i1" -v b="$i2" -v n1="$n1" -v n2="$n2" 'BEGIN { printf "%.1f", (b - a) / (n2 - n1) }')
    b=$(budget "$op")
    verdict=""
    if [[ -n $b ]]; then
        if awk -v p="$per" -v b="$b" 'BEGIN { exit !(p < b) }'; then
            verdict=ok
        else
            verdict=MISSED
            missed=1
        fi
    fi
    printf '%-30s %10s %10s  %s\n' "$op" "$per" "${b:--}" "$verdict"
    if [[ $annotate -eq 1 ]]; then
        # Top functions, then the hottest source lines of sts-core.
        callgrind_annotate --auto=no --threshold=99 \
            "$out/callgrind.out.${op//[:\/]/_}.$n2" | sed -n '/file:function/,$p' | sed -n '3,22p'
        callgrind_annotate --auto=yes --show-percs=no --context=0 \
            "$out/callgrind.out.${op//[:\/]/_}.$n2" "$root"/core/src/*.rs "$root"/core/src/*/*.rs 2>/dev/null |
            grep -E '^ *[0-9,]+ {2,}[^ <=/]' | sort -t' ' -k1 -rn 2>/dev/null |
            awk '{ n = $1; gsub(",", "", n); print n "\t" $0 }' | sort -rn | cut -f2- | sed -n '1,15p'
        echo
    fi
done
echo "(callgrind output in $out; N1=$n1 N2=$n2)" >&2
if [[ $check -eq 1 && $missed -eq 1 ]]; then
    exit 1
fi
