//! The pod-trace experiment: a trace's pods filling its nodes under each scheduler profile.

use super::ProfileChoice;
use serde::{Deserialize, Serialize};

/// The pod-trace experiment: a trace's pods arrive at its nodes and never
/// leave, until their GPU demand reaches `fill_to` of the GPU capacity; each
/// profile's allocation and fragmentation are recorded as demand grows.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PodTraceSpec {
    /// The trace's format. Default and only value: `"openb"` (Alibaba openb 2023).
    #[serde(default)]
    pub format: PodTraceFormat,
    /// The pod list CSV, relative to the scenario file.
    pub pods: String,
    /// The node list CSV, relative to the scenario file.
    pub nodes: String,
    /// Profiles to compare: built-in names or tables. Default: every built-in profile.
    #[serde(default)]
    pub profiles: Vec<ProfileChoice>,
    /// Arrived GPU demand, as a share of capacity, at which to stop. Default 1.3.
    #[serde(default = "fill_to")]
    pub fill_to: f64,
    /// Record a point each time arrived demand grows by this share of capacity. Default 0.05.
    #[serde(default = "report_every")]
    pub report_every: f64,
}

named_enum! {
    /// Formats of pod traces (`pod_trace.format`).
    pub enum PodTraceFormat {
        /// Alibaba openb 2023: `openb_pod_list_*.csv` and `openb_node_list_gpu_node.csv`.
        #[default]
        Openb = "openb",
    }
}

fn fill_to() -> f64 {
    1.3
}

fn report_every() -> f64 {
    0.05
}
