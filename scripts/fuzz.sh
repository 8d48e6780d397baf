#!/usr/bin/env bash
# Fuzz sts-core with cargo-fuzz (libFuzzer).
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer args...]   one of: policy txt mx tlsrpt cert dane client
#   scripts/fuzz.sh all SECONDS [libFuzzer args...]      every target, one after the other
#   scripts/fuzz.sh corpus                               only (re)build the seed corpora
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`, ~30 s) and a
# stable toolchain: RUSTC_BOOTSTRAP=1 unlocks the nightly flags libFuzzer
# needs. The seed corpora are built from ../shared/corpus (git-ignored
# fuzz/corpus/); libFuzzer adds what it finds to them. A crash leaves its
# input in fuzz/artifacts/TARGET/ and makes this script exit non-zero.
#
# Environment:
#   CARGO_TARGET_DIR   build directory (default fuzz/target)
#   STS_FUZZ_SANITIZER address | none (default none: sts-core forbids
#                      unsafe code, so bounds checks already catch every
#                      out-of-bounds read, and runs are ~2x faster)
#   STS_SHARED         the shared data directory (default ../shared)
#   STS_FUZZ_SWAR      1: build sts-core with its `swar` feature, so the
#                      portable word path of ARM and big-endian targets is
#                      fuzzed in place of SSE2 (the features are part of
#                      cargo's hashes: both builds stay in one directory,
#                      and switching rebuilds only the sts crates)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STS_SHARED:-$root/../shared}
targets=(policy txt mx tlsrpt cert dane client)
sanitizer=${STS_FUZZ_SANITIZER:-none}
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/fuzz/target}
features=()
path=default
if [[ ${STS_FUZZ_SWAR:-0} == 1 ]]; then
    features=(--features swar)
    path=swar
fi

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Writes one file per TSV row (column 2, unescaped: \t \r \n \\) into $2.
unescape_records() {
    OUT=$2 PREFIX=$3 perl -ne '
        next if $. == 1;
        chomp;
        my @f = split /\t/, $_, -1;
        my $r = $f[1];
        $r =~ s/\\(.)/$1 eq "t" ? "\t" : $1 eq "r" ? "\r" : $1 eq "n" ? "\n" : $1/ge;
        open my $fh, ">", "$ENV{OUT}/$ENV{PREFIX}-$f[0]" or die "$!";
        binmode $fh; print $fh $r; close $fh;
    ' "$1"
}

build_corpus() {
    local c=$root/fuzz/corpus
    mkdir -p "$c/policy" "$c/txt" "$c/mx" "$c/tlsrpt" "$c/cert" "$c/dane" "$c/client"
    if [[ ! -d $shared/corpus ]]; then
        echo "fuzz.sh: $shared/corpus not found; starting from empty corpora" >&2
        return
    fi
    cp "$shared"/corpus/policies/* "$c/policy/"
    # client: selector 1 is "content-type LF body".
    for f in "$shared"/corpus/policies/00[0-4]*.txt; do
        { printf '\001text/plain; charset=utf-8\n'; cat "$f"; } >"$c/client/$(basename "$f")"
    done
    # cert and dane: a real certificate when openssl is there.
    if command -v openssl >/dev/null; then
        local tmp
        tmp=$(mktemp -d)
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=mx.example.test \
            -addext subjectAltName=DNS:mx.example.test -days 1 -keyout "$tmp/k" -outform DER -out "$tmp/c" 2>/dev/null
        if [[ -s $tmp/c ]]; then
            local n
            n=$(wc -c <"$tmp/c")
            { printf "\\$(printf %o $((n >> 8)))\\$(printf %o $((n & 255)))"; cat "$tmp/c"; } >"$c/cert/self-signed"
            { printf '\043\003\001\001'; head -c 32 /dev/zero; cat "$tmp/c"; } >"$c/dane/ee-311"
        fi
        rm -rf "$tmp"
    fi
    [[ -d $shared/bench ]] && for f in "$shared"/bench/*.txt; do
        cp "$f" "$c/policy/bench-$(basename "$f")"
    done
    unescape_records "$shared/corpus/records/sts.tsv" "$c/txt" seed
    unescape_records "$shared/corpus/records/tlsrpt.tsv" "$c/tlsrpt" seed
    # Several records in one input (the txt target splits at NUL).
    printf 'v=spf1 -all\0v=STSv1; id=20160831085700Z;' >"$c/txt/multi-1"
    printf 'v=STSv1; id=1\0v=STSv1; id=2' >"$c/txt/multi-2"
    # mx: "pattern NUL host" pairs from the mx lists of the policy index.
    OUT=$c/mx perl -ne '
        next if $. == 1;
        my @f = split /\t/; next unless $f[2] eq "valid";
        for my $p (split /,/, $f[5]) {
            (my $h = $p) =~ s/^\*\./mx1./;
            $n++;
            open my $fh, ">", "$ENV{OUT}/seed-$n" or die; binmode $fh;
            print $fh "$p\0$h"; close $fh;
        }
    ' "$shared/corpus/INDEX.tsv"
}

run_target() {
    local t=$1 secs=$2
    shift 2
    echo "== fuzz $t for ${secs}s (sanitizer $sanitizer, $path word path)" >&2
    local dict=()
    [[ -f $root/fuzz/dict/$t.dict ]] && dict=(-dict="$root/fuzz/dict/$t.dict")
    cargo fuzz run --fuzz-dir "$root/fuzz" -s "$sanitizer" "${features[@]}" "$t" "$root/fuzz/corpus/$t" -- \
        -max_total_time="$secs" "${dict[@]}" -print_final_stats=1 "$@"
}

[[ $# -ge 1 ]] || usage
case $1 in
corpus)
    build_corpus
    ;;
all)
    [[ $# -ge 2 ]] || usage
    secs=$2
    shift 2
    build_corpus
    failed=()
    for t in "${targets[@]}"; do
        run_target "$t" "$secs" "$@" || failed+=("$t")
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
        echo "fuzz.sh: failures in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
        exit 1
    fi
    ;;
policy | txt | mx | tlsrpt | cert | dane | client)
    [[ $# -ge 2 ]] || usage
    t=$1 secs=$2
    shift 2
    build_corpus
    run_target "$t" "$secs" "$@"
    ;;
*)
    usage
    ;;
esac
