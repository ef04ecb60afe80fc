//! `SpotFirstBinPack`: the fixed rule Twin's placement began with.

use super::{Decision, FleetView, Placement, PlacementError, PlacementRequest, Verdict, WaitReason, gang_shape, provision_in};
use crate::ids::{NodeId, PoolId};
use crate::scenario::spec::CapacityType;

/// Spot first, on-demand fallback, bin-packing within a pool.
///
/// Pools are tried in tiers: capacity already paid for (on-prem, reserved),
/// then spot, then on-demand; within a tier, the lowest price per unit of
/// work first. A unit binds to the first pool with room on ready nodes,
/// choosing the fullest nodes that fit (bin-packing, so empty nodes can be
/// released). When none has room it provisions in the first pool, in the
/// same order, that may grow. It knows no priorities and never preempts.
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
    fn name(&self) -> String {
        "spot-first-bin-pack".into()
    }

    fn place(&mut self, req: &PlacementRequest<'_>, fleet: &FleetView<'_>) -> Result<Verdict, PlacementError> {
        let mut order: Vec<(u8, f64, PoolId)> = req
            .pools
            .iter()
            .map(|&p| {
                let pool = &fleet.pools[p.index()];
                (tier(pool.capacity), pool.price_units as f64 / (req.speed)(p).max(1e-9), p)
            })
            .collect();
        order.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut candidates: Vec<(u32, NodeId)> = Vec::new();
        for &(_, _, p) in &order {
            let pool = &fleet.pools[p.index()];
            let Some((members, per)) = gang_shape(req.gpus, pool.gpus_per_node) else { continue };
            candidates.clear();
            candidates.extend(pool.nodes.iter().filter_map(|&n| {
                let node = &fleet.nodes[n.index()];
                // Nodes holding a promise to this owner first, then the fullest.
                node.fits(req.owner, per).then(|| (u32::from(node.reserved_for(req.owner) == 0) * 1_000_000 + node.free, n))
            }));
            if candidates.len() as u32 >= members {
                candidates.sort_unstable();
                let nodes: Vec<NodeId> = candidates.iter().take(members as usize).map(|c| c.1).collect();
                let why = format!(
                    "{} tier, fullest node{} with room in pool {}",
                    pool.capacity.as_str(),
                    if members > 1 { "s" } else { "" },
                    pool.name
                );
                return Ok(Verdict { decision: Decision::Bind { nodes, per_node: per }, why });
            }
        }
        let ids: Vec<PoolId> = order.iter().map(|o| o.2).collect();
        Ok(match provision_in(req, fleet, &ids) {
            Some(decision) => {
                let why = match &decision {
                    Decision::Provision { pool, .. } => format!("no room on ready nodes; growing pool {}", fleet.pools[pool.index()].name),
                    _ => "waiting for nodes promised to it".to_string(),
                };
                Verdict { decision, why }
            }
            None => Verdict {
                decision: Decision::Wait(WaitReason::NoCapacity),
                why: "every allowed pool is full, stocked out or fixed in size".into(),
            },
        })
    }
}
