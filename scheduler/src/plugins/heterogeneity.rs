//! `heterogeneity-aware`: the accelerator the work runs fastest on (Gavel).

use crate::framework::Plugin;
use crate::node::{Alloc, NodeView};
use crate::pod::Pod;

/// Scores by the pod's throughput per accelerator on the node's model, as
/// Gavel places jobs by their measured speed-ups rather than by peak FLOPs.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeterogeneityAware;

impl Plugin for HeterogeneityAware {
    fn name(&self) -> &'static str {
        "heterogeneity-aware"
    }

    fn score(&self, pod: &Pod, v: NodeView<'_>, _alloc: &Alloc) -> Option<f64> {
        Some(pod.speed_on(v.shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Node, NodeShape, ShapeId};

    #[test]
    fn scores_the_speed_up_on_the_nodes_model() {
        let node = Node { name: "n".into(), shape: ShapeId(0), free_cpu: 1, free_mem: 1, gpu_free: vec![1000], schedulable: true };
        let shape = NodeShape::gpu_node("p", "L4", 1);
        let mut pod = Pod::gpus(1, "p", 1);
        let v = NodeView { node: &node, shape: &shape };
        assert_eq!(HeterogeneityAware.score(&pod, v, &Alloc::default()), Some(1.0));
        pod.speedup.insert("L4".into(), 0.1);
        assert_eq!(HeterogeneityAware.score(&pod, v, &Alloc::default()), Some(0.1));
    }
}
