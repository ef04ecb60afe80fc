//! Training work: single jobs, generated streams of jobs and replayed job traces.

use super::SchedulingSpec;
use super::defaults::{one, secs, team, yes};
use crate::scenario::duration::Dur;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One training job: a gang of accelerators that start together.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSpec {
    /// Unique name among workloads.
    pub name: String,
    /// The team that pays. Default `"default"`.
    #[serde(default = "team")]
    pub team: String,
    /// Kubernetes namespace. Default: the team.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Scheduling: priority, node selector, tolerations.
    #[serde(default)]
    pub scheduling: SchedulingSpec,
    /// Container image (for admission policies).
    #[serde(default)]
    pub image: String,
    /// Labels (for policies: `critical = "true"`, `residency = "eu"`, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Pools the gang may run in (all of it in one pool).
    pub pools: Vec<String>,
    /// Accelerators in the gang.
    pub gpus: u32,
    /// Work, in H100-hours (GPU-hours on the reference accelerator).
    pub work_gpu_hours: f64,
    /// When the job is submitted. Default `"0s"`.
    #[serde(default)]
    pub submit_at: Dur,
    /// Compute time between checkpoints. Default `"1h"`.
    #[serde(default = "secs::<3_600>")]
    pub checkpoint_interval: Dur,
    /// Time a checkpoint takes, with no progress. Default `"1m"`.
    #[serde(default = "secs::<60>")]
    pub checkpoint_cost: Dur,
    /// On a spot notice, checkpoint at once if it fits in the notice. Default false.
    #[serde(default)]
    pub checkpoint_on_notice: bool,
    /// Whether the job checkpoints at all; without, a preemption loses
    /// everything and the scheduler keeps it off risky spot. Default true.
    #[serde(default = "yes")]
    pub checkpoints: bool,
    /// Speed per accelerator relative to H100, overriding the catalogue.
    #[serde(default)]
    pub speed: BTreeMap<String, f64>,
}

/// A generator of training jobs.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingStreamSpec {
    /// Prefix of the generated jobs' names (`name-0`, `name-1`, ...).
    pub name: String,
    /// The team that pays. Default `"default"`.
    #[serde(default = "team")]
    pub team: String,
    /// Kubernetes namespace. Default: the team.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Scheduling: priority, node selector, tolerations.
    #[serde(default)]
    pub scheduling: SchedulingSpec,
    /// Container image (for admission policies).
    #[serde(default)]
    pub image: String,
    /// Labels (for policies: `critical = "true"`, `residency = "eu"`, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Pools the jobs may run in.
    pub pools: Vec<String>,
    /// Poisson arrivals, jobs per hour.
    pub jobs_per_hour: f64,
    /// Gang sizes to draw from, uniformly.
    pub gpus: Vec<u32>,
    /// Work per job in H100-hours: log-normal.
    pub work_gpu_hours: LognormalSpec,
    /// When the first job may arrive. Default `"0s"`.
    #[serde(default)]
    pub start: Dur,
    /// No job arrives after this. Default: the horizon.
    #[serde(default)]
    pub stop: Option<Dur>,
    /// At most this many jobs. Default: no limit.
    #[serde(default)]
    pub max_jobs: Option<u32>,
    /// Compute time between checkpoints. Default `"1h"`.
    #[serde(default = "secs::<3_600>")]
    pub checkpoint_interval: Dur,
    /// Time a checkpoint takes, with no progress. Default `"1m"`.
    #[serde(default = "secs::<60>")]
    pub checkpoint_cost: Dur,
    /// On a spot notice, checkpoint at once if it fits in the notice. Default false.
    #[serde(default)]
    pub checkpoint_on_notice: bool,
    /// Whether the job checkpoints at all; without, a preemption loses
    /// everything and the scheduler keeps it off risky spot. Default true.
    #[serde(default = "yes")]
    pub checkpoints: bool,
    /// Speed per accelerator relative to H100, overriding the catalogue.
    #[serde(default)]
    pub speed: BTreeMap<String, f64>,
}

named_enum! {
    /// Formats of job traces (`job_traces.format`).
    pub enum JobTraceFormat {
        /// From the file's extension and header.
        #[default]
        Auto = "auto",
        /// Alibaba openb 2023 pod list CSV.
        Openb = "openb",
        /// A Helios cluster's job sequence CSV.
        Helios = "helios",
        /// Twin's job Parquet (from `twin trace import`).
        Parquet = "parquet",
    }
}

/// A job trace (Alibaba openb 2023 pods, a Helios cluster sequence, or
/// Parquet from `twin trace import`) replayed as gang submissions: each
/// recorded job asks for its GPUs (a share of one GPU takes a whole one) and
/// carries its recorded GPU-hours as work.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobTraceSpec {
    /// Unique name among workloads; jobs are named `name/job`.
    pub name: String,
    /// The trace file, relative to the scenario file.
    pub file: String,
    /// Its format. Default `"auto"` (from the extension and header).
    #[serde(default)]
    pub format: JobTraceFormat,
    /// The team that pays. Default `"default"`.
    #[serde(default = "team")]
    pub team: String,
    /// Kubernetes namespace. Default: the team.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Scheduling: priority, node selector, tolerations.
    #[serde(default)]
    pub scheduling: SchedulingSpec,
    /// Container image (for admission policies).
    #[serde(default)]
    pub image: String,
    /// Labels (for policies).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Pools the jobs may run in.
    pub pools: Vec<String>,
    /// Start this far into the trace. Default `"0s"`.
    #[serde(default)]
    pub skip: Dur,
    /// Replay this many times faster: submissions come sooner, the work is unchanged. Default 1.
    #[serde(default = "one")]
    pub speed: f64,
    /// H100-hours of work per recorded GPU-hour (the trace's GPUs may be slower). Default 1.
    #[serde(default = "one")]
    pub work_per_gpu_hour: f64,
    /// At most this many jobs. Default: every job in the horizon.
    #[serde(default)]
    pub max_jobs: Option<u32>,
    /// Compute time between checkpoints. Default `"1h"`.
    #[serde(default = "secs::<3_600>")]
    pub checkpoint_interval: Dur,
    /// Time a checkpoint takes, with no progress. Default `"1m"`.
    #[serde(default = "secs::<60>")]
    pub checkpoint_cost: Dur,
    /// On a spot notice, checkpoint at once if it fits in the notice. Default false.
    #[serde(default)]
    pub checkpoint_on_notice: bool,
    /// Whether the jobs checkpoint at all. Default true.
    #[serde(default = "yes")]
    pub checkpoints: bool,
}

/// A log-normal distribution by its median and log-space standard deviation.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LognormalSpec {
    /// The median.
    pub median: f64,
    /// Standard deviation of the logarithm.
    pub sigma: f64,
}
