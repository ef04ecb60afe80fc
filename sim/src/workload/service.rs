//! One inference service: its configuration, queue, replicas and counters.

use super::arrival::ArrivalProcess;
use super::autoscaler::Autoscaler;
use super::router::Router;
use super::step_model::StepModel;
use super::tokens::TokenDist;
use crate::ids::{PoolId, ReplicaId, RequestId, ServiceId, WorkloadId};
use crate::metrics::LatencyHistogram;
use crate::rng::SimRng;
use crate::time::SimDuration;
use std::collections::VecDeque;

/// How a service's requests take time on a replica.
#[derive(Clone, Debug)]
pub enum TimeModel {
    /// Engine steps timed by the roofline model, one per allowed pool.
    Roofline,
    /// Exponential holding time with this mean, in seconds.
    Exponential(f64),
    /// Fixed holding time.
    Fixed(SimDuration),
}

/// Why a request ended without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// The queue was at `max_queue`.
    QueueFull,
    /// It waited longer than `queue_timeout`.
    QueueTimeout,
    /// Prompt plus output exceed a replica's whole KV cache.
    TooLong,
    /// The service was not admitted by policy.
    Rejected,
}

impl DropReason {
    /// Every reason, in report order.
    pub const ALL: [DropReason; 4] = [DropReason::QueueFull, DropReason::QueueTimeout, DropReason::TooLong, DropReason::Rejected];

    /// The name used in reports and records.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::QueueTimeout => "queue_timeout",
            DropReason::TooLong => "too_long",
            DropReason::Rejected => "rejected_by_policy",
        }
    }
}

/// Counters and distributions of one service.
#[derive(Clone, Debug, Default)]
pub struct ServiceStats {
    /// Requests that arrived.
    pub arrived: u64,
    /// Requests answered in full.
    pub finished: u64,
    /// Requests dropped, by [`DropReason`] in `DropReason::ALL` order.
    pub dropped: [u64; 4],
    /// Restarts of requests whose replica went away.
    pub retries: u64,
    /// Finished requests that met both latency objectives.
    pub slo_met: u64,
    /// Time to first token of finished requests.
    pub ttft: LatencyHistogram,
    /// End-to-end latency of finished requests.
    pub e2e: LatencyHistogram,
    /// Time from arrival to a replica's first taking the request.
    pub queue_wait: LatencyHistogram,
    /// Prompt tokens of finished requests.
    pub prompt_tokens: u64,
    /// Output tokens of finished requests.
    pub output_tokens: u64,
    /// Tokens decoded and then lost to a replica going away.
    pub wasted_tokens: u64,
    /// Replicas started (initial ones included).
    pub replicas_started: u64,
    /// Replicas lost to interruptions and failures.
    pub replicas_lost: u64,
    /// Scale steps taken by the autoscaler (up, down).
    pub scale_events: (u64, u64),
    /// Most replicas serving at once.
    pub peak_replicas: u32,
}

/// Counters since the last time-series sample.
#[derive(Clone, Copy, Debug, Default)]
pub struct IntervalCounters {
    /// Arrivals.
    pub arrived: u64,
    /// Finished requests.
    pub finished: u64,
    /// Finished requests within the SLO.
    pub slo_met: u64,
    /// Drops.
    pub dropped: u64,
}

/// An inference service, resolved, with its live state.
#[derive(Clone, Debug)]
pub struct Service {
    /// This service.
    pub id: ServiceId,
    /// The workload it is billed as.
    pub workload: WorkloadId,
    /// Its name.
    pub name: String,
    /// The model it serves (empty for a workload with no load).
    pub model: String,
    /// Whether requests arrive at all; without, its replicas only hold capacity.
    pub has_load: bool,
    /// Whether admission let it run.
    pub admitted: bool,
    /// Pools replicas may use.
    pub pools: Vec<PoolId>,
    /// Step models of the allowed pools, by pool index (roofline only).
    pub step_models: Vec<Option<StepModel>>,
    /// Accelerators per replica.
    pub gpus_per_replica: u32,
    /// Most requests in a replica's batch.
    pub max_batch: u32,
    /// Prompt-token budget of one engine step.
    pub max_batch_tokens: u32,
    /// Most requests waiting in the queue.
    pub max_queue: u32,
    /// Longest wait in the queue.
    pub queue_timeout: Option<SimDuration>,
    /// Node-ready to serving.
    pub cold_start: SimDuration,
    /// How requests take time.
    pub time_model: TimeModel,
    /// Objective on time to first token.
    pub slo_ttft: SimDuration,
    /// Objective on end-to-end latency.
    pub slo_e2e: SimDuration,
    /// Share of requests that must meet both.
    pub slo_target: f64,
    /// The arrival process.
    pub arrivals: ArrivalProcess,
    /// Prompt lengths.
    pub prompt: Option<TokenDist>,
    /// Output lengths.
    pub output: Option<TokenDist>,
    /// Random stream of arrival times.
    pub rng_arrivals: SimRng,
    /// Random stream of token lengths.
    pub rng_tokens: SimRng,
    /// Random stream of sampled service times.
    pub rng_service: SimRng,
    /// Requests waiting for any replica, oldest first.
    pub queue: VecDeque<RequestId>,
    /// Replicas not stopped.
    pub replicas: Vec<ReplicaId>,
    /// Ready replicas by load, for least-loaded routing.
    pub routable: Router,
    /// Replicas wanted.
    pub desired: u32,
    /// The autoscaler, if any.
    pub autoscaler: Option<Autoscaler>,
    /// Nanoseconds its replicas spent running steps, over the run.
    pub busy_ns: u64,
    /// Counters over the run.
    pub stats: ServiceStats,
    /// Counters since the last sample.
    pub interval: IntervalCounters,
}

impl Service {
    /// The step model on a pool, if the service runs the roofline model there.
    pub fn step_model(&self, pool: PoolId) -> Option<&StepModel> {
        self.step_models.get(pool.index()).and_then(Option::as_ref)
    }
}
