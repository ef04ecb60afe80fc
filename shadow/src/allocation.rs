//! The cluster's accelerators as a cost model sees them: each node's
//! accelerators and price, each bound pod's share, read once per change of
//! the cluster rather than once per tick.
//!
//! A pod's share of its node is OpenCost's allocation by requested
//! resource: `price_per_hour × gpus_requested / node_gpus`. What the pods
//! leave of a node's price is idle cost.

use crate::cluster::{ClusterState, pod_key};
use std::collections::BTreeMap;
use twin_extender::nodes::{NodeReader, NodeRecord};
use twin_extender::pod::{self, PodRequest};

/// One bound pod holding whole accelerators.
#[derive(Clone, Debug)]
pub struct Held {
    /// The pod, `namespace/name`.
    pub pod: String,
    /// The node it is bound to.
    pub node: String,
    /// The accelerator resource, such as `nvidia.com/gpu`.
    pub resource: &'static str,
    /// Whole accelerators requested.
    pub gpus: u32,
    /// The pod as Twin's scheduler reads it (its node demands).
    pub request: PodRequest,
}

/// The accelerators of the cluster and who holds them.
#[derive(Clone, Debug, Default)]
pub struct Allocation {
    /// Every node that reads, by name.
    pub nodes: BTreeMap<String, NodeRecord>,
    /// The pods bound to a node holding accelerators, not finished, by key.
    pub held: BTreeMap<String, Held>,
}

/// A pod that is finished (`Succeeded`, `Failed`) or being deleted holds nothing.
fn holds_nothing(p: &k8s_openapi::api::core::v1::Pod) -> bool {
    p.metadata.deletion_timestamp.is_some() || matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

impl Allocation {
    /// Reads the cluster: nodes that do not read (no price anywhere is
    /// fine; a malformed quantity is not) and pods that do not read are
    /// left out.
    pub fn read(cluster: &ClusterState, reader: &NodeReader) -> Allocation {
        let nodes: BTreeMap<String, NodeRecord> =
            cluster.nodes.iter().filter_map(|(name, n)| reader.read(n).ok().map(|r| (name.clone(), r))).collect();
        let mut held = BTreeMap::new();
        for p in cluster.pods.values() {
            let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty()) else { continue };
            if holds_nothing(p) || !nodes.contains_key(node) {
                continue;
            }
            if let Ok(Some(request)) = pod::read(p, &[]) {
                let key = pod_key(p);
                let h = Held { pod: key.clone(), node: node.to_string(), resource: request.resource, gpus: request.pod.gpus, request };
                held.insert(key, h);
            }
        }
        Allocation { nodes, held }
    }

    /// The share of its node's price per hour that `h` is allocated; `None`
    /// when the node's price is unknown.
    pub fn cost_per_hour(&self, h: &Held) -> Option<f64> {
        let node = self.nodes.get(&h.node)?;
        let gpus = node.accelerators_of(h.resource);
        node.price_per_hour.map(|p| if gpus == 0 { 0.0 } else { p * f64::from(h.gpus.min(gpus)) / f64::from(gpus) })
    }

    /// Sum of known node prices per hour (sums start from +0.0: an empty
    /// `f64` sum is -0.0, which would print as `-0.00`).
    pub fn nodes_per_hour(&self) -> f64 {
        self.nodes.values().filter_map(|n| n.price_per_hour).fold(0.0, |a, b| a + b)
    }

    /// Sum of the pods' allocated cost per hour.
    pub fn allocated_per_hour(&self) -> f64 {
        self.held.values().filter_map(|h| self.cost_per_hour(h)).fold(0.0, |a, b| a + b)
    }

    /// Accelerators of each node held by its pods, by (node, resource).
    pub fn used(&self) -> BTreeMap<(&str, &'static str), u32> {
        let mut used = BTreeMap::new();
        for h in self.held.values() {
            *used.entry((h.node.as_str(), h.resource)).or_insert(0u32) += h.gpus;
        }
        used
    }

    /// Nodes with accelerators of some kind, with their total count.
    pub fn accelerated(&self) -> impl Iterator<Item = (&String, &NodeRecord, u32)> {
        self.nodes.iter().map(|(n, r)| (n, r, r.accelerators.iter().map(|(_, c)| *c).sum::<u32>())).filter(|(_, _, c)| *c > 0)
    }
}
