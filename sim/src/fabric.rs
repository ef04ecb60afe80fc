//! The fabric: the simulated fleet, its markets and workloads, the control
//! loop that places and scales them, and the ledger that bills them.
//!
//! [`Fabric`] is the [`Model`] the engine drives. Its handlers are split by
//! concern: `nodes` (provisioning, interruptions, failures, prices,
//! placement), `inference` (arrivals, routing, engine phases, replicas,
//! autoscaling), `training` (gangs, checkpoints, preemption) and `observe`
//! (time series, ledger periods, the final summary).

mod build;
mod inference;
mod invariants;
mod nodes;
mod observe;
mod policies;
mod recorded;
mod training;

use crate::engine::{Context, Model};
use crate::fleet::{Node, Owner, Pool};
use crate::ids::{JobId, NodeId, PoolId, ReplicaId, ServiceId};
use crate::ledger::Ledger;
use crate::metrics::Records;
use crate::placement::Placement;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use crate::workload::{Job, Replica, Requests, Service};
use std::collections::{BTreeMap, VecDeque};

pub use build::{BuildError, SPOT_FIRST, placement_for};
pub use invariants::InvariantViolation;
pub use observe::{Observations, RunOutput};

/// What a run keeps beyond its summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Keep one record per request (memory grows with the number of requests).
    pub record_requests: bool,
    /// Keep the ledger's lines per node, owner and charge period.
    pub record_ledger: bool,
    /// Keep pool and service time series.
    pub record_series: bool,
    /// Keep the decision trace (placements, preemptions, scale steps, policy verdicts, node events).
    pub record_decisions: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { record_requests: true, record_ledger: true, record_series: true, record_decisions: true }
    }
}

impl RunOptions {
    /// Summary only: the fastest, smallest run.
    pub fn summary_only() -> Self {
        RunOptions { record_requests: false, record_ledger: false, record_series: false, record_decisions: false }
    }
}

/// Everything that happens in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A request arrives at a service.
    Arrival(ServiceId),
    /// A replica's engine phase ends (or an arrival cut it short); the
    /// number is the wake-up's generation.
    ReplicaWake(ReplicaId, u32),
    /// A replica finished loading its model.
    ReplicaReady(ReplicaId),
    /// A service's autoscaler looks.
    Autoscale(ServiceId),
    /// A node finished provisioning.
    NodeReady(NodeId),
    /// A spot node got its reclaim notice.
    NodeNotice(NodeId),
    /// A spot node is taken back.
    NodeReclaim(NodeId),
    /// A node breaks.
    NodeFail(NodeId),
    /// A broken committed node is repaired.
    NodeRepair(NodeId),
    /// An empty cloud node's grace time is over.
    NodeIdle(NodeId),
    /// A pool's price changes.
    PriceChange(PoolId),
    /// A spot pool runs out of stock.
    StockoutStart(PoolId),
    /// A spot pool has stock again.
    StockoutEnd(PoolId),
    /// A training job is submitted.
    JobSubmit(JobId),
    /// A training job starts a checkpoint.
    JobCheckpoint(JobId),
    /// A training job's checkpoint is written.
    JobCheckpointDone(JobId),
    /// A training job finishes.
    JobFinish(JobId),
    /// A training stream submits its next job.
    StreamNext(u32),
    /// Time-series sample.
    Sample,
    /// End of a ledger charge period.
    LedgerClose,
}

/// Anything billed: a service or a job.
#[derive(Clone, Debug)]
pub(crate) struct Workload {
    pub name: String,
    pub team: String,
    pub namespace: String,
    /// What placement and policies may know of it.
    pub traits: crate::placement::WorkloadTraits,
    /// A service or a job.
    pub kind: WorkloadKind,
    /// Container image, for policies.
    pub image: String,
    /// Labels, for policies.
    pub labels: BTreeMap<String, String>,
}

/// What a workload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorkloadKind {
    Service(ServiceId),
    Job(JobId),
    /// The owner of a recorded pool's busy time.
    Recorded(PoolId),
}

/// A generator of training jobs.
#[derive(Clone, Debug)]
pub(crate) struct JobStream {
    /// The stream as the scenario wrote it.
    pub spec: crate::scenario::spec::TrainingStreamSpec,
    pub pools: Vec<PoolId>,
    pub start: SimTime,
    pub stop: SimTime,
    pub max_jobs: u32,
    pub made: u32,
    pub rng: SimRng,
}

/// The simulated fabric. Built from a scenario by [`Fabric::new`], driven by
/// the engine, summarised by [`Fabric::finish`].
pub struct Fabric {
    pub(crate) scenario_name: String,
    pub(crate) origin: String,
    pub(crate) sha256: String,
    pub(crate) seed: u64,
    pub(crate) currency: String,
    pub(crate) horizon: SimTime,
    pub(crate) sample_interval: SimDuration,
    pub(crate) minimum_charge: SimDuration,
    pub(crate) options: RunOptions,
    pub(crate) pools: Vec<Pool>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) services: Vec<Service>,
    pub(crate) replicas: Vec<Replica>,
    pub(crate) requests: Requests,
    pub(crate) jobs: Vec<Job>,
    pub(crate) streams: Vec<JobStream>,
    pub(crate) workloads: Vec<Workload>,
    pub(crate) pending: VecDeque<Owner>,
    pub(crate) placement: Box<dyn Placement + Send>,
    pub(crate) ledger: Ledger,
    pub(crate) records: Records,
    pub(crate) next_request_seq: u64,
    pub(crate) starting: bool,
    /// An error that ends the run (an external scheduler that failed).
    pub(crate) fatal: Option<String>,
    /// The last reason each waiting unit was traced with.
    pub(crate) last_wait: BTreeMap<Owner, &'static str>,
    /// Workloads evicted by preemption.
    pub(crate) stats_preemptions: u64,
    /// Policy-as-code at the decision points, if any.
    pub(crate) policy: Option<Box<dyn crate::policy::PolicyHook + Send>>,
    /// Denials by (decision point, rule).
    pub(crate) denials: BTreeMap<(&'static str, String), policies::Denials>,
    /// Placement policy verdicts by (workload, pool), with the price they were given at.
    pub(crate) placement_verdicts: BTreeMap<(crate::ids::WorkloadId, PoolId), (i64, bool)>,
}

impl Model for Fabric {
    type Event = Event;

    fn handle(&mut self, event: Event, ctx: &mut Context<'_, Event>) {
        if self.fatal.is_some() {
            return;
        }
        match event {
            Event::Arrival(s) => self.on_arrival(s, ctx),
            Event::ReplicaWake(r, epoch) => self.on_replica_wake(r, epoch, ctx),
            Event::ReplicaReady(r) => self.on_replica_ready(r, ctx),
            Event::Autoscale(s) => self.on_autoscale(s, ctx),
            Event::NodeReady(n) => self.on_node_ready(n, ctx),
            Event::NodeNotice(n) => self.on_node_notice(n, ctx),
            Event::NodeReclaim(n) => self.on_node_reclaim(n, ctx),
            Event::NodeFail(n) => self.on_node_fail(n, ctx),
            Event::NodeRepair(n) => self.on_node_repair(n, ctx),
            Event::NodeIdle(n) => self.on_node_idle(n, ctx),
            Event::PriceChange(p) => self.on_price_change(p, ctx),
            Event::StockoutStart(p) => self.on_stockout(p, true, ctx),
            Event::StockoutEnd(p) => self.on_stockout(p, false, ctx),
            Event::JobSubmit(j) => self.on_job_submit(j, ctx),
            Event::JobCheckpoint(j) => self.on_job_checkpoint(j, ctx),
            Event::JobCheckpointDone(j) => self.on_job_checkpoint_done(j, ctx),
            Event::JobFinish(j) => self.on_job_finish(j, ctx),
            Event::StreamNext(k) => self.on_stream_next(k, ctx),
            Event::Sample => self.on_sample(ctx),
            Event::LedgerClose => self.on_ledger_close(ctx),
        }
    }
}

impl Fabric {
    /// The run's end.
    pub fn horizon(&self) -> SimTime {
        self.horizon
    }

    /// Time between time-series samples.
    pub fn sample_interval(&self) -> SimDuration {
        self.sample_interval
    }

    /// The placement policy's name.
    pub fn placement_name(&self) -> String {
        self.placement.name()
    }

    /// The error that ended the run early, if any.
    pub fn fatal(&self) -> Option<&str> {
        self.fatal.as_deref()
    }

    /// The ledger so far.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Every pool.
    pub fn pools(&self) -> &[Pool] {
        &self.pools
    }

    /// Every node ever made.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Every service.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// Every training job made so far.
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// Requests in flight now.
    pub fn requests_in_flight(&self) -> usize {
        self.requests.len()
    }
}
