//! Training jobs: gangs that start together, checkpoint, and lose work when
//! a member's node goes away.

use crate::engine::EventKey;
use crate::ids::{JobId, NodeId, PoolId, WorkloadId};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Not submitted yet.
    Future,
    /// Waiting for its gang to be placed.
    Queued,
    /// Computing.
    Running,
    /// Writing a checkpoint (no progress).
    Checkpointing,
    /// Done.
    Finished,
    /// Not admitted by policy.
    Rejected,
}

impl JobState {
    /// The name used in records.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Future => "not_submitted",
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Checkpointing => "checkpointing",
            JobState::Finished => "finished",
            JobState::Rejected => "rejected_by_policy",
        }
    }
}

/// A training job with its progress and history.
#[derive(Clone, Debug)]
pub struct Job {
    /// This job.
    pub id: JobId,
    /// The workload it is billed as.
    pub workload: WorkloadId,
    /// Its name.
    pub name: String,
    /// Pools its gang may use.
    pub pools: Vec<PoolId>,
    /// Accelerators in the gang.
    pub gpus: u32,
    /// Work in reference accelerator-seconds (H100-seconds).
    pub work: f64,
    /// Compute time between checkpoints.
    pub checkpoint_interval: SimDuration,
    /// Time one checkpoint takes.
    pub checkpoint_cost: SimDuration,
    /// Whether to checkpoint on a spot notice when it fits.
    pub checkpoint_on_notice: bool,
    /// Whether it checkpoints at all.
    pub checkpoints: bool,
    /// Speed per accelerator name relative to H100, overriding the catalogue.
    pub speed: BTreeMap<String, f64>,
    /// When it is submitted.
    pub submit: SimTime,
    /// Where it is in its life.
    pub state: JobState,
    /// Progress saved in the last checkpoint, reference accelerator-seconds.
    pub saved: f64,
    /// Progress at the start of the current compute segment.
    pub progress: f64,
    /// When the current compute segment (or checkpoint) began.
    pub segment_start: SimTime,
    /// Progress per second on the current gang.
    pub rate: f64,
    /// The gang's nodes and accelerators on each.
    pub placement: Vec<(NodeId, u32)>,
    /// The pool it ran in last.
    pub last_pool: Option<PoolId>,
    /// Release the gang when the running checkpoint completes (notice).
    pub release_after_checkpoint: bool,
    /// The pending finish, checkpoint or checkpoint end.
    pub timer: Option<EventKey>,
    /// When it first started.
    pub first_start: Option<SimTime>,
    /// When it finished.
    pub finished: Option<SimTime>,
    /// Times its gang was taken away.
    pub preemptions: u32,
    /// Work lost to preemptions, reference accelerator-seconds.
    pub lost_work: f64,
    /// Nanoseconds spent waiting in the queue.
    pub queued_ns: u64,
    /// When it last entered the queue.
    pub queued_since: SimTime,
    /// Accelerator activity while computing (checkpoints draw less).
    pub activity: f64,
}

impl Job {
    /// Progress now, if it is computing.
    pub fn progress_at(&self, now: SimTime) -> f64 {
        match self.state {
            JobState::Running => (self.progress + self.rate * now.saturating_since(self.segment_start).as_secs_f64()).min(self.work),
            _ => self.progress,
        }
    }
}

/// One job of a job trace, as the model replays it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceJob {
    /// Its name in the trace.
    pub name: String,
    /// Submission, ns from the trace's start.
    pub submit_ns: u64,
    /// Accelerators it holds (at least 1).
    pub gpus: u32,
    /// How long it ran, ns.
    pub duration_ns: u64,
}
