//! Records a run keeps for export: one row per request, per job, per sample.
//!
//! Requests are kept column by column (a struct of vectors) because there may
//! be millions; exporters turn each vector into a column without copying rows.

use crate::ledger::LedgerRow;
use crate::time::SimTime;
use crate::workload::DropReason;
use std::ops::Range;

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

    /// Copies rows `rows` of `other` to the end of these, in order.
    ///
    /// # Panics
    /// If `rows` reaches past the end of `other`.
    pub fn extend_from(&mut self, other: &RequestRecords, rows: Range<usize>) {
        self.id.extend_from_slice(&other.id[rows.clone()]);
        self.service.extend_from_slice(&other.service[rows.clone()]);
        self.arrival_ns.extend_from_slice(&other.arrival_ns[rows.clone()]);
        self.admitted_ns.extend_from_slice(&other.admitted_ns[rows.clone()]);
        self.first_token_ns.extend_from_slice(&other.first_token_ns[rows.clone()]);
        self.end_ns.extend_from_slice(&other.end_ns[rows.clone()]);
        self.prompt_tokens.extend_from_slice(&other.prompt_tokens[rows.clone()]);
        self.output_tokens.extend_from_slice(&other.output_tokens[rows.clone()]);
        self.retries.extend_from_slice(&other.retries[rows.clone()]);
        self.pool.extend_from_slice(&other.pool[rows.clone()]);
        self.replica.extend_from_slice(&other.replica[rows.clone()]);
        self.outcome.extend_from_slice(&other.outcome[rows]);
    }

    /// Moves every row of `other` to the end of these, leaving `other` empty.
    pub fn append(&mut self, other: &mut RequestRecords) {
        self.id.append(&mut other.id);
        self.service.append(&mut other.service);
        self.arrival_ns.append(&mut other.arrival_ns);
        self.admitted_ns.append(&mut other.admitted_ns);
        self.first_token_ns.append(&mut other.first_token_ns);
        self.end_ns.append(&mut other.end_ns);
        self.prompt_tokens.append(&mut other.prompt_tokens);
        self.output_tokens.append(&mut other.output_tokens);
        self.retries.append(&mut other.retries);
        self.pool.append(&mut other.pool);
        self.replica.append(&mut other.replica);
        self.outcome.append(&mut other.outcome);
    }

    /// Removes every row, keeping the memory for the next ones.
    pub fn clear(&mut self) {
        self.id.clear();
        self.service.clear();
        self.arrival_ns.clear();
        self.admitted_ns.clear();
        self.first_token_ns.clear();
        self.end_ns.clear();
        self.prompt_tokens.clear();
        self.output_tokens.clear();
        self.retries.clear();
        self.pool.clear();
        self.replica.clear();
        self.outcome.clear();
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

impl Records {
    /// Appends a part of a run's records ([`crate::Run::take_records`]):
    /// `more`'s names after these names, and its rows after these rows,
    /// table by table. The parts of a run appended in turn, then the rows
    /// its end returned, are the records of the same run handing out
    /// nothing.
    pub fn append(&mut self, mut more: Records) {
        self.services.append(&mut more.services);
        self.pools.append(&mut more.pools);
        self.workloads.append(&mut more.workloads);
        self.requests.append(&mut more.requests);
        self.jobs.append(&mut more.jobs);
        self.pool_series.append(&mut more.pool_series);
        self.service_series.append(&mut more.service_series);
        self.ledger.append(&mut more.ledger);
        self.decisions.append(&mut more.decisions);
    }

    /// Rows held in every table together.
    pub fn rows(&self) -> usize {
        self.requests.len()
            + self.jobs.len()
            + self.pool_series.len()
            + self.service_series.len()
            + self.ledger.len()
            + self.decisions.len()
    }
}
