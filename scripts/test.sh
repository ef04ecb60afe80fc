#!/usr/bin/env bash
# Runs Twin's whole test suite on a fresh machine.
#
# What the tests need beyond a Rust toolchain is installed here when missing,
# so this works as it stands on a new Debian or Ubuntu machine. Extra
# arguments go to `cargo test` (for example a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
if ! need cargo; then
    echo "scripts/test.sh: cargo is not installed; install Rust from https://rustup.rs" >&2
    exit 1
fi
# Debian packages the tests need: the CPU Vulkan driver (lavapipe) and the
# Vulkan loader, so the GPU sweep kernels run and are checked against the
# CPU path on machines without a GPU.
packages=(mesa-vulkan-drivers libvulkan1)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}"
fi

# Reuse a build directory outside the clone when there is one (CI keeps
# ../twin-target between runs); otherwise build in ./target.
if [ -z "${CARGO_TARGET_DIR:-}" ] && [ -d ../twin-target ]; then
    export CARGO_TARGET_DIR="$(cd ../twin-target && pwd)"
fi

cargo test --workspace --locked "$@"
# The criterion benchmarks must keep compiling (they are run by hand).
cargo build --locked -p twin-benches --benches
