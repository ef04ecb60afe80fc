//! One replica of an inference service: an engine with a batch.
//!
//! Under the roofline model the engine runs steps back to back while it has
//! work. Rather than one event per step, the replica plans a *phase*: a
//! prefill (new prompts, in chunks of the token budget, with the running
//! requests decoding one token per chunk) or a decode stretch (identical
//! steps until the next request finishes). A phase ends with one event; an
//! arrival cuts a decode stretch short at the next step boundary, as a
//! continuous-batching engine admits new work between steps.

use crate::engine::EventKey;
use crate::ids::{NodeId, PoolId, RequestId, ServiceId};
use crate::time::{SimDuration, SimTime};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Where a replica is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaState {
    /// Waiting for accelerators (placement or a node being provisioned).
    Pending,
    /// Placed; loading the model.
    Starting,
    /// Serving.
    Ready,
    /// Finishing its requests before it goes; takes no new ones.
    Draining,
    /// Gone.
    Stopped,
}

/// What the engine is doing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Phase {
    /// Nothing to do.
    Idle,
    /// Prefilling the joining requests in `chunks` steps, ending at `end`.
    Prefill {
        /// When the phase began.
        start: SimTime,
        /// When it ends.
        end: SimTime,
        /// Steps it takes; running requests decode one token per step.
        chunks: u32,
        /// Step counter when it began.
        start_step: u64,
        /// Accelerator activity during it.
        activity: f64,
    },
    /// Decoding the running requests, one token per step of `step`.
    Decode {
        /// When the stretch began.
        start: SimTime,
        /// Step counter when it began.
        start_step: u64,
        /// Duration of each step.
        step: SimDuration,
        /// Accelerator activity during it.
        activity: f64,
    },
    /// Sampled service times: each request holds a slot until its finish time.
    Sampled,
}

/// One replica.
#[derive(Clone, Debug)]
pub struct Replica {
    /// Its service.
    pub service: ServiceId,
    /// Where it is in its life.
    pub state: ReplicaState,
    /// The node it runs on, once placed.
    pub node: Option<NodeId>,
    /// That node's pool.
    pub pool: Option<PoolId>,
    /// Requests routed here, not yet admitted to the batch.
    pub inbox: VecDeque<RequestId>,
    /// Requests being prefilled in the current phase.
    pub joining: Vec<RequestId>,
    /// Requests decoding, by finish key (earliest first).
    pub running: BinaryHeap<Reverse<(u64, RequestId)>>,
    /// Σ (prompt + 1 − join step) over running requests: context = this + B × step counter.
    pub ctx_base: i64,
    /// KV-cache tokens promised to running, joining and inbox requests.
    pub kv_committed: u64,
    /// KV-cache tokens the replica holds.
    pub kv_capacity: u64,
    /// Engine steps run so far (roofline).
    pub step_counter: u64,
    /// What the engine is doing.
    pub phase: Phase,
    /// The time of the pending wake-up, if any.
    pub wake: Option<SimTime>,
    /// Generation of the wake-up: a `ReplicaWake` event of another generation
    /// is stale and ignored (cheaper than cancelling on the hot path).
    pub wake_epoch: u32,
    /// The pending end of cold start.
    pub ready_timer: Option<EventKey>,
    /// Load under which the router files it.
    pub load_key: u32,
    /// Position in the router's bucket.
    pub route_pos: u32,
    /// Energy of work done and not yet booked, in milliwatt-nanoseconds.
    pub energy_pending: f64,
    /// Nanoseconds spent running steps.
    pub busy_ns: u64,
    /// When it was created.
    pub created: SimTime,
}

impl Replica {
    /// A replica waiting to be placed.
    pub fn new(service: ServiceId, now: SimTime) -> Replica {
        Replica {
            service,
            state: ReplicaState::Pending,
            node: None,
            pool: None,
            inbox: VecDeque::new(),
            joining: Vec::new(),
            running: BinaryHeap::new(),
            ctx_base: 0,
            kv_committed: 0,
            kv_capacity: 0,
            step_counter: 0,
            phase: Phase::Idle,
            wake: None,
            wake_epoch: 0,
            ready_timer: None,
            load_key: 0,
            route_pos: 0,
            energy_pending: 0.0,
            busy_ns: 0,
            created: now,
        }
    }

    /// Requests routed here in any stage.
    #[inline]
    pub fn load(&self) -> u32 {
        (self.inbox.len() + self.joining.len() + self.running.len()) as u32
    }

    /// Total context of the running requests now, in tokens.
    #[inline]
    pub fn ctx_sum(&self) -> f64 {
        (self.ctx_base + self.running.len() as i64 * self.step_counter as i64) as f64
    }

    /// Whether it holds no request at all.
    pub fn is_empty(&self) -> bool {
        self.load() == 0
    }

    /// Whether it counts toward the service's replica count.
    pub fn is_live(&self) -> bool {
        matches!(self.state, ReplicaState::Pending | ReplicaState::Starting | ReplicaState::Ready)
    }
}
