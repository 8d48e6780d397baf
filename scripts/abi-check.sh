#!/usr/bin/env bash
# The C ABI of libsts.so.0 against its committed baseline
# (ffi/abi/libsts.so.0.abi, libabigail's abidw XML; Debian abigail-tools).
#
#   scripts/abi-check.sh              compare; fail on an incompatible change
#   scripts/abi-check.sh --bless      rewrite the baseline (with a SONAME bump,
#                                     or once while 0.x layouts settle)
#   scripts/abi-check.sh --self-test  show that an incompatible change fails
#                                     and a compatible one passes
#
# libabigail reads C debug information, not Rust's, so the ABI is taken
# from the header the library is built with: every function that
# include/sts.h declares becomes a stub in a C library with the SONAME
# libsts.so.0, and abidw dumps that. The real libsts.so must export exactly
# those functions (checked here too), so the dump is the library's ABI.
#
# Allowed without a SONAME bump: new functions, and fields appended to the
# structs that begin with struct_size. Anything else fails.
set -euo pipefail
cd "$(dirname "$0")/.."
baseline=ffi/abi/libsts.so.0.abi
build=${BUILD:-build}/abi
tdir=${CARGO_TARGET_DIR:-target}
mkdir -p "$build"
for tool in abidw abidiff python3; do
  command -v $tool >/dev/null || { echo "$tool not found (apt-get install abigail-tools python3)" >&2; exit 1; }
done


# dump HEADER OUT: the abidw XML of the stub library for HEADER.
dump() {
  local header=$1 out=$2 dir
  dir=$(mktemp -d "$build/stub.XXXXXX")
  cp "$header" "$dir/sts.h"
  python3 - "$dir" <<'PY'
import re, subprocess, sys
d = sys.argv[1]
pre = subprocess.run(["cc", "-std=c99", "-E", "-P", "-I" + d, "-"], input='#include "sts.h"\n',
                     capture_output=True, text=True, check=True).stdout
out = ['#include "sts.h"']
for m in re.finditer(r"(?m)^(?!typedef)([A-Za-z_][^;{}()]*?\b(sts_\w+))\(([^;{}]*?)\);", pre):
    ret = m.group(1)[: -len(m.group(2))].strip()
    body = "{}" if ret == "void" else "{ return 0; }"
    out.append(f"{m.group(1)}({m.group(3)}) {body}")
open(d + "/libsts-abi.c", "w").write("\n".join(out) + "\n")
PY
  # Relative names only, so the dump holds no machine paths.
  (cd "$dir" && cc -std=c99 -g -O0 -fPIC -shared -Wl,-soname,libsts.so.0 -o libsts.so.0 libsts-abi.c)
  abidw --no-corpus-path --no-comp-dir-path --no-show-locs --out-file "$out" "$dir/libsts.so.0"
  nm -D --defined-only "$dir/libsts.so.0" | awk '$3 ~ /^sts_/ {print $3}' | sort >"$out.symbols"
  rm -rf "$dir"
}

# compare OLD NEW: 0 when NEW may replace OLD under the same SONAME.
# abidiff's own suppression rules (has_data_member_inserted_at) let
# reordered fields through in libabigail 2.2, so its report is read here:
# every change must be an added function or a field appended to one of the
# structs that begin with struct_size.
compare() {
  local rc=0
  abidiff "$1" "$2" >"$build/abidiff.txt" 2>&1 || rc=$?
  if [ $rc -eq 0 ]; then
    return 0
  fi
  if [ $((rc & ~4)) -ne 0 ]; then
    cat "$build/abidiff.txt"
    return 1
  fi
  python3 - "$build/abidiff.txt" <<'PY'
import re, sys
grow = {"sts_client_options", "sts_report_outcome", "sts_decision", "sts_lookup"}
ok = True
struct, old_size = None, None
for line in open(sys.argv[1]):
    t = line.strip()
    if not t or t.startswith(("Functions changes summary", "Variables changes summary")):
        continue
    if re.match(r"\d+ (Added )?functions?( with some indirect sub-type changes?)?:?$", t) or t.startswith("[A] "):
        continue
    if t.startswith("[C] ") or re.match(r"parameter \d+ of type .* has sub-type changes:$", t):
        continue
    # A struct passed by `const` pointer is reported twice: the const
    # type, then its unqualified struct.
    m = re.match(r"in (?:pointed to|unqualified underlying) type '(?:const )?(?:struct )?(\w+)':$", t)
    if m:
        struct, old_size = m.group(1), None
        if struct not in grow:
            ok = False
        continue
    m = re.match(r"type size changed from (\d+) to (\d+) \(in bits\)$", t)
    if m and struct in grow and int(m.group(2)) > int(m.group(1)):
        old_size = int(m.group(1))
        continue
    if re.match(r"\d+ data member insertions?:$", t) and struct in grow:
        continue
    m = re.match(r"'.*', at offset (\d+) \(in bits\)$", t)
    if m and old_size is not None and int(m.group(1)) >= old_size:
        continue
    print("not allowed without a SONAME bump:", t)
    ok = False
sys.exit(0 if ok else 1)
PY
  local ok=$?
  if [ $ok -ne 0 ]; then
    cat "$build/abidiff.txt"
  fi
  return $ok
}

case "${1:-}" in
--bless)
  dump include/sts.h "$build/current.abi"
  mkdir -p "$(dirname "$baseline")"
  cp "$build/current.abi" "$baseline"
  echo "wrote $baseline"
  ;;
--self-test)
  fails=0
  dump include/sts.h "$build/base.abi"
  # Incompatible: two fields of sts_decision swap places.
  python3 - include/sts.h "$build/swap.h" <<'PY'
import sys
s = open(sys.argv[1]).read()
a = "  sts_decision_mode mode;\n"
b = "  sts_source source;\n"
i = s.index("typedef struct sts_decision {")
j = s.index(a, i); k = s.index(b, i)
s = s[:j] + b + s[j + len(a):k] + a + s[k + len(b):]
open(sys.argv[2], "w").write(s)
PY
  dump "$build/swap.h" "$build/swap.abi"
  if compare "$build/base.abi" "$build/swap.abi" >/dev/null; then
    echo "FAIL: swapping two fields of sts_decision passed the check"; fails=$((fails + 1))
  else
    echo "ok: swapping two fields of sts_decision fails the check"
  fi
  # Incompatible: a function removed.
  sed '/^sts_result sts_txt_parse(/,/);$/d' include/sts.h >"$build/removed.h"
  dump "$build/removed.h" "$build/removed.abi"
  if compare "$build/base.abi" "$build/removed.abi" >/dev/null; then
    echo "FAIL: removing sts_txt_parse passed the check"; fails=$((fails + 1))
  else
    echo "ok: removing sts_txt_parse fails the check"
  fi
  # Compatible: a field appended to sts_decision and to sts_client_options
  # (read through a const pointer), and a new function.
  python3 - include/sts.h "$build/grown.h" <<'PY'
import sys
s = open(sys.argv[1]).read()
s = s.replace("  bool lookup_error_temporary;\n} sts_decision;",
              "  bool lookup_error_temporary;\n  uint64_t added_later;\n} sts_decision;")
s = s.replace("\n} sts_client_options;", "\n  uint64_t added_later;\n} sts_client_options;")
s = s.replace("const char *sts_version(void);", "const char *sts_version(void);\nuint32_t sts_added_later(void);")
open(sys.argv[2], "w").write(s)
PY
  dump "$build/grown.h" "$build/grown.abi"
  if compare "$build/base.abi" "$build/grown.abi"; then
    echo "ok: fields appended to sts_decision and sts_client_options and a new function pass the check"
  else
    echo "FAIL: a compatible change failed the check"; fails=$((fails + 1))
  fi
  echo "abi-check self-test: $fails failed"
  [ $fails -eq 0 ]
  ;;
"")
  dump include/sts.h "$build/current.abi"
  # The real library exports what the header declares.
  nm -D --defined-only "$tdir/release/libsts.so" | awk '$3 ~ /^sts_/ {print $3}' | sort >"$build/library.symbols"
  if ! diff "$build/current.abi.symbols" "$build/library.symbols"; then
    echo "abi-check: include/sts.h (<) and $tdir/release/libsts.so (>) differ" >&2
    exit 1
  fi
  soname=$(readelf -d "$tdir/release/libsts.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
  [ "$soname" = libsts.so.0 ] || { echo "abi-check: SONAME is '$soname', baseline is libsts.so.0" >&2; exit 1; }
  if compare "$baseline" "$build/current.abi"; then
    echo "abi-check: libsts.so.0 is compatible with $baseline"
  else
    echo "abi-check: incompatible with $baseline: bump the SONAME (ffi/build.rs) and rebless, or undo the change" >&2
    exit 1
  fi
  ;;
*)
  echo "usage: $0 [--bless|--self-test]" >&2
  exit 2
  ;;
esac
