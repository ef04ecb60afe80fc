//! The scheduler extender v1 wire format (`k8s.io/kube-scheduler/extender/v1`).
//!
//! The Go types carry no JSON tags, so their fields go out in Go's
//! PascalCase (`Pod`, `NodeNames`, `FailedNodes`) and Go reads them back
//! case-insensitively. These types do the same: they write PascalCase and
//! accept a key in any ASCII case (`NodeNames`, `nodenames`, `nodeNames`),
//! the last of duplicates winning and unknown keys ignored, as
//! `encoding/json` does. A missing or `null` field reads as its zero value;
//! only [`ExtenderArgs::pod`] is required.
//!
//! Nil is written as Go writes it: a `None` pointer (`Nodes`, `NodeNames`)
//! as `null`, and an empty map or list as `null` too, since Go's zero value
//! of a map or slice is nil (kube-scheduler reads `null` and `{}` alike).
//! So `T::default()` serialises byte for byte as Go's zero value of `T`:
//!
//! ```
//! use twin_extender::wire::ExtenderFilterResult;
//! assert_eq!(
//!     serde_json::to_string(&ExtenderFilterResult::default()).unwrap(),
//!     r#"{"Nodes":null,"NodeNames":null,"FailedNodes":null,"FailedAndUnresolvableNodes":null,"Error":""}"#,
//! );
//! ```
//!
//! Pod and Node bodies are ordinary `k8s-openapi` objects, in Kubernetes'
//! own camelCase.

use k8s_openapi::api::core::v1::{Node, Pod};
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// The highest score prioritize may give a node (`MaxExtenderPriority`).
pub const MAX_EXTENDER_PRIORITY: i64 = 10;

/// The lowest score prioritize may give a node (`MinExtenderPriority`).
pub const MIN_EXTENDER_PRIORITY: i64 = 0;

/// A `v1.NodeList`.
pub type NodeList = k8s_openapi::List<Node>;

/// Failed nodes by name, with why (`FailedNodesMap`).
pub type FailedNodesMap = BTreeMap<String, String>;

/// The answer to prioritize: a bare JSON array of [`HostPriority`].
pub type HostPriorityList = Vec<HostPriority>;

/// A struct with Go's untagged JSON: PascalCase out, any case in.
macro_rules! go_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident: $ty:ty = $go:literal $($req:ident)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(rename = $go)]
                pub $field: $ty,
            )*
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("an object (", stringify!($name), ")"))
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        $(let mut $field: Option<$ty> = None;)*
                        while let Some(key) = map.next_key::<String>()? {
                            $(
                                if key.eq_ignore_ascii_case($go) {
                                    $field = map.next_value::<Option<$ty>>()?;
                                    continue;
                                }
                            )*
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                        Ok($name { $($field: go_struct!(@take $field, $go $(, $req)?),)* })
                    }
                }
                deserializer.deserialize_map(Visitor)
            }
        }
    };
    (@take $field:ident, $go:literal) => {
        $field.unwrap_or_default()
    };
    (@take $field:ident, $go:literal, required) => {
        $field.ok_or_else(|| serde::de::Error::missing_field($go))?
    };
}

go_struct! {
    /// What filter and prioritize receive: the pod and the candidate nodes.
    ///
    /// kube-scheduler sends `Nodes` (and `NodeNames: null`) to an extender
    /// configured with `nodeCacheCapable: false`, and `NodeNames` (and
    /// `Nodes: null`) to one with `nodeCacheCapable: true`.
    pub struct ExtenderArgs {
        /// The pod being scheduled.
        pub pod: Pod = "Pod" required,
        /// The candidate nodes, in full.
        pub nodes: Option<NodeList> = "Nodes",
        /// The candidate nodes' names.
        pub node_names: Option<Vec<String>> = "NodeNames",
    }
}

go_struct! {
    /// The answer to filter.
    ///
    /// The nodes that pass go back the way they came (`Nodes` for `Nodes`,
    /// `NodeNames` for `NodeNames`); a node in `FailedAndUnresolvableNodes`
    /// is one where preempting pods would not help, and kube-scheduler does
    /// not try. A non-empty `Error` fails the scheduling attempt.
    pub struct ExtenderFilterResult {
        /// The nodes that pass, in full.
        pub nodes: Option<NodeList> = "Nodes",
        /// The names of the nodes that pass.
        pub node_names: Option<Vec<String>> = "NodeNames",
        /// Nodes that fail, with why.
        #[serde(serialize_with = "nil_if_empty_map")]
        pub failed_nodes: FailedNodesMap = "FailedNodes",
        /// Nodes that fail whatever is preempted, with why.
        #[serde(serialize_with = "nil_if_empty_map")]
        pub failed_and_unresolvable_nodes: FailedNodesMap = "FailedAndUnresolvableNodes",
        /// Why the whole request failed; empty when it did not.
        pub error: String = "Error",
    }
}

go_struct! {
    /// A node's score from prioritize, 0 to [`MAX_EXTENDER_PRIORITY`].
    pub struct HostPriority {
        /// The node's name.
        pub host: String = "Host",
        /// Its score.
        pub score: i64 = "Score",
    }
}

go_struct! {
    /// What bind receives (for an extender that binds pods itself).
    pub struct ExtenderBindingArgs {
        /// The pod's name.
        pub pod_name: String = "PodName",
        /// The pod's namespace.
        pub pod_namespace: String = "PodNamespace",
        /// The pod's UID.
        pub pod_uid: String = "PodUID",
        /// The node chosen.
        pub node: String = "Node",
    }
}

go_struct! {
    /// The answer to bind.
    pub struct ExtenderBindingResult {
        /// Why binding failed; empty when it did not.
        pub error: String = "Error",
    }
}

go_struct! {
    /// A pod known by its UID only (preemption with `nodeCacheCapable`).
    pub struct MetaPod {
        /// The pod's UID.
        pub uid: String = "UID",
    }
}

go_struct! {
    /// Pods a preemption would evict from a node, in full.
    pub struct Victims {
        /// The pods.
        #[serde(serialize_with = "nil_if_empty_vec")]
        pub pods: Vec<Pod> = "Pods",
        /// PodDisruptionBudgets the eviction would violate.
        pub num_pdb_violations: i64 = "NumPDBViolations",
    }
}

go_struct! {
    /// Pods a preemption would evict from a node, by UID.
    pub struct MetaVictims {
        /// The pods.
        #[serde(serialize_with = "nil_if_empty_vec")]
        pub pods: Vec<MetaPod> = "Pods",
        /// PodDisruptionBudgets the eviction would violate.
        pub num_pdb_violations: i64 = "NumPDBViolations",
    }
}

go_struct! {
    /// What preempt receives (not served yet: the wire format only).
    pub struct ExtenderPreemptionArgs {
        /// The pod being scheduled.
        pub pod: Pod = "Pod" required,
        /// Victims by node, in full (`nodeCacheCapable: false`).
        #[serde(serialize_with = "nil_if_empty_map")]
        pub node_name_to_victims: BTreeMap<String, Victims> = "NodeNameToVictims",
        /// Victims by node, by UID (`nodeCacheCapable: true`).
        #[serde(serialize_with = "nil_if_empty_map")]
        pub node_name_to_meta_victims: BTreeMap<String, MetaVictims> = "NodeNameToMetaVictims",
    }
}

go_struct! {
    /// The answer to preempt (not served yet: the wire format only).
    pub struct ExtenderPreemptionResult {
        /// Victims by node, by UID.
        #[serde(serialize_with = "nil_if_empty_map")]
        pub node_name_to_meta_victims: BTreeMap<String, MetaVictims> = "NodeNameToMetaVictims",
    }
}

/// An empty map as Go writes a nil one: `null`.
fn nil_if_empty_map<V: Serialize, S: Serializer>(map: &BTreeMap<String, V>, s: S) -> Result<S::Ok, S::Error> {
    if map.is_empty() { s.serialize_none() } else { map.serialize(s) }
}

/// An empty list as Go writes a nil slice: `null`.
#[allow(clippy::ptr_arg)] // serde hands the field over as it is.
fn nil_if_empty_vec<T: Serialize, S: Serializer>(list: &Vec<T>, s: S) -> Result<S::Ok, S::Error> {
    if list.is_empty() { s.serialize_none() } else { list.serialize(s) }
}

/// Why a request body could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or JSON cut short or followed by more.
    #[error("the body is not JSON: {message}")]
    Syntax {
        /// serde_json's words, with line and column.
        message: String,
    },
    /// JSON of the wrong shape: a field of the wrong type, a missing `Pod`.
    #[error("{path}: {message}")]
    Shape {
        /// The field, such as `Nodes.items[0].status.allocatable`, or
        /// `(root)` for the body itself.
        path: String,
        /// What is wrong, with line and column.
        message: String,
    },
}

/// Reads a request body (or an answer) of type `T`, naming the field that
/// is wrong when it cannot.
///
/// ```
/// use twin_extender::wire::{decode, DecodeError, ExtenderArgs};
/// let err = decode::<ExtenderArgs>(br#"{"Pod":{},"NodeNames":"n1"}"#).unwrap_err();
/// assert!(matches!(&err, DecodeError::Shape { path, .. } if path == "NodeNames"), "{err}");
/// ```
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    // The usual good body without tracking the path (half the time);
    // a bad one again, to name the field.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            DecodeError::Shape { path: if path == "." { "(root)".into() } else { path }, message: inner.to_string() }
        } else {
            DecodeError::Syntax { message: inner.to_string() }
        }
    })?;
    de.end().map_err(|e| DecodeError::Syntax { message: e.to_string() })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_in_any_case_and_unknown_ones_skipped() {
        for body in [
            r#"{"Pod":{"metadata":{"name":"p"}},"NodeNames":["a"],"Extra":1}"#,
            r#"{"pod":{"metadata":{"name":"p"}},"nodenames":["a"]}"#,
            r#"{"POD":{"metadata":{"name":"p"}},"nodeNames":["a"]}"#,
        ] {
            let args: ExtenderArgs = decode(body.as_bytes()).unwrap();
            assert_eq!(args.pod.metadata.name.as_deref(), Some("p"));
            assert_eq!(args.node_names.as_deref(), Some(&["a".to_string()][..]));
            assert!(args.nodes.is_none());
        }
        let hp: HostPriorityList = decode(br#"[{"host":"n","score":7},{"Host":"m"}]"#).unwrap();
        assert_eq!(hp, [HostPriority { host: "n".into(), score: 7 }, HostPriority { host: "m".into(), score: 0 }]);
    }

    #[test]
    fn nulls_read_as_zero_values_and_the_last_duplicate_wins() {
        let r: ExtenderFilterResult = decode(br#"{"FailedNodes":null,"Error":null,"NodeNames":null,"error":"x","Error":"y"}"#).unwrap();
        assert_eq!(r, ExtenderFilterResult { error: "y".into(), ..Default::default() });
    }

    #[test]
    fn empty_maps_and_lists_go_out_as_go_writes_nil() {
        let v = Victims::default();
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"Pods":null,"NumPDBViolations":0}"#);
        let r = ExtenderFilterResult { node_names: Some(vec![]), ..Default::default() };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"Nodes":null,"NodeNames":[],"FailedNodes":null,"FailedAndUnresolvableNodes":null,"Error":""}"#
        );
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let e = decode::<ExtenderArgs>(br#"{"NodeNames":[]}"#).unwrap_err();
        assert!(matches!(&e, DecodeError::Shape { path, message } if path == "(root)" && message.contains("missing field `Pod`")), "{e}");
        let e = decode::<ExtenderArgs>(br#"{"Pod":{"spec":{"containers":7}}}"#).unwrap_err();
        assert!(matches!(&e, DecodeError::Shape { path, .. } if path == "Pod.spec.containers"), "{e}");
        let e = decode::<ExtenderArgs>(br#"{"Pod":{}"#).unwrap_err();
        assert!(matches!(e, DecodeError::Syntax { .. }), "{e}");
        let e = decode::<ExtenderArgs>(br#"{"Pod":{}} x"#).unwrap_err();
        assert!(matches!(e, DecodeError::Syntax { .. }), "{e}");
        let e = decode::<ExtenderArgs>(br#"[]"#).unwrap_err();
        assert!(e.to_string().contains("an object (ExtenderArgs)"), "{e}");
    }
}
