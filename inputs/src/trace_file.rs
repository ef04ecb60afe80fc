//! A file given to `twin trace`: telemetry (nvidia-smi, dmon, DCGM or
//! canonical Parquet) or a table (price history, Spot Advisor data, job
//! trace, node list), told apart by the format named or by the content.
//! The file is read once: detection looks at the text the reader then reads.

use crate::InputError;
use std::path::Path;
use twin_replay::jobs::{self, JobFormat, JobTrace};
use twin_replay::nodes::{self, NodeList};
use twin_replay::prices::{self, AdvisorEntry, PriceFormat, PriceHistory, Prices};
use twin_replay::{Format, ReadOptions, ReadReport, Telemetry};

/// A table that is not telemetry.
#[derive(Clone, Debug)]
pub enum Table {
    /// Prices over time by instance type, location and capacity type.
    Prices(PriceHistory),
    /// AWS Spot Advisor interruption bands.
    Advisor(Vec<AdvisorEntry>),
    /// Jobs with their GPUs, submit times and durations.
    Jobs(JobTrace),
    /// A cluster's nodes.
    Nodes(NodeList),
}

/// What a trace file holds.
#[derive(Clone, Debug)]
pub enum TraceFile {
    /// GPU telemetry, with the read report of a text file.
    Telemetry(Box<Telemetry>, Option<ReadReport>),
    /// A table, with the read report of a text file.
    Table(Table, Option<ReadReport>),
}

/// Which table a canonical Parquet file holds, from its columns alone; `None` for telemetry.
fn parquet_table(path: &Path) -> Result<Option<Table>, InputError> {
    let columns = twin_replay::parquet::columns_of(path)?;
    let has = |c: &str| columns.iter().any(|x| x == c);
    Ok(if has("price_per_hour") {
        Some(Table::Prices(prices::read_parquet(path)?))
    } else if has("band") {
        Some(Table::Advisor(prices::read_advisor_parquet(path)?))
    } else if has("submit_ns") {
        Some(Table::Jobs(jobs::read_parquet(path)?))
    } else if has("memory_mib") && has("gpu_model") {
        Some(Table::Nodes(nodes::read_parquet(path)?))
    } else {
        None
    })
}

/// The names `format` may take: `auto`, `parquet`, and each reader's.
pub fn format_names() -> String {
    format!("{}, parquet, {}, {}, {}", Format::NAMES, PriceFormat::NAMES, JobFormat::NAMES, nodes::FORMAT)
}

/// Reads `path` as `format` names it (`auto`: from the extension and the content).
pub fn open(path: &Path, format: &str, opts: &ReadOptions) -> Result<TraceFile, InputError> {
    if format == "parquet" || path.extension().is_some_and(|e| e == "parquet") {
        return Ok(match parquet_table(path)? {
            Some(t) => TraceFile::Table(t, None),
            None => TraceFile::Telemetry(Box::new(twin_replay::parquet::read(path)?), None),
        });
    }
    let telemetry = if format == "auto" { None } else { Format::from_name(format) };
    let price = PriceFormat::from_name(format);
    let job = JobFormat::from_name(format);
    let node = format == nodes::FORMAT;
    if format != "auto" && telemetry.is_none() && price.is_none() && job.is_none() && !node {
        return Err(InputError::UnknownName { what: "trace format", name: format.into(), known: format_names() });
    }
    if let Some(f) = telemetry {
        let (t, r) = twin_replay::read_file(path, f, opts)?;
        return Ok(TraceFile::Telemetry(Box::new(t), Some(r)));
    }
    let bytes = twin_replay::read_bytes(path).map_err(|source| InputError::Io { path: path.to_path_buf(), source })?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    let origin = path.display().to_string();
    let table = |t: Table, r: ReadReport| Ok(TraceFile::Table(t, Some(r)));
    if node || (format == "auto" && Format::detect(&text).is_none() && nodes::detect(&text)) {
        let (l, r) = nodes::read(&text, &origin, opts)?;
        return table(Table::Nodes(l), r);
    }
    if job.is_some() {
        let (t, r) = jobs::read(&text, &origin, job, opts)?;
        return table(Table::Jobs(t), r);
    }
    let auto_table = format == "auto"
        && Format::detect(&text).is_none()
        && (prices::detect(&text).is_some() || jobs::detect(text.lines().next().unwrap_or("")).is_some());
    if price.is_some() || (auto_table && prices::detect(&text).is_some()) {
        let (p, r) = prices::read(&text, &origin, price, opts)?;
        return table(
            match p {
                Prices::History(h) => Table::Prices(h),
                Prices::Advisor(a) => Table::Advisor(a),
            },
            r,
        );
    }
    if auto_table {
        let (t, r) = jobs::read(&text, &origin, None, opts)?;
        return table(Table::Jobs(t), r);
    }
    let (t, r) = twin_replay::read(&text, &origin, Format::Auto, opts)?;
    Ok(TraceFile::Telemetry(Box::new(t), Some(r)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_text(name: &str, text: &str, format: &str) -> Result<TraceFile, InputError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        open(&path, format, &ReadOptions::default())
    }

    #[test]
    fn telemetry_and_tables_are_told_apart_by_their_content() {
        let smi = "timestamp, index, power.draw [W]\n2026/11/27 01:58:59.960, 0, 77.25 W\n";
        assert!(matches!(open_text("a.csv", smi, "auto").unwrap(), TraceFile::Telemetry(t, Some(_)) if t.len() == 1));
        let pods = "name,num_gpu,gpu_milli,creation_time,deletion_time,scheduled_time\np1,1,1000,0,60,0\n";
        assert!(matches!(open_text("p.csv", pods, "auto").unwrap(), TraceFile::Table(Table::Jobs(j), Some(_)) if j.len() == 1));
        assert!(matches!(open_text("p.csv", pods, "openb").unwrap(), TraceFile::Table(Table::Jobs(_), _)));
        let e = open_text("x.csv", "what,ever\n1,2\n", "sideways").unwrap_err().to_string();
        assert!(e.contains("unknown trace format `sideways`") && e.contains("nvidia-smi") && e.contains("helios"), "{e}");
    }
}
