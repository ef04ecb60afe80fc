//! GPU job traces: when jobs were submitted, how many GPUs they held, for how long.
//!
//! | format | file | per-job rows? |
//! | --- | --- | --- |
//! | `openb` | Alibaba openb 2023 pod list (`name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time`) | yes |
//! | `helios` | Helios cluster sequence, per-minute aggregate counts (`time,…,running_gpu_num_noless_8,…`) | no: reconstructed |
//!
//! Both become a [`JobTrace`] of [`TraceJob`]s, sorted by submission (stably).
//!
//! **openb.** A pod with `num_gpu` 0 is not a GPU job: it is counted in
//! [`JobTrace::skipped_not_gpu`], not reported as a problem. A job is
//! submitted at `creation_time` and lasts from `scheduled_time` (or
//! `creation_time` for a pod never scheduled) to `deletion_time`; times are
//! seconds from the trace start. `gpu_milli` is kept for one-GPU pods (a
//! share of the GPU), 1000 otherwise; `gpu_spec` becomes the model list.
//!
//! **Helios: jobs from demand.** The sequence gives, per minute, the GPUs
//! held or asked for by jobs of at least 8 GPUs (`running_gpu_num_noless_8 +
//! pending_gpu_num_noless_8`) and by smaller jobs (the `_less_8` columns),
//! but no jobs. Each class is replayed as a stack of jobs of one size, its
//! *unit*: 8 GPUs for the large class; for the small class the time-weighted
//! mean job size, Σ GPUs / Σ jobs over the file, rounded, at least 1. When a
//! class's demand rises by k units at a minute, k jobs are submitted then (a
//! rise that is not a whole number of units adds one smaller job for the
//! rest). When it falls, the most recently submitted jobs still active end
//! first (LIFO), which gives the heavy-tailed durations real clusters have:
//! short jobs come and go above a base of long ones. A fall that cuts into a
//! job ends it and submits a smaller one for the part still needed, counted
//! in [`DemandMatch::splits`]. Jobs still active at the end of the file end
//! one interval after its last row and are `censored`; jobs submitted at
//! offset 0 were already there when the file begins, so their start is
//! censored too. Duration includes pending time (the file counts pending
//! GPUs as demand). By construction, replaying the jobs with unlimited
//! capacity ([`JobTrace::demand`]) gives back each class's demand at every
//! row exactly.
//!
//! ```
//! use twin_replay::jobs;
//! use twin_replay::ReadOptions;
//! let text = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n\
//!             pod-0,6000,12288,1,460,,LS,Running,10,110,20\n\
//!             pod-1,8000,16384,0,0,,LS,Running,0,50,0\n";
//! let (trace, report) = jobs::read(text, "pods.csv", None, &ReadOptions::default()).unwrap();
//! assert_eq!((report.format.as_str(), trace.len(), trace.skipped_not_gpu), ("openb", 1, 1));
//! let job = &trace.jobs[0];
//! assert_eq!((job.submit_ns, job.duration_ns, job.gpu_milli), (10_000_000_000, 90_000_000_000, 460));
//! ```

use crate::csv::{CsvHeader, RowError, csv_rows};
use crate::{ReadOptions, ReadReport, ReplayError};
use polars::prelude::*;
use std::path::Path;
use twin_calendar::parse_timestamp;

/// One job as submitted to the cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceJob {
    /// The job's name in the trace (made up for reconstructed jobs).
    pub name: String,
    /// Submission, ns after the trace's start.
    pub submit_ns: i64,
    /// GPUs.
    pub gpus: u32,
    /// Thousandths of one GPU when the job shares a single GPU, else 1000.
    pub gpu_milli: u32,
    /// From submission (or scheduling, where the trace says) to the end, ns.
    pub duration_ns: i64,
    /// The GPU models the job may use (`V100M16|V100M32`), when the trace says.
    pub gpu_model: Option<String>,
    /// Whether the trace ends before the job does: its real end is later.
    pub censored: bool,
}

impl TraceJob {
    /// Thousandths of a GPU the job holds: `gpus × gpu_milli`.
    pub fn milli_gpus(&self) -> u64 {
        u64::from(self.gpus) * u64::from(self.gpu_milli)
    }

    /// When the job ends, ns after the trace's start.
    pub fn end_ns(&self) -> i64 {
        self.submit_ns.saturating_add(self.duration_ns)
    }
}

/// How jobs reconstructed from aggregate demand compare with the file.
#[derive(Clone, Debug, PartialEq)]
pub struct DemandMatch {
    /// GPUs per job of the large (≥ 8 GPUs) class.
    pub large_unit_gpus: u32,
    /// GPUs per job of the small (< 8 GPUs) class: the mean job size.
    pub small_unit_gpus: u32,
    /// GPU-hours of the class columns, which the jobs reproduce exactly.
    pub class_gpu_hours: f64,
    /// GPU-hours of the file's own totals, `running_gpu_num + pending_gpu_num`
    /// (`None` without those columns).
    pub file_gpu_hours: Option<f64>,
    /// Rows whose class columns do not add up to the totals.
    pub inconsistent_rows: usize,
    /// Falls that cut into a job: it ended and a smaller one was submitted.
    pub splits: usize,
    /// The time between rows (the median), ns; the last row lasts this long.
    pub step_ns: i64,
    /// Rows used.
    pub rows: usize,
}

/// A job trace in memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobTrace {
    /// The jobs, sorted by submission (stably).
    pub jobs: Vec<TraceJob>,
    /// The trace's start, ns since the epoch (UTC), when the trace has wall-clock times.
    pub start_epoch_ns: Option<i64>,
    /// Rows that were not GPU jobs (no GPUs), left out on purpose.
    pub skipped_not_gpu: usize,
    /// For jobs reconstructed from aggregate demand: how they match the file.
    pub demand_match: Option<DemandMatch>,
}

impl JobTrace {
    /// Jobs.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// GPU-hours the jobs hold in all (fractional shares counted as such).
    pub fn gpu_hours(&self) -> f64 {
        self.jobs.iter().map(|j| j.milli_gpus() as f64 / 1000.0 * j.duration_ns.max(0) as f64 / 3.6e12).sum()
    }

    /// GPUs held at the start of each of `steps` steps of `step_ns` from the
    /// trace's start, with unlimited capacity: a job counts at `t` when
    /// `submit_ns <= t < end_ns`. Empty when `step_ns` is not positive.
    pub fn demand(&self, step_ns: i64, steps: usize) -> Vec<f64> {
        if step_ns <= 0 {
            return Vec::new();
        }
        // The first step at or after t, clamped to 0..=steps.
        let first_at = |t: i64| -> usize {
            let k = -((-i128::from(t)).div_euclid(i128::from(step_ns)));
            k.clamp(0, steps as i128) as usize
        };
        let mut diff = vec![0i128; steps + 1];
        for j in &self.jobs {
            let (a, b) = (first_at(j.submit_ns), first_at(j.end_ns()));
            if a < b {
                diff[a] += i128::from(j.milli_gpus());
                diff[b] -= i128::from(j.milli_gpus());
            }
        }
        let mut level = 0i128;
        diff[..steps]
            .iter()
            .map(|d| {
                level += d;
                level as f64 / 1000.0
            })
            .collect()
    }
}

/// A job-trace format. Serde reads and writes its [`JobFormat::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobFormat {
    /// Alibaba openb 2023 pod list.
    Openb,
    /// Helios per-minute cluster sequence.
    Helios,
}

format_names!(JobFormat { Openb => "openb", Helios => "helios" });

impl JobFormat {
    /// From a name in [`JobFormat::NAMES`].
    pub fn from_name(s: &str) -> Option<JobFormat> {
        JobFormat::ALL.into_iter().find(|f| f.name() == s)
    }
}

/// Guesses the format from a CSV header line (or a whole text, by its first non-empty line).
pub fn detect(header: &str) -> Option<JobFormat> {
    let first = header.lines().map(|l| l.trim().trim_start_matches('\u{feff}')).find(|l| !l.is_empty())?.to_ascii_lowercase();
    if first.contains("num_gpu") && first.contains("creation_time") {
        Some(JobFormat::Openb)
    } else if first.contains("running_gpu_num_noless_8") {
        Some(JobFormat::Helios)
    } else {
        None
    }
}

/// Reads a job trace in `format`, or the detected one.
pub fn read(text: &str, origin: &str, format: Option<JobFormat>, opts: &ReadOptions) -> Result<(JobTrace, ReadReport), ReplayError> {
    match format.or_else(|| detect(text)) {
        Some(JobFormat::Openb) => read_openb(text, origin, opts),
        Some(JobFormat::Helios) => read_helios(text, origin, opts),
        None => Err(ReplayError::Format {
            origin: origin.into(),
            line: 1,
            field: None,
            message: "cannot tell the job-trace format from the header".into(),
            hint: Some(format!("name the format, one of {}", JobFormat::NAMES)),
        }),
    }
}

/// Reads a job-trace file by path, once (bytes that are not UTF-8 are replaced).
pub fn read_file(path: &Path, format: Option<JobFormat>, opts: &ReadOptions) -> Result<(JobTrace, ReadReport), ReplayError> {
    let bytes = std::fs::read(path).map_err(|source| ReplayError::Io { path: path.to_path_buf(), source })?;
    read_from_bytes(&bytes, &path.display().to_string(), format, opts)
}

/// Reads a job trace's bytes already in memory (a caller that read the
/// file to tell its kind hands them over rather than reading it again;
/// bytes that are not UTF-8 are replaced).
pub fn read_from_bytes(
    bytes: &[u8],
    origin: &str,
    format: Option<JobFormat>,
    opts: &ReadOptions,
) -> Result<(JobTrace, ReadReport), ReplayError> {
    read(&crate::text::from_bytes(bytes), origin, format, opts)
}

fn count<T: std::str::FromStr>(h: &CsvHeader, f: &[&str], name: &str) -> Result<T, RowError> {
    let s = h.get(f, name)?;
    s.parse().map_err(|_| (Some(name.into()), format!("`{s}` is not a count")))
}

/// Seconds (whole or not, not negative) to ns.
fn seconds(name: &str, s: &str) -> Result<i64, RowError> {
    let bad = || (Some(name.to_string()), format!("`{s}` is not a time in seconds from the trace start"));
    if let Ok(v) = s.parse::<i64>() {
        return v.checked_mul(1_000_000_000).filter(|v| *v >= 0).ok_or_else(bad);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..9e9).contains(&v) => Ok((v * 1e9).round() as i64),
        _ => Err(bad()),
    }
}

/// Reads the Alibaba openb 2023 pod list.
pub fn read_openb(text: &str, origin: &str, opts: &ReadOptions) -> Result<(JobTrace, ReadReport), ReplayError> {
    let mut report = ReadReport { format: JobFormat::Openb.name().into(), ..ReadReport::default() };
    let required = ["name", "num_gpu", "creation_time", "deletion_time"];
    let hint = "the openb pod list's columns are name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time";
    let mut not_gpu = 0usize;
    let mut jobs = csv_rows(text, origin, opts, &mut report, &required, hint, |h, f, _| {
        let gpus: u32 = count(h, f, "num_gpu")?;
        if gpus == 0 {
            not_gpu += 1;
            return Ok(None);
        }
        let submit_ns = seconds("creation_time", h.get(f, "creation_time")?)?;
        let end_ns = seconds("deletion_time", h.get(f, "deletion_time")?)?;
        let start_ns = match h.opt(f, "scheduled_time")? {
            Some("") | None => submit_ns,
            Some(s) => seconds("scheduled_time", s)?,
        };
        let gpu_milli = match h.opt(f, "gpu_milli")? {
            Some(s) if gpus == 1 && !s.is_empty() => s.parse::<u32>().ok().filter(|m| (1..=1000).contains(m)).ok_or_else(|| {
                (Some("gpu_milli".to_string()), format!("`{s}` is not a GPU share in thousandths (1 to 1000) for a one-GPU pod"))
            })?,
            _ => 1000,
        };
        if end_ns < start_ns {
            return Err((
                Some("deletion_time".into()),
                format!("{} s is before the pod's start, {} s", end_ns / 1_000_000_000, start_ns / 1_000_000_000),
            ));
        }
        let name = h.get(f, "name")?;
        let gpu_model = h.opt(f, "gpu_spec")?.filter(|s| !s.is_empty()).map(str::to_string);
        Ok(Some(TraceJob { name: name.into(), submit_ns, gpus, gpu_milli, duration_ns: end_ns - start_ns, gpu_model, censored: false }))
    })?;
    report.non_monotonic = jobs.windows(2).filter(|w| w[1].submit_ns < w[0].submit_ns).count();
    jobs.sort_by_key(|j| j.submit_ns);
    Ok((JobTrace { jobs, start_epoch_ns: None, skipped_not_gpu: not_gpu, demand_match: None }, report))
}

/// One row of the Helios sequence.
struct Minute {
    line: usize,
    time_ns: i64,
    large: u64,
    small: u64,
    small_jobs: u64,
    total: Option<u64>,
}

/// A class of jobs replayed as a stack (see the module doc).
struct Class {
    prefix: &'static str,
    unit: u64,
    level: u64,
    /// Active jobs, oldest first: (index in the job list, GPUs).
    active: Vec<(usize, u64)>,
    made: usize,
}

impl Class {
    fn submit(&mut self, at: i64, gpus: u64, jobs: &mut Vec<TraceJob>) {
        self.made += 1;
        self.active.push((jobs.len(), gpus));
        jobs.push(TraceJob {
            name: format!("{}-{}", self.prefix, self.made),
            submit_ns: at,
            gpus: u32::try_from(gpus).unwrap_or(u32::MAX),
            gpu_milli: 1000,
            duration_ns: 0,
            gpu_model: None,
            censored: false,
        });
    }

    /// Moves the class's demand to `demand` GPUs at `at`.
    fn to(&mut self, at: i64, demand: u64, jobs: &mut Vec<TraceJob>, splits: &mut usize) {
        if demand > self.level {
            let mut add = demand - self.level;
            while add > 0 {
                let g = add.min(self.unit);
                self.submit(at, g, jobs);
                add -= g;
            }
        } else {
            let mut cut = self.level - demand;
            while cut > 0 {
                let Some((i, g)) = self.active.pop() else { break };
                jobs[i].duration_ns = at - jobs[i].submit_ns;
                if g > cut {
                    *splits += 1;
                    self.submit(at, g - cut, jobs);
                    cut = 0;
                } else {
                    cut -= g;
                }
            }
        }
        self.level = demand;
    }

    fn censor(&mut self, end: i64, jobs: &mut [TraceJob]) {
        for (i, _) in self.active.drain(..) {
            jobs[i].duration_ns = end - jobs[i].submit_ns;
            jobs[i].censored = true;
        }
    }
}

/// The most GPUs one class may ask for in a row of a Helios sequence.
pub const MAX_GPUS: u64 = 1_000_000;

/// The most jobs a Helios reconstruction makes before it gives up (a bound on memory).
pub const MAX_JOBS: usize = 2_000_000;

/// Reads a Helios cluster sequence and reconstructs its jobs (see the module
/// doc). A class asking for more than [`MAX_GPUS`] in a row is a bad row; a
/// file whose reconstruction would make more than [`MAX_JOBS`] jobs is an error.
pub fn read_helios(text: &str, origin: &str, opts: &ReadOptions) -> Result<(JobTrace, ReadReport), ReplayError> {
    let mut report = ReadReport { format: JobFormat::Helios.name().into(), ..ReadReport::default() };
    let required = [
        "time",
        "running_gpu_num_noless_8",
        "pending_gpu_num_noless_8",
        "running_gpu_num_less_8",
        "pending_gpu_num_less_8",
        "running_job_num_less_8",
        "pending_job_num_less_8",
    ];
    let hint = "the Helios cluster sequence has time and running/pending GPU and job counts split by size (_noless_8, _less_8)";
    let mut last: Option<i64> = None;
    let rows = csv_rows(text, origin, opts, &mut report, &required, hint, |h, f, line| {
        let t = h.get(f, "time")?;
        let time_ns = parse_timestamp(t).ok_or_else(|| (Some("time".to_string()), format!("`{t}` is not a time (YYYY-MM-DD HH:MM:SS)")))?;
        let sum = |a: &str, b: &str| -> Result<u64, RowError> {
            count::<u64>(h, f, a)?.checked_add(count(h, f, b)?).ok_or_else(|| (Some(b.into()), "too large".into()))
        };
        let large = sum("running_gpu_num_noless_8", "pending_gpu_num_noless_8")?;
        let small = sum("running_gpu_num_less_8", "pending_gpu_num_less_8")?;
        let small_jobs = sum("running_job_num_less_8", "pending_job_num_less_8")?;
        if large.max(small) > MAX_GPUS {
            let field = if large > MAX_GPUS { "running_gpu_num_noless_8" } else { "running_gpu_num_less_8" };
            return Err((
                Some(field.into()),
                format!("{} GPUs in a class is more than a cluster holds (at most {MAX_GPUS})", large.max(small)),
            ));
        }
        let total = if h.col("running_gpu_num").is_some() && h.col("pending_gpu_num").is_some() {
            Some(sum("running_gpu_num", "pending_gpu_num")?)
        } else {
            None
        };
        if let Some(prev) = last
            && time_ns <= prev
        {
            return Err((Some("time".into()), format!("`{t}` is not after the row before")));
        }
        last = Some(time_ns);
        Ok(Some(Minute { line, time_ns, large, small, small_jobs, total }))
    })?;
    let Some(first) = rows.first() else { return Ok((JobTrace::default(), report)) };
    let t0 = first.time_ns;
    let mut gaps: Vec<i64> = rows.windows(2).map(|w| w[1].time_ns - w[0].time_ns).collect();
    gaps.sort_unstable();
    let step_ns = gaps.get(gaps.len() / 2).copied().unwrap_or(60_000_000_000);
    report.gaps = gaps.iter().filter(|&&g| g > 3 * step_ns).count();
    let (small_gpus, small_jobs) = rows.iter().fold((0u128, 0u128), |(g, j), m| (g + u128::from(m.small), j + u128::from(m.small_jobs)));
    let small_unit = if small_jobs == 0 { 1 } else { ((small_gpus as f64 / small_jobs as f64).round() as u64).clamp(1, 7) };
    let mut large = Class { prefix: "helios-large", unit: 8, level: 0, active: Vec::new(), made: 0 };
    let mut small = Class { prefix: "helios-small", unit: small_unit, level: 0, active: Vec::new(), made: 0 };
    let mut jobs = Vec::new();
    let mut splits = 0usize;
    let end = rows.last().map_or(t0, |m| m.time_ns) - t0 + step_ns;
    let (mut class_ns, mut file_ns, mut inconsistent) = (0f64, Some(0f64), 0usize);
    for (i, m) in rows.iter().enumerate() {
        let at = m.time_ns - t0;
        large.to(at, m.large, &mut jobs, &mut splits);
        small.to(at, m.small, &mut jobs, &mut splits);
        if jobs.len() > MAX_JOBS {
            return Err(ReplayError::Format {
                origin: origin.into(),
                line: m.line,
                field: None,
                message: format!("the reconstruction makes more than {MAX_JOBS} jobs by this row"),
                hint: Some("is this a cluster sequence of GPU counts per minute?".into()),
            });
        }
        let held = rows.get(i + 1).map_or(end, |n| n.time_ns - t0) - at;
        class_ns += (m.large + m.small) as f64 * held as f64;
        file_ns = file_ns.zip(m.total).map(|(s, t)| s + t as f64 * held as f64);
        inconsistent += usize::from(m.total.is_some_and(|t| t != m.large + m.small));
    }
    large.censor(end, &mut jobs);
    small.censor(end, &mut jobs);
    let demand_match = DemandMatch {
        large_unit_gpus: 8,
        small_unit_gpus: small_unit as u32,
        class_gpu_hours: class_ns / 3.6e12,
        file_gpu_hours: file_ns.map(|s| s / 3.6e12),
        inconsistent_rows: inconsistent,
        splits,
        step_ns,
        rows: rows.len(),
    };
    // Jobs were made in time order; a stable sort keeps that and file order.
    jobs.sort_by_key(|j| j.submit_ns);
    Ok((JobTrace { jobs, start_epoch_ns: Some(t0), skipped_not_gpu: 0, demand_match: Some(demand_match) }, report))
}

/// The trace as a polars frame: `name`, `submit_ns`, `gpus`, `gpu_milli`,
/// `duration_ns`, `gpu_model` (nullable), `censored`, and `start_epoch_ns`
/// (the trace's start, the same on every row, nullable).
pub fn to_frame(t: &JobTrace) -> PolarsResult<DataFrame> {
    let j = &t.jobs;
    let cols = vec![
        Column::new("name".into(), j.iter().map(|j| j.name.as_str()).collect::<Vec<_>>()),
        Column::new("submit_ns".into(), j.iter().map(|j| j.submit_ns).collect::<Vec<_>>()),
        Column::new("gpus".into(), j.iter().map(|j| j.gpus).collect::<Vec<_>>()),
        Column::new("gpu_milli".into(), j.iter().map(|j| j.gpu_milli).collect::<Vec<_>>()),
        Column::new("duration_ns".into(), j.iter().map(|j| j.duration_ns).collect::<Vec<_>>()),
        Column::new("gpu_model".into(), j.iter().map(|j| j.gpu_model.as_deref()).collect::<Vec<_>>()),
        Column::new("censored".into(), j.iter().map(|j| j.censored).collect::<Vec<_>>()),
        Column::new("start_epoch_ns".into(), vec![t.start_epoch_ns; j.len()]),
    ];
    DataFrame::new(j.len(), cols)
}

/// Writes the trace's jobs as Parquet, whole or not at all.
pub fn write_parquet(t: &JobTrace, path: &Path) -> Result<(), ReplayError> {
    crate::parquet::write_frame(to_frame(t), path)
}

/// Reads jobs back from Parquet (as [`write_parquet`] wrote them); what is
/// not in the file (`skipped_not_gpu`, `demand_match`) is left empty.
pub fn read_parquet(path: &Path) -> Result<JobTrace, ReplayError> {
    let table = |message: String| ReplayError::Table { path: path.to_path_buf(), message };
    let df = crate::parquet::read_frame(path, None)?;
    let col = |name: &str| df.column(name).map_err(|_| table(format!("no column `{name}`: not a Twin job trace")));
    let err = |e: PolarsError| table(e.to_string());
    let names = col("name")?.str().map_err(err)?;
    let submit = col("submit_ns")?.i64().map_err(err)?;
    let gpus = col("gpus")?.u32().map_err(err)?;
    let milli = col("gpu_milli")?.u32().map_err(err)?;
    let duration = col("duration_ns")?.i64().map_err(err)?;
    let model = col("gpu_model")?.str().map_err(err)?;
    let censored = col("censored")?.bool().map_err(err)?;
    let start = col("start_epoch_ns")?.i64().map_err(err)?;
    let jobs = (0..df.height())
        .map(|i| TraceJob {
            name: names.get(i).unwrap_or_default().to_string(),
            submit_ns: submit.get(i).unwrap_or(0),
            gpus: gpus.get(i).unwrap_or(0),
            gpu_milli: milli.get(i).unwrap_or(1000),
            duration_ns: duration.get(i).unwrap_or(0),
            gpu_model: model.get(i).map(str::to_string),
            censored: censored.get(i).unwrap_or(false),
        })
        .collect();
    Ok(JobTrace { jobs, start_epoch_ns: start.get(0), skipped_not_gpu: 0, demand_match: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shared(name: &str) -> Option<String> {
        crate::shared_data("job_traces", name)
    }

    const HELIOS_HEADER: &str = "time,running_gpu_num,pending_gpu_num,running_gpu_num_noless_8,running_gpu_num_less_8,pending_gpu_num_noless_8,pending_gpu_num_less_8,running_job_num_less_8,pending_job_num_less_8";

    /// A Helios sequence from (large GPUs, small GPUs, small jobs) per minute,
    /// split between running and pending, with consistent totals.
    fn helios(minutes: &[(u64, u64, u64)]) -> String {
        let mut text = format!("{HELIOS_HEADER}\n");
        for (i, &(large, small, small_jobs)) in minutes.iter().enumerate() {
            let (h, m) = (i / 60, i % 60);
            let (large_pending, small_pending) = (large / 16 * 8, small / 2);
            text.push_str(&format!(
                "2020-05-01 {h:02}:{m:02}:00,{},{},{},{},{},{},{},0\n",
                large - large_pending + small - small_pending,
                large_pending + small_pending,
                large - large_pending,
                small - small_pending,
                large_pending,
                small_pending,
                small_jobs
            ));
        }
        text
    }

    /// Each class's demand at each row, replayed from the jobs.
    fn replayed(t: &JobTrace, rows: usize, large: bool) -> Vec<f64> {
        let class =
            JobTrace { jobs: t.jobs.iter().filter(|j| j.name.contains("large") == large).cloned().collect(), ..JobTrace::default() };
        class.demand(60_000_000_000, rows)
    }

    #[test]
    fn reconstructs_jobs_lifo_and_splits_a_partial_fall() {
        // Large: 8, 24, 16, 16, 0. Small: mean size (3 + 1 + 1) / 3 jobs... rounds to 2.
        let text = helios(&[(8, 0, 0), (24, 3, 1), (16, 1, 1), (16, 4, 2), (0, 0, 0)]);
        let (t, r) = read(&text, "h.csv", None, &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap();
        assert_eq!((r.format.as_str(), r.rows), ("helios", 5));
        let m = t.demand_match.clone().unwrap();
        assert_eq!((m.large_unit_gpus, m.small_unit_gpus, m.splits, m.inconsistent_rows), (8, 2, 1, 0));
        let minute = 60_000_000_000;
        let large: Vec<(i64, i64)> =
            t.jobs.iter().filter(|j| j.name.contains("large")).map(|j| (j.submit_ns / minute, j.duration_ns / minute)).collect();
        // The last in is the first out: the job from minute 1 submitted second ends at minute 2.
        assert_eq!(large, [(0, 4), (1, 3), (1, 1)]);
        let small: Vec<(i64, u32, i64)> =
            t.jobs.iter().filter(|j| j.name.contains("small")).map(|j| (j.submit_ns / minute, j.gpus, j.duration_ns / minute)).collect();
        // +3 = 2 + 1; -2 ends the 1 and cuts the 2 to 1 (a split); +3 = 2 + 1; then all end.
        assert_eq!(small, [(1, 2, 1), (1, 1, 1), (2, 1, 2), (3, 2, 1), (3, 1, 1)]);
        assert_eq!(replayed(&t, 5, true), [8.0, 24.0, 16.0, 16.0, 0.0]);
        assert_eq!(replayed(&t, 5, false), [0.0, 3.0, 1.0, 4.0, 0.0]);
        assert!(t.jobs.iter().all(|j| !j.censored));
        assert!((t.gpu_hours() - m.class_gpu_hours).abs() < 1e-9);
        assert_eq!(m.file_gpu_hours, Some(m.class_gpu_hours));
        assert_eq!(t.start_epoch_ns, parse_timestamp("2020-05-01 00:00:00"));
        // Still active at the end: censored, ending a step after the last row.
        let (t, _) = read_helios(&helios(&[(0, 0, 0), (16, 1, 1)]), "h.csv", &ReadOptions::default()).unwrap();
        assert_eq!(t.jobs.iter().map(|j| (j.censored, j.end_ns() / minute)).collect::<Vec<_>>(), [(true, 2), (true, 2), (true, 2)]);
    }

    #[test]
    fn reconstructs_the_real_helios_sequence_exactly() {
        let Some(text) = shared("helios_earth_vc6YE_cluster_sequence_1min_2020-05-01_to_14.csv") else { return };
        let (t, r) = read(&text, "helios", None, &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap();
        assert_eq!((r.rows, r.skipped, r.gaps), (20_160, 0, 0));
        let m = t.demand_match.clone().unwrap();
        eprintln!(
            "helios: {} jobs, {} censored, {:?}, {:.1} GPU-h",
            t.len(),
            t.jobs.iter().filter(|j| j.censored).count(),
            m,
            t.gpu_hours()
        );
        assert_eq!((m.large_unit_gpus, m.small_unit_gpus, m.splits, m.step_ns), (8, 1, 0, 60_000_000_000));
        // The class columns exceed the capped totals (running_gpu_num is at most the VC's 208 GPUs) in 86 rows.
        assert_eq!(m.inconsistent_rows, 86);
        let (mut large, mut small, mut total) = (Vec::new(), Vec::new(), 0.0);
        for line in text.lines().skip(1) {
            let f: Vec<f64> = line.split(',').skip(1).map(|v| v.parse().unwrap()).collect();
            // Columns after `time`: running_gpu_num = 7, pending_gpu_num = 8, then noless/less running 11, 12, pending 13, 14.
            large.push(f[11] + f[13]);
            small.push(f[12] + f[14]);
            total += (f[7] + f[8]) / 60.0;
        }
        assert_eq!(replayed(&t, large.len(), true), large);
        assert_eq!(replayed(&t, small.len(), false), small);
        let class: f64 = large.iter().chain(&small).sum::<f64>() / 60.0;
        assert!((t.gpu_hours() - class).abs() < 1e-6 && (m.class_gpu_hours - class).abs() < 1e-6);
        assert!((m.file_gpu_hours.unwrap() - total).abs() < 1e-6);
        assert!(t.jobs.iter().all(|j| j.gpus == 8 || j.gpus == 1));
        assert_eq!(t.start_epoch_ns, parse_timestamp("2020-05-01 00:00:00"));
    }

    #[test]
    fn reads_the_real_openb_pod_list() {
        let Some(text) = shared("alibaba_openb2023_pod_list_default.csv") else { return };
        let (t, r) = read(&text, "openb", None, &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap();
        eprintln!("openb: {} GPU jobs, {} not GPU, {:.1} GPU-h", t.len(), t.skipped_not_gpu, t.gpu_hours());
        assert_eq!((r.lines, r.rows, r.skipped, t.skipped_not_gpu), (8152, 7064, 0, 1088));
        assert_eq!(t.jobs.iter().filter(|j| j.gpu_milli < 1000).count(), 3078);
        assert_eq!(t.jobs.iter().filter(|j| j.gpus == 8).count(), 44);
        assert!((t.gpu_hours() - 51_498.736).abs() < 0.01, "{}", t.gpu_hours());
        let pod1 = t.jobs.iter().find(|j| j.name == "openb-pod-0001").unwrap();
        assert_eq!((pod1.gpu_milli, pod1.submit_ns, pod1.duration_ns), (460, 427_061_000_000_000, (12_902_960 - 427_061) * 1_000_000_000));
        assert!(t.jobs.windows(2).all(|w| w[0].submit_ns <= w[1].submit_ns));
    }

    #[test]
    fn bad_rows_are_reported_with_lines() {
        let text = "name,num_gpu,gpu_milli,creation_time,deletion_time,scheduled_time\n\
                    a,1,500,10,20,10\n\
                    b,two,1000,10,20,10\n\
                    c,1,1500,10,20,10\n\
                    d,2,0,10,5,10\n\
                    e,0,0,soon,20,10\n\
                    f,1,1000,5,9,\n\
                    g,1,1000,5";
        let (t, r) = read_openb(text, "p.csv", &ReadOptions::default()).unwrap();
        assert_eq!(t.jobs.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(), ["f", "a"]);
        assert_eq!(t.skipped_not_gpu, 1);
        assert_eq!(
            r.problems.iter().map(|p| (p.line, p.field.clone().unwrap())).collect::<Vec<_>>(),
            [(3, "num_gpu".to_string()), (4, "gpu_milli".to_string()), (5, "deletion_time".to_string())]
        );
        assert!(r.truncated_last_line);
        assert_eq!(r.non_monotonic, 1);
        let e = read_openb(text, "p.csv", &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap_err().to_string();
        assert!(e.starts_with("p.csv:3: `num_gpu`: `two` is not a count"), "{e}");
        let e = read_openb("name,gpus\n", "p.csv", &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.starts_with("p.csv:1: the header lacks `num_gpu`, `creation_time`, `deletion_time`"), "{e}");

        let mut h = helios(&[(8, 1, 1), (16, 1, 1), (8, 0, 0)]);
        h = format!("{}x\n", h.replacen("2020-05-01 00:01:00", "2020-05-01 00:00:00", 1).trim_end());
        let (t, r) = read_helios(&h, "h.csv", &ReadOptions::default()).unwrap();
        assert_eq!(
            r.problems.iter().map(|p| (p.line, p.field.clone().unwrap())).collect::<Vec<_>>(),
            [(3, "time".to_string()), (4, "pending_job_num_less_8".to_string())]
        );
        assert_eq!(t.demand_match.unwrap().rows, 1);
        assert!(read("hello\n", "x", None, &ReadOptions::default()).is_err());
        // Absurd counts are bad rows, and a flood of jobs an error, not a hang.
        let (_, r) = read_helios(&helios(&[(8, 1, 1), (8_000_000, 0, 0)]), "h.csv", &ReadOptions::default()).unwrap();
        assert_eq!(r.problems[0].field.as_deref(), Some("running_gpu_num_noless_8"));
        let flood: Vec<(u64, u64, u64)> = (0..6).map(|i| (0, if i % 2 == 0 { 0 } else { 999_999 }, 999_999)).collect();
        let e = read_helios(&helios(&flood), "h.csv", &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.starts_with("h.csv:7: the reconstruction makes more than 2000000 jobs"), "{e}");
    }

    #[test]
    fn formats_are_detected_and_named() {
        assert_eq!(
            detect("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time"),
            Some(JobFormat::Openb)
        );
        assert_eq!(detect(HELIOS_HEADER), Some(JobFormat::Helios));
        assert_eq!(detect("time,gpus"), None);
        for f in JobFormat::NAMES.split(", ") {
            assert_eq!(JobFormat::from_name(f).map(JobFormat::name), Some(f));
        }
    }

    #[test]
    fn round_trips_through_parquet() {
        let (mut t, _) = read_helios(&helios(&[(8, 0, 0), (16, 2, 1)]), "h.csv", &ReadOptions::default()).unwrap();
        t.jobs[0].gpu_model = Some("V100M16|V100M32".into());
        t.demand_match = None;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.parquet");
        write_parquet(&t, &path).unwrap();
        assert_eq!(read_parquet(&path).unwrap(), t);
        std::fs::write(dir.path().join("x.parquet"), b"nope").unwrap();
        assert!(read_parquet(&dir.path().join("x.parquet")).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}", strict in any::<bool>()) {
            let opts = ReadOptions { strict, ..ReadOptions::default() };
            let _ = read(&text, "p", None, &opts);
            let _ = read(&format!("name,num_gpu,gpu_milli,creation_time,deletion_time,scheduled_time\n{text}"), "p", None, &opts);
            if let Ok((t, _)) = read(&format!("{HELIOS_HEADER}\n{text}"), "p", None, &opts) {
                let _ = t.demand(60_000_000_000, 10);
            }
        }

        #[test]
        fn mangled_traces_never_panic(edits in prop::collection::vec((any::<usize>(), 0usize..8, ".{0,6}"), 1..6), strict in any::<bool>()) {
            let opts = ReadOptions { strict, ..ReadOptions::default() };
            let _ = read(&crate::mangle(&helios(&[(8, 1, 1), (24, 3, 2), (0, 0, 0)]), &edits), "p", None, &opts);
            let pods = "name,num_gpu,gpu_milli,creation_time,deletion_time,scheduled_time\na,1,500,10,20,10\nb,8,1000,10,20,\n";
            if let Ok((t, _)) = read(&crate::mangle(pods, &edits), "p", None, &opts) {
                let _ = (t.gpu_hours(), t.demand(1, 40));
            }
        }

        #[test]
        fn any_demand_is_reproduced_exactly(minutes in prop::collection::vec((0u64..6, 0u64..12, 0u64..5), 1..40)) {
            let minutes: Vec<(u64, u64, u64)> = minutes.into_iter().map(|(l, s, j)| (l * 8 + l % 3 * 4, s, j)).collect();
            let (t, _) = read_helios(&helios(&minutes), "p", &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap();
            let large: Vec<f64> = minutes.iter().map(|m| m.0 as f64).collect();
            let small: Vec<f64> = minutes.iter().map(|m| m.1 as f64).collect();
            prop_assert_eq!(replayed(&t, minutes.len(), true), large);
            prop_assert_eq!(replayed(&t, minutes.len(), false), small);
            prop_assert!((t.gpu_hours() - t.demand_match.unwrap().class_gpu_hours).abs() < 1e-9);
        }
    }
}
