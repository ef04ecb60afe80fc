//! Promotion to a GitOps repository: what won in the twin, rendered as the
//! Kubernetes objects that run it in a cluster, committed to a branch that
//! Argo CD or Flux reconciles, and rolled back by revert.
//!
//! - [`layout::render`] turns a [`layout::Promotion`] into files: the
//!   scheduler extender and kube-scheduler's configuration ([`extender`]),
//!   Gatekeeper templates and constraints ([`gatekeeper`]), Karpenter
//!   NodePools ([`nodepool`]), kustomizations ([`kustomize`]) and the
//!   suite's results.
//! - [`repo::Checkout`] commits them with `git2` (refusing a dirty tree, a
//!   detached HEAD or a missing branch, and never committing nothing) and
//!   reverts the last promotion.
//! - [`shard_job::render`] turns a [`shard_job::ShardJob`] into a folder
//!   that runs a sweep or regression suite as a Kubernetes Indexed Job, one
//!   shard per pod, then merges the shards' results.
//!
//! The regression gate that decides whether to promote is `twin-regress`'s;
//! this crate does no simulation.

pub mod error;
pub mod extender;
pub mod gatekeeper;
pub mod kustomize;
pub mod layout;
pub mod nodepool;
pub mod repo;
pub mod scheduler_config;
pub mod shard_job;
pub mod yaml;

#[cfg(test)]
mod tests;

pub use error::GitOpsError;

/// The environment a promotion is for: its overlay and its baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Env {
    /// `apps/staging`.
    Staging,
    /// `apps/production`.
    Production,
}

impl Env {
    /// `staging` or `production`.
    pub fn as_str(self) -> &'static str {
        match self {
            Env::Staging => "staging",
            Env::Production => "production",
        }
    }
}
