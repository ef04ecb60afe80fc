//! The node cache: every node the extender has been shown, read once.
//!
//! An extender with `nodeCacheCapable: true` gets node names only; it
//! answers from what it has read of those nodes before. The cache is fed
//! by every full `Nodes` list a request carries (and by whatever else the
//! caller feeds it, such as a watch on Nodes); a node seen again at the same
//! `resourceVersion` is not read again. An unreadable node is kept with its
//! error, so that a later request by name fails it for the same reason.

use crate::nodes::{NodeError, NodeReader, NodeRecord};
use k8s_openapi::api::core::v1::Node;
use std::collections::BTreeMap;

/// Nodes by name, as last read.
#[derive(Clone, Debug, Default)]
pub struct NodeCache {
    reader: NodeReader,
    nodes: BTreeMap<String, Result<NodeRecord, NodeError>>,
}

impl NodeCache {
    /// An empty cache that reads nodes with `reader`.
    pub fn new(reader: NodeReader) -> NodeCache {
        NodeCache { reader, nodes: BTreeMap::new() }
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
            (Some(Ok(old)), Some(v)) => old.resource_version.as_ref() != Some(v),
            _ => true,
        };
        if fresh {
            self.nodes.insert(name.to_string(), self.reader.read(node));
        }
        match self.nodes.get(name) {
            Some(Ok(r)) => Ok(r),
            Some(Err(e)) => Err(e.clone()),
            None => Err(NodeError::NoName),
        }
    }

    /// A node by name: what was read, or why it could not be; `None` if it
    /// was never shown.
    pub fn get(&self, name: &str) -> Option<Result<&NodeRecord, &NodeError>> {
        self.nodes.get(name).map(Result::as_ref)
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
}
