//! Records a run keeps for export: one row per request, per job, per sample.
//!
//! Requests are kept column by column (a struct of vectors) because there may
//! be millions; exporters turn each vector into a column without copying rows.

use crate::ledger::LedgerRow;
use crate::time::SimTime;
use crate::workload::DropReason;

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered in full.
    Finished,
    /// Dropped, for a reason.
    Dropped(DropReason),
    /// Still in the system at the horizon.
    InFlight,
}

impl Outcome {
    /// The name used in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Finished => "finished",
            Outcome::Dropped(_) => "dropped",
            Outcome::InFlight => "in_flight",
        }
    }

    /// The drop reason's name, or an empty string.
    pub fn reason(self) -> &'static str {
        match self {
            Outcome::Dropped(r) => r.as_str(),
            _ => "",
        }
    }
}

/// Every request of a run, column by column, in the order they ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestRecords {
    /// Arrival order in the run.
    pub id: Vec<u64>,
    /// Index of the service (into `Records::services`).
    pub service: Vec<u32>,
    /// Arrival time, ns.
    pub arrival_ns: Vec<u64>,
    /// When a replica first took it, ns.
    pub admitted_ns: Vec<Option<u64>>,
    /// First token, ns.
    pub first_token_ns: Vec<Option<u64>>,
    /// Last token or drop, ns.
    pub end_ns: Vec<Option<u64>>,
    /// Prompt tokens.
    pub prompt_tokens: Vec<u32>,
    /// Output tokens.
    pub output_tokens: Vec<u32>,
    /// Restarts after its replica went away.
    pub retries: Vec<u16>,
    /// Index of the pool that served it last (into `Records::pools`).
    pub pool: Vec<Option<u32>>,
    /// The replica that served it last.
    pub replica: Vec<Option<u32>>,
    /// How it ended.
    pub outcome: Vec<Outcome>,
}

impl RequestRecords {
    /// Rows held.
    pub fn len(&self) -> usize {
        self.id.len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }
}

/// One training job at the end of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    /// Its name.
    pub name: String,
    /// The team that pays.
    pub team: String,
    /// Accelerators in the gang.
    pub gpus: u32,
    /// Submission time, s.
    pub submit_s: f64,
    /// First start, s.
    pub start_s: Option<f64>,
    /// Finish, s.
    pub finish_s: Option<f64>,
    /// State at the horizon.
    pub state: &'static str,
    /// Times its gang was taken away.
    pub preemptions: u32,
    /// Work, H100-hours.
    pub work_gpu_hours: f64,
    /// Work done by the horizon, H100-hours.
    pub done_gpu_hours: f64,
    /// Work lost to preemptions, H100-hours.
    pub lost_gpu_hours: f64,
    /// Hours spent queued.
    pub queued_hours: f64,
    /// Its cost.
    pub cost: f64,
    /// The pool it last ran in.
    pub pool: Option<String>,
}

/// One pool at one sample time.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolSample {
    /// Sample time.
    pub time: SimTime,
    /// Index of the pool.
    pub pool: u32,
    /// Nodes ready (draining included).
    pub nodes_ready: u32,
    /// Nodes being provisioned.
    pub nodes_provisioning: u32,
    /// Nodes failed.
    pub nodes_failed: u32,
    /// Accelerators on live nodes.
    pub gpus: u32,
    /// Accelerators held by workloads.
    pub gpus_allocated: u32,
    /// Price per node-hour.
    pub price_per_node_hour: f64,
    /// Whether the pool is out of stock.
    pub stocked_out: bool,
}

/// One service at one sample time.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSample {
    /// Sample time.
    pub time: SimTime,
    /// Index of the service.
    pub service: u32,
    /// Replicas wanted.
    pub desired: u32,
    /// Replicas serving.
    pub ready: u32,
    /// Replicas loading their model.
    pub starting: u32,
    /// Replicas waiting for accelerators.
    pub pending: u32,
    /// Requests waiting in the service queue.
    pub queued: u32,
    /// Requests in the system.
    pub in_flight: u32,
    /// Arrivals since the last sample.
    pub arrived: u64,
    /// Completions since the last sample.
    pub finished: u64,
    /// Completions within the SLO since the last sample.
    pub slo_met: u64,
    /// Drops since the last sample.
    pub dropped: u64,
}

/// One line of the decision trace: a placement, a preemption, a scale step,
/// a policy verdict or a node event, with why.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionRecord {
    /// When.
    pub time: SimTime,
    /// What kind of decision: `placement`, `preemption`, `scale`, `policy`, `node`, `pool`.
    pub kind: &'static str,
    /// Whom it concerns: `service/replica-N`, a job's name, a node's name, a service's name.
    pub subject: String,
    /// What was decided: `bound`, `provision`, `no-capacity`, `preempts`, `evicted`, `scale-up`, `deny`, ...
    pub outcome: String,
    /// The node concerned, if any.
    pub node: Option<String>,
    /// Its pool, if any.
    pub pool: Option<String>,
    /// Why: plugin scores, filters that failed and on how many nodes, the metric behind a scale step, the rule that denied.
    pub detail: String,
}

/// What records say about a pool they refer to by index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolInfo {
    /// Its name.
    pub name: String,
    /// How it is bought (`spot`, `on-demand`, ...).
    pub capacity: String,
    /// FOCUS pricing category (`Standard`, `Dynamic`, `Committed`).
    pub pricing_category: String,
    /// Node type.
    pub node_type: String,
    /// Accelerator.
    pub accelerator: String,
    /// Region.
    pub region: String,
    /// Zone.
    pub zone: String,
}

/// Everything a run recorded, with the names its indices refer to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Records {
    /// Service names, by index.
    pub services: Vec<String>,
    /// Pools, by index.
    pub pools: Vec<PoolInfo>,
    /// Workload names, teams and namespaces, by workload index.
    pub workloads: Vec<(String, String, String)>,
    /// Per-request rows (empty unless request records were asked for).
    pub requests: RequestRecords,
    /// Per-job rows.
    pub jobs: Vec<JobRecord>,
    /// Pool time series.
    pub pool_series: Vec<PoolSample>,
    /// Service time series.
    pub service_series: Vec<ServiceSample>,
    /// Ledger lines, one per owner per node per charge period.
    pub ledger: Vec<LedgerRow>,
    /// The decision trace, in time order.
    pub decisions: Vec<DecisionRecord>,
}
