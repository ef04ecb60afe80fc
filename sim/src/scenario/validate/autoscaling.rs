//! Checks of a service's autoscaler.

use super::checker::Checker;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::AutoscalerSpec;
use crate::time::SimDuration;

/// Checks the autoscaler of the service at `p`, which starts with `replicas`.
pub(super) fn check_autoscaler(c: &mut Checker<'_>, a: &AutoscalerSpec, replicas: u32, p: &FieldPath) {
    let ap = p.key("autoscaler");
    c.positive(ap.key("target"), "the target", a.target);
    if a.min > a.max {
        c.report(ErrorKind::InvalidValue, ap.key("min"), format!("min ({}) is above max ({})", a.min, a.max), None);
    }
    c.at_least_one(ap.key("max"), "max", a.max);
    if replicas < a.min || replicas > a.max {
        c.report(
            ErrorKind::InvalidValue,
            p.key("replicas"),
            format!("{} replicas is outside the autoscaler's range {}..{}", replicas, a.min, a.max),
            None,
        );
    }
    c.at_least(ap.key("interval"), "the interval", a.interval, SimDuration::from_secs(1));
    c.count_at_most(ap.key("max"), "max", a.max);
    c.non_negative(ap.key("tolerance"), "the tolerance", a.tolerance);
    for (k, step) in [("max_step_up", a.max_step_up), ("max_step_down", a.max_step_down)] {
        if let Some(step) = step {
            c.at_least_one(ap.key(k), k, step);
        }
    }
    if !(a.percentile > 0.0 && a.percentile <= 1.0) {
        c.report(
            ErrorKind::InvalidValue,
            ap.key("percentile"),
            format!("percentile {} is not in (0, 1]", a.percentile),
            Some("0.95 holds the P95 at the target".into()),
        );
    }
}
