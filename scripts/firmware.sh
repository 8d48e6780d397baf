#!/usr/bin/env bash
# Firmware build of libsts: the no_std staticlib for thumbv7em-none-eabihf
# (Cortex-M4F) linked into c-examples/firmware with arm-none-eabi-gcc, and a
# size report (.text/.data/.bss). The same C file is also built for the host
# against libsts.a and run, so the firmware checks are tested, not only sized.
#
#   scripts/firmware.sh            build, run the host test, print sizes, check the budget
#   scripts/firmware.sh --record   also write the measured .text into size-budget.txt
#
# Fails when the base-min image (.text) exceeds the budget or grows more than 10%
# over the recorded figure (c-examples/firmware/size-budget.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
fw=c-examples/firmware
out=${BUILD:-build}/firmware
mkdir -p "$out"
target=thumbv7em-none-eabihf
tdir=${CARGO_TARGET_DIR:-target}

echo "== host test of $fw/firmware.c against libsts.a"
cargo build -q --release -p sts-ffi
cc -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -DSTS_FIRMWARE_HOST -DSTS_FIRMWARE_DANE -Iinclude \
  -o "$out/firmware-host" "$fw/firmware.c" "$tdir/release/libsts.a" -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
"$out/firmware-host"
echo "firmware checks: 1 passed, 0 failed"

rustup target list --installed | grep -qx $target || rustup target add $target
# Size-optimised, abort-on-panic builds in their own target directories:
# what firmware would ship, kept apart from the hosted libraries.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_DEBUG=0
if ! command -v arm-none-eabi-gcc >/dev/null; then
  echo "arm-none-eabi-gcc not found (apt-get install gcc-arm-none-eabi): cannot size the firmware image" >&2
  exit 1
fi

cflags=(-std=c99 -Wall -Wextra -Wpedantic -Werror -Os -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
  -ffunction-sections -fdata-sections -ffreestanding -nostdlib -Wa,--noexecstack -Iinclude)
ldflags=(-Wl,--gc-sections -T "$fw/firmware.ld" -lgcc)

# Two flavours. "stable": a plain stable build with panic=abort; core's
# panic machinery (formatting of bounds-check messages) stays in. "min":
# core rebuilt with the immediate-abort panic strategy (-Zbuild-std, which
# needs the rust-src component; RUSTC_BOOTSTRAP unlocks it on stable), as
# size-conscious firmware ships. The budget applies to "min".
rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src
build_image() { # name flavour cargo-features cflags...
  local name=$1 flavour=$2 features=$3
  shift 3
  local tgt="$tdir/fw-$name"
  if [ "$flavour" = min ]; then
    RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" CARGO_TARGET_DIR=$tgt \
      cargo build -q --release -p sts-ffi --no-default-features $features --target $target -Zbuild-std=core
  else
    CARGO_TARGET_DIR=$tgt cargo build -q --release -p sts-ffi --no-default-features $features --target $target
  fi
  arm-none-eabi-gcc "${cflags[@]}" "$@" -o "$out/$name.elf" "$fw/firmware.c" "$tgt/$target/release/libsts.a" "${ldflags[@]}"
}

build_image base stable ""
build_image base-min min ""
build_image dane stable "--features dane" -DSTS_FIRMWARE_DANE
build_image dane-min min "--features dane" -DSTS_FIRMWARE_DANE

echo "== firmware image sizes (arm-none-eabi-size, bytes)"
printf '%-10s %8s %8s %8s %8s\n' image .text .rodata .data .bss
for img in base base-min dane dane-min; do
  arm-none-eabi-size -A "$out/$img.elf" | awk -v img="$img" '
    $1 == ".text" {t=$2} $1 == ".rodata" {r=$2} $1 == ".data" {d=$2} $1 == ".bss" {b=$2}
    END {printf "%-10s %8d %8d %8d %8d\n", img, t, r, d, b}'
done

text=$(arm-none-eabi-size -A "$out/base-min.elf" | awk '$1 == ".text" {print $2}')
budget=$(awk '$1 == "budget" {print $2}' "$fw/size-budget.txt")
recorded=$(awk '$1 == "recorded" {print $2}' "$fw/size-budget.txt")
if [ "${1:-}" = --record ]; then
  sed -i "s/^recorded .*/recorded $text/" "$fw/size-budget.txt"
  recorded=$text
fi
echo "base-min .text: $text bytes (budget $budget, recorded $recorded)"
if [ "$text" -gt "$budget" ]; then
  echo "FAIL: .text $text is over the budget of $budget bytes" >&2
  exit 1
fi
if [ "$recorded" -gt 0 ] && [ $((text * 10)) -gt $((recorded * 11)) ]; then
  echo "FAIL: .text $text grew more than 10% over the recorded $recorded bytes" >&2
  exit 1
fi
