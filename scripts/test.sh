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
# CPU path on machines without a GPU; tmux, in which the end-to-end test
# runs `twin tui` in a real terminal; git, with which the regression gate's
# tests make their repositories.
packages=(mesa-vulkan-drivers libvulkan1 tmux git)
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

# A fresh debug build takes about 3.5 GB and the tests up to 0.3 GB of
# temporary files; a full disk otherwise shows up as an odd test failure
# ("No space left on device") far into the run.
free_kb() { df -Pk "$1" 2>/dev/null | awk 'NR == 2 { print $4 }' || true; }
for dir in "${CARGO_TARGET_DIR:-.}" "${TMPDIR:-/tmp}"; do
    kb="$(free_kb "$dir")"
    if [ -n "$kb" ] && [ "$kb" -lt 4000000 ]; then
        echo "scripts/test.sh: warning: only $((kb / 1024)) MiB free under $dir;" \
            "the build and the tests need about 4 GiB (free some space, or set" \
            "CARGO_TARGET_DIR / TMPDIR to a roomier disk)" >&2
    fi
done

cargo test --workspace --locked "$@"
# The criterion benchmarks must keep compiling (they are run by hand).
cargo build --locked -p twin-benches --benches
