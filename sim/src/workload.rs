//! Workloads: inference services fed by arrival processes, and training jobs.

pub mod arrival;
pub mod autoscaler;
pub mod forecast;
pub mod replica;
pub mod request;
pub mod router;
pub mod service;
pub mod step_model;
pub mod tokens;
pub mod training;

pub use arrival::{ArrivalProcess, RequestTrace};
pub use autoscaler::Autoscaler;
pub use replica::{Phase, Replica, ReplicaState};
pub use request::{Request, Requests};
pub use router::Router;
pub use service::{DropReason, Service, ServiceStats, TimeModel};
pub use step_model::{StepModel, StepTime};
pub use tokens::TokenDist;
pub use training::{Job, JobState, TraceJob};
