//! `interruption-aware`: fragile work away from pools that are often interrupted.

use crate::framework::Plugin;
use crate::node::{Alloc, NodeView};
use crate::pod::Pod;

/// Keeps work that does not checkpoint off nodes in Spot Advisor band
/// `max_band` or higher, and prefers lower expected loss: the hazard, ten
/// times lighter for work that checkpoints (it loses at most an interval).
#[derive(Clone, Copy, Debug)]
pub struct InterruptionAware {
    /// Lowest band (0 to 4) kept away from fragile work.
    pub max_band: u8,
}

impl Plugin for InterruptionAware {
    fn name(&self) -> &'static str {
        "interruption-aware"
    }

    fn filter(&self, pod: &Pod, v: NodeView<'_>) -> Result<(), &'static str> {
        if !pod.checkpointed && v.shape.interruption_band() >= self.max_band {
            return Err("interruption band too high for work without checkpoints");
        }
        Ok(())
    }

    fn score(&self, pod: &Pod, v: NodeView<'_>, _alloc: &Alloc) -> Option<f64> {
        let exposure = if pod.checkpointed { 0.1 } else { 1.0 };
        Some(-(v.shape.interruption_per_hour * exposure))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Node, NodeShape, ShapeId};

    #[test]
    fn bands_gate_fragile_work_and_hazard_scores_everyone() {
        let node = Node { name: "n".into(), shape: ShapeId(0), free_cpu: 1, free_mem: 1, gpu_free: vec![1000], schedulable: true };
        let mut shape = NodeShape::gpu_node("spot", "L4", 1);
        shape.interruption_per_hour = 0.0003; // about 20% a month: band 4
        let plugin = InterruptionAware { max_band: 2 };
        let mut pod = Pod::gpus(1, "p", 1);
        let v = NodeView { node: &node, shape: &shape };
        assert_eq!(plugin.filter(&pod, v), Ok(()));
        let robust = plugin.score(&pod, v, &Alloc::default()).unwrap();
        pod.checkpointed = false;
        assert!(plugin.filter(&pod, v).is_err());
        assert!(plugin.score(&pod, v, &Alloc::default()).unwrap() < robust);
    }
}
