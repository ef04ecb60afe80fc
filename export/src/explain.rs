//! `twin explain`: the story of a job, a request, a node or a service, read
//! back from a run's folder.

use crate::ExportError;
use polars::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use twin_sim::time::SimTime;

/// What to explain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A training job, by name.
    Job(String),
    /// A request, by id (its arrival order).
    Request(u64),
    /// A node, by name (`pool/node-N`).
    Node(String),
    /// A service, by name.
    Service(String),
}

/// Reads a table of a run folder, from Parquet or else CSV.
pub fn read_table(dir: &Path, name: &str) -> Result<DataFrame, ExportError> {
    let parquet = dir.join(format!("{name}.parquet"));
    let csv = dir.join(format!("{name}.csv"));
    let table = |path: &PathBuf, source| ExportError::Table { path: path.clone(), source };
    if parquet.is_file() {
        let file = std::fs::File::open(&parquet).map_err(|source| ExportError::Io { path: parquet.clone(), source })?;
        return ParquetReader::new(file).finish().map_err(|e| table(&parquet, e));
    }
    if csv.is_file() {
        return CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(csv.clone()))
            .and_then(|r| r.finish())
            .map_err(|e| table(&csv, e));
    }
    Err(ExportError::Io {
        path: parquet,
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no {name}.parquet or {name}.csv: is this a folder written by `twin run --out`?"),
        ),
    })
}

fn strs<'a>(df: &'a DataFrame, col: &str) -> Result<Vec<Option<&'a str>>, PolarsError> {
    Ok(df.column(col)?.str()?.iter().collect())
}

fn f64s(df: &DataFrame, col: &str) -> Result<Vec<Option<f64>>, PolarsError> {
    Ok(df.column(col)?.cast(&DataType::Float64)?.f64()?.iter().collect())
}

fn at(secs: f64) -> String {
    SimTime((secs.max(0.0) * 1e9) as u64).to_string()
}

/// The decisions (time, kind, subject, outcome, node, detail) that `keep` selects, in time order.
fn decisions(dir: &Path, keep: impl Fn(&str, Option<&str>, f64) -> bool) -> Result<Vec<String>, ExportError> {
    let path = dir.join("decisions");
    let df = read_table(dir, "decisions")?;
    let t = |e| ExportError::Table { path: path.clone(), source: e };
    let (time, kind, subject, outcome, node, detail) = (
        f64s(&df, "time_s").map_err(t)?,
        strs(&df, "kind").map_err(t)?,
        strs(&df, "subject").map_err(t)?,
        strs(&df, "outcome").map_err(t)?,
        strs(&df, "node").map_err(t)?,
        strs(&df, "detail").map_err(t)?,
    );
    let mut out = Vec::new();
    for i in 0..df.height() {
        let (s, n, ts) = (subject[i].unwrap_or(""), node[i], time[i].unwrap_or(0.0));
        if keep(s, n, ts) {
            let mut line = format!("  {}  {:<10} {:<14} {}", at(ts), kind[i].unwrap_or(""), outcome[i].unwrap_or(""), s);
            if let Some(n) = n {
                let _ = write!(line, " → {n}");
            }
            if let Some(d) = detail[i].filter(|d| !d.is_empty()) {
                let _ = write!(line, "\n      {d}");
            }
            out.push(line);
        }
    }
    Ok(out)
}

/// The story of `subject` in the run folder `dir`.
pub fn explain(dir: &Path, subject: &Subject) -> Result<String, ExportError> {
    let mut out = String::new();
    let tbl = |name: &str| dir.join(name);
    match subject {
        Subject::Job(name) => {
            let df = read_table(dir, "jobs")?;
            let e = |s| ExportError::Table { path: tbl("jobs"), source: s };
            let names = strs(&df, "name").map_err(e)?;
            let Some(i) = names.iter().position(|n| *n == Some(name.as_str())) else {
                return Err(not_found(dir, format!("no job `{name}` in this run")));
            };
            let get_s = |c: &str| strs(&df, c).map(|v| v[i].unwrap_or("").to_string()).unwrap_or_default();
            let get_f = |c: &str| f64s(&df, c).map(|v| v[i]).unwrap_or(None);
            let _ = writeln!(out, "job {name} (team {}, {} GPUs): {}", get_s("team"), get_f("gpus").unwrap_or(0.0), get_s("state"));
            let _ = writeln!(
                out,
                "  submitted {} · started {} · finished {} · queued {:.2} h",
                get_f("submit_s").map_or("-".into(), at),
                get_f("start_s").map_or("never".into(), at),
                get_f("finish_s").map_or_else(|| if get_f("start_s").is_some() { "not by the horizon".into() } else { "never".into() }, at),
                get_f("queued_hours").unwrap_or(0.0)
            );
            let pool = get_s("pool");
            let _ = writeln!(
                out,
                "  work {:.1} H100-h, done {:.1}, lost {:.1} in {} preemption(s) · cost {:.2} · last pool {}",
                get_f("work_gpu_hours").unwrap_or(0.0),
                get_f("done_gpu_hours").unwrap_or(0.0),
                get_f("lost_gpu_hours").unwrap_or(0.0),
                get_f("preemptions").unwrap_or(0.0),
                get_f("cost").unwrap_or(0.0),
                if pool.is_empty() { "none" } else { &pool }
            );
            let lines = decisions(dir, |s, _, _| s == name || s.starts_with(&format!("{name} in pool ")))?;
            push_story(&mut out, lines);
        }
        Subject::Request(id) => {
            let df = read_table(dir, "requests")?;
            let e = |s| ExportError::Table { path: tbl("requests"), source: s };
            let ids: Vec<Option<f64>> = f64s(&df, "id").map_err(e)?;
            let Some(i) = ids.iter().position(|v| *v == Some(*id as f64)) else {
                return Err(not_found(dir, format!("no request {id} in this run (were request records left out?)")));
            };
            let get_s = |c: &str| strs(&df, c).map(|v| v[i].map(str::to_string)).unwrap_or(None);
            let get_f = |c: &str| f64s(&df, c).map(|v| v[i]).unwrap_or(None);
            let service = get_s("service").unwrap_or_default();
            let arrival = get_f("arrival_ns").unwrap_or(0.0) / 1e9;
            let end = get_f("end_ns").map(|e| e / 1e9);
            let _ = writeln!(
                out,
                "request {id} to {service}: {}{}",
                get_s("outcome").unwrap_or_default(),
                get_s("drop_reason").filter(|r| !r.is_empty()).map(|r| format!(" ({r})")).unwrap_or_default()
            );
            let _ = writeln!(
                out,
                "  arrived {} with {} prompt and {} output tokens",
                at(arrival),
                get_f("prompt_tokens").unwrap_or(0.0),
                get_f("output_tokens").unwrap_or(0.0)
            );
            if let Some(w) = get_f("queue_wait_ms") {
                let _ = writeln!(out, "  waited {w:.1} ms for a replica");
            }
            if let Some(t) = get_f("ttft_ms") {
                let _ = writeln!(out, "  first token after {t:.1} ms");
            }
            if let Some(e2e) = get_f("e2e_ms") {
                let _ = writeln!(out, "  answered after {e2e:.1} ms");
            }
            let replica = get_s("replica");
            let _ = writeln!(
                out,
                "  served by {} in pool {} · restarts {}",
                replica.clone().unwrap_or_else(|| "no replica".into()),
                get_s("pool").unwrap_or_else(|| "-".into()),
                get_f("retries").unwrap_or(0.0)
            );
            let mine = replica.map(|r| format!("{service}/{r}"));
            let until = end.unwrap_or(f64::INFINITY);
            let lines = decisions(dir, |s, _, t| mine.as_deref() == Some(s) || (s == service && t >= arrival - 600.0 && t <= until))?;
            push_story(&mut out, lines);
        }
        Subject::Node(name) => {
            let _ = writeln!(out, "node {name}");
            let lines = decisions(dir, |s, n, _| s == name || n == Some(name.as_str()))?;
            if lines.is_empty() {
                return Err(not_found(dir, format!("no decision mentions node `{name}` (names look like `pool/node-3`)")));
            }
            push_story(&mut out, lines);
        }
        Subject::Service(name) => {
            let _ = writeln!(out, "service {name}");
            let prefix = format!("{name}/");
            let lines = decisions(dir, |s, _, _| s == name || s.starts_with(&prefix) || s.starts_with(&format!("{name} in pool ")))?;
            if lines.is_empty() {
                return Err(not_found(dir, format!("no decision mentions service `{name}`")));
            }
            push_story(&mut out, lines);
        }
    }
    Ok(out)
}

fn push_story(out: &mut String, lines: Vec<String>) {
    if lines.is_empty() {
        out.push_str("  (no decisions recorded)\n");
    }
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
}

fn not_found(dir: &Path, what: String) -> ExportError {
    ExportError::Io { path: dir.to_path_buf(), source: std::io::Error::new(std::io::ErrorKind::NotFound, what) }
}
