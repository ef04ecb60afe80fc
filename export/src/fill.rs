//! The pod-trace experiment's results: one row per profile and point.

use crate::{ExportError, Formats, write_atomically};
use polars::prelude::*;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use twin_scheduler::experiment::FillReport;

/// The `fragmentation` table: per profile, the cluster at each point of the fill.
pub fn fragmentation_table(reports: &[FillReport]) -> PolarsResult<DataFrame> {
    let rows = || reports.iter().flat_map(|r| r.points.iter().map(move |p| (r.profile.as_str(), p)));
    df![
        "profile" => rows().map(|(n, _)| n).collect::<Vec<_>>(),
        "pods" => rows().map(|(_, p)| p.pods).collect::<Vec<_>>(),
        "arrived" => rows().map(|(_, p)| p.arrived).collect::<Vec<_>>(),
        "allocated" => rows().map(|(_, p)| p.allocated).collect::<Vec<_>>(),
        "fragmented" => rows().map(|(_, p)| p.fragmented).collect::<Vec<_>>(),
        "fragmented_of_free" => rows().map(|(_, p)| p.fragmented_of_free).collect::<Vec<_>>(),
        "unscheduled" => rows().map(|(_, p)| p.unscheduled).collect::<Vec<_>>(),
        "unscheduled_demand" => rows().map(|(_, p)| p.unscheduled_demand).collect::<Vec<_>>(),
    ]
}

/// Writes `summary.json`, `scenario.toml` and the `fragmentation` table into
/// `dir` (created if missing), each atomically; returns the files written.
pub fn write_fill(
    dir: &Path,
    summary_json: &[u8],
    reports: &[FillReport],
    scenario_text: &str,
    formats: Formats,
) -> Result<Vec<PathBuf>, ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io { path: dir.to_path_buf(), source })?;
    let mut written = Vec::new();
    for (name, bytes) in [("summary.json", summary_json), ("scenario.toml", scenario_text.as_bytes())] {
        let path = dir.join(name);
        write_atomically(&path, |w| w.write_all(bytes).map_err(PolarsError::from))?;
        written.push(path);
    }
    let mut df = fragmentation_table(reports).map_err(|source| ExportError::Table { path: dir.join("fragmentation"), source })?;
    if formats.parquet {
        let path = dir.join("fragmentation.parquet");
        write_atomically(&path, |w| ParquetWriter::new(w).finish(&mut df).map(|_| ()))?;
        written.push(path);
    }
    if formats.csv {
        let path = dir.join("fragmentation.csv");
        write_atomically(&path, |w| CsvWriter::new(w).include_header(true).finish(&mut df))?;
        written.push(path);
    }
    Ok(written)
}
