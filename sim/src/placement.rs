//! Placement: which nodes a replica or a training gang goes to.
//!
//! The fabric asks a [`Placement`] for a decision whenever a unit of work is
//! pending and capacity may have changed. The decision is to bind now, to
//! provision nodes (reserved for the asker until they are ready), or to wait.
//! [`SpotFirstBinPack`] is the first policy; the scheduler crate widens this
//! interface into a full scheduling framework.

use crate::fleet::{Node, NodeState, Owner, Pool};
use crate::ids::{NodeId, PoolId};
use crate::scenario::spec::CapacityType;

/// What a pending unit of work asks for.
#[derive(Clone, Copy, Debug)]
pub struct PlacementRequest<'a> {
    /// Who asks.
    pub owner: Owner,
    /// Accelerators wanted in all (a replica's TP degree, or a gang's size).
    pub gpus: u32,
    /// Pools it may use.
    pub pools: &'a [PoolId],
}

/// The fleet as placement sees it.
#[derive(Clone, Copy)]
pub struct FleetView<'a> {
    /// Every pool.
    pub pools: &'a [Pool],
    /// Every node ever made (look at `pool.nodes` for the live ones).
    pub nodes: &'a [Node],
    /// Speed of the work per accelerator-hour in each pool (relative).
    pub speed: &'a dyn Fn(PoolId) -> f64,
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

/// Why a unit waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitReason {
    /// Nodes reserved for it are being provisioned.
    Provisioning,
    /// Every allowed pool is full, stocked out or fixed in size.
    NoCapacity,
}

/// A placement policy.
pub trait Placement {
    /// The policy's name, for reports.
    fn name(&self) -> &'static str;
    /// Decides where `request` goes.
    fn place(&mut self, request: &PlacementRequest<'_>, fleet: &FleetView<'_>) -> Decision;
}

/// How a gang of `gpus` splits over nodes of `per_node`: (members, accelerators each).
/// `None` when it cannot (more than a node and not a multiple of it).
pub fn gang_shape(gpus: u32, per_node: u32) -> Option<(u32, u32)> {
    if per_node == 0 || gpus == 0 {
        None
    } else if gpus <= per_node {
        Some((1, gpus))
    } else if gpus % per_node == 0 {
        Some((gpus / per_node, per_node))
    } else {
        None
    }
}

/// Spot first, on-demand fallback, bin-packing within a pool.
///
/// Pools are tried in tiers: capacity already paid for (on-prem, reserved),
/// then spot, then on-demand; within a tier, the lowest price per unit of
/// work first. A unit binds to the first pool with room on ready nodes,
/// choosing the fullest nodes that fit (bin-packing, so empty nodes can be
/// released). When none has room it provisions in the first pool, in the
/// same order, that may grow.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpotFirstBinPack;

fn tier(c: CapacityType) -> u8 {
    match c {
        CapacityType::OnPrem | CapacityType::Reserved => 0,
        CapacityType::Spot => 1,
        CapacityType::OnDemand => 2,
    }
}

impl Placement for SpotFirstBinPack {
    fn name(&self) -> &'static str {
        "spot-first-bin-pack"
    }

    fn place(&mut self, req: &PlacementRequest<'_>, fleet: &FleetView<'_>) -> Decision {
        let mut order: Vec<(u8, f64, PoolId)> = req
            .pools
            .iter()
            .map(|&p| {
                let pool = &fleet.pools[p.index()];
                let speed = (fleet.speed)(p).max(1e-9);
                (tier(pool.capacity), pool.price_units as f64 / speed, p)
            })
            .collect();
        order.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));

        let mut candidates: Vec<(u32, NodeId)> = Vec::new();
        for &(_, _, p) in &order {
            let pool = &fleet.pools[p.index()];
            let Some((members, per)) = gang_shape(req.gpus, pool.gpus_per_node) else {
                continue;
            };
            candidates.clear();
            candidates.extend(pool.nodes.iter().filter_map(|&n| {
                let node = &fleet.nodes[n.index()];
                // Nodes holding a promise to this owner first, then the fullest.
                node.fits(req.owner, per).then(|| {
                    (
                        u32::from(node.reserved_for(req.owner) == 0) * 1_000_000 + node.free,
                        n,
                    )
                })
            }));
            if candidates.len() as u32 >= members {
                candidates.sort_unstable();
                return Decision::Bind {
                    nodes: candidates
                        .iter()
                        .take(members as usize)
                        .map(|c| c.1)
                        .collect(),
                    per_node: per,
                };
            }
        }
        for &(_, _, p) in &order {
            let pool = &fleet.pools[p.index()];
            let Some((members, per)) = gang_shape(req.gpus, pool.gpus_per_node) else {
                continue;
            };
            let on_the_way: Vec<&Node> = pool
                .nodes
                .iter()
                .map(|&n| &fleet.nodes[n.index()])
                .filter(|node| node.state == NodeState::Provisioning)
                .collect();
            let promised = on_the_way
                .iter()
                .filter(|node| node.reserved_for(req.owner) > 0)
                .count() as u32;
            if promised > 0 {
                // Already promised capacity here: wait for it.
                return Decision::Wait(WaitReason::Provisioning);
            }
            // Share nodes already on their way before asking for new ones.
            let reuse: Vec<NodeId> = on_the_way
                .iter()
                .filter(|node| node.unpromised() >= per)
                .map(|node| node.id)
                .take(members as usize)
                .collect();
            let launch = members - reuse.len() as u32;
            if launch == 0 || pool.headroom() >= launch {
                return Decision::Provision {
                    pool: p,
                    reuse,
                    launch,
                    per_node: per,
                };
            }
        }
        Decision::Wait(WaitReason::NoCapacity)
    }
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
}
