#!/usr/bin/env bash
# Each header in include/ declares exactly what the library of its build
# configuration exports: builds libsts.so for each configuration, and
# compares the functions the preprocessed header declares with the sts_
# symbols the library defines. Also checks that a program can #if on the
# feature macros.
#
#   tests/c/feature-headers.sh BUILD-DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:?usage: feature-headers.sh BUILD-DIR}
mkdir -p "$build"
tdir=${CARGO_TARGET_DIR:-target}
fails=0

check() { # header cargo-features...
  local header=$1 dir
  shift
  if [ $# -eq 0 ]; then
    dir=$tdir/release
    cargo build -q --release -p sts-ffi
  else
    # Heap-free configurations have no unwinding on the host either.
    dir=$tdir/features-$(basename "$(dirname "$header")")/release
    CARGO_PROFILE_RELEASE_PANIC=abort cargo build -q --release -p sts-ffi "$@" \
      --target-dir "$(dirname "$dir")"
  fi
  printf '#include "sts.h"\n' >"$build/feature-headers.c"
  cc -std=c99 -E -P -I"$(dirname "$header")" "$build/feature-headers.c" |
    grep -oE '\bsts_[a-z0-9_]+\(' | tr -d '(' | sort -u >"$build/declared"
  nm -D --defined-only "$dir/libsts.so" | awk '$3 ~ /^sts_/ {print $3}' | sort -u >"$build/exported"
  if diff "$build/declared" "$build/exported" >"$build/feature-headers.diff"; then
    echo "ok: $header declares the $(wc -l <"$build/declared") functions its library exports"
  else
    echo "FAIL: $header (<) and its library (>) differ:"
    cat "$build/feature-headers.diff"
    fails=$((fails + 1))
  fi
}

check include/sts.h
check include/firmware/sts.h --no-default-features
check include/firmware-dane/sts.h --no-default-features --features dane

# A program picks what to use with the feature macros; against the
# firmware header the client code is left out and the program still builds.
cat >"$build/feature-use.c" <<'C'
#include <stdio.h>
#include "sts.h"
int main(void) {
#if defined(STS_FEATURE_CLIENT)
  sts_client *c = NULL;
  if (sts_client_new(NULL, &c) == STS_OK) {
    sts_client_free(c);
  }
  puts("client");
#else
  puts("no client");
#endif
  return STS_VERSION_MAJOR == 0 ? 0 : 1;
}
C
for inc in include include/firmware include/firmware-dane; do
  cc -std=c99 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I$inc "$build/feature-use.c" ||
    fails=$((fails + 1))
done
# And a firmware header does not declare the client at all.
if printf '#include "sts.h"\nint f(void) { return (int)sts_client_new(0, 0); }\n' |
  cc -std=c99 -Werror -fsyntax-only -Iinclude/firmware -x c - 2>/dev/null; then
  echo "FAIL: include/firmware/sts.h declares sts_client_new"
  fails=$((fails + 1))
fi
echo "feature-headers: $fails failed"
[ "$fails" -eq 0 ]
