//! Twin's scheduler: a GPU scheduler shaped like the Kubernetes scheduling
//! framework, as a library that Twin's simulation calls at every placement
//! and that a live scheduler extender can call the same way.
//!
//! ```text
//!   Pod ──► queue sort ──► filter (every plugin) ──► score (weighted, normalised 0..100)
//!                               │ none fits                 │ best node
//!                               ▼                           ▼
//!                          post-filter:               reserve ─► permit (gangs: all or none) ─► bind
//!                          preemption by priority
//! ```
//!
//! A [`Cluster`] holds nodes and the pods bound to them. Nodes that look alike
//! to every plugin (same shape, same free resources) form a class, and
//! plugins run once per class rather than once per node: a 10,000-node fleet
//! of a few shapes costs what a few dozen nodes would. A [`Profile`] says
//! which plugins run and with what weights; every decision comes with a
//! [`Trace`]: which filter rejected how many nodes, the best nodes and each
//! plugin's score for them, the victims of a preemption.
//!
//! ```
//! use twin_scheduler::{Cluster, NodeShape, Pod, Profile, Outcome};
//! let mut cluster = Cluster::default();
//! let shape = cluster.add_shape(NodeShape::gpu_node("h100", "H100", 8));
//! cluster.add_node("h100-0", shape);
//! let mut profile = Profile::builtin("default").unwrap();
//! let pod = Pod::gpus(1, "train", 4);
//! match profile.schedule(&pod, &cluster) {
//!     Outcome::Bind { node, alloc, .. } => cluster.bind(&pod, node, alloc).unwrap(),
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(cluster.free_gpus(cluster.node_by_name("h100-0").unwrap()), 4);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cluster;
pub mod experiment;
mod framework;
mod node;
pub mod openb;
pub mod plugins;
mod pod;
mod profile;
mod trace;

pub use cluster::{Binding, Cluster, ClusterError};
pub use framework::{GangOutcome, Outcome, Plugin, queue_order};
pub use node::{Alloc, Capacity, MILLI, Node, NodeIdx, NodeShape, NodeView, ShapeId, Taint, TaintEffect};
pub use pod::{Gang, Pod, PodId, Selector, Toleration};
pub use profile::{BUILTIN_PROFILES, PluginSpec, Profile, ProfileError, ProfileSpec};
pub use trace::{ScoredNode, Trace};
