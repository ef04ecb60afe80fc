//! The pools a workload may run in: every pool of the scenario and of the
//! manifests' NodePools whose nodes' labels, taints, accelerators and size
//! take its pods.

use crate::error::{Fault, Kind};
use crate::field::FieldPath;
use crate::labels::{pool_labels, show};
use crate::pod::PodDemand;
use std::collections::BTreeMap;
use twin_scheduler::Taint;
use twin_sim::catalogue::Catalogue;
use twin_sim::scenario::gang_fits;
use twin_sim::scenario::spec::PoolSpec;

/// A pool as a workload's pods see it.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    name: String,
    labels: BTreeMap<String, String>,
    taints: Vec<Taint>,
    accelerator: String,
    vendor: String,
    gpus_per_node: u32,
    /// 0: the node type does not say.
    cpu_milli: u64,
    /// 0: the node type does not say.
    memory_mib: u64,
    max_nodes: u32,
    recorded: bool,
}

impl Candidate {
    /// `pool` with its node type and accelerator from `catalogue`.
    pub(crate) fn new(pool: &PoolSpec, catalogue: &Catalogue) -> Candidate {
        let node = catalogue.node_type(&pool.node_type).map(|i| &catalogue.node_types[i]);
        let acc = node.and_then(|n| catalogue.accelerator(&n.accelerator)).map(|i| &catalogue.accelerators[i]);
        let accelerator = acc.map_or_else(|| node.map_or_else(String::new, |n| n.accelerator.clone()), |a| a.name.clone());
        Candidate {
            name: pool.name.clone(),
            labels: pool_labels(pool, &accelerator),
            taints: pool.taints.clone(),
            vendor: acc.map_or_else(String::new, |a| a.vendor.clone()),
            accelerator,
            gpus_per_node: node.map_or(0, |n| n.accelerators_per_node),
            cpu_milli: node.map_or(0, |n| u64::from(n.vcpus) * 1_000),
            memory_mib: node.map_or(0, |n| (n.memory_gb * 1_024.0) as u64),
            max_nodes: pool.max_node_count(),
            recorded: pool.telemetry.is_some(),
        }
    }

    /// The keys of this pool's taints.
    pub(crate) fn taint_keys(&self) -> impl Iterator<Item = &str> {
        self.taints.iter().map(|t| t.key.as_str())
    }
}

/// How a workload's pods must fit a pool.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Fit {
    /// Each pod on one node.
    Pod,
    /// A gang of this many accelerators, all in one pool: within one node or over whole nodes.
    Gang(u32),
}

/// Why `c` cannot run `pod` fitted as `fit`, or `None` when it can.
fn refuses(c: &Candidate, pod: &PodDemand, fit: Fit) -> Option<String> {
    if c.recorded {
        return Some("replays recorded telemetry".into());
    }
    if c.gpus_per_node == 0 {
        return Some(format!("node type with no accelerators known ({})", c.accelerator));
    }
    if let Some(why) = pod.nodes.refuses(&c.labels, &c.taints) {
        return Some(why);
    }
    if !c.vendor.is_empty() && !pod.vendors.is_empty() && !pod.vendors.iter().any(|v| v.eq_ignore_ascii_case(&c.vendor)) {
        return Some(format!("{} ({}) is not a {} device", c.accelerator, c.vendor, pod.resource));
    }
    if pod.gpus > c.gpus_per_node {
        return Some(format!("{} accelerators per pod; nodes have {}", pod.gpus, c.gpus_per_node));
    }
    if let Fit::Gang(total) = fit
        && !gang_fits(total, c.gpus_per_node, c.max_nodes)
    {
        return Some(format!("a gang of {total} fits neither one node of {} nor whole nodes (at most {})", c.gpus_per_node, c.max_nodes));
    }
    if c.cpu_milli > 0 && pod.cpu_milli > c.cpu_milli {
        return Some(format!("{}m CPU per pod; nodes have {}m", pod.cpu_milli, c.cpu_milli));
    }
    if c.memory_mib > 0 && pod.memory_mib > c.memory_mib {
        return Some(format!("{} MiB per pod; nodes have {} MiB", pod.memory_mib, c.memory_mib));
    }
    None
}

/// The names of the pools that can run `pod` (`what`, such as
/// `Deployment ml/chat`), in fleet order; none is a placement fault at the
/// pod spec (`spec`), listing every pool with its labels and why not.
pub(crate) fn choose(fleet: &[Candidate], pod: &PodDemand, fit: Fit, what: &str, spec: &FieldPath) -> Result<Vec<String>, Fault> {
    let mut chosen = Vec::new();
    let mut why = Vec::new();
    for c in fleet {
        match refuses(c, pod, fit) {
            None => chosen.push(c.name.clone()),
            Some(r) => why.push(format!("{} {}: {r}", c.name, show(&c.labels))),
        }
    }
    if !chosen.is_empty() {
        return Ok(chosen);
    }
    let mut asks = pod.describe();
    if let Fit::Gang(total) = fit {
        asks = format!("a gang of {total} accelerators, {asks}");
    }
    let nodes = pod.nodes.describe();
    if !nodes.is_empty() {
        asks = format!("{asks}, {nodes}");
    }
    let hint = if fleet.is_empty() {
        "the scenario has no pools, and the manifests no NodePool".to_string()
    } else {
        format!("the pools:\n{}", why.join("\n"))
    };
    Err(Fault::new(Kind::Placement, pod.nodes.field(spec), format!("no pool can run {what} ({asks})"), hint))
}

/// Every taint key of the fleet, sorted, once each.
pub(crate) fn taint_keys(fleet: &[Candidate]) -> Vec<String> {
    let mut keys: Vec<String> = fleet.iter().flat_map(|c| c.taint_keys().map(str::to_string)).collect();
    keys.sort();
    keys.dedup();
    keys
}
