//! A run written as it goes: [`RunWriter`] takes the records a run hands
//! out between steps ([`twin_sim::Run::take_records`]) and writes them to
//! temporary files in the target folder, so that memory is bounded by a row
//! group, not by the run's length; [`RunWriter::finish`] writes what the run
//! returned at its end, the summary and the scenario, and renames every file
//! to its final name.
//!
//! Each table's rows wait in a buffer until [`ROW_GROUP_ROWS`] of them are
//! there; then they become one frame (through the builders of `tables.rs`),
//! one Parquet row group (polars' batched writer) and the next lines of the
//! CSV file (header once). Row groups are cut at that fixed count of the
//! table's rows, counted from the first, so the bytes written depend on the
//! rows alone: not on how often the run was drained, nor on the thread
//! count. [`crate::write_run`] is this writer given everything at the end.

use crate::atomic::polars_error;
use crate::tables;
use crate::{ExportError, Formats, write_atomically};
use polars::io::csv::write::BatchedWriter as CsvBatched;
use polars::io::parquet::write::BatchedWriter as ParquetBatched;
use polars::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tempfile::NamedTempFile;
use twin_sim::RunOutput;
use twin_sim::ledger::LedgerRow;
use twin_sim::metrics::{DecisionRecord, JobRecord, PoolSample, Records, RequestRecords, ServiceSample};

/// Rows in one Parquet row group, and so at most in one table's buffer:
/// polars' own default row-group size. A request row takes about 100 bytes
/// buffered and 200 as a frame, so the requests table holds some 80 MB at
/// its peak.
pub const ROW_GROUP_ROWS: usize = 512 * 512;

/// The tables of a run, in the order their files are listed.
const TABLES: [&str; 6] = ["decisions", "requests", "jobs", "pool_series", "service_series", "ledger"];
const DECISIONS: usize = 0;
const REQUESTS: usize = 1;
const JOBS: usize = 2;
const POOL_SERIES: usize = 3;
const SERVICE_SERIES: usize = 4;
const LEDGER: usize = 5;

/// Writes a run's records into a folder as the run goes; see the module's
/// documentation.
///
/// Nothing is written under a final name before [`RunWriter::finish`]:
/// until then, dropping the writer (after an error, or when the run stopped
/// early) removes its temporary files and leaves whatever the folder held
/// as it was. `finish` renames the files once all are written and synced.
pub struct RunWriter {
    sink: Sink,
    /// Rows not written yet, fewer than a row group per table.
    pending: Records,
}

/// Where frames go: the open files and what their rows refer to.
struct Sink {
    dir: PathBuf,
    /// Rows per row group.
    group_rows: usize,
    currency: String,
    /// The names rows refer to by index (its rows stay empty).
    names: Records,
    /// One entry per table, in [`TABLES`] order.
    files: Vec<TableFiles>,
}

/// A table's open files.
struct TableFiles {
    parquet: Option<Part<ParquetBatched<Shared>>>,
    csv: Option<Part<CsvBatched<Shared>>>,
}

/// One file being written: its temporary file, its final name and the
/// encoder filling it.
struct Part<W> {
    path: PathBuf,
    temp: NamedTempFile,
    out: Shared,
    encoder: W,
}

/// A buffered file both an encoder and the writer hold, so that the writer
/// can flush it, and hear of a failure, once the encoder is done.
#[derive(Clone)]
struct Shared(Arc<Mutex<BufWriter<File>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("a writer panicked"))?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.lock().map_err(|_| std::io::Error::other("a writer panicked"))?.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().map_err(|_| std::io::Error::other("a writer panicked"))?.flush()
    }
}

impl<W> Part<W> {
    /// A temporary file beside `path`, named `.<name>.<random>.tmp`, and
    /// the encoder `make` builds on it.
    fn create(path: PathBuf, make: impl FnOnce(Shared) -> PolarsResult<W>) -> Result<Part<W>, ExportError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
        let io = |source| ExportError::Io { path: path.clone(), source };
        let temp = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").tempfile_in(dir).map_err(io)?;
        let file = temp.as_file().try_clone().map_err(io)?;
        let out = Shared(Arc::new(Mutex::new(BufWriter::with_capacity(1 << 16, file))));
        let encoder = make(out.clone()).map_err(|e| polars_error(&path, e))?;
        Ok(Part { path, temp, out, encoder })
    }

    /// Flushes and syncs the file, ready to take its name.
    fn seal(self) -> Result<(PathBuf, NamedTempFile), ExportError> {
        let io = |source| ExportError::Io { path: self.path.clone(), source };
        let mut out = self.out.clone();
        out.flush().map_err(io)?;
        drop(self.encoder);
        // Temporary files are private (0600); results are ordinary files.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            self.temp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io)?;
        }
        self.temp.as_file().sync_all().map_err(io)?;
        Ok((self.path, self.temp))
    }
}

impl Sink {
    /// Writes `df` as the next row group and the next CSV lines of table `t`.
    fn write(&mut self, t: usize, df: DataFrame) -> Result<(), ExportError> {
        let files = &mut self.files[t];
        if let Some(p) = &mut files.parquet {
            p.encoder.write_batch(&df).map_err(|e| polars_error(&p.path, e))?;
        }
        if let Some(c) = &mut files.csv {
            c.encoder.write_batch(&df).map_err(|e| polars_error(&c.path, e))?;
        }
        Ok(())
    }
}

/// A table's rows as a run records them: what the writer buffers.
trait Rows: Default {
    /// Its index in [`TABLES`].
    const TABLE: usize;
    /// Rows held.
    fn count(&self) -> usize;
    /// Copies rows `rows` of `from` to the end.
    fn copy(&mut self, from: &Self, rows: Range<usize>);
    /// Removes every row.
    fn clear_rows(&mut self);
    /// Rows `rows` as the table's frame.
    fn frame(&self, rows: Range<usize>, sink: &Sink) -> PolarsResult<DataFrame>;
}

impl Rows for RequestRecords {
    const TABLE: usize = REQUESTS;
    fn count(&self) -> usize {
        self.len()
    }
    fn copy(&mut self, from: &Self, rows: Range<usize>) {
        self.extend_from(from, rows);
    }
    fn clear_rows(&mut self) {
        self.clear();
    }
    fn frame(&self, rows: Range<usize>, sink: &Sink) -> PolarsResult<DataFrame> {
        tables::requests(&sink.names, self, rows)
    }
}

/// [`Rows`] for a table kept as a vector of rows.
macro_rules! vec_rows {
    ($row:ty, $table:expr, |$rows:ident, $sink:ident| $frame:expr) => {
        impl Rows for Vec<$row> {
            const TABLE: usize = $table;
            fn count(&self) -> usize {
                self.len()
            }
            fn copy(&mut self, from: &Self, rows: Range<usize>) {
                self.extend_from_slice(&from[rows]);
            }
            fn clear_rows(&mut self) {
                self.clear();
            }
            fn frame(&self, rows: Range<usize>, $sink: &Sink) -> PolarsResult<DataFrame> {
                let $rows = &self[rows];
                $frame
            }
        }
    };
}

vec_rows!(DecisionRecord, DECISIONS, |rows, _sink| tables::decisions(rows));
vec_rows!(JobRecord, JOBS, |rows, _sink| tables::jobs(rows));
vec_rows!(PoolSample, POOL_SERIES, |rows, sink| tables::pool_series(&sink.names, rows));
vec_rows!(ServiceSample, SERVICE_SERIES, |rows, sink| tables::service_series(&sink.names, rows));
vec_rows!(LedgerRow, LEDGER, |rows, sink| tables::ledger(&sink.names, rows, &sink.currency));

/// The frame of rows `rows` of `from`, or an error naming the table.
fn frame<R: Rows>(from: &R, rows: Range<usize>, sink: &Sink) -> Result<DataFrame, ExportError> {
    from.frame(rows, sink).map_err(|source| ExportError::Table { path: sink.dir.join(TABLES[R::TABLE]), source })
}

/// Adds `incoming` after `pending`, writing every row group that fills:
/// the first from `pending` topped up, the next straight from `incoming`;
/// what is left of `incoming` (fewer rows than a group) waits in `pending`.
fn feed<R: Rows>(sink: &mut Sink, pending: &mut R, incoming: &R) -> Result<(), ExportError> {
    let (n, group) = (incoming.count(), sink.group_rows);
    let mut at = 0;
    if pending.count() > 0 {
        at = group.saturating_sub(pending.count()).min(n);
        pending.copy(incoming, 0..at);
        if pending.count() >= group {
            let df = frame(pending, 0..pending.count(), sink)?;
            sink.write(R::TABLE, df)?;
            pending.clear_rows();
        }
    }
    while n - at >= group {
        let df = frame(incoming, at..at + group, sink)?;
        sink.write(R::TABLE, df)?;
        at += group;
    }
    pending.copy(incoming, at..n);
    Ok(())
}

/// Writes what `pending` holds as the table's last row group.
fn drain<R: Rows>(sink: &mut Sink, pending: &mut R) -> Result<(), ExportError> {
    if pending.count() > 0 {
        let df = frame(pending, 0..pending.count(), sink)?;
        sink.write(R::TABLE, df)?;
        pending.clear_rows();
    }
    Ok(())
}

impl RunWriter {
    /// Opens a temporary file in `dir` (created if missing) for each table
    /// in each of `formats`; `currency` is the run's, for the ledger.
    pub fn create(dir: &Path, formats: Formats, currency: &str) -> Result<RunWriter, ExportError> {
        std::fs::create_dir_all(dir).map_err(|source| ExportError::Io { path: dir.to_path_buf(), source })?;
        let mut sink = Sink {
            dir: dir.to_path_buf(),
            group_rows: ROW_GROUP_ROWS,
            currency: currency.to_string(),
            names: Records::default(),
            files: Vec::new(),
        };
        for (t, name) in TABLES.iter().enumerate() {
            // The schema of the table with no rows: every column's type is
            // fixed by its builder, not by the values.
            let schema = empty_frame(t, &sink)?.schema().clone();
            let parquet = match formats.parquet {
                true => Some(Part::create(dir.join(format!("{name}.parquet")), |w| ParquetWriter::new(w).batched(&schema))?),
                false => None,
            };
            let csv = match formats.csv {
                true => Some(Part::create(dir.join(format!("{name}.csv")), |w| CsvWriter::new(w).include_header(true).batched(&schema))?),
                false => None,
            };
            sink.files.push(TableFiles { parquet, csv });
        }
        Ok(RunWriter { sink, pending: Records::default() })
    }

    /// Cuts row groups at `rows` rows (at least one) instead of
    /// [`ROW_GROUP_ROWS`]; call it before the first [`RunWriter::push`].
    /// The bytes depend on it, so two writers meant to agree use the same.
    pub fn with_row_group_rows(mut self, rows: usize) -> RunWriter {
        self.sink.group_rows = rows.max(1);
        self
    }

    /// Takes records handed out mid-run ([`twin_sim::Run::take_records`]):
    /// their names are appended to those held, and their rows written as
    /// row groups fill.
    pub fn push(&mut self, mut part: Records) -> Result<(), ExportError> {
        let names = &mut self.sink.names;
        names.services.append(&mut part.services);
        names.pools.append(&mut part.pools);
        names.workloads.append(&mut part.workloads);
        self.feed(&part)
    }

    /// Rows waiting for their row group to fill, over every table.
    pub fn buffered_rows(&self) -> usize {
        self.pending.rows()
    }

    fn feed(&mut self, r: &Records) -> Result<(), ExportError> {
        let (s, p) = (&mut self.sink, &mut self.pending);
        feed(s, &mut p.decisions, &r.decisions)?;
        feed(s, &mut p.requests, &r.requests)?;
        feed(s, &mut p.jobs, &r.jobs)?;
        feed(s, &mut p.pool_series, &r.pool_series)?;
        feed(s, &mut p.service_series, &r.service_series)?;
        feed(s, &mut p.ledger, &r.ledger)
    }

    /// Writes what the run returned at its end (`output`: the rows not
    /// handed out before, with every name), `summary.json` and
    /// `scenario.toml`, then gives every table file its final name; returns
    /// the files written, in the order [`crate::write_run`] lists them.
    pub fn finish(mut self, output: &RunOutput, scenario_text: &str) -> Result<Vec<PathBuf>, ExportError> {
        let r = &output.records;
        self.sink.names =
            Records { services: r.services.clone(), pools: r.pools.clone(), workloads: r.workloads.clone(), ..Records::default() };
        self.feed(r)?;
        let (s, p) = (&mut self.sink, &mut self.pending);
        drain(s, &mut p.decisions)?;
        drain(s, &mut p.requests)?;
        drain(s, &mut p.jobs)?;
        drain(s, &mut p.pool_series)?;
        drain(s, &mut p.service_series)?;
        drain(s, &mut p.ledger)?;
        let mut sealed = Vec::new();
        for files in std::mem::take(&mut self.sink.files) {
            if let Some(p) = files.parquet {
                p.encoder.finish().map_err(|e| polars_error(&p.path, e))?;
                sealed.push(p.seal()?);
            }
            if let Some(mut c) = files.csv {
                c.encoder.finish().map_err(|e| polars_error(&c.path, e))?;
                sealed.push(c.seal()?);
            }
        }
        let dir = &self.sink.dir;
        let summary = dir.join("summary.json");
        let json = serde_json::to_vec_pretty(&output.summary).map_err(|source| ExportError::Json { path: summary.clone(), source })?;
        write_atomically(&summary, |w| w.write_all(&json).map_err(PolarsError::from))?;
        let scenario = dir.join("scenario.toml");
        write_atomically(&scenario, |w| w.write_all(scenario_text.as_bytes()).map_err(PolarsError::from))?;
        let mut written = vec![summary, scenario];
        for (path, temp) in sealed {
            temp.persist(&path).map_err(|e| ExportError::Io { path: path.clone(), source: e.error })?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Table `t` with no rows.
fn empty_frame(t: usize, sink: &Sink) -> Result<DataFrame, ExportError> {
    match t {
        DECISIONS => frame(&Vec::<DecisionRecord>::new(), 0..0, sink),
        REQUESTS => frame(&RequestRecords::default(), 0..0, sink),
        JOBS => frame(&Vec::<JobRecord>::new(), 0..0, sink),
        POOL_SERIES => frame(&Vec::<PoolSample>::new(), 0..0, sink),
        SERVICE_SERIES => frame(&Vec::<ServiceSample>::new(), 0..0, sink),
        _ => frame(&Vec::<LedgerRow>::new(), 0..0, sink),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write_run;
    use twin_sim::scenario::Scenario;
    use twin_sim::time::SimTime;
    use twin_sim::{Run, RunOptions};

    /// The mixed fleet (spot, autoscaling, a training stream, hourly
    /// charge periods) cut to 40 minutes: about 40,000 requests.
    fn scenario() -> (Scenario, String) {
        let mut text = include_str!("../../scenarios/mixed-fleet.toml").to_string();
        for (from, to) in [
            ("horizon = \"3d\"", "horizon = \"40m\""),
            ("ledger_period = \"6h\"", "ledger_period = \"10m\""),
            ("jobs_per_hour = 0.4", "jobs_per_hour = 20"),
        ] {
            assert!(text.contains(from), "mixed-fleet.toml no longer says {from}");
            text = text.replace(from, to);
        }
        (Scenario::from_toml(&text, "mixed-fleet.toml").unwrap(), text)
    }

    /// Every file of `dir`, by name, with its bytes.
    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
            })
            .collect();
        v.sort();
        v
    }

    /// The run streamed into `dir` with a drain after each of `steps`
    /// equal steps, row groups of `group` rows.
    fn streamed(sc: &Scenario, text: &str, dir: &Path, steps: u64, group: usize, formats: Formats) -> Vec<PathBuf> {
        let mut run = Run::new(sc, 3, RunOptions::default()).unwrap();
        let mut w = RunWriter::create(dir, formats, &sc.spec.billing.currency).unwrap().with_row_group_rows(group);
        let h = run.horizon().as_nanos();
        for i in 1..=steps {
            run.advance_to(SimTime(h / steps * i));
            w.push(run.take_records()).unwrap();
            assert!(w.buffered_rows() < 6 * group);
        }
        w.finish(&run.finish().unwrap(), text).unwrap()
    }

    #[test]
    fn streamed_at_any_cadence_is_the_bytes_of_one_write() {
        let (sc, text) = scenario();
        let whole = twin_sim::run(&sc, 3, RunOptions::default()).unwrap();
        assert!(whole.records.requests.len() > 20_000, "{} requests", whole.records.requests.len());
        assert!(!whole.records.jobs.is_empty() && !whole.records.ledger.is_empty() && !whole.records.decisions.is_empty());
        let formats = Formats::default();
        // Polars' default group: everything in one group per table.
        let one = tempfile::tempdir().unwrap();
        let listed = write_run(one.path(), &whole, &text, formats).unwrap();
        assert_eq!(listed.len(), 14);
        let expect = files(one.path());
        assert_eq!(expect.len(), 14, "temporary files left behind");
        for steps in [1, 7, 120] {
            let dir = tempfile::tempdir().unwrap();
            assert_eq!(streamed(&sc, &text, dir.path(), steps, ROW_GROUP_ROWS, formats).len(), 14);
            assert!(files(dir.path()) == expect, "{steps} steps differ from write_run");
        }
        // Small groups: many of them, cut across the drains.
        let group = 997;
        let one = tempfile::tempdir().unwrap();
        RunWriter::create(one.path(), formats, &whole.summary.currency).unwrap().with_row_group_rows(group).finish(&whole, &text).unwrap();
        let expect = files(one.path());
        for steps in [1, 3, 50, 400] {
            let dir = tempfile::tempdir().unwrap();
            streamed(&sc, &text, dir.path(), steps, group, formats);
            assert!(files(dir.path()) == expect, "{steps} steps differ with groups of {group}");
        }
        let mut reader = ParquetReader::new(File::open(one.path().join("requests.parquet")).unwrap());
        let meta = reader.get_metadata().unwrap().clone();
        let n = whole.records.requests.len();
        assert_eq!(meta.row_groups.len(), n.div_ceil(group));
        assert!(meta.row_groups.iter().rev().skip(1).all(|g| g.num_rows() == group));
        let df = reader.finish().unwrap();
        assert_eq!(df.height(), n);
        let csv = std::fs::read_to_string(one.path().join("requests.csv")).unwrap();
        assert_eq!(csv.lines().count(), n + 1);
        assert_eq!(csv.lines().filter(|l| l.starts_with("id,")).count(), 1, "one header");
    }

    #[test]
    fn one_format_alone_and_empty_tables_match_too() {
        let (sc, text) = scenario();
        let options = RunOptions { record_requests: false, ..RunOptions::default() };
        let whole = twin_sim::run(&sc, 3, options).unwrap();
        for formats in [Formats { parquet: true, csv: false }, Formats { parquet: false, csv: true }] {
            let one = tempfile::tempdir().unwrap();
            assert_eq!(write_run(one.path(), &whole, &text, formats).unwrap().len(), 8);
            let dir = tempfile::tempdir().unwrap();
            let mut run = Run::new(&sc, 3, options).unwrap();
            let mut w = RunWriter::create(dir.path(), formats, &sc.spec.billing.currency).unwrap();
            run.advance_to(SimTime(run.horizon().as_nanos() / 2));
            w.push(run.take_records()).unwrap();
            w.finish(&run.finish().unwrap(), &text).unwrap();
            assert!(files(dir.path()) == files(one.path()));
        }
        let dir = tempfile::tempdir().unwrap();
        write_run(dir.path(), &whole, &text, Formats { parquet: false, csv: true }).unwrap();
        let csv = std::fs::read_to_string(dir.path().join("requests.csv")).unwrap();
        assert!(csv.starts_with("id,service,") && csv.lines().count() == 1, "{csv}");
    }

    #[test]
    fn a_writer_dropped_or_failing_leaves_earlier_results_and_no_temporaries() {
        let (sc, text) = scenario();
        let whole = twin_sim::run(&sc, 3, RunOptions::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_run(dir.path(), &whole, &text, Formats::default()).unwrap();
        let before = files(dir.path());
        // Dropped mid-run: the temporaries go, the results stay.
        let mut run = Run::new(&sc, 3, RunOptions::default()).unwrap();
        let mut w = RunWriter::create(dir.path(), Formats::default(), "USD").unwrap().with_row_group_rows(100);
        run.advance_to(SimTime(run.horizon().as_nanos() / 2));
        w.push(run.take_records()).unwrap();
        assert!(std::fs::read_dir(dir.path()).unwrap().count() > before.len(), "no temporary files");
        drop(w);
        assert!(files(dir.path()) == before);
        // A final name that cannot be taken: the error names it, nothing is left half-done.
        let other = tempfile::tempdir().unwrap();
        std::fs::create_dir(other.path().join("requests.parquet")).unwrap();
        std::fs::write(other.path().join("requests.parquet").join("keep"), "x").unwrap();
        let err = write_run(other.path(), &whole, &text, Formats::default()).unwrap_err();
        assert!(matches!(&err, ExportError::Io { path, .. } if path.ends_with("requests.parquet")), "{err}");
        assert!(std::fs::read_dir(other.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp")));
        // A folder that cannot be made: named.
        let file = dir.path().join("summary.json");
        let err = RunWriter::create(&file.join("sub"), Formats::default(), "USD").err().unwrap();
        assert!(err.to_string().contains("summary.json"), "{err}");
    }
}
