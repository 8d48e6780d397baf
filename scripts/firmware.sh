#!/usr/bin/env bash
# Firmware build of libsts: the no_std staticlib for thumbv7em-none-eabihf
# (Cortex-M4F) linked into c-examples/firmware with arm-none-eabi-gcc, and a
# size report. The same C file is also built for the host against libsts.a
# and run, so the firmware checks are tested, not only sized.
#
#   scripts/firmware.sh            build, run the host test, print sizes, check the budget
#   scripts/firmware.sh --record   also write the measured size into size-budget.txt
#
# The budget counts what the image keeps in flash for libsts and its caller:
# .text + .rodata of the base-min image (parse + TXT + MX, core rebuilt with
# panic=immediate-abort). Fails when that exceeds the budget or grows more
# than 10% over the recorded figure (c-examples/firmware/size-budget.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
fw=c-examples/firmware
out=${BUILD:-build}/firmware
mkdir -p "$out"
target=thumbv7em-none-eabihf
tdir=${CARGO_TARGET_DIR:-target}

echo "== host test of $fw/firmware.c against libsts.a"
cargo build -q --release -p sts-ffi
cc -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -DSTS_FIRMWARE_HOST -DSTS_FIRMWARE_LOG -Iinclude \
  -o "$out/firmware-host" "$fw/firmware.c" "$tdir/release/libsts.a" -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
"$out/firmware-host"
# The firmware configuration itself (no heap, no texts: sts_result_str
# gives names) on the host, with its own header.
CARGO_PROFILE_RELEASE_PANIC=abort CARGO_TARGET_DIR=$tdir/fw-host \
  cargo build -q --release -p sts-ffi --no-default-features
cc -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -DSTS_FIRMWARE_HOST -DSTS_FIRMWARE_LOG -Iinclude/firmware \
  -o "$out/firmware-host-nostd" "$fw/firmware.c" "$tdir/fw-host/release/libsts.a" -Wl,--gc-sections
"$out/firmware-host-nostd"
echo "firmware checks: 2 passed, 0 failed"

rustup target list --installed | grep -qx $target || rustup target add $target
# Size-optimised, abort-on-panic builds in their own target directories:
# what firmware would ship, kept apart from the hosted libraries.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_DEBUG=0
if ! command -v arm-none-eabi-gcc >/dev/null; then
  echo "arm-none-eabi-gcc not found (apt-get install gcc-arm-none-eabi): cannot size the firmware image" >&2
  exit 1
fi

cflags=(-std=c99 -Wall -Wextra -Wpedantic -Werror -Os -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
  -ffunction-sections -fdata-sections -ffreestanding -nostdlib -Wa,--noexecstack)
ldflags=(-Wl,--gc-sections -T "$fw/firmware.ld" -lgcc)

# Two toolchains. "stable": a plain stable build with panic=abort; core's
# panic machinery (formatting of bounds-check messages) stays in. "build-std":
# core rebuilt with the immediate-abort panic strategy (-Zbuild-std and
# -Cpanic=immediate-abort are unstable: nightly, or RUSTC_BOOTSTRAP=1 on
# stable, plus the rust-src component), as size-conscious firmware ships.
# The budget applies to base-min, the build-std image.
rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src
declare -A toolchain=([stable]="stable, panic=abort" [min]="build-std, panic=immediate-abort")
build_image() { # name flavour cargo-features header-dir cflags...
  local name=$1 flavour=$2 features=$3 inc=$4
  shift 4
  # One library per flavour and feature set, shared by the images using it.
  local tgt="$tdir/fw-$flavour${features:+-${features##* }}"
  if [ "$flavour" = min ]; then
    RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" CARGO_TARGET_DIR=$tgt \
      cargo build -q --release -p sts-ffi --no-default-features $features --target $target -Zbuild-std=core
  else
    CARGO_TARGET_DIR=$tgt cargo build -q --release -p sts-ffi --no-default-features $features --target $target
  fi
  arm-none-eabi-gcc "${cflags[@]}" -I"$inc" "$@" -o "$out/$name.elf" "$fw/firmware.c" \
    "$tgt/$target/release/libsts.a" "${ldflags[@]}" -Wl,-Map,"$out/$name.map"
  flavours[$name]=$flavour
}

declare -A flavours
build_image base stable "" include/firmware
build_image base-min min "" include/firmware
build_image dane stable "--features dane" include/firmware-dane
build_image dane-min min "--features dane" include/firmware-dane
# base-min that also keeps sts_result_str for its log: the cost of the
# result names (no English texts without the `messages` feature).
build_image log-min min "" include/firmware -DSTS_FIRMWARE_LOG

sizes() { # image -> ".text .rodata .data .bss"
  arm-none-eabi-size -A "$out/$1.elf" | awk '
    $1 == ".text" {t=$2} $1 == ".rodata" {r=$2} $1 == ".data" {d=$2} $1 == ".bss" {b=$2}
    END {print t+0, r+0, d+0, b+0}'
}

echo "== firmware image sizes (arm-none-eabi-size, bytes)"
printf '%-9s %7s %8s %14s %6s %5s  %s\n' image .text .rodata .text+.rodata .data .bss toolchain
for img in base base-min dane dane-min log-min; do
  read -r t r d b <<<"$(sizes "$img")"
  printf '%-9s %7d %8d %14d %6d %5d  %s\n' "$img" "$t" "$r" $((t + r)) "$d" "$b" "${toolchain[${flavours[$img]}]}"
done

read -r t r _ <<<"$(sizes base-min)"
flash=$((t + r))
budget=$(awk '$1 == "budget" {print $2}' "$fw/size-budget.txt")
recorded=$(awk '$1 == "recorded" {print $2}' "$fw/size-budget.txt")
if [ "${1:-}" = --record ]; then
  sed -i "s/^recorded .*/recorded $flash/" "$fw/size-budget.txt"
  recorded=$flash
fi
echo "base-min .text+.rodata: $flash bytes (budget $budget, recorded $recorded)"
# The stable image is reported, not enforced: its size follows the
# precompiled core of whichever stable toolchain builds it, and one panic
# path in the parse code brings core's formatting back (about 8 KB).
read -r t r _ <<<"$(sizes base)"
if arm-none-eabi-nm "$out/base.elf" | grep -q panic_fmt; then
  echo "base (stable) .text+.rodata: $((t + r)) bytes; it has a panic path (core::panicking::panic_fmt)"
elif [ $((t + r)) -le "$budget" ]; then
  echo "base (stable) .text+.rodata: $((t + r)) bytes, within the budget too"
else
  echo "base (stable) .text+.rodata: $((t + r)) bytes, over the budget (not enforced)"
fi
over=0
if [ "$flash" -gt "$budget" ]; then
  echo "FAIL: .text+.rodata $flash is over the budget of $budget bytes" >&2
  over=1
elif [ "$recorded" -gt 0 ] && [ $((flash * 10)) -gt $((recorded * 11)) ]; then
  echo "FAIL: .text+.rodata $flash grew more than 10% over the recorded $recorded bytes" >&2
  over=1
fi
if [ "$over" = 1 ]; then
  echo "largest symbols of base-min ($out/base-min.map has every input section):" >&2
  arm-none-eabi-nm --size-sort -S -C "$out/base-min.elf" | tail -12 >&2
  # A panic location left in by a call that was not inlined keeps its
  # crate's whole merged string section (every error text) in .rodata.
  if strings -a "$out/base-min.elf" | grep -E '\.rs$' >&2; then
    echo "(above: panic locations in the image, each keeping its crate's string section)" >&2
  fi
  exit 1
fi
