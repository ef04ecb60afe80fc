//! Twin's scheduler as a Kubernetes scheduler extender.
//!
//! kube-scheduler runs its own filters, then asks the extender to filter
//! and to score what is left; the extender answers with the
//! [`twin_scheduler`] profile the twin has tested in simulation, so the
//! cluster places GPU pods as the twin did.
//!
//! ```text
//!  kube-scheduler                          twin-extender (this crate, no I/O)
//!  ─────────────                           ─────────────────────────────────
//!  POST filter     ──JSON──► wire::decode ──► ExtenderArgs ─┐
//!  POST prioritize                                          │  Pod ──► pod::read ──► PodRequest (no GPU: pass through)
//!                                                           │  Nodes ──► NodeCache::feed ──► NodeRecord (NodeNames: looked up)
//!                                                           ▼
//!                                    Extender::decide: selector, taints ─► Cluster of empty nodes,
//!                                    one per class ─► Profile::schedule ─► Decision (a Verdict per node)
//!                                                           │
//!  ◄──JSON── ExtenderFilterResult (FailedAndUnresolvableNodes with reasons)
//!  ◄──JSON── [HostPriority] (scores 0..10, the best node 10)
//! ```
//!
//! The extender sees what kube-scheduler sends: the pod and the nodes'
//! allocatable resources, labels and taints, never the pods already
//! running there. It judges each node as if it were empty: whether the pod
//! could ever run there, and how good a place it is; kube-scheduler's own
//! `NodeResourcesFit` has already checked what is free now.
//!
//! ```
//! use twin_extender::{Extender, NodeCache, NodeReader};
//! use twin_extender::wire::{decode, ExtenderArgs, HostPriority};
//! use twin_scheduler::Profile;
//! use std::collections::BTreeMap;
//!
//! // Prices per node-hour by instance type, for nodes without a price label.
//! let reader = NodeReader::new(BTreeMap::from([("p5.48xlarge".to_string(), 98.32)])).unwrap();
//! let mut extender = Extender::new(Profile::builtin("cost-aware").unwrap(), NodeCache::new(reader));
//!
//! let body = br#"{
//!   "Pod": {"metadata": {"name": "train-0", "namespace": "ml"},
//!           "spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "8"}}}]}},
//!   "Nodes": {"metadata": {}, "items": [
//!     {"metadata": {"name": "od", "labels": {"node.kubernetes.io/instance-type": "p5.48xlarge"}},
//!      "status": {"allocatable": {"nvidia.com/gpu": "8", "cpu": "192", "memory": "2000Gi"}}},
//!     {"metadata": {"name": "cheap", "labels": {"twin.dev/price-per-hour": "40"}},
//!      "status": {"allocatable": {"nvidia.com/gpu": "8", "cpu": "192", "memory": "2000Gi"}}},
//!     {"metadata": {"name": "cpu-only"}, "status": {"allocatable": {"cpu": "64", "memory": "256Gi"}}}]},
//!   "NodeNames": null
//! }"#;
//! let args: ExtenderArgs = decode(body).unwrap();
//!
//! let filtered = extender.filter(&args);
//! let names: Vec<_> = filtered.nodes.unwrap().items.into_iter().filter_map(|n| n.metadata.name).collect();
//! assert_eq!(names, ["od", "cheap"]);
//! assert_eq!(filtered.failed_and_unresolvable_nodes["cpu-only"], "resource-fit: too few accelerators on the node");
//!
//! // The cheaper node scores 10; the other as much less as it is worse.
//! let scores = extender.prioritize(&args);
//! assert_eq!(scores[1], HostPriority { host: "cheap".into(), score: 10 });
//! assert!(scores[0].score < 10);
//! ```
//!
//! | module | what |
//! | --- | --- |
//! | [`wire`] | the extender v1 JSON types, PascalCase out and any case in, and [`wire::decode`] |
//! | [`nodes`] | Node objects read into [`NodeRecord`]s: accelerators, CPU, memory, labels, taints, price, capacity |
//! | [`cache`] | the [`NodeCache`] that answers `NodeNames` requests |
//! | [`feed`] | the node feed: a `kubectl get nodes` file read into the cache |
//! | [`pod`] | the pod read into Twin's scheduler's pod |
//! | [`placement`] | placement policies (Rego `twin.placement`) asked about each node |
//! | [`decide`] | the [`Extender`]: filter, prioritize |
//! | [`verdict`] | a [`Decision`]: each node's [`Verdict`], a [`Rejection`]'s reason |
//! | [`benchmarks`] | the fleet and requests `benches/extender.rs` and `twin bench --only extender` time |
//!
//! Serving HTTP is the binary's part: this crate does no I/O.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod benchmarks;
pub mod cache;
pub mod decide;
pub mod feed;
pub mod nodes;
pub mod placement;
pub mod pod;
pub mod verdict;
pub mod wire;

pub use cache::NodeCache;
pub use decide::{DecideError, Extender};
pub use nodes::{BadPrice, NodeError, NodeReader, NodeRecord};
pub use pod::{PodError, PodRequest};
pub use verdict::{Decision, Rejection, Verdict};

#[cfg(test)]
mod tests;
