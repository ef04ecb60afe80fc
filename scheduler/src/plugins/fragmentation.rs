//! `fragmentation-aware`: the least growth in GPU fragmentation (FGD).
//!
//! After Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing
//! Workloads with Fragmentation Gradient Descent" (ATC '23). A node's free
//! accelerator capacity is a *fragment* for a kind of task when that task
//! cannot use it: all of it when the task does not fit on the node at all,
//! the partly used accelerators for a whole-GPU task, the accelerators with
//! less free than the share for a fractional task. A node's fragmentation is
//! the expectation over the workload's mix of tasks; the plugin places a pod
//! where that expectation grows least.

use crate::framework::Plugin;
use crate::node::{Alloc, MILLI, Node, NodeView};
use crate::pod::Pod;
use std::collections::BTreeMap;

/// A kind of task by what it asks of a node: whole accelerators, a share of
/// one in thousandths, CPU thousandths, memory MiB. CPU and memory count as
/// the paper counts them: free accelerators on a node whose CPU or memory a
/// task cannot get are fragments for that task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskKind {
    /// Whole accelerators.
    pub whole: u32,
    /// A share of one accelerator, in thousandths (when `whole` is 0).
    pub share: u16,
    /// CPU thousandths.
    pub cpu_milli: u32,
    /// Memory MiB.
    pub memory_mib: u32,
}

/// Fragmentation gradient descent, with the workload mix learned from the
/// pods it has seen.
#[derive(Clone, Debug, Default)]
pub struct FragmentationAware {
    mix: BTreeMap<TaskKind, u64>,
    seen: u64,
    /// `mix` as probabilities, kept current by `observe`.
    probabilities: Vec<(TaskKind, f64)>,
    /// The mix was given; stop learning.
    frozen: bool,
}

/// Free accelerator thousandths of `node` that a task of this kind cannot use.
fn fragment_for(node: &Node, kind: &TaskKind) -> f64 {
    let TaskKind { whole, share, cpu_milli, memory_mib } = *kind;
    let total: u32 = node.free_milli();
    let fits = node.free_cpu >= cpu_milli
        && node.free_mem >= memory_mib
        && if whole > 0 { node.whole_free() >= whole } else { node.gpu_free.iter().any(|&f| f >= share) };
    if !fits || (whole == 0 && share == 0) {
        return f64::from(total);
    }
    let unusable: u32 = if whole > 0 {
        node.gpu_free.iter().filter(|&&f| f < MILLI).map(|&f| u32::from(f)).sum()
    } else {
        node.gpu_free.iter().filter(|&&f| f < share).map(|&f| u32::from(f)).sum()
    };
    f64::from(unusable)
}

/// Expected fragment (accelerator thousandths) of a node for a workload mix.
pub fn node_fragmentation(node: &Node, mix: &[(TaskKind, f64)]) -> f64 {
    mix.iter().map(|(k, p)| p * fragment_for(node, k)).sum()
}

impl FragmentationAware {
    /// The kind of task a pod is.
    pub fn kind(pod: &Pod) -> TaskKind {
        TaskKind { whole: pod.gpus, share: pod.gpu_share, cpu_milli: pod.cpu_milli, memory_mib: pod.memory_mib }
    }

    /// A plugin that knows the workload's mix in advance (as FGD's
    /// experiments do) instead of learning it from the pods it sees.
    pub fn with_mix(pods: &[Pod]) -> FragmentationAware {
        let mut f = FragmentationAware::default();
        for p in pods {
            f.observe(p);
        }
        f.frozen = true;
        f
    }

    /// The learned mix as (kind, probability).
    pub fn mix(&self) -> &[(TaskKind, f64)] {
        &self.probabilities
    }
}

impl Plugin for FragmentationAware {
    fn name(&self) -> &'static str {
        "fragmentation-aware"
    }

    fn observe(&mut self, pod: &Pod) {
        if self.frozen {
            return;
        }
        *self.mix.entry(Self::kind(pod)).or_default() += 1;
        self.seen += 1;
        let n = self.seen as f64;
        self.probabilities = self.mix.iter().map(|(k, c)| (*k, *c as f64 / n)).collect();
    }

    fn score(&self, pod: &Pod, v: NodeView<'_>, alloc: &Alloc) -> Option<f64> {
        let own = [(Self::kind(pod), 1.0)];
        let mix = if self.probabilities.is_empty() { &own[..] } else { &self.probabilities[..] };
        let before = node_fragmentation(v.node, mix);
        let mut after = v.node.clone();
        after.free_cpu -= alloc.cpu_milli.min(after.free_cpu);
        after.free_mem -= alloc.memory_mib.min(after.free_mem);
        for &(g, m) in &alloc.gpus {
            after.gpu_free[g as usize] -= m;
        }
        // Less growth is better.
        Some(before - node_fragmentation(&after, mix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{NodeShape, ShapeId};

    fn node(free: &[u16]) -> Node {
        Node { name: "n".into(), shape: ShapeId(0), free_cpu: 10_000, free_mem: 10_000, gpu_free: free.to_vec(), schedulable: true }
    }

    #[test]
    fn fragments_follow_the_paper() {
        let n = node(&[1000, 400, 100]);
        let k = |whole, share, cpu_milli| TaskKind { whole, share, cpu_milli, memory_mib: 0 };
        assert_eq!(fragment_for(&n, &k(1, 0, 0)), 500.0, "partial GPUs are lost to whole-GPU tasks");
        assert_eq!(fragment_for(&n, &k(0, 300, 0)), 100.0, "GPUs with less free than the share");
        assert_eq!(fragment_for(&n, &k(2, 0, 0)), 1500.0, "a task that cannot fit loses everything");
        assert_eq!(fragment_for(&n, &k(0, 0, 0)), 1500.0, "a task without accelerators uses none of them");
        assert_eq!(fragment_for(&n, &k(1, 0, 20_000)), 1500.0, "nor one short of CPU");
    }

    #[test]
    fn a_share_goes_where_it_fragments_least() {
        let shape = NodeShape::gpu_node("p", "T4", 2);
        let mut fgd = FragmentationAware::default();
        for i in 0..10 {
            fgd.observe(&Pod::gpus(i, "whole", 1));
        }
        let pod = Pod::share(99, "share", 500);
        // On a node with one GPU half used, a half share completes it; on an
        // empty node it breaks a whole GPU.
        let half = node(&[500, 1000]);
        let empty = node(&[1000, 1000]);
        let s_half = fgd
            .score(&pod, NodeView { node: &half, shape: &shape }, &Alloc { gpus: smallvec::smallvec![(0, 500)], ..Alloc::default() })
            .unwrap();
        let s_empty = fgd
            .score(&pod, NodeView { node: &empty, shape: &shape }, &Alloc { gpus: smallvec::smallvec![(0, 500)], ..Alloc::default() })
            .unwrap();
        assert!(s_half > s_empty, "{s_half} vs {s_empty}");
    }
}
