//! `resource-fit`: the node has the CPU, memory and accelerators the pod asks for.

use crate::framework::Plugin;
use crate::node::NodeView;
use crate::pod::Pod;

/// Filters nodes without room for the pod, or with a model it does not allow.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResourceFit;

impl Plugin for ResourceFit {
    fn name(&self) -> &'static str {
        "resource-fit"
    }

    fn filter(&self, pod: &Pod, v: NodeView<'_>) -> Result<(), &'static str> {
        if !pod.gpu_models.is_empty() && !pod.gpu_models.contains(&v.shape.gpu_model) {
            return Err("accelerator model not allowed");
        }
        if pod.gpus > v.shape.gpus || (pod.gpu_share > 0 && v.shape.gpus == 0) {
            return Err("too few accelerators on the node");
        }
        if v.node.free_cpu < pod.cpu_milli {
            return Err("insufficient cpu");
        }
        if v.node.free_mem < pod.memory_mib {
            return Err("insufficient memory");
        }
        if v.node.pick_gpus(pod.gpus, pod.gpu_share).is_none() {
            return Err(if pod.gpus > 0 { "too few free accelerators" } else { "no accelerator with a large enough share free" });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Node, NodeShape, ShapeId};

    #[test]
    fn rejects_each_shortfall_with_its_reason() {
        let shape = NodeShape::gpu_node("p", "T4", 2);
        let node =
            Node { name: "n".into(), shape: ShapeId(0), free_cpu: 4_000, free_mem: 8_192, gpu_free: vec![1000, 400], schedulable: true };
        let v = NodeView { node: &node, shape: &shape };
        let ok = Pod::share(1, "a", 300);
        assert_eq!(ResourceFit.filter(&ok, v), Ok(()));
        let mut p = Pod::gpus(2, "b", 2);
        assert_eq!(ResourceFit.filter(&p, v), Err("too few free accelerators"));
        p.gpus = 3;
        assert_eq!(ResourceFit.filter(&p, v), Err("too few accelerators on the node"));
        let mut q = Pod::share(3, "c", 200);
        q.gpu_models = vec!["V100M16".into()];
        assert_eq!(ResourceFit.filter(&q, v), Err("accelerator model not allowed"));
        q.gpu_models.clear();
        q.cpu_milli = 5_000;
        assert_eq!(ResourceFit.filter(&q, v), Err("insufficient cpu"));
        q.cpu_milli = 0;
        q.memory_mib = 9_000;
        assert_eq!(ResourceFit.filter(&q, v), Err("insufficient memory"));
    }
}
