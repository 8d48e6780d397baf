#!/usr/bin/env bash
# `make install` into a scratch prefix and use the result as an operator
# and a C developer would: `sts` runs, pkg-config finds libsts, a C
# program links against the installed libsts.so and runs, and no installed
# file carries debug sections.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
make -s install PREFIX="$prefix" >/dev/null
fail() { echo "install-check: $*" >&2; exit 1; }
for f in bin/sts lib/libsts.so.0 lib/libsts.a include/sts.h lib/pkgconfig/sts.pc; do
  [ -e "$prefix/$f" ] || fail "$f not installed"
done
"$prefix/bin/sts" --version >/dev/null || fail "installed sts does not run"
for f in bin/sts lib/libsts.so.0 lib/libsts.a; do
  if objdump -h "$prefix/$f" | grep -qE '\.debug_(info|line|str|abbrev|ranges|rnglists|loclists)'; then
    fail "$f carries debug sections"
  fi
done
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -std=c99 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags sts) \
  -o "$prefix/policy-check" c-examples/policy-check.c $(pkg-config --libs sts) \
  -Wl,-rpath,"$prefix/lib"
"$prefix/policy-check" c-examples/sample/mta-sts.txt eu.mail.example.net >/dev/null \
  || fail "a C program built against the installed library failed"
echo "install-check: ok (sts, libsts.so.0, libsts.a, sts.h, sts.pc; stripped)"
