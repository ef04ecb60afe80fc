//! `twin scenarios`: the built-in library, one line each.

use crate::args::ScenariosArgs;
use anyhow::bail;
use std::process::ExitCode;
use twin_inputs::library::{self, SCENARIOS};
use twin_sim::scenario::Scenario;

pub fn list(a: ScenariosArgs) -> anyhow::Result<ExitCode> {
    if let Some(name) = a.show {
        match library::get(&name) {
            Some(text) => out!("{text}"),
            None => bail!("no built-in scenario called `{name}` (built-in: {})", library::names()),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let width = SCENARIOS.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, text) in SCENARIOS {
        match Scenario::from_toml(text, name) {
            Ok(s) => outln!(
                "{name:width$}  {:>5}  {}{}",
                if s.spec.pod_trace.is_some() { "trace".to_string() } else { s.spec.horizon.get().to_string() },
                s.spec.description,
                if *name == library::DEFAULT { "  (default)" } else { "" }
            ),
            Err(e) => outln!("{name:width$}  (does not check: {e})"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
