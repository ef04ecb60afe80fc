//! The real cluster as shadow mode knows it: its nodes and pods, as the
//! last watch event about each said.

use crate::kubectl::{Object, WatchEvent, WatchKind};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use std::collections::BTreeMap;

/// Nodes by name and pods by `namespace/name`, as last reported.
#[derive(Clone, Debug, Default)]
pub struct ClusterState {
    /// Every node, by name.
    pub nodes: BTreeMap<String, Node>,
    /// Every pod, by `namespace/name`.
    pub pods: BTreeMap<String, Pod>,
    /// Every Deployment, by `namespace/name`.
    pub deployments: BTreeMap<String, Deployment>,
    /// Every HorizontalPodAutoscaler, by `namespace/name`.
    pub hpas: BTreeMap<String, HorizontalPodAutoscaler>,
}

/// An object's key: `namespace/name` (`default` when the namespace is unset).
pub fn object_key(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format!("{}/{}", m.namespace.as_deref().unwrap_or("default"), m.name.as_deref().unwrap_or(""))
}

/// A pod's key: `namespace/name` (`default` when the namespace is unset).
pub fn pod_key(pod: &Pod) -> String {
    object_key(&pod.metadata)
}

impl ClusterState {
    /// The pods bound to node `node` (by `spec.nodeName`), in key order.
    pub fn pods_on<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Pod> + 'a {
        self.pods.values().filter(move |p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
    }
}

/// What a watch event changed that shadow mode cares about
/// ([`ClusterState::apply`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing shadow mode acts on: a pod first seen (bound or not; see
    /// [`ClusterState::apply`]), a known node or pod updated otherwise, an
    /// unknown pod or node deleted, an object of another kind.
    None,
    /// A pod known without `spec.nodeName` now has one: a placement the
    /// real scheduler made while the watch ran.
    PodBound {
        /// The pod's `namespace/name`.
        pod_key: String,
        /// The node it was bound to.
        node: String,
    },
    /// A known pod was deleted.
    PodGone {
        /// The pod's `namespace/name`.
        pod_key: String,
        /// The node it was bound to, if it was.
        node: Option<String>,
    },
    /// A node not known before appeared.
    NodeAdded {
        /// The node's name.
        node: String,
    },
    /// A known node was deleted.
    NodeRemoved {
        /// The node's name.
        node: String,
    },
}

/// A pod's `spec.nodeName`, if set.
fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty())
}

impl ClusterState {
    /// Folds `event` into the state (added and modified objects are
    /// upserted, deleted ones removed) and says what changed.
    ///
    /// A pod first seen already bound gives [`Change::None`]: it was placed
    /// before the watch began (kubectl's first output is the current
    /// state), and the API server creates every pod unbound, so a
    /// placement made while watching is always seen as a change.
    pub fn apply(&mut self, event: &WatchEvent) -> Change {
        match (&event.object, event.kind) {
            (Object::Pod(pod), WatchKind::Deleted) => match self.pods.remove(&pod_key(pod)) {
                Some(old) => Change::PodGone { pod_key: pod_key(pod), node: node_of(&old).or(node_of(pod)).map(str::to_string) },
                None => Change::None,
            },
            (Object::Pod(pod), WatchKind::Added | WatchKind::Modified) => {
                let key = pod_key(pod);
                let new = (**pod).clone();
                let change = match (self.pods.get(&key).map(node_of), node_of(&new)) {
                    (Some(None), Some(node)) => Change::PodBound { pod_key: key.clone(), node: node.to_string() },
                    _ => Change::None,
                };
                self.pods.insert(key, new);
                change
            }
            (Object::Node(node), kind) => {
                let Some(name) = node.metadata.name.clone() else { return Change::None };
                if kind == WatchKind::Deleted {
                    return match self.nodes.remove(&name) {
                        Some(_) => Change::NodeRemoved { node: name },
                        None => Change::None,
                    };
                }
                match self.nodes.insert(name.clone(), (**node).clone()) {
                    Some(_) => Change::None,
                    None => Change::NodeAdded { node: name },
                }
            }
            (Object::Deployment(d), kind) => {
                upsert(&mut self.deployments, object_key(&d.metadata), d, kind);
                Change::None
            }
            (Object::Hpa(h), kind) => {
                upsert(&mut self.hpas, object_key(&h.metadata), h, kind);
                Change::None
            }
            (Object::Other(_), _) => Change::None,
        }
    }

    /// Pods of `namespace` that the controller `owner` (a ReplicaSet's or a
    /// StatefulSet's name, as the pods' controller `ownerReference` says)
    /// has now: pods not finished (`Succeeded`, `Failed`) and not being
    /// deleted, bound or not.
    pub fn replicas_of(&self, namespace: &str, owner: &str) -> usize {
        self.pods
            .values()
            .filter(|p| p.metadata.namespace.as_deref().unwrap_or("default") == namespace)
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| !matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed")))
            .filter(|p| controller_of(p).is_some_and(|(_, name)| name == owner))
            .count()
    }
}

fn upsert<T: Clone>(map: &mut BTreeMap<String, T>, key: String, object: &T, kind: WatchKind) {
    if kind == WatchKind::Deleted {
        map.remove(&key);
    } else {
        map.insert(key, object.clone());
    }
}

/// A pod's controller, as (kind, name), from its `ownerReferences`.
pub fn controller_of(pod: &Pod) -> Option<(&str, &str)> {
    pod.metadata.owner_references.as_ref()?.iter().find(|r| r.controller == Some(true)).map(|r| (r.kind.as_str(), r.name.as_str()))
}
