//! Checks of request arrival processes.

use super::MAX_REQUEST_RATE;
use super::checker::Checker;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::ArrivalSpec;
use crate::time::SimDuration;

pub(super) fn check_arrivals(c: &mut Checker<'_>, a: &ArrivalSpec, p: &FieldPath) {
    let rate_hint = || Some("a rate is requests per second and must be ≥ 0".to_string());
    let rate = |c: &mut Checker<'_>, path: FieldPath, v: f64| {
        if !(v >= 0.0) || !v.is_finite() {
            c.report(ErrorKind::InvalidValue, path, format!("negative or invalid rate {v}"), rate_hint());
        } else {
            c.at_most(path, "a request rate", v, MAX_REQUEST_RATE);
        }
    };
    match a {
        ArrivalSpec::Poisson { rate: r } => rate(c, p.key("poisson").key("rate"), *r),
        ArrivalSpec::Mmpp { rates, mean_durations } => {
            let mp = p.key("mmpp");
            for (i, r) in rates.iter().enumerate() {
                rate(c, mp.key("rates").index(i), *r);
            }
            for (i, d) in mean_durations.iter().enumerate() {
                c.at_least(mp.key("mean_durations").index(i), "a state's mean duration", *d, SimDuration::from_millis(1));
            }
        }
        ArrivalSpec::Diurnal { mean_rate, amplitude, peak: _ } => {
            rate(c, p.key("diurnal").key("mean_rate"), *mean_rate);
            c.fraction(p.key("diurnal").key("amplitude"), "the amplitude", *amplitude, true);
        }
        ArrivalSpec::Piecewise { points, repeat_every } => {
            let pp = p.key("piecewise");
            if points.is_empty() {
                c.report(
                    ErrorKind::InvalidValue,
                    pp.key("points"),
                    "the rate table is empty",
                    Some("add points such as `{ at = \"0h\", rate = 5.0 }`".into()),
                );
            }
            if points.first().is_some_and(|f| !f.at.get().is_zero()) {
                c.report(ErrorKind::InvalidValue, pp.key("points").index(0).key("at"), "the first rate point must be at \"0s\"", None);
            }
            for (i, pt) in points.iter().enumerate() {
                rate(c, pp.key("points").index(i).key("rate"), pt.rate);
                if i > 0 && pt.at <= points[i - 1].at {
                    c.report(ErrorKind::InvalidValue, pp.key("points").index(i).key("at"), "rate points must be in increasing time", None);
                }
            }
            if let (Some(r), Some(last)) = (repeat_every, points.last())
                && *r <= last.at
            {
                c.report(
                    ErrorKind::InvalidValue,
                    pp.key("repeat_every"),
                    "the repeat period must be longer than the last point's time",
                    None,
                );
            }
        }
        ArrivalSpec::Hawkes { baseline, branching, decay } => {
            let hp = p.key("hawkes");
            rate(c, hp.key("baseline"), *baseline);
            if !(0.0..1.0).contains(branching) {
                c.report(
                    ErrorKind::InvalidValue,
                    hp.key("branching"),
                    format!("branching must be in [0, 1), not {branching}"),
                    Some("at 1 or more each burst triggers more than one burst on average and the rate explodes".into()),
                );
            }
            c.at_least(hp.key("decay"), "the decay", *decay, SimDuration::from_millis(1));
        }
        ArrivalSpec::Trace(t) => {
            let tp = p.key("trace");
            if t.file.trim().is_empty() {
                c.report(
                    ErrorKind::InvalidValue,
                    tp.key("file"),
                    "the trace file is empty",
                    Some("a path relative to the scenario file".into()),
                );
            }
            if !(t.speed > 0.0 && t.speed <= 1e6) {
                c.report(
                    ErrorKind::InvalidValue,
                    tp.key("speed"),
                    format!("speed {} is not in (0, 1e6]", t.speed),
                    Some("1 replays in real time, 2 twice as fast".into()),
                );
            }
        }
    }
}
