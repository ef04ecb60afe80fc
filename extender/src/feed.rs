//! The node feed: a file listing the cluster's nodes, read into the cache.
//!
//! With `nodeCacheCapable: true` kube-scheduler sends node names only, so
//! the extender must learn the nodes some other way. The feed is a
//! `NodeList` file as `kubectl get nodes -o json` (or `-o yaml`) writes it,
//! which a sidecar or a CronJob rewrites; the caller reads the file and
//! hands its bytes here (this crate does no I/O):
//!
//! 1. [`parse`] reads the bytes, naming the field that is wrong;
//! 2. [`NodeFeed::read`] reads each node (without the cache, so a caller
//!    that shares the cache need not hold it meanwhile);
//! 3. [`NodeFeed::apply`] puts them in the cache and drops the nodes the
//!    previous file listed and this one does not (deleted from the
//!    cluster). Nodes learned from requests' `Nodes` lists stay.
//!
//! ```
//! use twin_extender::feed::{Format, NodeFeed, parse};
//! use twin_extender::{NodeCache, NodeReader};
//! let text = br#"{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
//!     {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gpu-0"}, "status": {"allocatable": {"nvidia.com/gpu": "8"}}}]}"#;
//! let nodes = parse(text, Format::Json).unwrap();
//! let mut cache = NodeCache::new(NodeReader::default());
//! let mut feed = NodeFeed::default();
//! let read = NodeFeed::read(cache.reader(), &nodes);
//! let summary = feed.apply(&mut cache, read);
//! assert_eq!((summary.nodes, summary.unreadable, summary.removed), (1, 0, 0));
//! assert!(cache.get("gpu-0").is_some());
//! ```

use crate::cache::NodeCache;
use crate::nodes::{NodeError, NodeReader, NodeRecord};
use k8s_openapi::api::core::v1::Node;
use rustc_hash::FxHashSet;
use serde::Deserialize;

/// The file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `kubectl get nodes -o json`.
    Json,
    /// `kubectl get nodes -o yaml`.
    Yaml,
}

impl Format {
    /// YAML for a name ending in `.yaml` or `.yml`, else JSON.
    pub fn of_name(name: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") { Format::Yaml } else { Format::Json }
    }
}

/// Why a feed file cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// Not JSON (or YAML), or cut short.
    #[error("not valid {format}: {message}")]
    Syntax {
        /// `JSON` or `YAML`.
        format: &'static str,
        /// The parser's words, with line and column.
        message: String,
    },
    /// The wrong shape: not a list of nodes, or a field of the wrong type.
    #[error("{path}: {message}")]
    Shape {
        /// The field, such as `items[3].status.allocatable`, or `(root)`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The file: a `List` or `NodeList` of `Node`s.
#[derive(Deserialize)]
struct NodeFile {
    #[serde(default)]
    kind: Option<String>,
    items: Vec<Node>,
}

/// The nodes of a feed file.
///
/// ```
/// use twin_extender::feed::{Format, parse};
/// let e = parse(b"items:\n  - metadata: {name: a}\n    status: {allocatable: 7}\n", Format::Yaml).unwrap_err();
/// assert!(e.to_string().starts_with("items[0].status.allocatable: "), "{e}");
/// ```
pub fn parse(bytes: &[u8], format: Format) -> Result<Vec<Node>, FeedError> {
    let shape = |path: String, message: String| FeedError::Shape { path: if path == "." { "(root)".into() } else { path }, message };
    let file: NodeFile = match format {
        Format::Json => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let file = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_data() {
                    shape(path, inner.to_string())
                } else {
                    FeedError::Syntax { format: "JSON", message: inner.to_string() }
                }
            })?;
            de.end().map_err(|e| FeedError::Syntax { format: "JSON", message: e.to_string() })?;
            file
        }
        Format::Yaml => {
            let text = std::str::from_utf8(bytes).map_err(|e| FeedError::Syntax { format: "YAML", message: e.to_string() })?;
            if let Err(e) = serde_saphyr::from_str::<serde::de::IgnoredAny>(text) {
                return Err(FeedError::Syntax { format: "YAML", message: e.to_string() });
            }
            let mut path = String::from(".");
            serde_saphyr::with_deserializer_from_str(text, |de| {
                serde_path_to_error::deserialize::<_, NodeFile>(de).map_err(|e| {
                    path = e.path().to_string();
                    e.into_inner()
                })
            })
            .map_err(|e| shape(path.clone(), e.to_string()))?
        }
    };
    match file.kind.as_deref() {
        None | Some("List" | "NodeList") => Ok(file.items),
        Some(other) => Err(shape("kind".into(), format!("{other:?}: expected List or NodeList (kubectl get nodes -o json)"))),
    }
}

/// A feed file's nodes, read: each named node with what was read or why
/// it could not be; `unnamed` counts nodes without a name (left out).
#[derive(Clone, Debug, Default)]
pub struct ReadNodes {
    /// Nodes by name, in the file's order.
    pub nodes: Vec<(String, Result<NodeRecord, NodeError>)>,
    /// Nodes without `metadata.name`.
    pub unnamed: usize,
}

/// What applying a feed file did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedSummary {
    /// Nodes now known from the file.
    pub nodes: usize,
    /// Of those, nodes that cannot be read (kept with why, and failed by
    /// name in requests), plus nodes without a name (left out).
    pub unreadable: usize,
    /// Nodes the previous file listed and this one does not, dropped.
    pub removed: usize,
}

/// The names the last feed file listed.
#[derive(Clone, Debug, Default)]
pub struct NodeFeed {
    listed: FxHashSet<String>,
}

impl NodeFeed {
    /// Reads a feed file's nodes with `reader` (the cache's).
    pub fn read(reader: &NodeReader, nodes: &[Node]) -> ReadNodes {
        let mut read = ReadNodes::default();
        for node in nodes {
            match node.metadata.name.as_deref().filter(|n| !n.is_empty()) {
                Some(name) => read.nodes.push((name.to_string(), reader.read(node))),
                None => read.unnamed += 1,
            }
        }
        read
    }

    /// Puts the nodes read into the cache, replacing what the previous file
    /// said of them, and drops the nodes the previous file listed and this
    /// one does not.
    pub fn apply(&mut self, cache: &mut NodeCache, read: ReadNodes) -> FeedSummary {
        let mut summary = FeedSummary { unreadable: read.unnamed, ..FeedSummary::default() };
        let mut listed = FxHashSet::default();
        for (name, record) in read.nodes {
            summary.unreadable += usize::from(record.is_err());
            listed.insert(name.clone());
            cache.insert(name, record);
        }
        for gone in self.listed.iter().filter(|n| !listed.contains(*n)) {
            summary.removed += usize::from(cache.remove(gone));
        }
        summary.nodes = listed.len();
        self.listed = listed;
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &str) -> String {
        format!(r#"{{"apiVersion":"v1","kind":"List","metadata":{{"resourceVersion":""}},"items":[{items}]}}"#)
    }

    fn node(name: &str, gpus: &str) -> String {
        format!(
            r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{name}"}},"status":{{"allocatable":{{"nvidia.com/gpu":"{gpus}"}}}}}}"#
        )
    }

    #[test]
    fn kubectl_lists_read_and_a_rewritten_file_replaces_the_last() {
        let mut cache = NodeCache::default();
        let mut feed = NodeFeed::default();
        let nodes = parse(list(&[node("a", "8"), node("b", "4"), node("bad", "x")].join(",")).as_bytes(), Format::Json).unwrap();
        let read = NodeFeed::read(cache.reader(), &nodes);
        let s = feed.apply(&mut cache, read);
        assert_eq!(s, FeedSummary { nodes: 3, unreadable: 1, removed: 0 });
        assert!(matches!(cache.get("bad"), Some(Err(_))));
        // A node learned from a request stays when the file drops its own.
        let learned: Node = serde_json::from_str(&node("learned", "1")).unwrap();
        cache.feed(&learned).unwrap();
        let nodes = parse(list(&[node("a", "2"), node("c", "1")].join(",")).as_bytes(), Format::Json).unwrap();
        let read = NodeFeed::read(cache.reader(), &nodes);
        let s = feed.apply(&mut cache, read);
        assert_eq!(s, FeedSummary { nodes: 2, unreadable: 0, removed: 2 });
        assert_eq!(cache.get("a").unwrap().unwrap().accelerators_of("nvidia.com/gpu"), 2);
        assert!(cache.get("b").is_none() && cache.get("bad").is_none());
        assert!(cache.get("learned").is_some() && cache.get("c").is_some());
    }

    #[test]
    fn yaml_reads_too() {
        let yaml =
            "apiVersion: v1\nkind: NodeList\nitems:\n- metadata:\n    name: a\n  status:\n    allocatable:\n      nvidia.com/gpu: \"8\"\n";
        let nodes = parse(yaml.as_bytes(), Format::Yaml).unwrap();
        assert_eq!(nodes[0].metadata.name.as_deref(), Some("a"));
        assert_eq!(Format::of_name("nodes.YML"), Format::Yaml);
        assert_eq!(Format::of_name("nodes.json"), Format::Json);
    }

    #[test]
    fn bad_files_name_the_field() {
        let cases: [(&[u8], Format, &str); 6] = [
            (b"{\"items\": [", Format::Json, "not valid JSON"),
            (b"{\"kind\": \"List\"}", Format::Json, "(root): missing field `items`"),
            (br#"{"items": [{"metadata": {"name": 7}}]}"#, Format::Json, "items[0].metadata.name: invalid type"),
            (br#"{"kind": "Pod", "items": []}"#, Format::Json, "kind: \"Pod\": expected List or NodeList"),
            (br#"{"items": [{"kind": "Pod", "metadata": {}}]}"#, Format::Json, "items[0]"),
            (b"items: [\n", Format::Yaml, "not valid YAML"),
        ];
        for (bytes, format, want) in cases {
            let e = parse(bytes, format).unwrap_err().to_string();
            assert!(e.starts_with(want), "{}: {e}", String::from_utf8_lossy(bytes));
        }
    }
}
