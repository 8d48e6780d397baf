#!/usr/bin/env bash
# A program built against an older header runs correctly against the
# current libsts.so: builds tests/c/older-header.c against include/sts.h
# and against a copy with one field fewer in each struct that begins with
# struct_size, and runs both under valgrind.
#
#   tests/c/older-header.sh BUILD-DIR LIB-DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:?usage: older-header.sh BUILD-DIR LIB-DIR}
lib=$(cd "${2:?usage: older-header.sh BUILD-DIR LIB-DIR}" && pwd)
old=$build/older-include
mkdir -p "$old"

# Drop the member line just before each closing `} name;` of the four
# extensible structs.
awk '
  /^} (sts_client_options|sts_report_outcome|sts_decision|sts_lookup);$/ { have = 0; dropped++ }
  { if (have) print held; held = $0; have = 1 }
  END { print held; if (dropped != 4) { print "expected 4 structs, found " dropped > "/dev/stderr"; exit 1 } }
' include/sts.h >"$old/sts.h"
if [ "$(diff include/sts.h "$old/sts.h" | grep -c '^<')" -ne 4 ]; then
  echo "older header: expected 4 removed lines" >&2
  exit 1
fi

cflags=(-std=c99 -Wall -Wextra -Wpedantic -Werror -O1 -g)
cc "${cflags[@]}" -Iinclude -o "$build/older-header-new" tests/c/older-header.c -L"$lib" -lsts -Wl,-rpath,"$lib"
cc "${cflags[@]}" -I"$old" -o "$build/older-header-old" tests/c/older-header.c -L"$lib" -lsts -Wl,-rpath,"$lib"

run() {
  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$@"
}
new_out=$(run "$build/older-header-new")
old_out=$(run "$build/older-header-old")
echo "current header: $new_out"
echo "older header:   $old_out"
# The older options and outcome structs are smaller (their last field is
# 8 bytes); decision and lookup end in a bool inside the padding.
read -r _ _ new_opts _ new_outcome _ _ _ _ <<<"$(head -1 <<<"$new_out")"
read -r _ _ old_opts _ old_outcome _ _ _ _ <<<"$(head -1 <<<"$old_out")"
if [ "$old_opts" -ge "$new_opts" ] || [ "$old_outcome" -ge "$new_outcome" ]; then
  echo "the older header's structs are not smaller: the test proves nothing" >&2
  exit 1
fi
echo "older-header: 2 programs passed"
