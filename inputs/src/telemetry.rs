//! Telemetry recordings: read in any format Twin knows, and replayed onto
//! the pools that name them (`telemetry = { file = ... }`).

use crate::{InputError, Notes, Source};
use std::path::Path;
use twin_replay::{Field, Format, ReadOptions, ReadReport, Telemetry};
use twin_sim::fleet::RecordedUsage;
use twin_sim::scenario::Scenario;

/// Whether a file named with `format` is Parquet: `parquet`, or `auto`
/// with a `.parquet` extension.
pub fn is_parquet(path: &Path, format: &str) -> bool {
    format == "parquet" || (format == "auto" && path.extension().is_some_and(|e| e == "parquet"))
}

/// A telemetry format by name (`auto` or a reader's name; not `parquet`).
pub fn format(name: &str) -> Result<Format, InputError> {
    Format::from_name(name).ok_or_else(|| InputError::UnknownName {
        what: "telemetry format",
        name: name.to_string(),
        known: format!("{}, parquet", Format::NAMES),
    })
}

/// Reads a recording: canonical Parquet (no read report), or text in
/// `format` (`auto` detects it).
pub fn read(path: &Path, format_name: &str, opts: &ReadOptions) -> Result<(Telemetry, Option<ReadReport>), InputError> {
    if is_parquet(path, format_name) {
        return Ok((twin_replay::parquet::read(path)?, None));
    }
    let (t, report) = twin_replay::read_file(path, format(format_name)?, opts)?;
    Ok((t, Some(report)))
}

/// Reads the telemetry recordings the scenario's pools replay and attaches
/// them, each file once: only the columns the model needs.
pub fn attach(scenario: &mut Scenario, source: &Source, notes: &mut Notes) -> Result<(), InputError> {
    let mut named: Vec<(String, String, String)> = Vec::new();
    for (i, p) in scenario.spec.pools.iter().enumerate() {
        if let Some(t) = &p.telemetry {
            if !named.iter().any(|(f, ..)| *f == t.file) {
                named.push((t.file.clone(), t.format.to_string(), format!("pools[{i}].telemetry.file")));
            }
        }
    }
    named.sort();
    for (file, format_name, field) in named {
        let path = crate::named_file(scenario, source, "telemetry recording", &file, &field)?;
        let usable = |rows: usize, util: &[f64]| -> Result<(), InputError> {
            let message = if rows == 0 {
                "the recording has no samples"
            } else if util.iter().all(|v| v.is_nan()) {
                "the recording has no GPU utilisation, which decides busy and idle (nvidia-smi: add `utilization.gpu` to --query-gpu)"
            } else {
                return Ok(());
            };
            Err(InputError::Unusable { path: path.clone(), message: message.to_string() })
        };
        let read_err = |e| InputError::Read { field: field.clone(), file: file.clone(), origin: scenario.origin.clone(), source: e };
        let usage = if is_parquet(&path, &format_name) {
            let rows = twin_replay::parquet::read_usage(&path).map_err(read_err)?;
            usable(rows.time_ns.len(), &rows.util_pct)?;
            RecordedUsage::from_columns(&rows.gpu, &rows.time_ns, &rows.util_pct, &rows.power_w)
        } else {
            let (t, r) = twin_replay::read_file(&path, format(&format_name)?, &ReadOptions::default()).map_err(read_err)?;
            if r.skipped > 0 || r.non_monotonic > 0 || r.truncated_last_line {
                notes.push(format!("{}: {r}", path.display()));
            }
            usable(t.len(), t.column(Field::UtilGpu))?;
            RecordedUsage::from_columns(&t.gpu, &t.time_ns, t.column(Field::UtilGpu), t.column(Field::Power))
        };
        scenario.attach_recording(&file, usage);
    }
    Ok(())
}
