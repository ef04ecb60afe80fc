//! Writes a Twin run to disk: the summary as JSON, and the per-request,
//! per-job, time-series and ledger records as Parquet and CSV (through
//! polars), each file atomically.
//!
//! Every file is written to a temporary file in the target folder, flushed
//! and synced, then renamed over its final name, so a reader never sees a
//! half-written file and an interrupted run leaves earlier results intact.
//!
//! A long run is written as it goes: [`RunWriter::create`] opens the
//! temporary files before the run, [`RunWriter::push`] takes what the run
//! hands out between steps ([`twin_sim::Run::take_records`]), and
//! [`RunWriter::finish`] writes what the run returned at its end and renames
//! the files. A table's rows wait only until a row group of
//! [`ROW_GROUP_ROWS`] fills, so memory is bounded by a row group per table,
//! not by the run's length. Row groups are cut at that fixed count of rows,
//! so the bytes do not depend on how often the run was drained or on the
//! thread count: [`write_run`], the same writer given everything at the end,
//! writes the same bytes as a run streamed through it.
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
//! `tables.rs` builds each table's frame from a run of rows, `stream.rs`
//! holds the writer, `atomic.rs` the whole-file writes, `explain.rs` reads a
//! folder back for `twin explain`, `shadow.rs` a `twin shadow --out` folder
//! (for `twin explain` and the TUI), `fill.rs` and `columns.rs` write tables
//! that are not a run's.
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
pub mod shadow;
mod stream;
mod tables;

pub use atomic::write_atomically;
pub use fill::{fragmentation_table, write_fill};
pub use stream::{ROW_GROUP_ROWS, RunWriter};

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
/// returns the files written, in order: [`RunWriter`] given every record at
/// the end, so the files are the same bytes as a run streamed through it.
/// Each file appears whole or not at all.
pub fn write_run(dir: &Path, output: &RunOutput, scenario_text: &str, formats: Formats) -> Result<Vec<PathBuf>, ExportError> {
    RunWriter::create(dir, formats, &output.summary.currency)?.finish(output, scenario_text)
}
