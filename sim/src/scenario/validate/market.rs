//! Checks of markets: prices, spot interruptions and stock-outs.

use super::MAX_INTERRUPTION_RATE;
use super::checker::Checker;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::{CapacityType, InterruptionSpec, PriceSpec, StockoutSpec};
use crate::time::SimDuration;

/// Checks a pool's price process, at `p`.
pub(super) fn check_price(c: &mut Checker<'_>, price: &PriceSpec, p: &FieldPath) {
    match price {
        PriceSpec::History(h) => {
            let hp = p.key("history");
            c.file(hp.key("file"), "price history", &h.file);
            if crate::time::parse_date_ns(&h.start).is_none() {
                c.report(
                    ErrorKind::InvalidValue,
                    hp.key("start"),
                    format!("`{}` is not a date", h.start),
                    Some("write it as `YYYY-MM-DD`, such as \"2025-01-06\"".into()),
                );
            }
            c.positive(hp.key("speed"), "the replay speed", h.speed);
        }
        PriceSpec::Fixed(v) => {
            c.amount(p.clone(), "price", *v, "prices are per node-hour and must be ≥ 0");
        }
        PriceSpec::MeanReverting(m) => {
            let mp = p.key("mean_reverting");
            c.positive(mp.key("mean"), "the mean price", m.mean);
            c.non_negative(mp.key("reversion_per_hour"), "the reversion speed", m.reversion_per_hour);
            c.non_negative(mp.key("volatility"), "the volatility", m.volatility);
            c.non_negative(mp.key("jumps_per_day"), "the jump rate", m.jumps_per_day);
            c.non_negative(mp.key("jump_size"), "the jump size", m.jump_size);
            c.at_least(mp.key("tick"), "the price tick", m.tick, SimDuration::from_secs(1));
            if let Some(i) = m.initial {
                c.non_negative(mp.key("initial"), "the initial price", i);
            }
            if let (Some(f), Some(cap)) = (m.floor, m.cap)
                && f > cap
            {
                c.report(ErrorKind::InvalidValue, mp.key("floor"), format!("floor ({f}) is above cap ({cap})"), None);
            }
            if let Some(f) = m.floor {
                c.non_negative(mp.key("floor"), "the floor", f);
            }
        }
        PriceSpec::Table(t) => {
            let points: Vec<_> = t.points.iter().map(|pt| (pt.at, pt.price)).collect();
            c.steps(&p.key("table"), ("price", "{ at = \"0h\", price = 20.0 }"), &points, t.repeat_every, |c, pp, price| {
                c.non_negative(pp.key("price"), "the price", price)
            });
        }
    }
}

/// Checks the interruptions of a pool of `capacity`, at `ip`: spot only,
/// with exactly one of a rate, a band and an advisor file.
pub(super) fn check_interruption(c: &mut Checker<'_>, capacity: CapacityType, int: &InterruptionSpec, ip: &FieldPath) {
    if capacity != CapacityType::Spot {
        c.report(
            ErrorKind::InvalidValue,
            ip.clone(),
            format!("{} capacity is not interrupted", capacity.as_str()),
            Some("interruptions apply to spot pools only; model hardware faults with `failures`".into()),
        );
    }
    let given = [int.rate_per_hour.is_some(), int.band.is_some(), int.advisor.is_some()].iter().filter(|g| **g).count();
    if given > 1 {
        c.report(
            ErrorKind::InvalidValue,
            ip.clone(),
            "more than one of `rate_per_hour`, `band` and `advisor` is given",
            Some("keep one of them".into()),
        );
    } else if given == 0 {
        c.report(
            ErrorKind::MissingField,
            ip.clone(),
            "no interruption rate",
            Some("add `rate_per_hour = 0.01`, `band = \"5-10%\"` or `advisor = { file = \"spot-advisor-data.json\" }`".into()),
        );
    }
    if let Some(r) = int.rate_per_hour {
        c.rate(
            ip.key("rate_per_hour"),
            "an interruption rate",
            r,
            MAX_INTERRUPTION_RATE,
            "a rate is interruptions per node-hour and must be ≥ 0 (0.005 is about 3.6 a month)",
        );
    }
    if let Some(b) = &int.band
        && crate::market::band_monthly_fraction(b).is_none()
    {
        c.report(
            ErrorKind::InvalidValue,
            ip.key("band"),
            format!("unknown interruption band `{b}`"),
            Some("use one of \"<5%\", \"5-10%\", \"10-15%\", \"15-20%\", \">20%\" (AWS Spot Advisor)".into()),
        );
    }
    if let Some(a) = &int.advisor {
        c.file(ip.key("advisor").key("file"), "Spot Advisor file", &a.file);
    }
}

/// Checks the stock-outs of a pool of `capacity`, at `sp`: spot only.
pub(super) fn check_stockouts(c: &mut Checker<'_>, capacity: CapacityType, s: &StockoutSpec, sp: &FieldPath) {
    if capacity != CapacityType::Spot {
        c.report(ErrorKind::InvalidValue, sp.clone(), "only spot pools run out of capacity here", None);
    }
    c.at_least(sp.key("mean_available"), "mean_available", s.mean_available, SimDuration::from_secs(1));
    c.at_least(sp.key("mean_duration"), "mean_duration", s.mean_duration, SimDuration::from_secs(1));
}
