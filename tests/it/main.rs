//! Twin's integration tests: one binary, one module per concern.
//!
//! `cli` drives the `twin` binary as a user would; the others use the
//! library crates directly.

mod calibration;
mod cli;
mod determinism;
mod histories;
mod invariants;
mod library;
mod own_recording;
mod recorded;
mod replay;
mod scheduling;
mod sweep;
mod theory;

use std::path::PathBuf;
use twin_sim::scenario::Scenario;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scenario from text, or a panic that shows every error.
pub fn scenario(text: &str) -> Scenario {
    Scenario::from_toml(text, "test.toml").unwrap_or_else(|e| panic!("scenario does not check:\n{e}"))
}
