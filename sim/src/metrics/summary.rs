//! The summary of a run: what the text report and `--format json` show.
//!
//! Maps are `BTreeMap`s so the JSON is byte-identical from run to run.

use serde::Serialize;
use std::collections::BTreeMap;

/// Everything a user reads first about a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The scenario's name.
    pub scenario: String,
    /// Where it came from.
    pub origin: String,
    /// SHA-256 of the scenario text.
    pub scenario_sha256: String,
    /// The run seed.
    pub seed: u64,
    /// Simulated time, seconds.
    pub horizon_s: f64,
    /// Events the engine handled.
    pub events: u64,
    /// The placement policy.
    pub placement: String,
    /// Billing currency.
    pub currency: String,
    /// Costs.
    pub cost: CostSummary,
    /// IT energy, kWh.
    pub energy_kwh: f64,
    /// One entry per service.
    pub services: Vec<ServiceSummary>,
    /// One entry per pool.
    pub pools: Vec<PoolSummary>,
    /// Training jobs.
    pub jobs: JobsSummary,
    /// Interruptions and failures, fleet-wide.
    pub interruptions: InterruptionSummary,
    /// Preemptions and policy verdicts.
    pub scheduling: SchedulingSummary,
    /// Pools driven by recorded telemetry: their use, idle waste and consolidation advice.
    pub recorded: Vec<RecordedSummary>,
}

/// A pool driven by recorded telemetry, judged.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RecordedSummary {
    /// The pool.
    pub pool: String,
    /// Who its busy time is billed to.
    pub owner: String,
    /// The recording, as the scenario names it.
    pub file: String,
    /// GPUs in the recording.
    pub gpus_recorded: u32,
    /// Accelerators in the pool.
    pub gpus_in_pool: u32,
    /// Samples replayed (laps included).
    pub samples: u64,
    /// GPU-hours covered by samples.
    pub observed_gpu_hours: f64,
    /// GPU-hours at or above the busy threshold.
    pub busy_gpu_hours: f64,
    /// Busy share of the observed time.
    pub busy_share: f64,
    /// Energy the recording shows its GPUs drew, kWh (host, facility overhead and unobserved time not included).
    pub energy_kwh: f64,
    /// Accelerator-hours with no data (before, between or after samples, or
    /// accelerators the recording lacks): billed idle at the idle draw.
    pub unobserved_gpu_hours: f64,
    /// Cost booked to the owner (busy accelerator time and its energy).
    pub busy_cost: f64,
    /// Cost booked as idle in the pool.
    pub idle_cost: f64,
    /// Idle spells of at least `idle_after`.
    pub idle_spells: u64,
    /// The spell length that counts as waste, seconds.
    pub idle_after_s: f64,
    /// GPU-hours in those spells.
    pub waste_gpu_hours: f64,
    /// What those spells cost: capacity at the pool's price plus their energy.
    pub waste_cost: f64,
    /// Most accelerators busy in one sample interval.
    pub peak_busy_gpus: u32,
    /// The 99th percentile of busy accelerators over sample intervals.
    pub p99_busy_gpus: u32,
    /// Nodes in the pool.
    pub nodes: u32,
    /// Nodes the peak would fit on.
    pub nodes_needed: u32,
    /// Nodes that could go.
    pub releasable_nodes: u32,
    /// What releasing them would have saved over the run.
    pub savings: f64,
    /// The same per 30-day month.
    pub savings_per_month: f64,
    /// The advice, in words.
    pub recommendation: String,
}

/// What the scheduler and the policies did beyond placing work.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SchedulingSummary {
    /// The policy engine, if any.
    pub policy: Option<String>,
    /// Workloads evicted to make room for higher-priority work.
    pub preemptions: u64,
    /// Denials by decision point and rule.
    pub denials: Vec<PolicyDenial>,
}

/// How often one rule denied at one decision point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicyDenial {
    /// `admission`, `placement` or `scaling`.
    pub point: String,
    /// The rule's name.
    pub rule: String,
    /// Its message, the first time.
    pub message: String,
    /// What it denied first.
    pub first_subject: String,
    /// How many times it denied.
    pub count: u64,
}

/// Costs of a run, in the billing currency.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CostSummary {
    /// Everything: capacity plus billed energy.
    pub total: f64,
    /// Capacity at pool prices.
    pub compute: f64,
    /// Energy billed on top (on-premises pools).
    pub energy: f64,
    /// The part of `total` no workload held.
    pub idle: f64,
    /// The same accelerator time at on-demand list prices.
    pub at_list_price: f64,
    /// `at_list_price − total`: what the purchasing mix saved against all on-demand.
    pub savings_vs_on_demand: f64,
    /// The part of that saving that spot pools brought.
    pub spot_savings: f64,
    /// By capacity type (`on-prem`, `reserved`, `spot`, `on-demand`).
    pub by_capacity_type: BTreeMap<String, f64>,
    /// By pool.
    pub by_pool: BTreeMap<String, f64>,
    /// By team (`(idle)` for idle capacity).
    pub by_team: BTreeMap<String, f64>,
    /// By workload (`(idle)` for idle capacity).
    pub by_workload: BTreeMap<String, f64>,
}

/// Latency quantiles, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// One service over the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceSummary {
    /// Its name.
    pub name: String,
    /// Its team.
    pub team: String,
    /// Requests that arrived.
    pub arrived: u64,
    /// Requests answered in full.
    pub finished: u64,
    /// Requests dropped, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// Requests still in the system at the horizon.
    pub in_flight: u64,
    /// Restarts after a replica went away.
    pub retries: u64,
    /// Share of ended requests (finished or dropped) that met both objectives.
    pub slo_attainment: f64,
    /// The share required.
    pub slo_target: f64,
    /// Whether `slo_attainment ≥ slo_target`.
    pub slo_met: bool,
    /// Time to first token.
    pub ttft_ms: LatencySummary,
    /// End-to-end latency.
    pub e2e_ms: LatencySummary,
    /// Time from arrival to a replica's taking the request.
    pub queue_wait_ms: LatencySummary,
    /// Prompt tokens of finished requests.
    pub prompt_tokens: u64,
    /// Output tokens of finished requests.
    pub output_tokens: u64,
    /// Tokens decoded, then lost to interruptions.
    pub wasted_tokens: u64,
    /// Its cost (capacity it held plus energy).
    pub cost: f64,
    /// Cost per million tokens (prompt plus output) of finished requests.
    pub cost_per_1m_tokens: f64,
    /// Cost per million output tokens.
    pub cost_per_1m_output_tokens: f64,
    /// Most replicas serving at once.
    pub peak_replicas: u32,
    /// Whether requests were modelled; without (`arrivals = "none"`, or a
    /// manifest without Twin's load annotations) the replicas only held
    /// capacity, and the request columns mean nothing.
    pub load: bool,
    /// Replicas started.
    pub replicas_started: u64,
    /// Replicas lost to interruptions and failures.
    pub replicas_lost: u64,
    /// Autoscaler steps up.
    pub scale_ups: u64,
    /// Autoscaler steps down.
    pub scale_downs: u64,
}

/// One pool over the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolSummary {
    /// Its name.
    pub name: String,
    /// How it is bought.
    pub capacity: String,
    /// Its node type.
    pub node_type: String,
    /// Its accelerator.
    pub accelerator: String,
    /// Its region.
    pub region: String,
    /// Nodes asked for.
    pub nodes_launched: u64,
    /// Most nodes alive at once.
    pub peak_nodes: u32,
    /// Accelerator-hours billed.
    pub gpu_hours: f64,
    /// Accelerator-hours held by workloads.
    pub allocated_gpu_hours: f64,
    /// Accelerator-hours spent computing.
    pub busy_gpu_hours: f64,
    /// Held / billed.
    pub allocation: f64,
    /// Computing / billed.
    pub utilisation: f64,
    /// Its cost.
    pub cost: f64,
    /// The part no workload held.
    pub idle_cost: f64,
    /// Its accelerator time at list price.
    pub list_cost: f64,
    /// Mean price per node-hour over billed time.
    pub mean_price_per_node_hour: f64,
    /// IT energy, kWh.
    pub energy_kwh: f64,
    /// Spot reclaim notices.
    pub notices: u64,
    /// Spot reclaims.
    pub reclaims: u64,
    /// Hardware failures.
    pub failures: u64,
    /// Stock-outs.
    pub stockouts: u64,
    /// Launches that went to another pool because this one was out of stock.
    pub refused_launches: u64,
    /// Spot interruption hazard, per node-hour (0 where not interrupted).
    pub interruptions_per_node_hour: f64,
}

/// Training jobs over the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct JobsSummary {
    /// Jobs submitted by the horizon.
    pub submitted: u64,
    /// Jobs finished.
    pub finished: u64,
    /// Jobs running or checkpointing at the horizon.
    pub running: u64,
    /// Jobs queued at the horizon.
    pub queued: u64,
    /// Jobs not yet submitted at the horizon.
    pub not_submitted: u64,
    /// Jobs the admission policy rejected (counted in `submitted`).
    pub rejected: u64,
    /// Times gangs were taken away.
    pub preemptions: u64,
    /// Work done by the horizon, H100-hours.
    pub done_gpu_hours: f64,
    /// Work lost to preemptions, H100-hours.
    pub lost_gpu_hours: f64,
    /// Mean hours from submission to finish, over finished jobs.
    pub mean_completion_hours: f64,
    /// Mean hours queued, over submitted jobs.
    pub mean_queued_hours: f64,
    /// Cost of all jobs.
    pub cost: f64,
    /// Cost of finished jobs divided by their number.
    pub cost_per_finished_job: f64,
}

/// Interruptions and failures, fleet-wide.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct InterruptionSummary {
    /// Spot reclaim notices.
    pub notices: u64,
    /// Spot reclaims.
    pub reclaims: u64,
    /// Hardware failures.
    pub failures: u64,
    /// Replicas lost.
    pub replicas_lost: u64,
    /// Requests restarted.
    pub requests_retried: u64,
    /// Training gangs taken away.
    pub jobs_preempted: u64,
    /// Training work lost, H100-hours.
    pub lost_gpu_hours: f64,
}
