//! Job traces the scenario replays (`[[job_traces]]`).

use crate::formats::Reader;
use crate::{InputError, Notes, Source};
use twin_replay::ReadOptions;
use twin_replay::jobs;
use twin_sim::scenario::Scenario;
use twin_sim::scenario::spec::JobTraceFormat;
use twin_sim::workload::TraceJob;

/// Reads the job traces the scenario replays and attaches them.
pub fn attach(scenario: &mut Scenario, source: &Source, notes: &mut Notes) -> Result<(), InputError> {
    let named: Vec<(String, String, JobTraceFormat)> =
        scenario.spec.job_traces.iter().map(|t| (t.name.clone(), t.file.clone(), t.format)).collect();
    for (i, (name, file, format)) in named.into_iter().enumerate() {
        let field = format!("job_traces[{i}].file");
        let named = crate::named_file(scenario, source, "job trace", &file, &field)?;
        let (path, read_err) = (&named.path, |e| named.unreadable(e));
        let trace = match crate::formats::jobs(format, path) {
            Reader::Parquet => jobs::read_parquet(path).map_err(read_err)?,
            Reader::Text(f) => {
                let (trace, report) = jobs::read_file(path, f, &ReadOptions::default()).map_err(read_err)?;
                if report.skipped > 0 {
                    notes.push(format!("{}: {report}", path.display()));
                }
                trace
            }
        };
        let jobs = trace
            .jobs
            .iter()
            .map(|j| TraceJob {
                name: j.name.clone(),
                submit_ns: j.submit_ns.max(0) as u64,
                gpus: j.gpus.max(1),
                duration_ns: j.duration_ns.max(0) as u64,
            })
            .collect();
        scenario.attach_job_trace(&name, jobs);
    }
    Ok(())
}
