#!/usr/bin/env bash
# Differential test and comparison benchmarks of sts-core against
# mailrs-mta-sts, mail-auth and postfix-mta-sts-resolver (crate compare/,
# kept out of the main workspace).
#
#   scripts/compare.sh [--quick] [--update-docs]
#
# Steps (results in compare/results/, not committed):
#   1. a Python venv compare/py/.venv with postfix-mta-sts-resolver==1.5.1;
#      regenerates compare/data/postfix_resolver_verdicts.tsv
#   2. cargo test in compare/ (the differential test; fails on a new or
#      vanished disagreement), then regenerates the table of
#      docs/differential.md from compare/expected-disagreements.tsv
#   3. instructions per operation: compare/src/bin/opcount.rs under
#      `valgrind --tool=callgrind` with N=$N1 and N=$N2, (Ir2-Ir1)/(N2-N1);
#      heap allocations per operation from its counting allocator;
#      callgrind_annotate of libsts's parse of typical_crlf and large
#   4. postfix-mta-sts-resolver timed with timeit (compare/py/bench_postfix_resolver.py)
#   5. criterion (compare/benches/compare.rs); skipped with --quick
#   6. compare/results/benchmarks.md: the tables; with --update-docs they
#      replace the generated part of docs/benchmarks.md
#
# Needs: cargo, python3 with venv and pip (PyPI reachable the first time),
# valgrind. CARGO_TARGET_DIR defaults to target/compare (a build of its own,
# apart from the workspace's). mail-parser (a mail-auth dependency)
# declares rust-version 1.98 but builds with 1.95, hence --ignore-rust-version.
set -euo pipefail

QUICK=0
UPDATE_DOCS=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        --update-docs) UPDATE_DOCS=1 ;;
        *) echo "usage: $0 [--quick] [--update-docs]" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CMP="$ROOT/compare"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/compare}"
export STS_SHARED="${STS_SHARED:-$ROOT/../shared}"
RES="$CMP/results"
N1="${N1:-500}"
N2="${N2:-1500}"
CARGO_FLAGS=(--release --ignore-rust-version)
mkdir -p "$RES"
cd "$CMP"

echo "== 1. postfix-mta-sts-resolver verdicts"
PY="$CMP/py/.venv/bin/python"
if [ ! -x "$PY" ]; then
    python3 -m venv "$CMP/py/.venv"
    "$CMP/py/.venv/bin/pip" install --quiet 'postfix-mta-sts-resolver==1.5.1'
fi
"$PY" py/postfix_resolver_verdicts.py --shared "$STS_SHARED" > data/postfix_resolver_verdicts.tsv

echo "== 2. differential test"
POSTFIX_RESOLVER_PYTHON="$PY" cargo test "${CARGO_FLAGS[@]}"
"$PY" py/report.py differential --update "$ROOT/docs/differential.md"

echo "== 3. callgrind and allocations"
cargo build "${CARGO_FLAGS[@]}" --bin opcount
OPCOUNT="$CARGO_TARGET_DIR/release/opcount"
ir_total() { # file -> total Ir of a callgrind output
    awk '/^(summary|totals):/ { print $2; exit }' "$1"
}
printf 'impl\top\tinput\tinstructions_per_op\tallocs_per_op\tbytes_per_op\n' > "$RES/callgrind.tsv"
for input in small typical_crlf large testing; do
    for pair in libsts:parse mailrs:parse floor:parse libsts:match mailrs:match; do
        impl=${pair%%:*} op=${pair##*:}
        out1="$RES/callgrind.out.$impl.$op.$input.$N1"
        out2="$RES/callgrind.out.$impl.$op.$input.$N2"
        valgrind --tool=callgrind --callgrind-out-file="$out1" "$OPCOUNT" "$impl" "$op" "$input" "$N1" > /dev/null 2>&1
        line=$(valgrind --tool=callgrind --callgrind-out-file="$out2" "$OPCOUNT" "$impl" "$op" "$input" "$N2" 2> /dev/null)
        allocs=$(printf '%s' "$line" | cut -f5)
        bytes=$(printf '%s' "$line" | cut -f6)
        ir1=$(ir_total "$out1")
        ir2=$(ir_total "$out2")
        per=$(( (ir2 - ir1 + (N2 - N1) / 2) / (N2 - N1) ))
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$impl" "$op" "$input" "$per" "$allocs" "$bytes" | tee -a "$RES/callgrind.tsv"
    done
done
for input in typical_crlf large; do
    callgrind_annotate --auto=no --threshold=99 "$RES/callgrind.out.libsts.parse.$input.$N2" \
        > "$RES/annotate.libsts.parse.$input.txt" 2>&1 || true
done
callgrind_annotate --auto=no --threshold=99 "$RES/callgrind.out.libsts.match.typical_crlf.$N2" \
    > "$RES/annotate.libsts.match.typical_crlf.txt" 2>&1 || true

echo "== 4. postfix-mta-sts-resolver timeit"
"$PY" py/bench_postfix_resolver.py --shared "$STS_SHARED" | tee "$RES/postfix_timeit.tsv"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$QUICK" = 0 ]; then
    echo "== 5. criterion"
    cargo bench --ignore-rust-version --bench compare -- --warm-up-time 1 --measurement-time 3 \
        2>&1 | tee "$RES/criterion.txt"
fi

echo "== 6. tables"
{
    echo "load average at start of criterion: ${LOAD_START:-n/a}"
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rustc: $(rustc --version)"
    echo "libsts at: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- core/src || echo ' + uncommitted core/src changes')"
} > "$RES/machine.txt"
cat "$RES/machine.txt"
"$PY" py/report.py benchmarks --results "$RES" --target "$CARGO_TARGET_DIR" > "$RES/benchmarks.md"
cat "$RES/benchmarks.md"
if [ "$UPDATE_DOCS" = 1 ]; then
    "$PY" py/report.py benchmarks --results "$RES" --target "$CARGO_TARGET_DIR" \
        --update "$ROOT/docs/benchmarks.md"
fi
