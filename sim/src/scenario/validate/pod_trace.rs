//! Checks of a pod-trace experiment.

use super::checker::Checker;
use super::scheduler::check_profile;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::{PodTraceSpec, ScenarioSpec};

/// A pod-trace experiment has files, profiles and fill settings, and no fleet or workloads of its own.
pub(super) fn check_pod_trace(c: &mut Checker<'_>, spec: &ScenarioSpec, t: &PodTraceSpec) {
    let p = FieldPath::root().key("pod_trace");
    for (key, present) in [
        ("pools", !spec.pools.is_empty()),
        ("services", !spec.services.is_empty()),
        ("training", !spec.training.is_empty()),
        ("training_streams", !spec.training_streams.is_empty()),
        ("job_traces", !spec.job_traces.is_empty()),
        ("policies", spec.policies.is_some()),
        ("scheduler", spec.scheduler.profile.is_some() || spec.scheduler.external.is_some()),
    ] {
        if present {
            c.report(
                ErrorKind::InvalidValue,
                FieldPath::root().key(key),
                format!("a `pod_trace` experiment takes its fleet and work from the trace, so `{key}` has no place here"),
                Some(format!(
                    "remove `{key}`, or remove `[pod_trace]` to simulate the fleet (profiles to compare go in `pod_trace.profiles`)"
                )),
            );
        }
    }
    c.file(p.key("pods"), "pod list", &t.pods);
    c.file(p.key("nodes"), "node list", &t.nodes);
    for (i, choice) in t.profiles.iter().enumerate() {
        check_profile(c, choice, &p.key("profiles").index(i), false);
    }
    if !(t.fill_to > 0.0 && t.fill_to <= 10.0) {
        c.report(
            ErrorKind::InvalidValue,
            p.key("fill_to"),
            format!("fill_to is a share of GPU capacity from above 0 to 10, not {}", t.fill_to),
            Some("the FGD paper fills to 1.3".into()),
        );
    }
    if !(t.report_every >= 0.001 && t.report_every <= t.fill_to.max(0.001)) {
        c.report(
            ErrorKind::InvalidValue,
            p.key("report_every"),
            format!("report_every must be from 0.001 to fill_to ({}), not {}", t.fill_to, t.report_every),
            Some("0.05 records a point at every 5% of capacity".into()),
        );
    }
}
