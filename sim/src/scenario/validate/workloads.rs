//! Checks every workload shares: unique names and the pools it may run in.

use super::MAX_JOB_RATE;
use super::checker::{Checker, known};
use super::fleet::PoolFacts;
use super::services::check_service;
use super::training::{check_execution, check_gang};
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::ScenarioSpec;
use crate::time::SimDuration;
use std::collections::BTreeMap;

pub(super) fn check_workloads(c: &mut Checker<'_>, spec: &ScenarioSpec, pools: &BTreeMap<String, PoolFacts>) {
    let mut names: BTreeMap<String, FieldPath> = BTreeMap::new();
    let mut unique = |c: &mut Checker<'_>, name: &str, path: FieldPath| {
        if names.insert(name.to_string(), path.clone()).is_some() {
            c.report(
                ErrorKind::Duplicate,
                path,
                format!("a second workload is called `{name}`"),
                Some("services, training jobs and training streams share one namespace of names".into()),
            );
        }
    };
    for (i, s) in spec.services.iter().enumerate() {
        let p = FieldPath::root().key("services").index(i);
        unique(c, &s.name, p.key("name"));
        check_service(c, s, &p, pools);
    }
    for (i, t) in spec.training.iter().enumerate() {
        let p = FieldPath::root().key("training").index(i);
        unique(c, &t.name, p.key("name"));
        check_pool_refs(c, &t.pools, &p, pools);
        check_gang(c, t.gpus, &t.pools, &p.key("gpus"), pools);
        c.positive(p.key("work_gpu_hours"), "the work", t.work_gpu_hours);
        c.at_most(p.key("work_gpu_hours"), "the work", t.work_gpu_hours, 1e9);
        check_execution(c, &p, t.checkpoint_interval, &t.speed);
    }
    for (i, t) in spec.job_traces.iter().enumerate() {
        let p = FieldPath::root().key("job_traces").index(i);
        unique(c, &t.name, p.key("name"));
        check_pool_refs(c, &t.pools, &p, pools);
        if t.file.trim().is_empty() {
            c.report(ErrorKind::InvalidValue, p.key("file"), "no job trace named", None);
        }
        c.positive(p.key("speed"), "the replay speed", t.speed);
        c.positive(p.key("work_per_gpu_hour"), "the work per GPU-hour", t.work_per_gpu_hour);
        c.at_least(p.key("checkpoint_interval"), "the checkpoint interval", t.checkpoint_interval, SimDuration::from_secs(1));
    }
    for (i, t) in spec.training_streams.iter().enumerate() {
        let p = FieldPath::root().key("training_streams").index(i);
        unique(c, &t.name, p.key("name"));
        check_pool_refs(c, &t.pools, &p, pools);
        if !(t.jobs_per_hour >= 0.0) || !t.jobs_per_hour.is_finite() {
            c.report(
                ErrorKind::InvalidValue,
                p.key("jobs_per_hour"),
                format!("negative or invalid rate {}", t.jobs_per_hour),
                Some("a rate is jobs per hour and must be ≥ 0".into()),
            );
        }
        c.at_most(p.key("jobs_per_hour"), "a job rate", t.jobs_per_hour, MAX_JOB_RATE);
        if let Some(m) = t.max_jobs {
            c.count_at_most(p.key("max_jobs"), "max_jobs", m);
        }
        if t.gpus.is_empty() {
            c.report(
                ErrorKind::InvalidValue,
                p.key("gpus"),
                "no gang sizes to draw from",
                Some("list sizes such as `gpus = [8, 16]`".into()),
            );
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
        check_execution(c, &p, t.checkpoint_interval, &t.speed);
    }
}

pub(super) fn check_pool_refs(c: &mut Checker<'_>, refs: &[String], p: &FieldPath, pools: &BTreeMap<String, PoolFacts>) {
    if refs.is_empty() {
        c.report(
            ErrorKind::InvalidValue,
            p.key("pools"),
            "no pools to run in",
            Some("list pool names, such as `pools = [\"h100-spot\"]`".into()),
        );
    }
    for (j, name) in refs.iter().enumerate() {
        match pools.get(name) {
            None => {
                let hint = known(pools.keys().map(String::as_str));
                c.report(ErrorKind::UnknownReference, p.key("pools").index(j), format!("pool `{name}` does not exist"), Some(hint));
            }
            Some(f) if f.recorded => c.report(
                ErrorKind::InvalidValue,
                p.key("pools").index(j),
                format!("pool `{name}` replays recorded telemetry: what its accelerators did is in the recording"),
                Some("run simulated work in another pool".into()),
            ),
            Some(_) => {}
        }
    }
}
