//! `bin-pack` and `spread`: how full the node is after placement.

use crate::framework::Plugin;
use crate::node::{Alloc, NodeView};
use crate::pod::Pod;

/// Share of the node's accelerators (or CPU, on a node without any) in use
/// once the pod is placed.
fn used_after(v: NodeView<'_>, alloc: &Alloc) -> f64 {
    let total = v.node.gpu_free.len() as f64 * 1_000.0;
    if total > 0.0 {
        (total - f64::from(v.node.free_milli()) + f64::from(alloc.gpu_milli())) / total
    } else if v.shape.cpu_milli > 0 {
        f64::from(v.shape.cpu_milli - v.node.free_cpu + alloc.cpu_milli) / f64::from(v.shape.cpu_milli)
    } else {
        0.0
    }
}

/// Prefers the fullest node that fits, so empty nodes stay empty and can be released.
#[derive(Clone, Copy, Debug, Default)]
pub struct BinPack;

impl Plugin for BinPack {
    fn name(&self) -> &'static str {
        "bin-pack"
    }

    fn score(&self, _pod: &Pod, v: NodeView<'_>, alloc: &Alloc) -> Option<f64> {
        Some(used_after(v, alloc))
    }
}

/// Prefers the emptiest node, spreading load and blast radius.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spread;

impl Plugin for Spread {
    fn name(&self) -> &'static str {
        "spread"
    }

    fn score(&self, _pod: &Pod, v: NodeView<'_>, alloc: &Alloc) -> Option<f64> {
        Some(1.0 - used_after(v, alloc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Node, NodeShape, ShapeId};

    #[test]
    fn fuller_after_placement_scores_higher_for_bin_pack_and_lower_for_spread() {
        let shape = NodeShape::gpu_node("p", "H100", 4);
        let busy =
            Node { name: "b".into(), shape: ShapeId(0), free_cpu: 1, free_mem: 1, gpu_free: vec![0, 0, 1000, 1000], schedulable: true };
        let idle = Node { gpu_free: vec![1000; 4], ..busy.clone() };
        let alloc = Alloc { gpus: smallvec::smallvec![(2, 1000)], ..Alloc::default() };
        let pod = Pod::gpus(1, "p", 1);
        let (vb, vi) = (NodeView { node: &busy, shape: &shape }, NodeView { node: &idle, shape: &shape });
        assert_eq!(BinPack.score(&pod, vb, &alloc), Some(0.75));
        assert_eq!(BinPack.score(&pod, vi, &alloc), Some(0.25));
        assert_eq!(Spread.score(&pod, vb, &alloc), Some(0.25));
    }
}
