//! Request traces that services replay (`arrivals = { trace = ... }`).

use crate::{InputError, Notes, Source};
use twin_replay::{ReadOptions, ReplayError};
use twin_sim::scenario::Scenario;
use twin_sim::scenario::spec::{ArrivalSpec, RequestTraceFormat};
use twin_sim::workload::RequestTrace;

/// Reads the request traces the scenario's services replay and attaches
/// them, each file once.
pub fn attach(scenario: &mut Scenario, source: &Source, notes: &mut Notes) -> Result<(), InputError> {
    let mut named: Vec<(String, RequestTraceFormat, String)> = Vec::new();
    for (i, s) in scenario.spec.services.iter().enumerate() {
        if let ArrivalSpec::Trace(t) = &s.arrivals
            && !named.iter().any(|(f, ..)| *f == t.file)
        {
            named.push((t.file.clone(), t.format, format!("services[{i}].arrivals.trace.file")));
        }
    }
    named.sort();
    for (file, format, field) in named {
        let named = crate::NamedFile {
            what: "request trace",
            path: source.resolve(&file),
            field: field.clone(),
            file: file.clone(),
            origin: scenario.origin.clone(),
        };
        let path = named.path.clone();
        let (log, report) = match twin_replay::requests::read_file(&path, crate::formats::requests(format), &ReadOptions::default()) {
            Ok(read) => read,
            Err(ReplayError::Io { source: e, .. }) => return Err(named.missing(e, source.relative_to())),
            Err(e) => return Err(named.unreadable(e)),
        };
        if report.skipped > 0 || report.non_monotonic > 0 {
            notes.push(format!("{}: {report}", path.display()));
        }
        if log.is_empty() {
            return Err(named.unusable("the request trace has no requests"));
        }
        scenario.attach_trace(&file, RequestTrace { offsets_ns: log.offsets_ns, prompt: log.prompt, output: log.output });
    }
    Ok(())
}
