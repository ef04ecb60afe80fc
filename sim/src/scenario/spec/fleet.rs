//! The fleet: pools of identical nodes, how their capacity is bought, their failures and capital cost.

use super::defaults::secs;
use super::{InterruptionSpec, PriceSpec, StockoutSpec, TelemetrySpec};
use crate::scenario::duration::Dur;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a pool's capacity is bought.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityType {
    /// Owned hardware: amortised capital cost plus energy, billed always.
    #[serde(alias = "on_prem", alias = "onprem")]
    OnPrem,
    /// A commitment (reserved instances, savings plan, CUD): billed always.
    Reserved,
    /// Spot or preemptible capacity: cheap, interruptible, may run out.
    Spot,
    /// On-demand cloud capacity, billed per second while it runs.
    #[serde(alias = "on_demand", alias = "ondemand")]
    OnDemand,
}

impl CapacityType {
    /// The name used in scenario files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityType::OnPrem => "on-prem",
            CapacityType::Reserved => "reserved",
            CapacityType::Spot => "spot",
            CapacityType::OnDemand => "on-demand",
        }
    }

    /// Whether the capacity is paid for whether it is used or not.
    pub fn is_committed(self) -> bool {
        matches!(self, CapacityType::OnPrem | CapacityType::Reserved)
    }

    /// The FOCUS `PricingCategory` of this capacity.
    pub fn focus_pricing_category(self) -> &'static str {
        match self {
            CapacityType::OnPrem | CapacityType::Reserved => "Committed",
            CapacityType::Spot => "Dynamic",
            CapacityType::OnDemand => "Standard",
        }
    }
}

/// A pool: identical nodes in one place, bought one way.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// Unique name that workloads refer to.
    pub name: String,
    /// The node type (catalogue or scenario `[[node_types]]`).
    pub node_type: String,
    /// Cloud region or site.
    #[serde(default)]
    pub region: String,
    /// Availability zone or room.
    #[serde(default)]
    pub zone: String,
    /// How the capacity is bought.
    pub capacity: CapacityType,
    /// Price per node-hour: a number, or `{ mean_reverting = {...} }`, or
    /// `{ table = {...} }`. Default for on-demand: the node type's list price.
    /// Required for spot and reserved; on-premises pools use `capex` instead.
    #[serde(default)]
    pub price: Option<PriceSpec>,
    /// Reserved and on-premises pools: the fixed number of nodes.
    #[serde(default)]
    pub nodes: Option<u32>,
    /// Cloud pools: nodes kept even when empty. Default 0.
    #[serde(default)]
    pub min_nodes: u32,
    /// Cloud pools: the most nodes the pool may grow to. Default 64.
    #[serde(default)]
    pub max_nodes: Option<u32>,
    /// Cloud pools: nodes running at the start. Default `min_nodes`.
    #[serde(default)]
    pub initial_nodes: Option<u32>,
    /// Time from asking for a cloud node to its being ready. Default `"4m"`.
    #[serde(default)]
    pub provisioning_delay: Option<Dur>,
    /// How long a cloud node stays empty before it is released. Default `"10m"`.
    #[serde(default)]
    pub scale_down_delay: Option<Dur>,
    /// Spot pools: how often nodes are reclaimed, and the notice given.
    #[serde(default)]
    pub interruption: Option<InterruptionSpec>,
    /// Spot pools: spells when no new node can be had.
    #[serde(default)]
    pub stockouts: Option<StockoutSpec>,
    /// Hardware failures of single nodes.
    #[serde(default)]
    pub failures: Option<FailureSpec>,
    /// On-premises pools: capital cost, amortised per node-hour.
    #[serde(default)]
    pub capex: Option<CapexSpec>,
    /// Electricity price for this pool, per kWh. Default: `billing.energy_price_per_kwh`.
    #[serde(default)]
    pub energy_price_per_kwh: Option<f64>,
    /// PUE of this pool's site. Default: `billing.pue`.
    #[serde(default)]
    pub pue: Option<f64>,
    /// On-demand price per node-hour that savings are measured against.
    /// Default: the node type's list price.
    #[serde(default)]
    pub list_price_per_hour: Option<f64>,
    /// Node labels, beside those Twin sets (`twin.dev/pool`, `gpu.type`,
    /// `twin.dev/capacity-type`, region and zone).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Node taints, as in Kubernetes: `[{ key = "dedicated", value = "training", effect = "NoSchedule" }]`.
    #[serde(default)]
    pub taints: Vec<twin_scheduler::Taint>,
    /// Recorded telemetry that decides when this pool's accelerators were
    /// busy and what they drew (on-premises and reserved pools; no workload
    /// of the scenario may run here). Default: none, the model's own work.
    #[serde(default)]
    pub telemetry: Option<TelemetrySpec>,
}

/// Node hardware failures.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FailureSpec {
    /// Mean time between failures of one node (exponential).
    pub mtbf: Dur,
    /// Time to repair an owned or reserved node. Default `"4h"`; failed cloud
    /// nodes are replaced instead.
    #[serde(default = "secs::<14_400>")]
    pub repair: Dur,
}

/// Capital cost of owned nodes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CapexSpec {
    /// Purchase price of one node.
    pub per_node: f64,
    /// Straight-line amortisation period, in years of 8,760 hours.
    pub years: f64,
    /// Other running costs per node-hour (support, space, staff). Default 0.
    #[serde(default)]
    pub opex_per_node_hour: f64,
}

impl CapexSpec {
    /// The capital cost amortised straight-line over `years` of 8,760 hours, plus running costs, per node-hour.
    pub fn price_per_node_hour(&self) -> f64 {
        self.per_node / (self.years * 8_760.0) + self.opex_per_node_hour
    }
}

/// Most nodes of a cloud pool when `max_nodes` is not given.
pub const DEFAULT_MAX_NODES: u32 = 64;

impl PoolSpec {
    /// The most nodes the pool can have.
    pub fn max_node_count(&self) -> u32 {
        if self.capacity.is_committed() { self.nodes.unwrap_or(0) } else { self.max_nodes.unwrap_or(DEFAULT_MAX_NODES) }
    }

    /// Nodes the pool never goes below.
    pub fn min_node_count(&self) -> u32 {
        if self.capacity.is_committed() { self.nodes.unwrap_or(0) } else { self.min_nodes }
    }

    /// Nodes running at the start.
    pub fn initial_node_count(&self) -> u32 {
        if self.capacity.is_committed() { self.nodes.unwrap_or(0) } else { self.initial_nodes.unwrap_or(self.min_nodes) }
    }

    /// Time from asking for a node to its being ready.
    pub fn provisioning(&self) -> crate::time::SimDuration {
        self.provisioning_delay.map_or(crate::time::SimDuration::from_secs(240), Dur::get)
    }

    /// How long a cloud node stays empty before it is released.
    pub fn scale_down(&self) -> crate::time::SimDuration {
        self.scale_down_delay.map_or(crate::time::SimDuration::from_secs(600), Dur::get)
    }
}

impl PoolSpec {
    /// The labels of this pool's nodes, given its accelerator's name: see [`node_labels`].
    pub fn node_labels(&self, accelerator: &str) -> BTreeMap<String, String> {
        node_labels(&self.name, accelerator, self.capacity, &self.node_type, &self.region, &self.zone, &self.labels)
    }
}

/// The labels Twin gives a pool's nodes, as a Kubernetes node would carry
/// them: `twin.dev/pool`, `gpu.type` (the accelerator), `twin.dev/capacity-type`,
/// `node.kubernetes.io/instance-type` (the node type), `karpenter.sh/capacity-type`
/// (`spot` or `on-demand`, cloud pools only), the topology region and zone
/// when set; then the pool's own `labels`, which win.
pub fn node_labels(
    pool: &str,
    accelerator: &str,
    capacity: CapacityType,
    node_type: &str,
    region: &str,
    zone: &str,
    own: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert("twin.dev/pool".to_string(), pool.to_string());
    labels.insert("gpu.type".to_string(), accelerator.to_string());
    labels.insert("twin.dev/capacity-type".to_string(), capacity.as_str().to_string());
    labels.insert("node.kubernetes.io/instance-type".to_string(), node_type.to_string());
    match capacity {
        CapacityType::Spot => {
            labels.insert("karpenter.sh/capacity-type".to_string(), "spot".to_string());
        }
        CapacityType::OnDemand | CapacityType::Reserved => {
            labels.insert("karpenter.sh/capacity-type".to_string(), "on-demand".to_string());
        }
        CapacityType::OnPrem => {}
    }
    if !region.is_empty() {
        labels.insert("topology.kubernetes.io/region".to_string(), region.to_string());
    }
    if !zone.is_empty() {
        labels.insert("topology.kubernetes.io/zone".to_string(), zone.to_string());
    }
    labels.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels
}
