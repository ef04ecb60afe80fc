# syntax=docker/dockerfile:1
#
# The `twin` binary in an image, for sharded sweeps and regression suites run
# as a Kubernetes Indexed Job (`--emit-k8s-job`, gitops/src/shard_job.rs) and
# for `twin extender`.
#
#   docker build -t twin:dev .
#   docker run --rm twin:dev run spot-inference
#
# The build reads only this folder and crates.io: no sibling checkouts.

# ---- build ------------------------------------------------------------------
# Debian bookworm in both stages, so the binary's glibc is the runtime's.
# The full image (not -slim) brings the C toolchain, pkg-config and zlib
# headers that libgit2-sys, libz-sys, zstd-sys and lz4-sys build with.
FROM rust:1-bookworm AS build
WORKDIR /src
# The whole workspace: cargo loads every member's manifest, and crates embed
# scenarios/, policies/ and docs/ with include_str!. .dockerignore keeps
# target/, results/ and .git out.
COPY . .
# --locked: exactly Cargo.lock's versions. The cache mounts (BuildKit) keep
# the registry and the target folder between builds; the binary is copied
# out of the cached folder within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p twin --bin twin \
 && install -m 0755 target/release/twin /usr/local/bin/twin

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim
# libvulkan1: the Vulkan loader wgpu opens for GPU sweeps. On NVIDIA nodes
# the NVIDIA container toolkit mounts the driver's Vulkan ICD into the
# container; mesa-vulkan-drivers adds lavapipe, a CPU Vulkan device, so a
# GPU sweep still runs (slowly) where there is no GPU.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvulkan1 mesa-vulkan-drivers ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# The toolkit injects the graphics libraries (the Vulkan ICD among them)
# only when asked; its default is compute,utility (NVML for `twin record`).
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
# A non-root user; the Kubernetes objects Twin renders run as 65532:65532.
RUN groupadd --gid 65532 twin \
 && useradd --uid 65532 --gid twin --home-dir /twin --create-home --shell /usr/sbin/nologin twin
COPY --from=build /usr/local/bin/twin /usr/local/bin/twin
# Inputs mount at /twin/input and results at /twin/results in the Job's pods.
WORKDIR /twin
USER 65532:65532
ENTRYPOINT ["twin"]
CMD ["--help"]
