//! `node-affinity`: node selectors and affinity on labels, and taints.

use crate::framework::Plugin;
use crate::node::{Alloc, NodeView, TaintEffect};
use crate::pod::Pod;

/// Filters nodes whose labels miss the pod's requirements or whose
/// `NoSchedule` taints it does not tolerate; prefers nodes with fewer
/// untolerated `PreferNoSchedule` taints. The pool's name is the label
/// `twin.dev/pool`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeAffinity;

/// The label every node carries with its pool's name.
pub const POOL_LABEL: &str = "twin.dev/pool";

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        "node-affinity"
    }

    fn filter(&self, pod: &Pod, v: NodeView<'_>) -> Result<(), &'static str> {
        for s in &pod.selector {
            let ok = match s {
                crate::pod::Selector::In { key, values } if key == POOL_LABEL => values.contains(&v.shape.pool),
                crate::pod::Selector::NotIn { key, values } if key == POOL_LABEL => !values.contains(&v.shape.pool),
                other => other.matches(&v.shape.labels),
            };
            if !ok {
                return Err("node labels do not match");
            }
        }
        if v.shape.taints.iter().any(|t| t.effect == TaintEffect::NoSchedule && !pod.tolerates(t)) {
            return Err("untolerated taint");
        }
        Ok(())
    }

    fn score(&self, pod: &Pod, v: NodeView<'_>, _alloc: &Alloc) -> Option<f64> {
        let untolerated = v.shape.taints.iter().filter(|t| t.effect == TaintEffect::PreferNoSchedule && !pod.tolerates(t)).count();
        Some(-(untolerated as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Node, NodeShape, ShapeId, Taint};
    use crate::pod::{Selector, Toleration};

    #[test]
    fn labels_pools_and_taints() {
        let mut shape = NodeShape::gpu_node("spot-h100", "H100", 8);
        shape.taints.push(Taint { key: "twin.dev/spot".into(), value: "true".into(), effect: TaintEffect::NoSchedule });
        let node = Node { name: "n".into(), shape: ShapeId(0), free_cpu: 1, free_mem: 1, gpu_free: vec![1000; 8], schedulable: true };
        let v = NodeView { node: &node, shape: &shape };
        let mut pod = Pod::gpus(1, "p", 1);
        pod.selector = vec![Selector::In { key: "gpu.type".into(), values: vec!["H100".into()] }];
        assert_eq!(NodeAffinity.filter(&pod, v), Err("untolerated taint"));
        pod.tolerations.push(Toleration { key: "twin.dev/spot".into(), value: None, effect: None });
        assert_eq!(NodeAffinity.filter(&pod, v), Ok(()));
        pod.selector.push(Selector::In { key: POOL_LABEL.into(), values: vec!["od-h100".into()] });
        assert_eq!(NodeAffinity.filter(&pod, v), Err("node labels do not match"));
        pod.selector.pop();
        pod.selector.push(Selector::NotIn { key: "gpu.type".into(), values: vec!["H100".into()] });
        assert_eq!(NodeAffinity.filter(&pod, v), Err("node labels do not match"));
    }
}
