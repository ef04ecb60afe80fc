//! Telemetry recordings replayed onto the pools that name them
//! (`telemetry = { file = ... }`). A recording given on its own (`twin
//! trace`) is read by [`crate::trace_file`].

use crate::formats::Reader;
use crate::{InputError, Notes, Source};
use twin_replay::{Field, Format, ReadOptions};
use twin_sim::fleet::RecordedUsage;
use twin_sim::scenario::Scenario;
use twin_sim::scenario::spec::TelemetryFormat;

/// Reads the telemetry recordings the scenario's pools replay and attaches
/// them, each file once: only the columns the model needs.
pub fn attach(scenario: &mut Scenario, source: &Source, notes: &mut Notes) -> Result<(), InputError> {
    let mut named: Vec<(String, TelemetryFormat, String)> = Vec::new();
    for (i, p) in scenario.spec.pools.iter().enumerate() {
        if let Some(t) = &p.telemetry
            && !named.iter().any(|(f, ..)| *f == t.file)
        {
            named.push((t.file.clone(), t.format, format!("pools[{i}].telemetry.file")));
        }
    }
    named.sort();
    for (file, format, field) in named {
        let named = crate::named_file(scenario, source, "telemetry recording", &file, &field)?;
        let path = &named.path;
        let usable = |rows: usize, util: &[f64]| -> Result<(), InputError> {
            let message = if rows == 0 {
                "the recording has no samples"
            } else if util.iter().all(|v| v.is_nan()) {
                "the recording has no GPU utilisation, which decides busy and idle (nvidia-smi: add `utilization.gpu` to --query-gpu)"
            } else {
                return Ok(());
            };
            Err(named.unusable(message))
        };
        let read_err = |e| named.unreadable(e);
        let usage = if let Reader::Text(text_format) = crate::formats::telemetry(format, path) {
            let format = text_format.unwrap_or(Format::Auto);
            let (t, r) = twin_replay::read_file(path, format, &ReadOptions::default()).map_err(read_err)?;
            if r.skipped > 0 || r.non_monotonic > 0 || r.truncated_last_line {
                notes.push(format!("{}: {r}", path.display()));
            }
            usable(t.len(), t.column(Field::UtilGpu))?;
            RecordedUsage::from_columns(&t.gpu, &t.time_ns, t.column(Field::UtilGpu), t.column(Field::Power))
        } else {
            let rows = twin_replay::parquet::read_usage(path).map_err(read_err)?;
            usable(rows.time_ns.len(), &rows.util_pct)?;
            RecordedUsage::from_columns(&rows.gpu, &rows.time_ns, &rows.util_pct, &rows.power_w)
        };
        scenario.attach_recording(&file, usage);
    }
    Ok(())
}
