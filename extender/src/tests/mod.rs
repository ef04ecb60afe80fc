//! Kubernetes' own wire-format goldens, a request as kube-scheduler sends
//! it, and arbitrary input through decode and decide.

mod fuzz;
mod golden;
pub(crate) mod recorded;
