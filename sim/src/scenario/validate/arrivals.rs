//! Checks of request arrival processes.

use super::MAX_REQUEST_RATE;
use super::checker::Checker;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::ArrivalSpec;
use crate::time::SimDuration;

/// Checks a service's arrival process, at `p`.
pub(super) fn check_arrivals(c: &mut Checker<'_>, a: &ArrivalSpec, p: &FieldPath) {
    let rate = |c: &mut Checker<'_>, path: FieldPath, v: f64| {
        c.rate(path, "a request rate", v, MAX_REQUEST_RATE, "a rate is requests per second and must be ≥ 0")
    };
    match a {
        ArrivalSpec::None => {}
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
            let points: Vec<_> = points.iter().map(|pt| (pt.at, pt.rate)).collect();
            c.steps(&p.key("piecewise"), ("rate", "{ at = \"0h\", rate = 5.0 }"), &points, *repeat_every, |c, pp, r| {
                rate(c, pp.key("rate"), r)
            });
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
            c.file(tp.key("file"), "request trace", &t.file);
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
