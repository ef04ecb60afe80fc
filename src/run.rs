//! `twin run`: run a scenario, print its report, optionally write its records.

use crate::args::{Format, RunArgs, TableFormats};
use crate::external::ExternalScheduler;
use crate::progress::Progress;
use anyhow::Context;
use std::process::ExitCode;
use twin_sim::placement::Placement;
use twin_sim::policy::PolicyHook;
use twin_sim::time::SimTime;
use twin_sim::{Run, RunOptions};

/// Progress steps a run is cut into (each one a `run_until`).
const STEPS: u64 = 500;

pub fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let loaded = match crate::load::scenario_with(a.scenario.as_deref(), &a.manifests)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    if let Some(trace) = &loaded.pod_trace {
        return crate::pod_trace::run(&a, &loaded, trace);
    }
    let scenario = &loaded.scenario;
    let seed = a.seed.unwrap_or(scenario.spec.seed);
    let writing = a.out.is_some();
    let options = RunOptions {
        record_requests: writing && !a.no_request_records,
        record_ledger: writing,
        record_series: writing,
        record_decisions: writing,
    };
    let policy: Option<Box<dyn PolicyHook + Send>> = match &loaded.policies {
        Some(p) => Some(Box::new(p.compile()?)),
        None => None,
    };
    let placement: Option<Box<dyn Placement + Send>> = match &scenario.spec.scheduler.external {
        Some(ext) => Some(Box::new(ExternalScheduler::start(ext, &loaded.source, scenario)?)),
        None => None,
    };
    let mut run = Run::with_extensions(scenario, seed, options, placement, policy).context("building the scenario")?;
    // With --out, records go to their files as the run goes (temporary
    // files until the end), so memory does not grow with the horizon. The
    // guard, dropped after the writer, removes the folders the writer made
    // when the run fails: a failed run leaves the disk as it found it.
    let mut made = MadeFolders::before(a.out.as_deref());
    let mut writer = match &a.out {
        Some(dir) => {
            let formats = twin_export::Formats { parquet: a.tables != TableFormats::Csv, csv: a.tables != TableFormats::Parquet };
            Some(twin_export::RunWriter::create(dir, formats, &scenario.spec.billing.currency)?)
        }
        None => None,
    };
    let mut progress = Progress::new(&scenario.spec.name);
    let horizon = run.horizon().as_nanos();
    for i in 1..=STEPS {
        run.advance_to(SimTime((horizon as u128 * u128::from(i) / u128::from(STEPS)) as u64));
        if let Some(w) = &mut writer {
            w.push(run.take_records())?;
        }
        progress.set(run.progress());
        if run.error().is_some() {
            break;
        }
    }
    progress.finish();
    // A run that stopped early writes nothing: dropping the writer removes
    // its temporary files and leaves the folder as it was.
    let output = run.finish()?;
    if let (Some(w), Some(dir)) = (writer, &a.out) {
        let files = w.finish(&output, &loaded.text)?;
        made.keep();
        eprintln!("wrote {} files to {}", files.len(), dir.display());
    }
    match a.format {
        Format::Text => out!("{}", twin_sim::report::render(&output.summary)),
        Format::Json => outln!("{}", serde_json::to_string_pretty(&output.summary)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// The folders of a path that do not exist yet: removed again (when still
/// empty) on drop, unless kept.
struct MadeFolders(Vec<std::path::PathBuf>);

impl MadeFolders {
    /// The missing folders of `dir` (itself first, then its missing parents).
    fn before(dir: Option<&std::path::Path>) -> MadeFolders {
        MadeFolders(
            dir.map(|d| d.ancestors().take_while(|p| !p.as_os_str().is_empty() && !p.exists()).map(Into::into).collect())
                .unwrap_or_default(),
        )
    }

    /// The run succeeded: the folders stay.
    fn keep(&mut self) {
        self.0.clear();
    }
}

impl Drop for MadeFolders {
    fn drop(&mut self) {
        for d in &self.0 {
            // Only an empty folder goes; anything else someone wrote stays.
            if std::fs::remove_dir(d).is_err() {
                break;
            }
        }
    }
}
