//! Markets: what capacity costs over time, and when spot capacity goes away.
//!
//! A [`PriceProcess`] gives a pool's price per node-hour as a piecewise-constant
//! function of time: fixed, mean-reverting with jumps, or read from a table.
//! [`Interruptions`] turn a spot hazard rate into times of reclaim notices.

use crate::rng::SimRng;
use crate::scenario::spec::{InterruptionSpec, MeanRevertingSpec, PriceSpec, PriceTableSpec};
use crate::time::{SimDuration, SimTime};
use rand::Rng;
use rand_distr::{Distribution, Exp, Poisson, StandardNormal};

/// The monthly share of instances interrupted that an AWS Spot Advisor band
/// stands for: the middle of the band (`">20%"` is taken as 25%).
pub fn band_monthly_fraction(band: &str) -> Option<f64> {
    match band.trim() {
        "<5%" => Some(0.025),
        "5-10%" => Some(0.075),
        "10-15%" => Some(0.125),
        "15-20%" => Some(0.175),
        ">20%" => Some(0.25),
        _ => None,
    }
}

/// Hours in the month the Spot Advisor's bands refer to (365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Spot interruptions of one pool: a constant hazard per node and a notice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interruptions {
    /// Interruptions per node-hour.
    pub rate_per_hour: f64,
    /// Warning between the notice and the reclaim.
    pub notice: SimDuration,
}

impl Interruptions {
    /// From a scenario's `interruption` table (already checked).
    pub fn from_spec(spec: &InterruptionSpec) -> Interruptions {
        let rate_per_hour = match (spec.rate_per_hour, spec.band.as_deref().and_then(band_monthly_fraction)) {
            (Some(r), _) => r,
            // A monthly fraction p of nodes interrupted is a hazard of −ln(1 − p) per month.
            (None, Some(p)) => -(1.0 - p).ln() / HOURS_PER_MONTH,
            (None, None) => 0.0,
        };
        Interruptions { rate_per_hour, notice: spec.notice.get() }
    }

    /// Time from a node becoming ready to its reclaim notice, or `None` if never.
    pub fn sample_until_notice(&self, rng: &mut SimRng) -> Option<SimDuration> {
        sample_exponential_hours(self.rate_per_hour, rng)
    }
}

/// An exponential wait with the given rate per hour; `None` for a zero rate.
pub fn sample_exponential_hours(rate_per_hour: f64, rng: &mut SimRng) -> Option<SimDuration> {
    if !(rate_per_hour > 0.0) {
        return None;
    }
    let exp = Exp::new(rate_per_hour).ok()?;
    let hours: f64 = exp.sample(rng);
    Some(SimDuration::from_secs_f64(hours * 3_600.0))
}

/// A pool's price per node-hour over time.
#[derive(Clone, Debug)]
pub struct PriceProcess {
    current: f64,
    pending: Option<f64>,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Fixed,
    MeanReverting { spec: MeanRevertingSpec, rng: SimRng },
    Table { spec: PriceTableSpec, cycle: u64, next: usize },
}

impl PriceProcess {
    /// A process from a scenario's `price` (already checked), with its own stream.
    pub fn new(spec: &PriceSpec, rng: SimRng) -> PriceProcess {
        match spec {
            PriceSpec::Fixed(p) => PriceProcess { current: *p, pending: None, kind: Kind::Fixed },
            // A history is read at the edge and handed over as a table (see
            // `Scenario::attach_price_history`); unresolved, it has no price.
            PriceSpec::History(_) => PriceProcess { current: 0.0, pending: None, kind: Kind::Fixed },
            PriceSpec::MeanReverting(m) => {
                PriceProcess { current: m.initial.unwrap_or(m.mean), pending: None, kind: Kind::MeanReverting { spec: m.clone(), rng } }
            }
            PriceSpec::Table(t) => PriceProcess {
                current: t.points.first().map_or(0.0, |p| p.price),
                pending: None,
                kind: Kind::Table { spec: t.clone(), cycle: 0, next: 1 },
            },
        }
    }

    /// A fixed price.
    pub fn fixed(price: f64) -> PriceProcess {
        PriceProcess { current: price, pending: None, kind: Kind::Fixed }
    }

    /// The price now, per node-hour.
    pub fn current(&self) -> f64 {
        self.current
    }

    /// Works out the next change after `now` and returns when it happens;
    /// [`PriceProcess::apply_pending`] makes it current at that time.
    pub fn next_change(&mut self, now: SimTime) -> Option<SimTime> {
        match &mut self.kind {
            Kind::Fixed => None,
            Kind::MeanReverting { spec, rng } => {
                let dt_h = spec.tick.get().as_hours_f64();
                let next = mean_reverting_step(self.current, dt_h, spec, rng);
                self.pending = Some(next);
                Some(now + spec.tick.get())
            }
            Kind::Table { spec, cycle, next } => {
                let period = spec.repeat_every.map(|d| d.get().as_nanos());
                loop {
                    if *next >= spec.points.len() {
                        // Without a repeat period the last price holds for ever.
                        period?;
                        *cycle += 1;
                        *next = 0;
                    }
                    let base = period.map_or(0, |p| p.saturating_mul(*cycle));
                    let point = &spec.points[*next];
                    let at = SimTime(base.saturating_add(point.at.get().as_nanos()));
                    *next += 1;
                    if at > now {
                        self.pending = Some(point.price);
                        return Some(at);
                    }
                    if at == now {
                        self.current = point.price;
                    }
                }
            }
        }
    }

    /// Makes the change found by [`PriceProcess::next_change`] current and returns the new price.
    pub fn apply_pending(&mut self) -> f64 {
        if let Some(p) = self.pending.take() {
            self.current = p;
        }
        self.current
    }
}

/// One step of the mean-reverting process over `dt_h` hours: the exact
/// Ornstein-Uhlenbeck transition plus Poisson jumps, clamped to floor and cap.
fn mean_reverting_step(x: f64, dt_h: f64, m: &MeanRevertingSpec, rng: &mut SimRng) -> f64 {
    let mu = m.mean;
    let sigma = m.volatility * mu;
    let theta = m.reversion_per_hour;
    let z: f64 = StandardNormal.sample(rng);
    let mut next = if theta > 0.0 {
        let decay = (-theta * dt_h).exp();
        let sd = sigma * ((1.0 - decay * decay) / (2.0 * theta)).sqrt();
        mu + (x - mu) * decay + sd * z
    } else {
        x + sigma * dt_h.sqrt() * z
    };
    let lambda = m.jumps_per_day * dt_h / 24.0;
    if lambda > 0.0 {
        let n = Poisson::new(lambda).map(|p| p.sample(rng)).unwrap_or(0.0) as u64;
        for _ in 0..n {
            let u: f64 = rng.random();
            // Exponential jump, relative to the mean.
            next += mu * m.jump_size * -(1.0 - u).ln();
        }
    }
    let floor = m.floor_price();
    next = next.max(floor);
    if let Some(cap) = m.cap {
        next = next.min(cap);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RngStreams;
    use crate::scenario::Dur;
    use crate::scenario::spec::PricePoint;

    #[test]
    fn bands_become_hazards() {
        let spec = InterruptionSpec { rate_per_hour: None, band: Some("5-10%".into()), advisor: None, notice: Dur::secs(120) };
        let i = Interruptions::from_spec(&spec);
        // 7.5% a month.
        assert!((1.0 - (-i.rate_per_hour * HOURS_PER_MONTH).exp() - 0.075).abs() < 1e-12);
        assert_eq!(i.notice, SimDuration::from_secs(120));
    }

    #[test]
    fn tables_step_and_repeat() {
        let spec = PriceSpec::Table(PriceTableSpec {
            points: vec![PricePoint { at: Dur::secs(0), price: 1.0 }, PricePoint { at: Dur::secs(10), price: 2.0 }],
            repeat_every: Some(Dur::secs(30)),
        });
        let mut p = PriceProcess::new(&spec, RngStreams::new(1).stream("x"));
        assert_eq!(p.current(), 1.0);
        let mut seen = vec![];
        let mut now = SimTime::ZERO;
        for _ in 0..4 {
            now = p.next_change(now).unwrap();
            seen.push((now.as_nanos() / 1_000_000_000, p.apply_pending()));
        }
        assert_eq!(seen, vec![(10, 2.0), (30, 1.0), (40, 2.0), (60, 1.0)]);
    }

    #[test]
    fn a_table_without_repeat_holds_its_last_price() {
        let spec = PriceSpec::Table(PriceTableSpec {
            points: vec![PricePoint { at: Dur::secs(0), price: 1.0 }, PricePoint { at: Dur::secs(10), price: 3.0 }],
            repeat_every: None,
        });
        let mut p = PriceProcess::new(&spec, RngStreams::new(1).stream("x"));
        let t = p.next_change(SimTime::ZERO).unwrap();
        assert_eq!(p.apply_pending(), 3.0);
        assert_eq!(p.next_change(t), None);
    }

    #[test]
    fn mean_reversion_stays_near_its_mean_and_above_the_floor() {
        let m = MeanRevertingSpec {
            mean: 10.0,
            initial: Some(20.0),
            reversion_per_hour: 1.0,
            volatility: 0.1,
            jumps_per_day: 1.0,
            jump_size: 0.3,
            floor: Some(5.0),
            cap: None,
            tick: Dur::secs(300),
        };
        let mut p = PriceProcess::new(&PriceSpec::MeanReverting(m), RngStreams::new(3).stream("p"));
        let mut now = SimTime::ZERO;
        let mut sum = 0.0;
        let n = 20_000;
        for _ in 0..n {
            now = p.next_change(now).unwrap();
            let v = p.apply_pending();
            assert!(v >= 5.0);
            sum += v;
        }
        let mean = sum / n as f64;
        // Stationary mean: μ plus the jumps' drift, jumps/day × size × μ / (24 θ) = 0.125.
        assert!((mean - 10.125).abs() < 0.3, "mean {mean}");
    }
}
