//! Kubernetes manifests read into Twin scenario entries.
//!
//! A scenario keeps the fleet and the markets; the manifests a team already
//! deploys bring the workloads. This crate reads a `---`-separated stream of
//! Kubernetes objects (what `kustomize build` prints) into typed
//! `k8s-openapi` objects, then turns them into entries of a
//! [`ScenarioSpec`](twin_sim::scenario::ScenarioSpec):
//!
//! ```text
//! app.yaml ──► read_paths ──► ManifestFile ──► parse ──► Manifests ──► apply(spec, catalogue) ──► Applied
//! (files,      (the only I/O)  origin + text    typed      objects +     Deployment → ServiceSpec   pools, services,
//!  folders, -)                                 objects    notes         Job → TrainingSpec         training, origins,
//!                                                                       HPA → AutoscalerSpec       notes
//!                                                                       NodePool → PoolSpec
//! ```
//!
//! | kind | becomes |
//! | --- | --- |
//! | `apps/v1` Deployment, StatefulSet | a service: served (with `twin.dev/` load annotations) or capacity held |
//! | `batch/v1` Job | training jobs (with `twin.dev/work-gpu-hours`), a gang or one per completion; else capacity held |
//! | `autoscaling/v2` HorizontalPodAutoscaler | its target's autoscaler |
//! | `scheduling.k8s.io/v1` PriorityClass | the priority of the pods that name it |
//! | `karpenter.sh/v1` NodePool | pools, one per instance type and capacity type |
//!
//! Every other kind is skipped with a note. Errors name the file, the
//! document, the line and column in the file, and the field:
//!
//! ```text
//! app.yaml: document 2, line 14, column 18: spec.template.spec.containers[0].resources.requests.cpu: "5x" is not a Kubernetes quantity (write 500m, 2, 6Gi)
//! ```
//!
//! ```
//! use twin_manifests::{apply, parse_str};
//! use twin_sim::scenario::Scenario;
//!
//! let scenario = Scenario::from_toml(r#"
//! format_version = 1
//! name = "a100s"
//! horizon = "1d"
//! [[pools]]
//! name = "a100"
//! node_type = "p4de.24xlarge"
//! capacity = "on-demand"
//! labels = { "gpu.type" = "nvidia-a100" }
//! "#, "s.toml").unwrap();
//! let manifests = parse_str("app.yaml", r#"
//! apiVersion: apps/v1
//! kind: Deployment
//! metadata: {name: vision}
//! spec:
//!   replicas: 3
//!   template:
//!     spec:
//!       nodeSelector: {gpu.type: nvidia-a100}
//!       containers:
//!       - name: engine
//!         image: vision:2
//!         resources: {limits: {nvidia.com/gpu: 1}, requests: {cpu: "2", memory: 6Gi}}
//! "#).unwrap();
//! let applied = apply(&manifests, &scenario.spec, &scenario.catalogue).unwrap();
//! let vision = &applied.services[0];
//! assert_eq!((vision.replicas, vision.gpus_per_replica), (3, 1));
//! assert_eq!(vision.pools, ["a100"]);
//! assert_eq!(vision.scheduling.memory_mib_per_gpu, 6_144);
//! assert!(applied.notes[0].contains("held all run"));
//! ```
//!
//! `docs/manifests.md` has the annotation and metric tables and what is approximated.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod annotations;
mod apply;
mod document;
mod error;
mod field;
mod fleet;
mod hpa;
mod job;
mod karpenter;
mod labels;
mod locate;
mod nodepool;
mod parse;
mod pod;
mod priority;
mod quantity;
mod read;
mod selector;
mod workload;

pub use apply::{Applied, apply};
pub use error::{Fault, Location, ManifestError, Problem};
pub use field::FieldPath;
pub use hpa::METRICS;
pub use karpenter::{
    Disruption, NodeClaimTemplate, NodeClaimTemplateSpec, NodeClassReference, NodePool, NodePoolSpec, Requirement, TemplateMetadata,
};
pub use labels::pool_labels;
pub use parse::{ManifestFile, Manifests, Object, Resource, parse, parse_str};
pub use pod::{ACCELERATORS, PodDemand, read as read_pod};
pub use quantity::Quantity;
pub use read::read_paths;
pub use selector::{NodeDemand, effect as taint_effect};

#[cfg(test)]
mod tests;
