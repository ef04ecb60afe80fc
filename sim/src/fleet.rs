//! The fleet: pools of nodes, each node a machine with accelerators.
//!
//! A [`Pool`] is the resolved form of a scenario's `[[pools]]` table plus its
//! live state (price, stock-out, member nodes, counters). A [`Node`] carries
//! its accelerators' allocation to workloads and its lifecycle.

mod node;
mod pool;
pub mod recorded;
pub mod synthetic;

pub use node::{Alloc, Node, NodeState, Owner};
pub use pool::{Pool, PoolStats, RecordedPool, units_per_gpu_hour};
pub use recorded::{RecordedUsage, UsageOptions, UsageReplay};
pub use synthetic::SyntheticUsage;
