//! Loading a scenario for a command: the loader crate does the work; here a
//! scenario that does not check becomes exit code 2 and the readers' notes
//! go to stderr.

use std::process::ExitCode;
use twin_inputs::{InputError, Loaded};

/// Loads the scenario file or built-in scenario `name` (the default one
/// when `None`) with everything it names. `Ok(Err(code))`: the scenario
/// does not check; its problems have been printed.
pub fn scenario(name: Option<&str>) -> anyhow::Result<Result<Loaded, ExitCode>> {
    match twin_inputs::load(name.unwrap_or(twin_inputs::library::DEFAULT)) {
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
        Err(e) => Err(e.into()),
    }
}
