//! Checks of prices.

use super::checker::Checker;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::PriceSpec;
use crate::time::SimDuration;

pub(super) fn check_price(c: &mut Checker<'_>, price: &PriceSpec, p: &FieldPath) {
    match price {
        PriceSpec::History(h) => {
            let hp = p.key("history");
            if h.file.trim().is_empty() {
                c.report(ErrorKind::InvalidValue, hp.key("file"), "no price history named", None);
            }
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
            if !(*v >= 0.0) || !v.is_finite() {
                c.report(
                    ErrorKind::InvalidValue,
                    p.clone(),
                    format!("negative or invalid price {v}"),
                    Some("prices are per node-hour and must be ≥ 0".into()),
                );
            }
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
            let tp = p.key("table");
            if t.points.is_empty() {
                c.report(
                    ErrorKind::InvalidValue,
                    tp.key("points"),
                    "the price table is empty",
                    Some("add points such as `{ at = \"0h\", price = 20.0 }`".into()),
                );
            }
            if let Some(first) = t.points.first()
                && !first.at.get().is_zero()
            {
                c.report(ErrorKind::InvalidValue, tp.key("points").index(0).key("at"), "the first price point must be at \"0s\"", None);
            }
            for (i, pt) in t.points.iter().enumerate() {
                let pp = tp.key("points").index(i);
                c.non_negative(pp.key("price"), "the price", pt.price);
                if i > 0 && pt.at <= t.points[i - 1].at {
                    c.report(ErrorKind::InvalidValue, pp.key("at"), "price points must be in increasing time", None);
                }
            }
            if let (Some(r), Some(last)) = (t.repeat_every, t.points.last())
                && r <= last.at
            {
                c.report(
                    ErrorKind::InvalidValue,
                    tp.key("repeat_every"),
                    "the repeat period must be longer than the last point's time",
                    None,
                );
            }
        }
    }
}
