//! Policy hooks: where policy-as-code decides in the loop.
//!
//! The fabric asks a [`PolicyHook`] at three decision points, each with an
//! input document of a fixed JSON shape (documented in `docs/policies.md`):
//!
//! | point | when | input | a violation means |
//! | --- | --- | --- | --- |
//! | admission | a service starts, a job is submitted | [`AdmissionInput`] | the workload is rejected |
//! | placement | a workload is about to be placed in a pool | [`PlacementInput`] | the pool is ruled out for it |
//! | scaling | an autoscaler wants more replicas | [`ScalingInput`] | the scale-up does not happen |
//!
//! The hook answers with violations, each naming its rule. `twin-policy`
//! implements the hook with Rego through `regorus`; the model only sees this
//! trait, so it stays free of the policy engine.

use serde::Serialize;
use std::collections::BTreeMap;

pub mod object;

pub use object::{GroupVersionKind, Inventory, KubeObject};

/// One violated rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Violation {
    /// The rule's name, such as `allowed-registry`.
    pub rule: String,
    /// What it says is wrong.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)
    }
}

/// A workload as policies see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkloadDoc {
    /// `InferenceService` or `TrainingJob`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The team that pays.
    pub team: String,
    /// Its container image.
    pub image: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// The model served (services only).
    pub model: Option<String>,
    /// Accelerators per replica (services) or in the gang (jobs).
    pub gpus: u32,
    /// Replicas asked for (1 for jobs).
    pub replicas: u32,
    /// Its priority.
    pub priority: i32,
    /// Pools it may run in.
    pub pools: Vec<String>,
    /// Regions of those pools.
    pub regions: Vec<String>,
}

/// A pool as policies see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolDoc {
    /// Its name.
    pub name: String,
    /// `on-prem`, `reserved`, `spot` or `on-demand`.
    pub capacity: &'static str,
    /// Region.
    pub region: String,
    /// Zone.
    pub zone: String,
    /// Accelerator model.
    pub accelerator: String,
    /// Price per accelerator-hour now.
    pub price_per_gpu_hour: f64,
    /// Spot interruptions per node-hour (0 when not spot).
    pub interruption_per_hour: f64,
}

/// Input of the admission decision: what OPA Gatekeeper shows an admission
/// policy, so that one Rego file runs in the twin and in the cluster.
///
/// `review` is `input.review` (the workload as a Kubernetes object under
/// `review.object`); `inventory` is not part of the input but Gatekeeper's
/// `data.inventory`: the workloads that hold accelerators now. The policy
/// engine adds `input.parameters` (a Constraint's parameters) itself.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdmissionInput {
    /// `input.review`.
    pub review: Review,
    /// `data.inventory`, for the engine to present as data.
    #[serde(skip)]
    pub inventory: Inventory,
}

/// An admission review, as Gatekeeper presents it under `input.review`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Review {
    /// The object's group, version and kind.
    pub kind: GroupVersionKind,
    /// `CREATE`: Twin asks when a workload is first submitted.
    pub operation: &'static str,
    /// The object's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The workload as a Deployment or a Job.
    pub object: KubeObject,
}

impl Review {
    /// The review of creating this object.
    pub fn create(object: KubeObject) -> Review {
        Review {
            kind: object.gvk(),
            operation: "CREATE",
            name: object.metadata.name.clone(),
            namespace: object.metadata.namespace.clone(),
            object,
        }
    }
}

/// Input of the placement decision: may this workload run in this pool?
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlacementInput {
    /// The workload.
    pub workload: WorkloadDoc,
    /// The pool.
    pub pool: PoolDoc,
}

/// Input of the scaling decision: may this service grow?
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScalingInput {
    /// The service.
    pub service: WorkloadDoc,
    /// Replicas wanted before.
    pub current_replicas: u32,
    /// Replicas the autoscaler wants.
    pub desired_replicas: u32,
    /// The team's spending.
    pub team: TeamSpend,
}

/// A team's spending, as the scaling policy sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TeamSpend {
    /// The team.
    pub name: String,
    /// Spent so far in the run.
    pub spend_to_date: f64,
    /// What its workloads' accelerators cost per hour now.
    pub run_rate_per_hour: f64,
    /// The run rate over a month (730 hours).
    pub forecast_monthly_spend: f64,
    /// What the scale-up would add over a month.
    pub added_monthly_spend: f64,
}

/// A policy engine at the fabric's decision points.
pub trait PolicyHook {
    /// What it is, for reports (such as `rego: 3 files`).
    fn name(&self) -> String;
    /// Violations of admitting a workload.
    fn admission(&mut self, input: &AdmissionInput) -> Result<Vec<Violation>, String>;
    /// Violations of placing a workload in a pool.
    fn placement(&mut self, input: &PlacementInput) -> Result<Vec<Violation>, String>;
    /// Violations of scaling a service up.
    fn scaling(&mut self, input: &ScalingInput) -> Result<Vec<Violation>, String>;
}
