//! Nodes: their shape (shared by a pool) and their free resources.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One GPU, in thousandths: the unit of fractional GPU shares.
pub const MILLI: u16 = 1_000;

/// Index of a node in its [`crate::Cluster`]; never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeIdx(pub u32);

/// Index of a node shape in its [`crate::Cluster`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShapeId(pub u32);

/// How a node's capacity is bought.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capacity {
    /// Owned: already paid for.
    OnPrem,
    /// Committed: already paid for.
    Reserved,
    /// Interruptible and cheap.
    Spot,
    /// Paid per second of use.
    OnDemand,
}

impl Capacity {
    /// Whether using an idle accelerator of this capacity costs nothing more.
    pub fn is_sunk(self) -> bool {
        matches!(self, Capacity::OnPrem | Capacity::Reserved)
    }
}

/// What a taint keeps away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaintEffect {
    /// Pods without a matching toleration do not land here.
    NoSchedule,
    /// Pods without a matching toleration land here only if nothing else fits.
    PreferNoSchedule,
}

/// A taint on a node, as in Kubernetes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Taint {
    /// Key, such as `nvidia.com/gpu` or `twin.dev/spot`.
    pub key: String,
    /// Value; empty for key-only taints.
    #[serde(default)]
    pub value: String,
    /// Effect.
    pub effect: TaintEffect,
}

/// What every node of a pool shares: hardware, labels, taints, price, risk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeShape {
    /// The pool (node group) the nodes belong to.
    pub pool: String,
    /// The accelerator model, such as `H100` or `V100M16`.
    pub gpu_model: String,
    /// Accelerators per node.
    pub gpus: u32,
    /// CPU in thousandths of a core.
    pub cpu_milli: u32,
    /// Memory in MiB.
    pub memory_mib: u32,
    /// Node labels (the pool's name, `gpu.type`, zone, ... as the user sets them).
    pub labels: BTreeMap<String, String>,
    /// Taints.
    pub taints: Vec<Taint>,
    /// Price per accelerator-hour now.
    pub price_per_gpu_hour: f64,
    /// How the capacity is bought.
    pub capacity: Capacity,
    /// Interruptions per node-hour (spot), 0 otherwise.
    pub interruption_per_hour: f64,
}

impl NodeShape {
    /// An on-demand GPU node with plenty of CPU and memory and no labels but
    /// `gpu.type`: a starting point for tests and examples.
    pub fn gpu_node(pool: &str, model: &str, gpus: u32) -> NodeShape {
        NodeShape {
            pool: pool.to_string(),
            gpu_model: model.to_string(),
            gpus,
            cpu_milli: 192_000,
            memory_mib: 2_048 * 1_024,
            labels: BTreeMap::from([("gpu.type".to_string(), model.to_string())]),
            taints: Vec::new(),
            price_per_gpu_hour: 4.0,
            capacity: Capacity::OnDemand,
            interruption_per_hour: 0.0,
        }
    }

    /// Interruption band 0 to 4, as the AWS Spot Advisor bins a month:
    /// <5%, 5-10%, 10-15%, 15-20%, >20% of nodes interrupted.
    pub fn interruption_band(&self) -> u8 {
        let monthly = 1.0 - (-self.interruption_per_hour * 730.0).exp();
        match monthly {
            m if m < 0.05 => 0,
            m if m < 0.10 => 1,
            m if m < 0.15 => 2,
            m if m < 0.20 => 3,
            _ => 4,
        }
    }
}

/// Accelerators a pod holds: (index on the node, thousandths of it). Inline
/// up to eight, so deciding allocates nothing.
pub type GpuAlloc = smallvec::SmallVec<[(u8, u16); 8]>;

/// What a pod holds on a node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Alloc {
    /// CPU thousandths.
    pub cpu_milli: u32,
    /// Memory MiB.
    pub memory_mib: u32,
    /// (accelerator index on the node, thousandths of it).
    pub gpus: GpuAlloc,
}

impl Alloc {
    /// Accelerator thousandths held in all.
    pub fn gpu_milli(&self) -> u32 {
        self.gpus.iter().map(|g| u32::from(g.1)).sum()
    }
}

/// A node and its free resources.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Its name.
    pub name: String,
    /// Its shape.
    pub shape: ShapeId,
    /// Free CPU thousandths.
    pub free_cpu: u32,
    /// Free memory MiB.
    pub free_mem: u32,
    /// Free thousandths of each accelerator.
    pub gpu_free: Vec<u16>,
    /// Whether pods may be placed (ready, not cordoned or draining).
    pub schedulable: bool,
}

impl Node {
    /// Accelerators entirely free.
    pub fn whole_free(&self) -> u32 {
        self.gpu_free.iter().filter(|&&f| f == MILLI).count() as u32
    }

    /// Free accelerator thousandths in all.
    pub fn free_milli(&self) -> u32 {
        self.gpu_free.iter().map(|&f| u32::from(f)).sum()
    }

    /// The accelerators a pod would take: `whole` entire ones (lowest index
    /// first), or a `share` of one (the fullest accelerator it fits on, so
    /// that whole ones stay whole). `None` if they are not there.
    pub fn pick_gpus(&self, whole: u32, share: u16) -> Option<GpuAlloc> {
        if whole > 0 {
            let picked: GpuAlloc = self
                .gpu_free
                .iter()
                .enumerate()
                .filter(|(_, f)| **f == MILLI)
                .take(whole as usize)
                .map(|(i, _)| (i as u8, MILLI))
                .collect();
            (picked.len() == whole as usize).then_some(picked)
        } else if share > 0 {
            self.gpu_free
                .iter()
                .enumerate()
                .filter(|(_, f)| **f >= share)
                .min_by_key(|(i, f)| (**f, *i))
                .map(|(i, _)| smallvec::smallvec![(i as u8, share)])
        } else {
            Some(GpuAlloc::new())
        }
    }
}

/// A node with its shape, as plugins see it.
#[derive(Clone, Copy, Debug)]
pub struct NodeView<'a> {
    /// The node.
    pub node: &'a Node,
    /// Its shape.
    pub shape: &'a NodeShape,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(free: &[u16]) -> Node {
        Node { name: "n".into(), shape: ShapeId(0), free_cpu: 1_000, free_mem: 1_000, gpu_free: free.to_vec(), schedulable: true }
    }

    #[test]
    fn whole_gpus_take_free_ones_and_shares_the_fullest_that_fits() {
        let n = node(&[1000, 300, 1000, 600]);
        assert_eq!(n.pick_gpus(2, 0).unwrap().as_slice(), &[(0, 1000), (2, 1000)]);
        assert_eq!(n.pick_gpus(3, 0), None);
        assert_eq!(n.pick_gpus(0, 250).unwrap().as_slice(), &[(1, 250)]);
        assert_eq!(n.pick_gpus(0, 500).unwrap().as_slice(), &[(3, 500)]);
        assert!(n.pick_gpus(0, 0).unwrap().is_empty());
        assert_eq!(n.whole_free(), 2);
        assert_eq!(n.free_milli(), 2_900);
    }

    #[test]
    fn bands_follow_the_spot_advisor() {
        let mut s = NodeShape::gpu_node("p", "H100", 8);
        assert_eq!(s.interruption_band(), 0);
        s.interruption_per_hour = -(1.0f64 - 0.075).ln() / 730.0;
        assert_eq!(s.interruption_band(), 1);
        s.interruption_per_hour = 0.01;
        assert_eq!(s.interruption_band(), 4);
    }
}
