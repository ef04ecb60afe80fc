//! Checks of a parsed scenario: values that make sense, names that resolve, a
//! fleet that can hold its workloads.
//!
//! Each check reports a [`Problem`] with the path of the field at fault and a
//! hint; the caller turns paths into lines and columns. Checks never stop at
//! the first problem, so a user fixes a file in one pass.

mod arrivals;
mod autoscaling;
mod billing;
mod catalogue;
mod checker;
mod fleet;
mod market;
mod pod_trace;
mod scheduler;
mod services;
mod telemetry;
mod tokens;
mod training;
mod workloads;

pub use services::usable_gb;
pub use training::gang_fits;

use crate::catalogue::Catalogue;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::{FORMAT_VERSION, ScenarioSpec};
use crate::time::SimDuration;
use billing::check_billing;
use catalogue::check_catalogue_entries;
use checker::Checker;
use fleet::check_pools;
use pod_trace::check_pod_trace;
use scheduler::check_scheduler;
use workloads::check_workloads;

/// One problem found by a check, before it is located in the text.
#[derive(Clone, Debug)]
pub struct Problem {
    /// What kind of mistake.
    pub kind: ErrorKind,
    /// The field at fault.
    pub path: FieldPath,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// Most requests per second a service may receive.
pub const MAX_REQUEST_RATE: f64 = 100_000.0;

/// Most interruptions per node-hour.
pub const MAX_INTERRUPTION_RATE: f64 = 60.0;

/// Most training jobs per hour a stream may submit.
pub const MAX_JOB_RATE: f64 = 10_000.0;

/// Most nodes, replicas, batch slots or accelerators in one setting.
pub const MAX_COUNT: u32 = 1_000_000;

/// Longest horizon: a century.
pub const MAX_HORIZON: SimDuration = SimDuration::from_hours(100 * 8_760);

/// Checks a scenario against the catalogue it will run with (built-in plus
/// the scenario's own entries). An empty result means it can run.
pub fn check(spec: &ScenarioSpec, catalogue: &Catalogue) -> Vec<Problem> {
    let mut c = Checker { catalogue, problems: Vec::new() };
    let root = FieldPath::root();
    if spec.format_version != FORMAT_VERSION {
        c.report(
            ErrorKind::UnsupportedVersion,
            root.key("format_version"),
            format!("format_version {} is not one this Twin reads", spec.format_version),
            Some(format!("set `format_version = {FORMAT_VERSION}` and check the file against docs/scenario-format.md")),
        );
    }
    if let Some(t) = &spec.pod_trace {
        check_pod_trace(&mut c, spec, t);
        return c.problems;
    }
    if spec.horizon.get().is_zero() {
        c.report(
            ErrorKind::InvalidValue,
            root.key("horizon"),
            "the horizon is empty: nothing would be simulated",
            Some("set `horizon` to how long to simulate, such as \"7d\" or \"12h\"".into()),
        );
    }
    if spec.horizon.get() > MAX_HORIZON {
        c.report(
            ErrorKind::InvalidValue,
            root.key("horizon"),
            format!("a horizon of {} is longer than Twin's limit of a century", spec.horizon.get()),
            None,
        );
    }
    c.at_least(root.key("sample_interval"), "the sample interval", spec.sample_interval, SimDuration::from_secs(1));
    check_billing(&mut c, &spec.billing, &root.key("billing"));
    check_catalogue_entries(&mut c, spec);
    let pools = check_pools(&mut c, spec);
    check_workloads(&mut c, spec, &pools);
    check_scheduler(&mut c, spec);
    c.problems
}
