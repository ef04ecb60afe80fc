//! Writes a Twin run to disk: the summary as JSON, and the per-request,
//! per-job, time-series and ledger records as Parquet and CSV (through
//! polars), each file atomically.
//!
//! Every file is written to a temporary file in the target folder, flushed
//! and synced, then renamed over its final name, so a reader never sees a
//! half-written file and an interrupted run leaves earlier results intact.
//!
//! | file | one row per |
//! | --- | --- |
//! | `summary.json` | (the run's summary) |
//! | `requests.{parquet,csv}` | request: arrival, admission, first token, end, tokens, outcome |
//! | `jobs.{parquet,csv}` | training job |
//! | `pool_series.{parquet,csv}` | pool and sample time |
//! | `service_series.{parquet,csv}` | service and sample time |
//! | `ledger.{parquet,csv}` | node, owner and charge period (FOCUS-aligned columns) |
//! | `decisions.{parquet,csv}` | decision: placement, preemption, scale step, policy verdict, node event, with why |
//! | `scenario.toml` | (the scenario text that ran) |
//!
//! A pod-trace experiment ([`write_fill`]) writes `summary.json`,
//! `scenario.toml` and `fragmentation.{parquet,csv}`: one row per profile and
//! point of the fill.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod atomic;
pub mod columns;
pub mod explain;
mod fill;
mod tables;

pub use atomic::write_atomically;
pub use fill::{fragmentation_table, write_fill};

use polars::prelude::*;
use std::path::{Path, PathBuf};
use twin_sim::RunOutput;

/// Why writing results failed; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading or writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Building or encoding a table failed.
    #[error("cannot encode {path}: {source}")]
    Table {
        /// The file.
        path: PathBuf,
        /// What polars said.
        source: PolarsError,
    },
    /// Encoding the summary failed.
    #[error("cannot encode {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What serde_json said.
        source: serde_json::Error,
    },
}

/// Which formats to write the tables in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Formats {
    /// Write `.parquet` files.
    pub parquet: bool,
    /// Write `.csv` files.
    pub csv: bool,
}

impl Default for Formats {
    fn default() -> Self {
        Formats { parquet: true, csv: true }
    }
}

/// Writes everything a run produced into `dir` (created if missing) and
/// returns the files written, in order.
pub fn write_run(dir: &Path, output: &RunOutput, scenario_text: &str, formats: Formats) -> Result<Vec<PathBuf>, ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io { path: dir.to_path_buf(), source })?;
    let mut written = Vec::new();
    let summary = dir.join("summary.json");
    let json = serde_json::to_vec_pretty(&output.summary).map_err(|source| ExportError::Json { path: summary.clone(), source })?;
    write_atomically(&summary, |w| w.write_all(&json).map_err(PolarsError::from))?;
    written.push(summary);
    let scenario = dir.join("scenario.toml");
    write_atomically(&scenario, |w| w.write_all(scenario_text.as_bytes()).map_err(PolarsError::from))?;
    written.push(scenario);
    let r = &output.records;
    let tables: [(&str, Result<DataFrame, PolarsError>); 6] = [
        ("decisions", tables::decisions(r)),
        ("requests", tables::requests(r)),
        ("jobs", tables::jobs(r)),
        ("pool_series", tables::pool_series(r)),
        ("service_series", tables::service_series(r)),
        ("ledger", tables::ledger(r, &output.summary.currency)),
    ];
    for (name, df) in tables {
        let mut df = df.map_err(|source| ExportError::Table { path: dir.join(name), source })?;
        if formats.parquet {
            let path = dir.join(format!("{name}.parquet"));
            write_atomically(&path, |w| ParquetWriter::new(w).finish(&mut df).map(|_| ()))?;
            written.push(path);
        }
        if formats.csv {
            let path = dir.join(format!("{name}.csv"));
            write_atomically(&path, |w| CsvWriter::new(w).include_header(true).finish(&mut df))?;
            written.push(path);
        }
    }
    Ok(written)
}

use std::io::Write as _;
