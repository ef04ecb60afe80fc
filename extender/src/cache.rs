//! The node cache: every node the extender has been shown, read once.
//!
//! An extender with `nodeCacheCapable: true` gets node names only; it
//! answers from what it has read of those nodes before. The cache is fed
//! by every full `Nodes` list a request carries and by the node feed
//! ([`crate::feed`]: a `kubectl get nodes` file); a node seen again at the same
//! `resourceVersion` is not read again. An unreadable node is kept with its
//! error, so that a later request by name fails it for the same reason.

use crate::nodes::{NodeError, NodeReader, NodeRecord};
use k8s_openapi::api::core::v1::Node;
use rustc_hash::FxHashMap;
use twin_scheduler::{Capacity, Taint};

/// Nodes of one kind look alike to Twin's scheduler whatever the pod but
/// for their labels: the same pool, accelerator model and count, CPU,
/// memory, taints, price and capacity. The cache gives each node its kind
/// when it reads it, so that a request groups its candidates without
/// comparing their fields again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKind(u32);

/// What makes a node's kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct KindKey {
    pool: String,
    gpu_model: String,
    accelerators: Vec<(&'static str, u32)>,
    cpu_milli: u32,
    memory_mib: u32,
    taints: Vec<Taint>,
    price_bits: Option<u64>,
    capacity: Capacity,
}

impl KindKey {
    fn of(r: &NodeRecord) -> KindKey {
        KindKey {
            pool: r.pool.clone(),
            gpu_model: r.gpu_model.clone(),
            accelerators: r.accelerators.clone(),
            cpu_milli: r.cpu_milli,
            memory_mib: r.memory_mib,
            taints: r.taints.clone(),
            price_bits: r.price_per_hour.map(f64::to_bits),
            capacity: r.capacity,
        }
    }
}

/// A node as kept: what was read, or why it could not be, and its kind.
#[derive(Clone, Debug)]
struct Entry {
    read: Result<NodeRecord, NodeError>,
    kind: NodeKind,
}

/// Nodes by name, as last read.
#[derive(Clone, Debug, Default)]
pub struct NodeCache {
    reader: NodeReader,
    nodes: FxHashMap<String, Entry>,
    kinds: FxHashMap<KindKey, NodeKind>,
}

impl NodeCache {
    /// An empty cache that reads nodes with `reader`.
    pub fn new(reader: NodeReader) -> NodeCache {
        NodeCache { reader, nodes: FxHashMap::default(), kinds: FxHashMap::default() }
    }

    /// The reader.
    pub fn reader(&self) -> &NodeReader {
        &self.reader
    }

    /// Reads a node and keeps what was read (or why it could not be read)
    /// under its name. A node without a name is not kept.
    pub fn feed(&mut self, node: &Node) -> Result<&NodeRecord, NodeError> {
        let Some(name) = node.metadata.name.as_deref().filter(|n| !n.is_empty()) else {
            return Err(NodeError::NoName);
        };
        let fresh = match (self.nodes.get(name), &node.metadata.resource_version) {
            (Some(Entry { read: Ok(old), .. }), Some(v)) => old.resource_version.as_ref() != Some(v),
            _ => true,
        };
        if fresh {
            let read = self.reader.read(node);
            self.insert(name.to_string(), read);
        }
        match self.nodes.get(name).map(|e| &e.read) {
            Some(Ok(r)) => Ok(r),
            Some(Err(e)) => Err(e.clone()),
            None => Err(NodeError::NoName),
        }
    }

    /// Keeps a node read elsewhere (by [`NodeCache::reader`], say on
    /// another thread) under its name, replacing what was known of it.
    pub fn insert(&mut self, name: String, read: Result<NodeRecord, NodeError>) {
        // Kinds only grow as nodes change; start again when most are stale.
        if self.kinds.len() > 1_024 + 4 * self.nodes.len() {
            self.kinds.clear();
            let mut nodes = std::mem::take(&mut self.nodes);
            for e in nodes.values_mut() {
                e.kind = self.kind_of(&e.read);
            }
            self.nodes = nodes;
        }
        let kind = self.kind_of(&read);
        self.nodes.insert(name, Entry { read, kind });
    }

    /// The kind of a node read (unreadable nodes share one).
    fn kind_of(&mut self, read: &Result<NodeRecord, NodeError>) -> NodeKind {
        let Ok(r) = read else { return NodeKind(u32::MAX) };
        let next = NodeKind(u32::try_from(self.kinds.len()).unwrap_or(u32::MAX - 1));
        *self.kinds.entry(KindKey::of(r)).or_insert(next)
    }

    /// A node by name: what was read, or why it could not be; `None` if it
    /// was never shown.
    pub fn get(&self, name: &str) -> Option<Result<&NodeRecord, &NodeError>> {
        self.nodes.get(name).map(|e| e.read.as_ref())
    }

    /// A node by name with its kind, as [`NodeCache::get`].
    pub fn get_with_kind(&self, name: &str) -> Option<Result<(&NodeRecord, NodeKind), &NodeError>> {
        self.nodes.get(name).map(|e| e.read.as_ref().map(|r| (r, e.kind)))
    }

    /// Forgets a node (deleted from the cluster); whether it was known.
    pub fn remove(&mut self, name: &str) -> bool {
        self.nodes.remove(name).is_some()
    }

    /// How many nodes are known.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is known.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, version: &str, gpus: &str) -> Node {
        serde_json::from_str(&format!(
            r#"{{"metadata":{{"name":"{name}","resourceVersion":"{version}"}},"status":{{"allocatable":{{"nvidia.com/gpu":"{gpus}"}}}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn nodes_are_kept_by_name_and_reread_when_they_change() {
        let mut c = NodeCache::default();
        assert_eq!(c.feed(&node("a", "1", "8")).unwrap().accelerators_of("nvidia.com/gpu"), 8);
        assert_eq!(c.feed(&node("a", "2", "4")).unwrap().accelerators_of("nvidia.com/gpu"), 4);
        assert!(c.feed(&node("b", "1", "x")).is_err());
        assert!(matches!(c.get("b"), Some(Err(NodeError::Quantity { .. }))));
        assert_eq!(c.len(), 2);
        assert!(c.get("c").is_none());
        assert!(c.remove("b") && !c.remove("b"));
        assert!(c.feed(&Node::default()).is_err());
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn alike_nodes_share_a_kind() {
        let mut c = NodeCache::default();
        for (n, g) in [("a", "8"), ("b", "8"), ("c", "4")] {
            c.feed(&node(n, "1", g)).unwrap();
        }
        let kind = |c: &NodeCache, n: &str| c.get_with_kind(n).unwrap().unwrap().1;
        assert_eq!(kind(&c, "a"), kind(&c, "b"));
        assert_ne!(kind(&c, "a"), kind(&c, "c"));
        c.feed(&node("b", "2", "4")).unwrap();
        assert_eq!(kind(&c, "b"), kind(&c, "c"));
    }
}
