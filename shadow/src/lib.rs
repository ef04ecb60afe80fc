//! Live shadow mode's edge: what the real fleet says, read as it happens.
//!
//! Each telemetry source runs as its own tokio task and pushes
//! [`feed::Event`]s into a [`feed::Feed`]: readings, marked gaps, and its
//! health. A source that errors, stalls or sends garbage is retried with
//! backoff and says so; the feed never blocks a source (a slow consumer
//! costs the oldest readings, and the loss is a marked gap, never a silent
//! one).
//!
//! - [`feed`]: the events and the non-blocking queue between sources and
//!   the shadow loop;
//! - [`nvml`]: this machine's GPUs through NVML, sampled at an interval;
//! - [`cluster`]: the real cluster's nodes and pods as a watch stream
//!   reports them, and [`kubectl`]: `kubectl get pods,nodes --watch -o json`
//!   read as such a stream;
//! - [`kube_api`]: the same stream from the Kubernetes API itself (Pods,
//!   Nodes, Deployments, HPAs), watched through the `kube` crate;
//! - [`divergence`]: where Twin's scheduler would have placed a pod the
//!   real scheduler placed, with both nodes' scores and the cost difference;
//! - [`dcgm`]: a DCGM exporter (or any Prometheus endpoint) scraped at an
//!   interval;
//! - [`follow`]: a file followed as `tail -F` follows it, through
//!   truncation and rotation, and [`smi`]: an nvidia-smi CSV so followed;
//! - [`allocation`], [`ledger`]: the cluster's accelerators as a cost
//!   model sees them, and the session's OpenCost-style cost;
//! - [`autoscale`]: Twin's autoscalers judging real Deployments;
//! - [`consolidation`]: which nodes could be emptied;
//! - [`session`]: one shadow session, the sources' events folded into the
//!   divergences Twin would have made, and a summary.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod allocation;
pub mod autoscale;
pub mod cluster;
pub mod consolidation;
pub mod dcgm;
pub mod divergence;
pub mod feed;
pub mod follow;
pub mod kube_api;
pub mod kubectl;
pub mod ledger;
pub mod nvml;
pub mod session;
pub mod smi;
