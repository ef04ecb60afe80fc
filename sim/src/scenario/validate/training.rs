//! Checks of training jobs, streams and job traces: gangs that fit, checkpoints and speeds.

use super::MAX_JOB_RATE;
use super::checker::Checker;
use super::fleet::PoolFacts;
use crate::scenario::duration::Dur;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::{JobTraceSpec, TrainingSpec, TrainingStreamSpec};
use crate::time::SimDuration;
use std::collections::BTreeMap;

/// Checks a training job at `p` (its name and pool references are checked with every workload's).
pub(super) fn check_training(c: &mut Checker<'_>, t: &TrainingSpec, p: &FieldPath, pools: &BTreeMap<String, PoolFacts>) {
    check_gang(c, t.gpus, &t.pools, &p.key("gpus"), pools);
    c.positive(p.key("work_gpu_hours"), "the work", t.work_gpu_hours);
    c.at_most(p.key("work_gpu_hours"), "the work", t.work_gpu_hours, 1e9);
    check_execution(c, p, t.checkpoint_interval, &t.speed);
}

/// Checks a job trace at `p`.
pub(super) fn check_job_trace(c: &mut Checker<'_>, t: &JobTraceSpec, p: &FieldPath) {
    c.file(p.key("file"), "job trace", &t.file);
    c.positive(p.key("speed"), "the replay speed", t.speed);
    c.positive(p.key("work_per_gpu_hour"), "the work per GPU-hour", t.work_per_gpu_hour);
    check_execution(c, p, t.checkpoint_interval, &BTreeMap::new());
}

/// Checks a stream of training jobs at `p`.
pub(super) fn check_stream(c: &mut Checker<'_>, t: &TrainingStreamSpec, p: &FieldPath, pools: &BTreeMap<String, PoolFacts>) {
    c.rate(p.key("jobs_per_hour"), "a job rate", t.jobs_per_hour, MAX_JOB_RATE, "a rate is jobs per hour and must be ≥ 0");
    if let Some(m) = t.max_jobs {
        c.count_at_most(p.key("max_jobs"), "max_jobs", m);
    }
    if t.gpus.is_empty() {
        c.report(ErrorKind::InvalidValue, p.key("gpus"), "no gang sizes to draw from", Some("list sizes such as `gpus = [8, 16]`".into()));
    }
    for (j, g) in t.gpus.iter().enumerate() {
        check_gang(c, *g, &t.pools, &p.key("gpus").index(j), pools);
    }
    c.positive(p.key("work_gpu_hours").key("median"), "the median work", t.work_gpu_hours.median);
    c.non_negative(p.key("work_gpu_hours").key("sigma"), "sigma", t.work_gpu_hours.sigma);
    if let Some(stop) = t.stop
        && stop < t.start
    {
        c.report(ErrorKind::InvalidValue, p.key("stop"), "the stream stops before it starts", None);
    }
    check_execution(c, p, t.checkpoint_interval, &t.speed);
}

/// A gang of `gpus` at `p` must fit in one of the pools it may run in.
fn check_gang(c: &mut Checker<'_>, gpus: u32, refs: &[String], p: &FieldPath, pools: &BTreeMap<String, PoolFacts>) {
    c.count_at_most(p.clone(), "a gang", gpus);
    if gpus == 0 {
        c.report(ErrorKind::InvalidValue, p.clone(), "a gang needs at least one accelerator", None);
        return;
    }
    let known_pools: Vec<(&String, &PoolFacts)> = refs.iter().filter_map(|r| pools.get_key_value(r)).collect();
    let fits = |f: &PoolFacts| f.per_node.is_some_and(|n| gang_fits(gpus, n, f.max_nodes));
    if !known_pools.is_empty() && !known_pools.iter().any(|(_, f)| fits(f)) {
        let (name, f) =
            known_pools.iter().max_by_key(|(_, f)| f.per_node.unwrap_or(0) as u64 * f.max_nodes as u64).copied().unwrap_or(known_pools[0]);
        let per = f.per_node.unwrap_or(0);
        let hint = if per > 0 && gpus > per && !gpus.is_multiple_of(per) {
            format!("a gang spread over nodes takes whole nodes: use a multiple of {per}, or {per} or fewer")
        } else {
            format!(
                "the largest of its pools, `{name}`, holds {} ({} nodes × {per}); lower `gpus` or raise that pool's size",
                per as u64 * f.max_nodes as u64,
                f.max_nodes
            )
        };
        c.report(ErrorKind::Unsatisfiable, p.clone(), format!("a gang of {gpus} accelerators fits in none of its pools"), Some(hint));
    }
}

/// Whether a gang of `gpus` can be placed in a pool of nodes with `per_node`
/// accelerators and at most `max_nodes` nodes: within one node, or over whole nodes.
pub fn gang_fits(gpus: u32, per_node: u32, max_nodes: u32) -> bool {
    per_node > 0 && (gpus <= per_node && max_nodes > 0 || gpus.is_multiple_of(per_node) && gpus / per_node <= max_nodes)
}

/// Checkpoints not too frequent, and speeds of accelerators that exist.
fn check_execution(c: &mut Checker<'_>, p: &FieldPath, interval: Dur, speed: &BTreeMap<String, f64>) {
    c.at_least(p.key("checkpoint_interval"), "the checkpoint interval", interval, SimDuration::from_secs(1));
    for (k, v) in speed {
        c.accelerator(p.key("speed").key(k), k);
        c.positive(p.key("speed").key(k), "a speed", *v);
        c.at_most(p.key("speed").key(k), "a speed", *v, 1_000.0);
    }
}
