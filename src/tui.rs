//! `twin tui`: the terminal UI, with this binary's external-scheduler
//! process handling plugged in.

use crate::args::TuiArgs;
use crate::external::ExternalScheduler;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use twin_sim::placement::Placement;

pub fn tui(a: TuiArgs) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("`twin tui` draws in a terminal, and stdout is not one; `twin run` prints a report instead");
    }
    let factory: twin_tui::worker::PlacementFactory =
        Arc::new(|loaded: &twin_inputs::Loaded| match &loaded.scenario.spec.scheduler.external {
            Some(ext) => ExternalScheduler::start(ext, &loaded.source, &loaded.scenario)
                .map(|s| Some(Box::new(s) as Box<dyn Placement + Send>))
                .map_err(|e| format!("{e:#}")),
            None => Ok(None),
        });
    let no_color = a.no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    twin_tui::run(twin_tui::Options { args: a.open, light: a.light, no_color, factory: Some(factory) })?;
    Ok(ExitCode::SUCCESS)
}
