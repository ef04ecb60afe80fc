//! One accelerator type: what it can compute, hold and draw.

use serde::{Deserialize, Serialize};

/// An accelerator type (a GPU, TPU, Inferentia chip or CPU socket).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Accelerator {
    /// The name scenarios refer to, such as `H100`.
    pub name: String,
    /// Other names that refer to the same type.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Who makes it.
    #[serde(default)]
    pub vendor: String,
    /// Device memory, in GB (10^9 bytes).
    pub memory_gb: f64,
    /// Dense bf16 peak, in TFLOP/s.
    pub bf16_tflops: f64,
    /// Device memory bandwidth, in TB/s.
    pub memory_bandwidth_tbps: f64,
    /// Bandwidth to peers in the same node for tensor parallelism, GB/s per device.
    #[serde(default = "default_interconnect")]
    pub interconnect_gbps: f64,
    /// Power drawn with nothing running, in watts.
    pub idle_watts: f64,
    /// Power drawn at full load (board power limit), in watts.
    pub max_watts: f64,
    /// Training throughput relative to one H100 SXM on transformer training.
    #[serde(default = "one")]
    pub training_speed: f64,
    /// Model FLOPs utilisation reached in prefill.
    #[serde(default = "default_mfu_prefill")]
    pub mfu_prefill: f64,
    /// Model FLOPs utilisation reached in decode.
    #[serde(default = "default_mfu_decode")]
    pub mfu_decode: f64,
    /// Where the figures come from.
    #[serde(default)]
    pub source: String,
}

fn default_interconnect() -> f64 {
    64.0
}
fn one() -> f64 {
    1.0
}
fn default_mfu_prefill() -> f64 {
    0.40
}
fn default_mfu_decode() -> f64 {
    0.25
}

impl Accelerator {
    /// Power at a given activity between 0 (idle) and 1 (full load), in watts.
    pub fn watts_at(&self, activity: f64) -> f64 {
        self.idle_watts + (self.max_watts - self.idle_watts) * activity.clamp(0.0, 1.0)
    }
}
