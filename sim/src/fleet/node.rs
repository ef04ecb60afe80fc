//! One node: its lifecycle and who holds its accelerators.

use crate::engine::EventKey;
use crate::ids::{JobId, NodeId, PoolId, ReplicaId, WorkloadId};
use crate::time::SimTime;

/// Where a node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Asked for; billed (clouds bill from launch) but not yet usable.
    Provisioning,
    /// Usable.
    Ready,
    /// A spot reclaim notice arrived: no new work; gone at the reclaim.
    Draining,
    /// Broken; committed nodes come back after repair.
    Failed,
    /// Gone; billing stopped.
    Terminated,
}

/// What holds accelerators on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    /// A replica of an inference service.
    Replica(ReplicaId),
    /// A training job's gang member on this node.
    Job(JobId),
}

impl std::fmt::Display for Owner {
    /// `replica-N` or `job-N`, by creation order, as records and the external
    /// scheduler protocol name them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Replica(r) => write!(f, "replica-{}", r.0),
            Owner::Job(j) => write!(f, "job-{}", j.0),
        }
    }
}

/// Accelerators on a node held by one owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alloc {
    /// Who holds them.
    pub owner: Owner,
    /// The workload billed for them.
    pub workload: WorkloadId,
    /// How many.
    pub gpus: u32,
}

/// A machine in a pool.
#[derive(Clone, Debug)]
pub struct Node {
    /// This node.
    pub id: NodeId,
    /// Its pool.
    pub pool: PoolId,
    /// Where it is in its life.
    pub state: NodeState,
    /// Accelerators it has.
    pub gpus: u32,
    /// Accelerators not held by anyone.
    pub free: u32,
    /// Who holds the others.
    pub allocs: Vec<Alloc>,
    /// Accelerators promised to pending work that waits for this node to be
    /// ready; others may not take them.
    pub reservations: Vec<(Owner, u32)>,
    /// When it was asked for (billing starts).
    pub launched: SimTime,
    /// When it became ready.
    pub ready_at: Option<SimTime>,
    /// When it went away (billing stops).
    pub terminated: Option<SimTime>,
    /// Ledger: the time up to which its cost has been booked.
    pub settled_to: SimTime,
    /// The pending reclaim notice, reclaim, failure or idle check.
    pub timer_interrupt: Option<EventKey>,
    /// The pending hardware failure or repair.
    pub timer_failure: Option<EventKey>,
    /// The pending empty-node release check.
    pub timer_idle: Option<EventKey>,
}

impl Node {
    /// A node asked for at `now`.
    pub fn new(id: NodeId, pool: PoolId, gpus: u32, now: SimTime) -> Node {
        Node {
            id,
            pool,
            state: NodeState::Provisioning,
            gpus,
            free: gpus,
            allocs: Vec::new(),
            reservations: Vec::new(),
            launched: now,
            ready_at: None,
            terminated: None,
            settled_to: now,
            timer_interrupt: None,
            timer_failure: None,
            timer_idle: None,
        }
    }

    /// Accelerators held by owners.
    pub fn allocated(&self) -> u32 {
        self.gpus - self.free
    }

    /// Accelerators promised to owners other than `owner`.
    pub fn reserved_for_others(&self, owner: Owner) -> u32 {
        self.reservations.iter().filter(|r| r.0 != owner).map(|r| r.1).sum()
    }

    /// Accelerators neither held nor promised.
    pub fn unpromised(&self) -> u32 {
        self.free.saturating_sub(self.reservations.iter().map(|r| r.1).sum())
    }

    /// Accelerators promised to `owner`.
    pub fn reserved_for(&self, owner: Owner) -> u32 {
        self.reservations.iter().filter(|r| r.0 == owner).map(|r| r.1).sum()
    }

    /// Whether `owner` may be placed here with `gpus` accelerators now.
    pub fn fits(&self, owner: Owner, gpus: u32) -> bool {
        self.state == NodeState::Ready && self.free.saturating_sub(self.reserved_for_others(owner)) >= gpus
    }

    /// Promises `gpus` accelerators to `owner` once the node is ready.
    pub fn reserve(&mut self, owner: Owner, gpus: u32) {
        self.reservations.push((owner, gpus));
    }

    /// Withdraws every promise to `owner`; returns whether there was one.
    pub fn unreserve(&mut self, owner: Owner) -> bool {
        let before = self.reservations.len();
        self.reservations.retain(|r| r.0 != owner);
        self.reservations.len() != before
    }

    /// Gives `gpus` accelerators to `owner`. The caller has checked [`Node::fits`].
    pub fn allocate(&mut self, owner: Owner, workload: WorkloadId, gpus: u32) {
        debug_assert!(self.free >= gpus, "node {:?} over-allocated", self.id);
        self.free -= gpus.min(self.free);
        self.unreserve(owner);
        self.allocs.push(Alloc { owner, workload, gpus });
    }

    /// Takes back what `owner` holds; returns how many accelerators that was.
    pub fn release(&mut self, owner: Owner) -> u32 {
        let mut freed = 0;
        self.allocs.retain(|a| {
            if a.owner == owner {
                freed += a.gpus;
                false
            } else {
                true
            }
        });
        self.free += freed;
        freed
    }

    /// Whether the node is alive (billed): anything but terminated.
    pub fn is_live(&self) -> bool {
        self.state != NodeState::Terminated
    }
}
