//! Checks of a pool's recorded telemetry.

use super::checker::Checker;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::{PoolSpec, PriceSpec, TelemetrySpec};
use crate::time::SimDuration;

/// A recorded pool is committed capacity at a fixed price with no simulated
/// failures: the recording, not the model, says what its accelerators did.
pub(super) fn check_telemetry(c: &mut Checker<'_>, pool: &PoolSpec, t: &TelemetrySpec, p: &FieldPath) {
    let tp = p.key("telemetry");
    if !pool.capacity.is_committed() {
        c.report(
            ErrorKind::InvalidValue,
            tp.clone(),
            format!(
                "recorded telemetry replays onto a fixed set of accelerators, and {} pool grows and shrinks",
                match pool.capacity.as_str() {
                    c @ "on-demand" => format!("an {c}"),
                    c => format!("a {c}"),
                }
            ),
            Some("use `capacity = \"on-prem\"` or `\"reserved\"` with `nodes = N` for the recorded machines".into()),
        );
    }
    if matches!(pool.price, Some(PriceSpec::MeanReverting(_) | PriceSpec::Table(_) | PriceSpec::History(_))) {
        c.report(
            ErrorKind::InvalidValue,
            p.key("price"),
            "a recorded pool is billed at a fixed price",
            Some("give `price` as a number".into()),
        );
    }
    if pool.failures.is_some() {
        c.report(
            ErrorKind::InvalidValue,
            p.key("failures"),
            "a recorded pool's outages are in its recording, not simulated",
            Some("remove `failures`".into()),
        );
    }
    c.file(tp.key("file"), "recording", &t.file);
    c.positive(tp.key("speed"), "the replay speed", t.speed);
    if !(0.0..=100.0).contains(&t.idle_below_pct) {
        c.report(
            ErrorKind::InvalidValue,
            tp.key("idle_below_pct"),
            format!("a utilisation threshold is a percentage, not {}", t.idle_below_pct),
            Some("such as `idle_below_pct = 5`".into()),
        );
    }
    c.at_least(tp.key("idle_after"), "idle_after", t.idle_after, SimDuration::from_secs(1));
}
