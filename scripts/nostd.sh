#!/usr/bin/env bash
# Proves the core is no_std: builds sts-core for a target that has no std
# at all. thumbv7em-none-eabihf (Cortex-M4F firmware) first; if that target
# cannot be installed, x86_64-unknown-none; if neither, fail loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

have_target() {
  rustup target list --installed 2>/dev/null | grep -qx "$1" || rustup target add "$1" >/dev/null 2>&1
}

for target in thumbv7em-none-eabihf x86_64-unknown-none; do
  if have_target "$target"; then
    echo "no_std check: building sts-core for $target"
    cargo build -p sts-core --release --target "$target"
    if [ "$target" = thumbv7em-none-eabihf ]; then
      # Certificate and DANE checks for firmware: the RustCrypto backend
      # (ring does not link for Cortex-M).
      echo "no_std check: sts-core with webpki, rustcrypto and dane for $target"
      cargo build -p sts-core --release --target "$target" --no-default-features --features webpki,rustcrypto,dane
    fi
    exit 0
  fi
  echo "no_std check: cannot install $target, trying the next target" >&2
done
echo "no_std check FAILED: neither thumbv7em-none-eabihf nor x86_64-unknown-none can be installed" >&2
exit 1
