//! Checks every workload shares: unique names and the pools it may run in.

use super::checker::{Checker, known};
use super::fleet::PoolFacts;
use super::services::check_service;
use super::training::{check_job_trace, check_stream, check_training};
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::ScenarioSpec;
use std::collections::BTreeMap;

/// Checks services, training jobs, job traces and training streams, which
/// share one namespace of names, against the pools.
pub(super) fn check_workloads(c: &mut Checker<'_>, spec: &ScenarioSpec, pools: &BTreeMap<String, PoolFacts>) {
    let mut names: BTreeMap<String, FieldPath> = BTreeMap::new();
    let mut common = |c: &mut Checker<'_>, name: &str, refs: &[String], p: &FieldPath| {
        if names.insert(name.to_string(), p.key("name")).is_some() {
            c.report(
                ErrorKind::Duplicate,
                p.key("name"),
                format!("a second workload is called `{name}`"),
                Some("services, training jobs and training streams share one namespace of names".into()),
            );
        }
        check_pool_refs(c, refs, p, pools);
    };
    for (i, s) in spec.services.iter().enumerate() {
        let p = FieldPath::root().key("services").index(i);
        common(c, &s.name, &s.pools, &p);
        check_service(c, s, &p, pools);
    }
    for (i, t) in spec.training.iter().enumerate() {
        let p = FieldPath::root().key("training").index(i);
        common(c, &t.name, &t.pools, &p);
        check_training(c, t, &p, pools);
    }
    for (i, t) in spec.job_traces.iter().enumerate() {
        let p = FieldPath::root().key("job_traces").index(i);
        common(c, &t.name, &t.pools, &p);
        check_job_trace(c, t, &p);
    }
    for (i, t) in spec.training_streams.iter().enumerate() {
        let p = FieldPath::root().key("training_streams").index(i);
        common(c, &t.name, &t.pools, &p);
        check_stream(c, t, &p, pools);
    }
}

/// A workload at `p` names at least one pool, and only pools that exist
/// and run simulated work.
fn check_pool_refs(c: &mut Checker<'_>, refs: &[String], p: &FieldPath, pools: &BTreeMap<String, PoolFacts>) {
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
