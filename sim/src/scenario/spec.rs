//! The scenario file format, version 1: every table and field a scenario may
//! hold, with its default.
//!
//! Every struct rejects unknown fields, so a misspelt key is an error with a
//! line and column rather than a silently ignored setting. Rates are per
//! second for requests and per hour for everything slower (interruptions,
//! jobs), as the field names say. Prices are in the billing currency per
//! node-hour.

#[macro_use]
mod named;

mod defaults;

mod arrivals;
mod autoscaling;
mod billing;
mod fleet;
mod market;
mod pod_trace;
mod policies;
mod scheduler;
mod services;
mod telemetry;
mod tokens;
mod training;

pub use arrivals::{ArrivalSpec, RatePoint, RequestTraceFormat, TraceArrivals};
pub use autoscaling::{AutoscalerSpec, PredictiveSpec, ScaleMetric};
pub use billing::BillingSpec;
pub use fleet::{CapacityType, CapexSpec, DEFAULT_MAX_NODES, FailureSpec, PoolSpec, node_labels};
pub use market::{
    AdvisorRefSpec, InterruptionSpec, MeanRevertingSpec, PriceHistoryCapacity, PriceHistoryFormat, PriceHistorySpec, PricePoint, PriceSpec,
    PriceTableSpec, StockoutSpec,
};
pub use pod_trace::{PodTraceFormat, PodTraceSpec};
pub use policies::PoliciesSpec;
pub use scheduler::{ExternalSchedulerSpec, ProfileChoice, SchedulerSpec, SchedulingSpec};
pub use services::{CalibrationSpec, ServiceSpec, ServiceTimeSpec, SloSpec};
pub use telemetry::{TelemetryFormat, TelemetrySpec};
pub use tokens::TokenSpec;
pub use training::{JobTraceFormat, JobTraceSpec, LognormalSpec, TrainingSpec, TrainingStreamSpec};

use defaults::secs;

use crate::catalogue::{Accelerator, ModelArch, NodeType};
use crate::scenario::duration::Dur;
use serde::{Deserialize, Serialize};

/// The format version this build of Twin reads.
pub const FORMAT_VERSION: u32 = 1;

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Must be 1.
    pub format_version: u32,
    /// A short name, shown in reports.
    pub name: String,
    /// The question the scenario answers.
    #[serde(default)]
    pub description: String,
    /// How much simulated time to run, such as `"7d"`. Must be more than
    /// zero (and is not used by a `pod_trace` experiment).
    #[serde(default)]
    pub horizon: Dur,
    /// The seed used when the command line gives none. Default 1.
    #[serde(default = "seed")]
    pub seed: u64,
    /// How often the time series are sampled. Default `"1m"`.
    #[serde(default = "secs::<60>")]
    pub sample_interval: Dur,
    /// Billing and energy settings.
    #[serde(default)]
    pub billing: BillingSpec,
    /// Accelerators added to (or replacing those of) the built-in catalogue.
    #[serde(default)]
    pub accelerators: Vec<Accelerator>,
    /// Node types added to (or replacing those of) the built-in catalogue.
    #[serde(default)]
    pub node_types: Vec<NodeType>,
    /// Model architectures added to (or replacing those of) the built-in catalogue.
    #[serde(default)]
    pub models: Vec<ModelArch>,
    /// The fleet: pools of identical nodes. Required, except in a `pod_trace` experiment.
    #[serde(default)]
    pub pools: Vec<PoolSpec>,
    /// LLM inference services.
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    /// Individual training jobs.
    #[serde(default)]
    pub training: Vec<TrainingSpec>,
    /// Generators of training jobs.
    #[serde(default)]
    pub training_streams: Vec<TrainingStreamSpec>,
    /// Job traces replayed as training and batch submissions.
    #[serde(default)]
    pub job_traces: Vec<JobTraceSpec>,
    /// Which scheduler places work. Default: Twin's scheduler with the `default` profile.
    #[serde(default)]
    pub scheduler: SchedulerSpec,
    /// Policy-as-code (Rego) at admission, placement and scaling. Default: none.
    #[serde(default)]
    pub policies: Option<PoliciesSpec>,
    /// Kubernetes manifests (files or folders, relative to the scenario)
    /// whose workloads join the scenario's: Deployments, StatefulSets, Jobs,
    /// HPAs, PriorityClasses and Karpenter NodePools (docs/manifests.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<String>,
    /// A scheduler experiment instead of a simulation: fill a trace's nodes
    /// with its pods under each profile (the FGD paper's experiment).
    #[serde(default)]
    pub pod_trace: Option<PodTraceSpec>,
}

fn seed() -> u64 {
    1
}

#[cfg(test)]
mod tests;
