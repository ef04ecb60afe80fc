//! What-if sweeps: many replicas of a coarse-grained model of one scenario
//! service, with parameters varied along a grid, on the GPU (wgpu compute
//! shaders) or on all CPU cores with the same model.
//!
//! - [`model`]: the model and its reference implementation (what it keeps of
//!   the event model and what it drops);
//! - [`params`]: a scenario's service as the model's parameters;
//! - [`grid`]: axes of varied parameters;
//! - [`cpu`]: the CPU backend, on [`batch`] (replicas in SIMD lanes) and
//!   [`lanes`] (branch-free arithmetic for them);
//! - [`gpu`]: the GPU backend (the same model as wgpu compute shaders);
//! - [`engine`]: a whole sweep on either backend (pilot, then tallies);
//! - [`tally`]: running statistics per point (sums, misses, histograms),
//!   filled on the device by the GPU backend;
//! - [`share`]: the work cut into shares (a Kubernetes Indexed Job's pods)
//!   and their parts merged exactly, on [`exact`] sums; [`shard_file`]: a
//!   share's partial result as a file, and a set of them merged;
//! - [`summary`]: statistics per point and the cheapest point that meets the SLO.
#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod batch;
pub mod cpu;
pub mod engine;
pub mod exact;
pub mod gpu;
pub mod grid;
pub mod lanes;
mod layout;
pub mod model;
pub mod params;
pub mod shard_file;
pub mod share;
pub mod summary;
pub mod tally;

pub use model::{Outcome, PointParams, run_replica};
pub use params::Baseline;

/// Why a sweep could not run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// An axis that does not parse or is out of range.
    #[error("--vary {text}: {why}")]
    Axis {
        /// The axis as written.
        text: String,
        /// What is wrong.
        why: String,
    },
    /// An axis value outside what its parameter allows.
    #[error("--vary {text}: {key} = {value} is out of range ({meaning})")]
    OutOfRange {
        /// The axis as written.
        text: String,
        /// The parameter.
        key: String,
        /// The value out of range.
        value: f64,
        /// What the parameter means, with its range.
        meaning: &'static str,
    },
    /// An axis over a parameter the sweep does not know.
    #[error("--vary: `{key}` is not a parameter the sweep can vary; it can vary {known}")]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The keys that can vary.
        known: String,
    },
    /// A service name the scenario does not have.
    #[error("the scenario has no service `{name}` (services: {known})")]
    NoService {
        /// The name asked for.
        name: String,
        /// The scenario's services.
        known: String,
    },
    /// Something in the scenario the sweep model does not cover.
    #[error("the sweep cannot model this: {0}")]
    Unsupported(String),
    /// No GPU adapter, or one that failed to start.
    #[error("{0}")]
    NoAdapter(String),
    /// The device's driver stopped the kernel before the end of the horizon.
    #[error(
        "{adapter} stopped the sweep kernel before the end of the horizon (llvmpipe stops a shader's loops after 65,535 iterations in all, \
         about 5,000 steps of this model); use a GPU, --backend cpu, or a coarser --step"
    )]
    CutShort {
        /// The adapter.
        adapter: String,
    },
    /// The CPU backend could not start its worker threads.
    #[error("could not start {threads} worker threads: {error}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// Why rayon could not start them.
        error: rayon::ThreadPoolBuildError,
    },
    /// The device was lost or a submission failed mid-sweep.
    #[error("the GPU failed after {done} of {total} replicas: {fault}")]
    Device {
        /// Replicas finished (and kept) before the failure.
        done: u64,
        /// Replicas asked for.
        total: u64,
        /// What went wrong.
        fault: gpu::GpuFault,
    },
}
