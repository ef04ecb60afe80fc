//! Placement: which nodes a replica or a training gang goes to.
//!
//! The fabric asks a [`Placement`] for a [`Verdict`] whenever a unit of work
//! is pending and capacity may have changed: bind now, evict lower-priority
//! work first, provision nodes (promised to the asker until they are ready),
//! or wait. It tells the placement every change to the fleet
//! ([`FleetChange`]) so that a placement may keep its own view of the
//! cluster, as a Kubernetes scheduler keeps its cache.
//!
//! Two placements ship: [`FrameworkPlacement`] runs Twin's scheduler
//! (`twin-scheduler`, the Kubernetes-shaped framework a live extender uses)
//! with a profile; [`SpotFirstBinPack`] is the fixed rule it grew from.

mod framework;
mod spot_first;

pub use framework::FrameworkPlacement;
pub use spot_first::SpotFirstBinPack;

use crate::fleet::{Node, NodeState, Owner, Pool};
use crate::ids::{NodeId, PoolId};
use std::collections::BTreeMap;
use twin_scheduler::Toleration;

/// What the scheduler may know of the workload behind a request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkloadTraits {
    /// The workload's name.
    pub name: String,
    /// Its Kubernetes namespace.
    pub namespace: String,
    /// Its priority: higher goes first and may preempt lower.
    pub priority: i32,
    /// Whether it keeps its progress across an interruption (training that
    /// checkpoints; inference, whose requests are retried).
    pub checkpointed: bool,
    /// Node labels it requires (`gpu.type`, a zone, ...).
    pub node_selector: BTreeMap<String, String>,
    /// Taints it tolerates.
    pub tolerations: Vec<Toleration>,
    /// CPU its pods ask for per accelerator, in millicores (0: none).
    pub cpu_milli_per_gpu: u32,
    /// Memory its pods ask for per accelerator, in MiB (0: none).
    pub memory_mib_per_gpu: u32,
}

/// What a pending unit of work asks for.
#[derive(Clone, Copy)]
pub struct PlacementRequest<'a> {
    /// When it asks.
    pub now: crate::time::SimTime,
    /// Who asks.
    pub owner: Owner,
    /// Accelerators wanted in all (a replica's TP degree, or a gang's size).
    pub gpus: u32,
    /// Pools it may use.
    pub pools: &'a [PoolId],
    /// What the scheduler may know of the workload.
    pub traits: &'a WorkloadTraits,
    /// Its speed per accelerator-hour in each pool, relative to H100.
    pub speed: &'a dyn Fn(PoolId) -> f64,
}

/// The fleet as placement sees it.
#[derive(Clone, Copy)]
pub struct FleetView<'a> {
    /// Every pool.
    pub pools: &'a [Pool],
    /// Every node ever made (look at `pool.nodes` for the live ones).
    pub nodes: &'a [Node],
}

/// A placement policy's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Bind now: `per_node` accelerators on each of these nodes.
    Bind {
        /// The nodes, one per gang member.
        nodes: Vec<NodeId>,
        /// Accelerators on each.
        per_node: u32,
    },
    /// Evict these lower-priority workloads; the asker is placed next.
    Preempt {
        /// The workloads to evict.
        victims: Vec<Owner>,
    },
    /// Promise the asker `per_node` accelerators on each of `reuse` (nodes
    /// already on their way) and on `launch` new nodes of `pool`.
    Provision {
        /// The pool.
        pool: PoolId,
        /// Provisioning nodes with room, to share.
        reuse: Vec<NodeId>,
        /// New nodes to ask for.
        launch: u32,
        /// Accelerators promised on each.
        per_node: u32,
    },
    /// Nothing to do now: nodes are on their way, or no pool has room.
    Wait(WaitReason),
}

/// A decision and why it was taken, for the decision trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The decision.
    pub decision: Decision,
    /// One line on why: the winning node's plugin scores, what filtered the
    /// others out, which pool an autoscaler would grow.
    pub why: String,
}

/// Why a unit waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitReason {
    /// Nodes promised to it are being provisioned.
    Provisioning,
    /// Every allowed pool is full, stocked out or fixed in size.
    NoCapacity,
}

impl WaitReason {
    /// The name used in traces.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::Provisioning => "provisioning",
            WaitReason::NoCapacity => "no-capacity",
        }
    }
}

/// A change to the fleet that a placement may mirror.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FleetChange {
    /// A node was asked for (it is provisioning).
    NodeAdded(NodeId),
    /// A node's state changed (read it from the fleet).
    NodeState(NodeId),
    /// A node is gone.
    NodeRemoved(NodeId),
    /// An owner took accelerators on a node.
    Allocated {
        /// The node.
        node: NodeId,
        /// The owner.
        owner: Owner,
        /// Accelerators.
        gpus: u32,
        /// The owner's priority.
        priority: i32,
    },
    /// An owner gave back what it held on a node.
    Released {
        /// The node.
        node: NodeId,
        /// The owner.
        owner: Owner,
    },
    /// Accelerators on a node were promised to a pending owner.
    Reserved {
        /// The node.
        node: NodeId,
        /// The owner.
        owner: Owner,
        /// Accelerators.
        gpus: u32,
    },
    /// Promises on a node to an owner were withdrawn.
    Unreserved {
        /// The node.
        node: NodeId,
        /// The owner.
        owner: Owner,
    },
    /// A pool's price changed.
    PoolChanged(PoolId),
}

/// Why a placement cannot go on: the run ends with this error, its message
/// shown as it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// The decider behind the placement (an external scheduler process, a
    /// service) failed: it crashed, closed its output, did not answer in
    /// time, could not be read or written, or answered with something that
    /// does not parse. The message says which decider and what happened.
    #[error("{0}")]
    External(String),
    /// A decision that cannot be carried out: nodes or a pool the request
    /// may not use, or an answer that is not a decision at all.
    #[error("{0}")]
    InvalidDecision(String),
}

impl PlacementError {
    /// What went wrong, as shown to users.
    pub fn message(&self) -> &str {
        match self {
            PlacementError::External(m) | PlacementError::InvalidDecision(m) => m,
        }
    }
}

/// A placement policy.
pub trait Placement {
    /// The policy's name, for reports.
    fn name(&self) -> String;

    /// Decides where `request` goes.
    fn place(&mut self, request: &PlacementRequest<'_>, fleet: &FleetView<'_>) -> Result<Verdict, PlacementError>;

    /// Sees a change to the fleet, after it happened.
    fn observe(&mut self, _change: FleetChange, _fleet: &FleetView<'_>) {}

    /// Checks the placement's own view against the fleet (for tests).
    fn check(&self, _fleet: &FleetView<'_>) -> Result<(), crate::fabric::InvariantViolation> {
        Ok(())
    }
}

/// How a gang of `gpus` splits over nodes of `per_node`: (members, accelerators each).
/// `None` when it cannot (more than a node and not a multiple of it).
pub fn gang_shape(gpus: u32, per_node: u32) -> Option<(u32, u32)> {
    if per_node == 0 || gpus == 0 {
        None
    } else if gpus <= per_node {
        Some((1, gpus))
    } else if gpus.is_multiple_of(per_node) {
        Some((gpus / per_node, per_node))
    } else {
        None
    }
}

/// The provisioning step both placements share: in the first of `order`
/// (pools, best first) that can, promise the asker room on nodes already on
/// their way and launch the rest. `Wait(Provisioning)` when the asker holds
/// promises already; `None` when no pool can grow.
pub fn provision_in(req: &PlacementRequest<'_>, fleet: &FleetView<'_>, order: &[PoolId]) -> Option<Decision> {
    provision_where(req, fleet, order, |_, _| true)
}

/// [`provision_in`], reusing only nodes on their way that `fits` accepts
/// for a member of `per` accelerators (a scheduler that also counts CPU and
/// memory says which still have room).
pub fn provision_where(
    req: &PlacementRequest<'_>,
    fleet: &FleetView<'_>,
    order: &[PoolId],
    fits: impl Fn(NodeId, u32) -> bool,
) -> Option<Decision> {
    for &p in order {
        let pool = &fleet.pools[p.index()];
        let Some((members, per)) = gang_shape(req.gpus, pool.gpus_per_node) else { continue };
        let on_the_way: Vec<&Node> =
            pool.nodes.iter().map(|&n| &fleet.nodes[n.index()]).filter(|n| n.state == NodeState::Provisioning).collect();
        if on_the_way.iter().any(|n| n.reserved_for(req.owner) > 0) {
            return Some(Decision::Wait(WaitReason::Provisioning));
        }
        let reuse: Vec<NodeId> =
            on_the_way.iter().filter(|n| n.unpromised() >= per && fits(n.id, per)).map(|n| n.id).take(members as usize).collect();
        let launch = members - reuse.len() as u32;
        if launch == 0 || pool.headroom() >= launch {
            return Some(Decision::Provision { pool: p, reuse, launch, per_node: per });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gangs_take_whole_nodes_or_fit_in_one() {
        assert_eq!(gang_shape(4, 8), Some((1, 4)));
        assert_eq!(gang_shape(16, 8), Some((2, 8)));
        assert_eq!(gang_shape(12, 8), None);
        assert_eq!(gang_shape(1, 0), None);
    }

    /// A placement whose decider has gone away.
    struct Gone;

    impl Placement for Gone {
        fn name(&self) -> String {
            "gone".into()
        }

        fn place(&mut self, _: &PlacementRequest<'_>, _: &FleetView<'_>) -> Result<Verdict, PlacementError> {
            Err(PlacementError::External("decider `gone` exited (status 1)".into()))
        }
    }

    #[test]
    fn a_failed_placement_ends_the_run_with_its_message() {
        let text = "format_version = 1\nname = \"p\"\nhorizon = \"1m\"\n[[pools]]\nname = \"l4\"\nnode_type = \"g6.xlarge\"\ncapacity = \"on-demand\"\n[[training]]\nname = \"t\"\npools = [\"l4\"]\ngpus = 1\nwork_gpu_hours = 1.0\n";
        let scenario = crate::scenario::Scenario::from_toml(text, "p.toml").unwrap();
        let run = crate::Run::with_placement(&scenario, 1, crate::RunOptions::summary_only(), Box::new(Gone)).unwrap();
        let Err(crate::RunError::Aborted(message)) = run.finish() else { panic!("the run should have stopped") };
        assert!(message.starts_with("placement of t") && message.ends_with(": decider `gone` exited (status 1)"), "{message}");
        let invalid = PlacementError::InvalidDecision("node 7 is not in the request's pools".into());
        assert_eq!(
            (invalid.to_string().as_str(), invalid.message()),
            ("node 7 is not in the request's pools", "node 7 is not in the request's pools")
        );
    }
}
