//! `cost-aware`: the lowest marginal price per unit of useful work.

use crate::framework::Plugin;
use crate::node::{Alloc, NodeView};
use crate::pod::Pod;

/// Scores by what the placement adds to the bill per unit of work: the
/// accelerator price (nothing for owned or reserved capacity, already paid
/// for) divided by the pod's speed on the node's accelerator. Spot comes
/// before on-demand because it is cheaper, and on-demand is the fallback.
#[derive(Clone, Copy, Debug, Default)]
pub struct CostAware;

impl Plugin for CostAware {
    fn name(&self) -> &'static str {
        "cost-aware"
    }

    fn score(&self, pod: &Pod, v: NodeView<'_>, alloc: &Alloc) -> Option<f64> {
        let price = if v.shape.capacity.is_sunk() { 0.0 } else { v.shape.price_per_gpu_hour };
        let accelerators = (f64::from(alloc.gpu_milli()) / 1_000.0).max(if pod.gpu_milli() == 0 { 0.0 } else { 0.001 });
        let speed = pod.speed_on(v.shape).max(1e-9);
        Some(-(price * accelerators / speed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Capacity, Node, NodeShape, ShapeId};

    #[test]
    fn price_per_unit_of_work_with_sunk_capacity_free() {
        let node = Node { name: "n".into(), shape: ShapeId(0), free_cpu: 1, free_mem: 1, gpu_free: vec![1000; 8], schedulable: true };
        let mut shape = NodeShape::gpu_node("p", "A100", 8);
        shape.price_per_gpu_hour = 3.0;
        let mut pod = Pod::gpus(1, "p", 2);
        pod.speedup.insert("A100".into(), 0.5);
        let alloc = Alloc { gpus: smallvec::smallvec![(0, 1000), (1, 1000)], ..Alloc::default() };
        assert_eq!(CostAware.score(&pod, NodeView { node: &node, shape: &shape }, &alloc), Some(-12.0));
        shape.capacity = Capacity::Reserved;
        assert_eq!(CostAware.score(&pod, NodeView { node: &node, shape: &shape }, &alloc), Some(-0.0));
    }
}
