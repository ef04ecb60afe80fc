//! Twin's model: a deterministic discrete-event simulator of AI compute
//! fabrics — GPU fleets, spot markets, inference and training workloads, and
//! what they cost.
//!
//! ```text
//!   scenario (TOML) ──► Scenario ──► Fabric ──(events)──► Simulation ──► RunOutput
//!                        checked      fleet, markets,      engine:         summary,
//!                        + catalogue  workloads, ledger    (time, seq)     records
//! ```
//!
//! A run is a pure function of the scenario and the seed: time is integer
//! nanoseconds, the event queue breaks ties by insertion order, and every
//! source of randomness is its own named xoshiro256++ stream. Nothing here
//! reads a file, the network or the wall clock.
//!
//! ```
//! use twin_sim::{RunOptions, run, scenario::Scenario};
//! let text = r#"
//! format_version = 1
//! name = "one L4"
//! horizon = "10m"
//!
//! [[pools]]
//! name = "l4"
//! node_type = "g6.xlarge"
//! capacity = "on-demand"
//! initial_nodes = 1
//!
//! [[services]]
//! name = "chat"
//! model = "llama-3.2-1b"
//! pools = ["l4"]
//! slo = { ttft = "1s", e2e = "20s" }
//! arrivals = { poisson = { rate = 2.0 } }
//! prompt_tokens = 256
//! output_tokens = 64
//! "#;
//! let scenario = Scenario::from_toml(text, "one-l4.toml").unwrap();
//! let out = run(&scenario, 7, RunOptions::summary_only()).unwrap();
//! let chat = &out.summary.services[0];
//! assert!(chat.finished > 1_000);
//! // Ten minutes of one g6.xlarge at 0.8048 an hour.
//! assert!((out.summary.cost.total - 0.8048 / 6.0).abs() < 1e-9);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Checks are written `!(x >= 0.0)` on purpose: they reject NaN too.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod benchmarks;
pub mod catalogue;
pub mod engine;
pub mod fabric;
pub mod fleet;
pub mod ids;
pub mod ledger;
pub mod market;
pub mod metrics;
pub mod placement;
pub mod policy;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod time;
pub mod workload;

pub use fabric::{Fabric, RunOptions};
pub use run::{Run, RunError, RunOutput, run};
