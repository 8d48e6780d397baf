#!/usr/bin/env bash
# Static musl builds of libsts.a and `sts` (the shape of an appliance), each
# proved under qemu-user: `sts --version` and `sts lint` run, and
# tests/c/vectors.c, linked statically against the musl libsts.a with a musl
# C compiler, passes. See docs/portability.md.
#
#   scripts/musl.sh [TARGET...]    default: aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf
#
# Needs (Debian 12, root): qemu-user, the glibc cross gcc as Rust's linker
# (gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf) and musl for the C side
# (`dpkg --add-architecture arm64; dpkg --add-architecture armhf; apt-get
# update; apt-get install musl-dev:arm64 musl-dev:armhf`, which brings
# aarch64-linux-musl-gcc and arm-linux-musleabihf-gcc). rustup targets are
# added here; when the current toolchain has no rust-std for a target
# (stable 1.94 and 1.95 ship none for 32-bit ARM musl), 1.93.0, which has
# one, is installed and used.
#
# Environment:
#   STS_MUSL_LIB_FEATURES  cargo feature arguments for libsts.a (default: the
#                          default features); the lean appliance set is
#                          "--no-default-features --features messages,cert,client"
#   STS_MUSL_TOOLCHAIN     toolchain to fall back on (default 1.93.0)
#   CORPUS, BUILD, CARGO_TARGET_DIR   as for the Makefile
# Artifacts go to $BUILD/musl/TARGET/ (libsts.a without debug sections as
# `make install` leaves it, stripped sts and vectors). Ends with one line per
# target; exits 1 if any check failed.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
corpus=${CORPUS:-../shared/corpus}
out=${BUILD:-build}/musl
tdir=${CARGO_TARGET_DIR:-target}
read -r -a lib_features <<<"${STS_MUSL_LIB_FEATURES:-}"
fallback=${STS_MUSL_TOOLCHAIN:-1.93.0}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf)
fi

# The toolchain to build TARGET with: the current one if it has (or can get)
# the target's rust-std, else $fallback.
toolchain_for() {
  local target=$1
  if rustup target list --installed | grep -qx "$target" || rustup target add "$target" >/dev/null 2>&1; then
    rustc --version | awk '{ print $2 }'
    return
  fi
  rustup toolchain install "$fallback" --profile minimal --target "$target" >/dev/null 2>&1 ||
    rustup target add --toolchain "$fallback" "$target" >/dev/null
  echo "$fallback"
}

bytes() { stat -c %s "$1"; }

missing() {
  echo "musl.sh: $1 not found ($2)" >&2
  exit 2
}

# link_vectors NAME [LDFLAGS...]: tests/c/vectors.c, static, into $dir/NAME.
link_vectors() {
  local name=$1
  shift
  "$musl-gcc" -static -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -g "$@" -Iinclude \
    -o "$dir/$name.debug" tests/c/vectors.c "$dir/libsts.a" -L"$selfc" "${native_libs[@]}"
  "$gnu-strip" -o "$dir/$name" "$dir/$name.debug"
  file -b "$dir/$name" | grep -q "statically linked" || checks+=("$name not static")
}

summary=()
failed=0
for target in "${targets[@]}"; do
  case $target in
  aarch64-unknown-linux-musl) gnu=aarch64-linux-gnu musl=aarch64-linux-musl qemu=qemu-aarch64 deb=arm64 ;;
  armv7-unknown-linux-musleabihf) gnu=arm-linux-gnueabihf musl=arm-linux-musleabihf qemu=qemu-arm deb=armhf ;;
  *)
    echo "musl.sh: no settings for $target" >&2
    exit 2
    ;;
  esac
  command -v "$gnu-gcc" >/dev/null || missing "$gnu-gcc" "apt-get install gcc-$gnu"
  command -v "$qemu" >/dev/null || missing "$qemu" "apt-get install qemu-user"
  command -v "$musl-gcc" >/dev/null ||
    missing "$musl-gcc" "dpkg --add-architecture $deb; apt-get update; apt-get install musl-dev:$deb"
  tc=$(toolchain_for "$target")
  dir=$out/$target
  rel=$tdir/$target/release
  mkdir -p "$dir"
  var=$(tr 'a-z-' 'A-Z_' <<<"$target")
  # The same settings as .cargo/config.toml, so that a CARGO_HOME or a
  # config elsewhere cannot change them.
  export "CARGO_TARGET_${var}_LINKER=$gnu-gcc"
  export "CARGO_TARGET_${var}_RUNNER=$qemu"

  echo "== $target (rust $tc): libsts.a ${lib_features[*]:-(default features)}"
  # Only the staticlib: a musl target drops the cdylib anyway, with a warning.
  cargo +"$tc" rustc -q --release -p sts-ffi --lib --crate-type staticlib --target "$target" \
    "${lib_features[@]}" -- --print native-static-libs 2>"$dir/rustc.log"
  # rustc prints the list only when it builds; keep the last one it printed.
  if grep -q "native-static-libs: " "$dir/rustc.log"; then
    sed -n 's/.*native-static-libs: //p' "$dir/rustc.log" | tail -1 >"$dir/native-static-libs"
  fi
  native=$(cat "$dir/native-static-libs")
  echo "native-static-libs: $native"
  echo "== $target: sts"
  cargo +"$tc" build -q --release -p sts-cli --target "$target"

  "$gnu-strip" --strip-debug -o "$dir/libsts.a" "$rel/libsts.a"
  "$gnu-strip" -o "$dir/sts" "$rel/sts"
  checks=()
  file -b "$rel/sts" | grep -q "statically linked" || checks+=("sts not static")
  version=$("$qemu" "$dir/sts" --version) || checks+=("sts --version failed")
  lint=$("$qemu" "$dir/sts" lint c-examples/sample/mta-sts.txt) || checks+=("sts lint failed")
  echo "$version"
  echo "$lint"
  case $lint in *": valid: "*) ;; *) checks+=("sts lint: not valid") ;; esac

  echo "== $target: tests/c/vectors.c against libsts.a with $musl-gcc -static"
  # Rust's musl std leaves its unwinder to the final link (-lunwind above):
  # take the one rustc ships, not the glibc cross gcc's libgcc_eh.
  selfc=$(rustc +"$tc" --print sysroot)/lib/rustlib/$target/lib/self-contained
  read -r -a native_libs <<<"$native"
  # Twice: as plainly linked, and with --gc-sections, which drops the parts
  # of the one LTO object the program does not call.
  link_vectors vectors
  link_vectors vectors-gc -Wl,--gc-sections
  vectors=$("$qemu" "$dir/vectors" tests/vectors/abi.tsv "$corpus" | tail -1) || true
  echo "$vectors"
  case $vectors in *" passed, 0 failed") ;; *) checks+=("vectors.c: $vectors") ;; esac
  gc=$("$qemu" "$dir/vectors-gc" tests/vectors/abi.tsv "$corpus" | tail -1) || true
  [ "$gc" = "$vectors" ] || checks+=("vectors.c with --gc-sections: $gc")

  sizes="libsts.a $(bytes "$rel/libsts.a") ($(bytes "$dir/libsts.a") without debug), sts $(bytes "$dir/sts") stripped, vectors $(bytes "$dir/vectors") stripped ($(bytes "$dir/vectors-gc") with --gc-sections)"
  if [ ${#checks[@]} -eq 0 ]; then
    summary+=("$target (rust $tc): static; $version runs; lint valid; vectors.c $vectors; $sizes")
  else
    failed=1
    summary+=("$target (rust $tc): FAILED: $(printf '%s; ' "${checks[@]}")$sizes")
  fi
done
printf '%s\n' "${summary[@]}"
exit $failed
