//! Loading a scenario for a command: the loader crate does the work; here a
//! scenario that does not check becomes exit code 2 and the readers' notes
//! go to stderr.

use std::process::ExitCode;
use twin_inputs::{InputError, Loaded};

/// Loads the scenario file or built-in scenario `name` (the default one
/// when `None`) with everything it names. `Ok(Err(code))`: the scenario
/// does not check; its problems have been printed.
pub fn scenario(name: Option<&str>) -> anyhow::Result<Result<Loaded, ExitCode>> {
    scenario_with(name, &[])
}

/// [`scenario`], with Kubernetes manifests joining the scenario's workloads.
pub fn scenario_with(name: Option<&str>, manifests: &[std::path::PathBuf]) -> anyhow::Result<Result<Loaded, ExitCode>> {
    match twin_inputs::load_with(name.unwrap_or(twin_inputs::library::DEFAULT), manifests) {
        Ok(loaded) => {
            for note in &loaded.notes {
                eprintln!("{note}");
            }
            Ok(Ok(loaded))
        }
        Err(InputError::Scenario(errors)) => {
            eprintln!("{errors}");
            Ok(Err(ExitCode::from(crate::EXIT_BAD_INPUT)))
        }
        Err(e @ (InputError::Manifest(_) | InputError::PodTraceManifests { .. })) => {
            eprintln!("error: {e}");
            Ok(Err(ExitCode::from(crate::EXIT_BAD_INPUT)))
        }
        Err(e) => Err(e.into()),
    }
}
