//! LLM inference services: replicas, service time, the roofline calibration and latency objectives.

use super::defaults::{count, team};
use super::{ArrivalSpec, AutoscalerSpec, SchedulingSpec, TokenSpec};
use crate::catalogue::ModelArch;
use crate::scenario::duration::Dur;
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An LLM inference service.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Unique name among workloads.
    pub name: String,
    /// The team that pays. Default `"default"`.
    #[serde(default = "team")]
    pub team: String,
    /// Kubernetes namespace. Default: the team.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Scheduling: priority, node selector, tolerations.
    #[serde(default)]
    pub scheduling: SchedulingSpec,
    /// Container image (for admission policies).
    #[serde(default)]
    pub image: String,
    /// Labels (for policies: `critical = "true"`, `residency = "eu"`, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The model architecture served (catalogue or scenario `[[models]]`).
    /// Required, unless `arrivals = "none"`.
    #[serde(default)]
    pub model: Option<String>,
    /// Pools replicas may run in, by name.
    pub pools: Vec<String>,
    /// Accelerators per replica (tensor parallelism). Default 1.
    #[serde(default = "count::<1>")]
    pub gpus_per_replica: u32,
    /// Replicas at the start. Default 1.
    #[serde(default = "count::<1>")]
    pub replicas: u32,
    /// Most requests decoding together on one replica. Default 256.
    #[serde(default = "count::<256>")]
    pub max_batch: u32,
    /// Most prompt tokens prefilled in one engine step (chunked prefill). Default 2048.
    #[serde(default = "count::<2_048>")]
    pub max_batch_tokens: u32,
    /// Most requests waiting for a replica; more are dropped. Default 100000.
    #[serde(default = "count::<100_000>")]
    pub max_queue: u32,
    /// Requests waiting longer than this for a replica are dropped. Default: never.
    #[serde(default)]
    pub queue_timeout: Option<Dur>,
    /// Time from a replica's node being ready to its serving: container start
    /// and weight loading. Default: 30 s plus the weights at 2 GB/s.
    #[serde(default)]
    pub cold_start: Option<Dur>,
    /// How long requests take to serve. Default `"roofline"`.
    #[serde(default)]
    pub service_time: ServiceTimeSpec,
    /// Efficiencies and overheads of the roofline step model.
    #[serde(default)]
    pub calibration: CalibrationSpec,
    /// Latency objectives. Required, unless `arrivals = "none"`.
    #[serde(default)]
    pub slo: Option<SloSpec>,
    /// How requests arrive; `"none"` for a workload that only holds capacity.
    pub arrivals: ArrivalSpec,
    /// Prompt length, in tokens. Required, unless `arrivals` replays a
    /// request trace, whose tokens are used where this is left out.
    #[serde(default)]
    pub prompt_tokens: Option<TokenSpec>,
    /// Output length, in tokens. As `prompt_tokens`.
    #[serde(default)]
    pub output_tokens: Option<TokenSpec>,
    /// Reactive autoscaling of replicas. Default: a fixed replica count.
    #[serde(default)]
    pub autoscaler: Option<AutoscalerSpec>,
}

impl ServiceSpec {
    /// Time from a replica's start to its serving: `cold_start`, or 30 s
    /// for the container plus `model`'s weights loaded at 2 GB/s.
    /// Without a model (a workload that only holds capacity): 30 s.
    pub fn cold_start_for(&self, model: Option<&ModelArch>) -> crate::time::SimDuration {
        self.cold_start
            .map_or_else(|| crate::time::SimDuration::from_secs_f64(30.0 + model.map_or(0.0, |m| m.weight_bytes() / 2e9)), Dur::get)
    }

    /// Whether requests arrive at all (`arrivals` is not `"none"`).
    pub fn has_load(&self) -> bool {
        !matches!(self.arrivals, ArrivalSpec::None)
    }

    /// The latency objectives; a workload with no load has none (any latency meets them).
    pub fn slo_or_none(&self) -> SloSpec {
        self.slo.clone().unwrap_or(SloSpec { ttft: Dur(SimDuration(u64::MAX)), e2e: Dur(SimDuration(u64::MAX)), target: 0.0 })
    }
}

/// How long a request takes once a replica takes it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ServiceTimeSpec {
    /// Engine steps timed by the roofline model of `models.md` (continuous
    /// batching, chunked prefill, KV-cache admission).
    #[default]
    Roofline,
    /// Each request holds one batch slot for an exponential time with this
    /// mean and is answered whole (time to first token = end-to-end latency).
    /// With `max_batch = 1` a service is an M/M/c queue.
    Exponential {
        /// Mean service time.
        mean: Dur,
    },
    /// Each request holds one batch slot for exactly this long.
    Fixed {
        /// The service time.
        duration: Dur,
    },
}

/// Efficiencies and fixed overheads of the roofline step model. Defaults are
/// the fitted values `models.md` quotes from BLIS (vLLM with CUDA graphs).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalibrationSpec {
    /// Prefill MFU. Default: the accelerator's catalogue value.
    pub mfu_prefill: Option<f64>,
    /// Decode MFU. Default: the accelerator's catalogue value.
    pub mfu_decode: Option<f64>,
    /// Memory-bandwidth utilisation streaming weights. Default 0.72.
    pub mbu_weights: f64,
    /// Memory-bandwidth utilisation reading the KV cache. Default 0.5.
    pub mbu_kv: f64,
    /// Fixed time per layer per step. Default `"32us"`.
    pub layer_overhead: Dur,
    /// Fixed time per step. Default `"126us"`.
    pub step_overhead: Dur,
    /// Fixed time per request in the batch per step. Default `"4.4us"`.
    pub request_overhead: Dur,
    /// Exponent p of the norm combining compute and memory time
    /// (`(Tc^p + Tm^p)^(1/p)`); 0 means `max`. Default 2.
    pub combine_p: f64,
    /// Share of accelerator memory the engine may use. Default 0.9.
    pub memory_fraction: f64,
    /// Memory kept for activations per accelerator, in GB. Default 2.
    pub activation_reserve_gb: f64,
}

impl Default for CalibrationSpec {
    fn default() -> Self {
        CalibrationSpec {
            mfu_prefill: None,
            mfu_decode: None,
            mbu_weights: 0.72,
            mbu_kv: 0.5,
            layer_overhead: Dur(SimDuration(32_000)),
            step_overhead: Dur(SimDuration(126_000)),
            request_overhead: Dur(SimDuration(4_400)),
            combine_p: 2.0,
            memory_fraction: 0.9,
            activation_reserve_gb: 2.0,
        }
    }
}

/// Latency objectives of a service.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    /// Time to first token, from arrival.
    pub ttft: Dur,
    /// End-to-end latency, from arrival to the last token.
    pub e2e: Dur,
    /// Share of requests that must meet both. Default 0.99.
    #[serde(default = "slo_target")]
    pub target: f64,
}

fn slo_target() -> f64 {
    0.99
}
