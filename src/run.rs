//! `twin run`: run a scenario, print its report, optionally write its records.

use crate::args::{Format, RunArgs, TableFormats};
use crate::external::ExternalScheduler;
use crate::library;
use crate::policies::{self, Base};
use crate::progress::Progress;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use twin_sim::placement::Placement;
use twin_sim::policy::PolicyHook;
use twin_sim::scenario::Scenario;
use twin_sim::time::SimTime;
use twin_sim::{Run, RunOptions};

/// Progress steps a run is cut into (each one a `run_until`).
const STEPS: u64 = 500;

pub fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let name = a.scenario.as_deref().unwrap_or(library::DEFAULT);
    let (origin, text, base) = load(name)?;
    let mut scenario = match Scenario::from_toml(&text, &origin) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(crate::EXIT_BAD_INPUT));
        }
    };
    if let Some(trace) = &scenario.spec.pod_trace {
        return crate::pod_trace::run(&a, &scenario, &text, &base, trace);
    }
    crate::trace::attach_all(&mut scenario, &base)?;
    let seed = a.seed.unwrap_or(scenario.spec.seed);
    let writing = a.out.is_some();
    let options = RunOptions {
        record_requests: writing && !a.no_request_records,
        record_ledger: writing,
        record_series: writing,
        record_decisions: writing,
    };
    let policy: Option<Box<dyn PolicyHook + Send>> = match &scenario.spec.policies {
        Some(p) => Some(Box::new(policies::load(&base, p)?)),
        None => None,
    };
    let placement: Option<Box<dyn Placement + Send>> = match &scenario.spec.scheduler.external {
        Some(ext) => Some(Box::new(ExternalScheduler::start(ext, &base, &scenario)?)),
        None => None,
    };
    let mut run = Run::with_extensions(&scenario, seed, options, placement, policy).context("building the scenario")?;
    let mut progress = Progress::new(&scenario.spec.name);
    let horizon = run.horizon().as_nanos();
    for i in 1..=STEPS {
        run.advance_to(SimTime((horizon as u128 * u128::from(i) / u128::from(STEPS)) as u64));
        progress.set(run.progress());
        if run.error().is_some() {
            break;
        }
    }
    progress.finish();
    let output = run.finish()?;
    if let Some(dir) = &a.out {
        let formats = twin_export::Formats { parquet: a.tables != TableFormats::Csv, csv: a.tables != TableFormats::Parquet };
        let files = twin_export::write_run(dir, &output, &text, formats)?;
        eprintln!("wrote {} files to {}", files.len(), dir.display());
    }
    match a.format {
        Format::Text => out!("{}", twin_sim::report::render(&output.summary)),
        Format::Json => outln!("{}", serde_json::to_string_pretty(&output.summary)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// A scenario file's origin, text and folder, or a built-in scenario's.
pub fn load(name: &str) -> anyhow::Result<(String, String, Base)> {
    let path = Path::new(name);
    if path.is_file() {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        // A bare file name has an empty parent: its folder is the current one.
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        return Ok((path.display().to_string(), text, Base::Dir(dir)));
    }
    if let Some(text) = library::get(name) {
        return Ok((format!("<built-in>/{name}.toml"), text.to_string(), Base::BuiltIn));
    }
    bail!("no scenario file or built-in scenario called `{name}` (built-in: {})", library::names())
}
