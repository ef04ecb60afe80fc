//! One pool: identical nodes in one place, bought one way.

use crate::catalogue::{Accelerator, NodeType};
use crate::ids::{NodeId, PoolId};
use crate::market::{Interruptions, PriceProcess};
use crate::rng::SimRng;
use crate::scenario::spec::CapacityType;
use crate::time::SimDuration;

/// Counters of one pool over a run.
#[derive(Clone, Debug, Default)]
pub struct PoolStats {
    /// Nodes asked for (initial ones included).
    pub nodes_launched: u64,
    /// Spot reclaim notices received.
    pub notices: u64,
    /// Nodes taken back at the end of a notice.
    pub reclaims: u64,
    /// Hardware failures.
    pub failures: u64,
    /// Stock-outs that began.
    pub stockouts: u64,
    /// Launches that went to another pool because this one was out of stock.
    pub refused_launches: u64,
    /// Accelerator-nanoseconds billed (launch to termination).
    pub gpu_ns: u128,
    /// Accelerator-nanoseconds held by workloads.
    pub allocated_gpu_ns: u128,
    /// Accelerator-seconds spent computing (engine steps, training).
    pub busy_gpu_secs: f64,
    /// Most nodes alive at once.
    pub peak_nodes: u32,
}

/// A pool, resolved from its scenario table, with its live state.
#[derive(Clone, Debug)]
pub struct Pool {
    /// This pool.
    pub id: PoolId,
    /// Its name in the scenario.
    pub name: String,
    /// Region or site.
    pub region: String,
    /// Availability zone or room.
    pub zone: String,
    /// How its capacity is bought.
    pub capacity: CapacityType,
    /// The machines it is made of.
    pub node_type: NodeType,
    /// Their accelerator.
    pub accelerator: Accelerator,
    /// Accelerators per node.
    pub gpus_per_node: u32,
    /// Price per node-hour over time.
    pub price: PriceProcess,
    /// The current price per accelerator-hour, in billionths of the currency.
    pub price_units: i64,
    /// The on-demand list price per accelerator-hour, in billionths.
    pub list_units: i64,
    /// Nodes never released.
    pub min_nodes: u32,
    /// Nodes alive at the start.
    pub initial_nodes: u32,
    /// Most nodes alive at once.
    pub max_nodes: u32,
    /// Launch to ready.
    pub provisioning: SimDuration,
    /// Empty time before a cloud node is released.
    pub scale_down: SimDuration,
    /// Spot interruptions, if any.
    pub interruptions: Option<Interruptions>,
    /// Spot stock-outs: mean time available and mean stock-out length.
    pub stockouts: Option<(SimDuration, SimDuration)>,
    /// Whether the pool is out of stock now.
    pub stocked_out: bool,
    /// Hardware failures: MTBF and repair time.
    pub failures: Option<(SimDuration, SimDuration)>,
    /// Electricity price per kWh.
    pub energy_price_per_kwh: f64,
    /// Facility PUE.
    pub pue: f64,
    /// Whether energy is billed on top of the price (on-premises only: a
    /// cloud price includes power).
    pub bills_energy: bool,
    /// Live nodes (provisioning, ready, draining or failed), oldest first.
    pub nodes: Vec<NodeId>,
    /// Node labels set by the scenario.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Node taints.
    pub taints: Vec<twin_scheduler::Taint>,
    /// Random stream of interruption times.
    pub rng_interrupt: SimRng,
    /// Random stream of failure times.
    pub rng_failure: SimRng,
    /// Random stream of stock-out times.
    pub rng_stockout: SimRng,
    /// Counters.
    pub stats: PoolStats,
    /// A recording that drives this pool instead of simulated work.
    pub recorded: Option<Box<RecordedPool>>,
}

/// A pool's replayed recording and who its busy time is billed to.
#[derive(Clone, Debug)]
pub struct RecordedPool {
    /// The recording laid over the run.
    pub replay: super::UsageReplay,
    /// The workload the busy time is billed to.
    pub owner: crate::ids::WorkloadId,
    /// The settings it was replayed with.
    pub spec: crate::scenario::spec::TelemetrySpec,
}

/// Billionths of the currency per accelerator-hour for a node-hour price.
pub fn units_per_gpu_hour(price_per_node_hour: f64, gpus_per_node: u32) -> i64 {
    let v = price_per_node_hour / f64::from(gpus_per_node.max(1)) * 1e9;
    if v.is_finite() { v.round().clamp(0.0, i64::MAX as f64) as i64 } else { 0 }
}

impl Pool {
    /// Makes the process's current price the billed one.
    pub fn refresh_price(&mut self) {
        self.price_units = units_per_gpu_hour(self.price.current(), self.gpus_per_node);
    }

    /// Whether one more node may be asked for now.
    pub fn can_launch(&self) -> bool {
        !self.capacity.is_committed() && !self.stocked_out && (self.nodes.len() as u32) < self.max_nodes
    }

    /// How many more nodes may be asked for now.
    pub fn headroom(&self) -> u32 {
        if self.capacity.is_committed() || self.stocked_out { 0 } else { self.max_nodes.saturating_sub(self.nodes.len() as u32) }
    }
}
