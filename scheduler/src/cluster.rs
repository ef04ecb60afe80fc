//! The cluster: nodes, their shapes, the pods bound to them, and the classes
//! of nodes that look alike to every plugin.

use crate::node::{Alloc, MILLI, Node, NodeIdx, NodeShape, NodeView, ShapeId};
use crate::pod::{Pod, PodId};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet};

/// Why a cluster operation was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// The node index names no live node.
    #[error("no node {0:?}")]
    NoSuchNode(NodeIdx),
    /// The pod is already bound.
    #[error("pod {0:?} is already bound")]
    AlreadyBound(PodId),
    /// The allocation does not fit the node's free resources.
    #[error("pod {pod:?} does not fit on node {node:?}")]
    DoesNotFit {
        /// The pod.
        pod: PodId,
        /// The node.
        node: NodeIdx,
    },
}

/// A pod bound to a node.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// The node.
    pub node: NodeIdx,
    /// What it holds there.
    pub alloc: Alloc,
    /// Its priority (for preemption).
    pub priority: i32,
    /// Its arrival order (newer victims go first among equals).
    pub seq: u64,
    /// Its name, for traces.
    pub name: String,
    /// Its gang, if any: preempting one member preempts them all.
    pub gang: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ClassKey {
    shape: ShapeId,
    free_cpu: u32,
    free_mem: u32,
    /// Free thousandths per accelerator, sorted: the order does not matter to any plugin.
    gpu_free: Vec<u16>,
}

#[derive(Clone, Debug)]
struct Class {
    members: BTreeSet<NodeIdx>,
}

/// Nodes, shapes and bindings.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    shapes: Vec<NodeShape>,
    nodes: Vec<Option<Node>>,
    by_name: FxHashMap<String, NodeIdx>,
    classes: Vec<Class>,
    class_ids: FxHashMap<ClassKey, u32>,
    node_class: Vec<Option<u32>>,
    live_classes: BTreeSet<u32>,
    bindings: BTreeMap<PodId, Binding>,
    node_pods: Vec<Vec<PodId>>,
}

impl Cluster {
    /// Adds a shape (or finds an equal one) and returns its id.
    pub fn add_shape(&mut self, shape: NodeShape) -> ShapeId {
        if let Some(i) = self.shapes.iter().position(|s| *s == shape) {
            return ShapeId(i as u32);
        }
        self.shapes.push(shape);
        ShapeId(self.shapes.len() as u32 - 1)
    }

    /// Replaces a shape's details (a price change, say); nodes keep it.
    pub fn update_shape(&mut self, id: ShapeId, shape: NodeShape) {
        self.shapes[id.0 as usize] = shape;
    }

    /// A shape.
    pub fn shape(&self, id: ShapeId) -> &NodeShape {
        &self.shapes[id.0 as usize]
    }

    /// Every shape, by id.
    pub fn shapes(&self) -> &[NodeShape] {
        &self.shapes
    }

    /// Adds an empty, schedulable node of a shape.
    pub fn add_node(&mut self, name: &str, shape: ShapeId) -> NodeIdx {
        let s = &self.shapes[shape.0 as usize];
        let node = Node {
            name: name.to_string(),
            shape,
            free_cpu: s.cpu_milli,
            free_mem: s.memory_mib,
            gpu_free: vec![MILLI; s.gpus as usize],
            schedulable: true,
        };
        let idx = NodeIdx(self.nodes.len() as u32);
        self.nodes.push(Some(node));
        self.node_class.push(None);
        self.node_pods.push(Vec::new());
        self.by_name.insert(name.to_string(), idx);
        self.refile(idx);
        idx
    }

    /// Removes a node; the pods bound to it are unbound and returned.
    pub fn remove_node(&mut self, idx: NodeIdx) -> Vec<PodId> {
        let pods = std::mem::take(&mut self.node_pods[idx.0 as usize]);
        for p in &pods {
            self.bindings.remove(p);
        }
        self.unfile(idx);
        if let Some(n) = self.nodes[idx.0 as usize].take() {
            self.by_name.remove(&n.name);
        }
        pods
    }

    /// Lets pods be placed on a node, or stops them (cordon, drain, not ready).
    pub fn set_schedulable(&mut self, idx: NodeIdx, schedulable: bool) {
        if let Some(n) = self.nodes.get_mut(idx.0 as usize).and_then(Option::as_mut) {
            n.schedulable = schedulable;
            self.refile(idx);
        }
    }

    /// A live node.
    pub fn node(&self, idx: NodeIdx) -> Option<&Node> {
        self.nodes.get(idx.0 as usize).and_then(Option::as_ref)
    }

    /// A live node with its shape.
    pub fn view(&self, idx: NodeIdx) -> Option<NodeView<'_>> {
        self.node(idx).map(|node| NodeView { node, shape: &self.shapes[node.shape.0 as usize] })
    }

    /// A node by name.
    pub fn node_by_name(&self, name: &str) -> Option<NodeIdx> {
        self.by_name.get(name).copied()
    }

    /// Live nodes, in index order.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeIdx, &Node)> {
        self.nodes.iter().enumerate().filter_map(|(i, n)| n.as_ref().map(|n| (NodeIdx(i as u32), n)))
    }

    /// Whole free accelerators of a node (0 if it is gone).
    pub fn free_gpus(&self, idx: NodeIdx) -> u32 {
        self.node(idx).map_or(0, Node::whole_free)
    }

    /// The classes of schedulable nodes, each as (representative, members),
    /// in a fixed order. The representative is the member with the lowest index.
    pub fn classes(&self) -> impl Iterator<Item = (NodeIdx, &BTreeSet<NodeIdx>)> {
        self.live_classes.iter().filter_map(|&c| {
            let m = &self.classes[c as usize].members;
            m.iter().next().map(|&first| (first, m))
        })
    }

    /// How many classes of schedulable nodes there are.
    pub fn class_count(&self) -> usize {
        self.live_classes.len()
    }

    /// What `pod` would hold on `idx`, if it fits there now.
    pub fn fit(&self, pod: &Pod, idx: NodeIdx) -> Option<Alloc> {
        let n = self.node(idx)?;
        fit_on(pod, n)
    }

    /// Binds a pod to a node with the given allocation.
    pub fn bind(&mut self, pod: &Pod, idx: NodeIdx, alloc: Alloc) -> Result<(), ClusterError> {
        if self.bindings.contains_key(&pod.id) {
            return Err(ClusterError::AlreadyBound(pod.id));
        }
        let n = self.nodes.get_mut(idx.0 as usize).and_then(Option::as_mut).ok_or(ClusterError::NoSuchNode(idx))?;
        let fits = n.free_cpu >= alloc.cpu_milli
            && n.free_mem >= alloc.memory_mib
            && alloc.gpus.iter().all(|&(g, m)| n.gpu_free.get(g as usize).is_some_and(|&f| f >= m));
        if !fits {
            return Err(ClusterError::DoesNotFit { pod: pod.id, node: idx });
        }
        n.free_cpu -= alloc.cpu_milli;
        n.free_mem -= alloc.memory_mib;
        for &(g, m) in &alloc.gpus {
            n.gpu_free[g as usize] -= m;
        }
        self.node_pods[idx.0 as usize].push(pod.id);
        self.bindings.insert(
            pod.id,
            Binding {
                node: idx,
                alloc,
                priority: pod.priority,
                seq: pod.seq,
                name: pod.name.clone(),
                gang: pod.gang.as_ref().map(|g| g.name.clone()),
            },
        );
        self.refile(idx);
        Ok(())
    }

    /// Unbinds a pod, giving its resources back; returns its binding.
    pub fn unbind(&mut self, pod: PodId) -> Option<Binding> {
        let b = self.bindings.remove(&pod)?;
        let idx = b.node;
        if let Some(n) = self.nodes.get_mut(idx.0 as usize).and_then(Option::as_mut) {
            n.free_cpu += b.alloc.cpu_milli;
            n.free_mem += b.alloc.memory_mib;
            for &(g, m) in &b.alloc.gpus {
                n.gpu_free[g as usize] += m;
            }
            self.node_pods[idx.0 as usize].retain(|p| *p != pod);
            self.refile(idx);
        }
        Some(b)
    }

    /// Where a pod is bound.
    pub fn binding(&self, pod: PodId) -> Option<&Binding> {
        self.bindings.get(&pod)
    }

    /// Every binding, by pod id.
    pub fn bindings(&self) -> &BTreeMap<PodId, Binding> {
        &self.bindings
    }

    /// The pods bound to a node.
    pub fn pods_on(&self, idx: NodeIdx) -> &[PodId] {
        self.node_pods.get(idx.0 as usize).map_or(&[], Vec::as_slice)
    }

    /// Accelerator thousandths on schedulable and unschedulable live nodes: (total, allocated).
    pub fn gpu_milli_totals(&self) -> (u64, u64) {
        let mut total = 0u64;
        let mut free = 0u64;
        for (_, n) in self.nodes() {
            total += n.gpu_free.len() as u64 * u64::from(MILLI);
            free += u64::from(n.free_milli());
        }
        (total, total - free)
    }

    fn unfile(&mut self, idx: NodeIdx) {
        if let Some(c) = self.node_class[idx.0 as usize].take() {
            let members = &mut self.classes[c as usize].members;
            members.remove(&idx);
            if members.is_empty() {
                self.live_classes.remove(&c);
            }
        }
    }

    /// Moves a node to the class of its current shape and free resources.
    fn refile(&mut self, idx: NodeIdx) {
        self.unfile(idx);
        let Some(n) = self.nodes[idx.0 as usize].as_ref() else {
            return;
        };
        if !n.schedulable {
            return;
        }
        let mut gpu_free = n.gpu_free.clone();
        gpu_free.sort_unstable_by(|a, b| b.cmp(a));
        let key = ClassKey { shape: n.shape, free_cpu: n.free_cpu, free_mem: n.free_mem, gpu_free };
        let next = self.classes.len() as u32;
        let c = *self.class_ids.entry(key).or_insert(next);
        if c == next {
            self.classes.push(Class { members: BTreeSet::new() });
        }
        self.classes[c as usize].members.insert(idx);
        self.live_classes.insert(c);
        self.node_class[idx.0 as usize] = Some(c);
    }
}

/// What `pod` would hold on `n`, if it fits there now.
pub(crate) fn fit_on(pod: &Pod, n: &Node) -> Option<Alloc> {
    if n.free_cpu < pod.cpu_milli || n.free_mem < pod.memory_mib {
        return None;
    }
    let gpus = n.pick_gpus(pod.gpus, pod.gpu_share)?;
    Some(Alloc { cpu_milli: pod.cpu_milli, memory_mib: pod.memory_mib, gpus })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_that_look_alike_share_a_class_until_they_differ() {
        let mut c = Cluster::default();
        let s = c.add_shape(NodeShape::gpu_node("p", "H100", 8));
        let a = c.add_node("a", s);
        let b = c.add_node("b", s);
        assert_eq!(c.class_count(), 1);
        let pod = Pod::gpus(1, "x", 2);
        let alloc = c.fit(&pod, b).unwrap();
        c.bind(&pod, b, alloc).unwrap();
        assert_eq!(c.class_count(), 2);
        assert_eq!(c.free_gpus(b), 6);
        c.set_schedulable(a, false);
        assert_eq!(c.class_count(), 1);
        assert_eq!(c.unbind(PodId(1)).unwrap().node, b);
        c.set_schedulable(a, true);
        assert_eq!(c.class_count(), 1);
        assert_eq!(c.classes().next().unwrap().1.len(), 2);
    }

    #[test]
    fn binding_checks_fit_and_removal_unbinds() {
        let mut c = Cluster::default();
        let s = c.add_shape(NodeShape::gpu_node("p", "T4", 1));
        let n = c.add_node("n", s);
        let p1 = Pod::share(1, "a", 600);
        let p2 = Pod::share(2, "b", 600);
        c.bind(&p1, n, c.fit(&p1, n).unwrap()).unwrap();
        assert!(c.fit(&p2, n).is_none());
        let forced = Alloc { gpus: smallvec::smallvec![(0, 600)], ..Alloc::default() };
        assert!(matches!(c.bind(&p2, n, forced), Err(ClusterError::DoesNotFit { .. })));
        assert!(matches!(c.bind(&p1, n, Alloc::default()), Err(ClusterError::AlreadyBound(_))));
        assert_eq!(c.gpu_milli_totals(), (1_000, 600));
        assert_eq!(c.remove_node(n), vec![PodId(1)]);
        assert!(c.binding(PodId(1)).is_none());
        assert_eq!(c.class_count(), 0);
    }
}
