//! Arrival processes: when the next request comes.
//!
//! Each process keeps its own state (the MMPP's phase, the Hawkes process's
//! excitation) and draws from the service's arrival stream only, so the
//! arrivals of one service do not depend on anything else in the run.

use crate::rng::SimRng;
use crate::scenario::spec::ArrivalSpec;
use crate::time::{SimDuration, SimTime};
use rand::Rng;
use std::f64::consts::TAU;

/// A recorded request trace: offsets from its first request and tokens.
/// Read at the edge (`twin-replay`) and handed to the model as data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestTrace {
    /// ns after the first request, non-decreasing.
    pub offsets_ns: Vec<u64>,
    /// Prompt tokens per request.
    pub prompt: Vec<u32>,
    /// Output tokens per request.
    pub output: Vec<u32>,
}

impl RequestTrace {
    /// Requests.
    pub fn len(&self) -> usize {
        self.offsets_ns.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.offsets_ns.is_empty()
    }

    /// From the last request to the first, ns.
    pub fn span_ns(&self) -> u64 {
        self.offsets_ns.last().copied().unwrap_or(0)
    }
}

/// A point process of request arrivals.
#[derive(Clone, Debug)]
pub struct ArrivalProcess {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Poisson {
        rate: f64,
    },
    Mmpp {
        rates: [f64; 2],
        mean_secs: [f64; 2],
        state: usize,
        state_end: Option<SimTime>,
    },
    Diurnal {
        mean_rate: f64,
        amplitude: f64,
        peak_secs: f64,
    },
    Hawkes {
        baseline: f64,
        branching: f64,
        decay_secs: f64,
        clock: SimTime,
        excitation: f64,
    },
    Piecewise {
        points: Vec<(u64, f64)>,
        period: Option<u64>,
    },
    /// `next` is the request the next call returns; `pending` the tokens of
    /// the arrival scheduled and not yet fired.
    Trace {
        trace: std::sync::Arc<RequestTrace>,
        speed: f64,
        repeat: bool,
        next: usize,
        cycle: u64,
        pending: Option<(u32, u32)>,
    },
}

/// An exponential draw with the given rate (per second), in seconds.
fn exp_secs(rate: f64, rng: &mut SimRng) -> f64 {
    let u: f64 = rng.random();
    -(1.0 - u).ln() / rate
}

impl ArrivalProcess {
    /// A process that replays `trace` (`speed` times faster, starting over when `repeat`).
    pub fn from_trace(trace: std::sync::Arc<RequestTrace>, speed: f64, repeat: bool) -> ArrivalProcess {
        ArrivalProcess { kind: Kind::Trace { trace, speed, repeat, next: 0, cycle: 0, pending: None } }
    }

    /// The tokens (prompt, output) of the arrival now firing, when the process replays a trace.
    pub fn take_tokens(&mut self) -> Option<(u32, u32)> {
        match &mut self.kind {
            Kind::Trace { pending, .. } => pending.take(),
            _ => None,
        }
    }

    /// A process from a scenario's `arrivals` (already checked). A trace
    /// replays nothing until built with [`ArrivalProcess::from_trace`].
    pub fn new(spec: &ArrivalSpec) -> ArrivalProcess {
        let kind = match spec {
            ArrivalSpec::Trace(t) => Kind::Trace {
                trace: std::sync::Arc::new(RequestTrace::default()),
                speed: t.speed,
                repeat: t.repeat,
                next: 0,
                cycle: 0,
                pending: None,
            },
            ArrivalSpec::None => Kind::Poisson { rate: 0.0 },
            ArrivalSpec::Poisson { rate } => Kind::Poisson { rate: *rate },
            ArrivalSpec::Mmpp { rates, mean_durations } => Kind::Mmpp {
                rates: *rates,
                mean_secs: [mean_durations[0].get().as_secs_f64(), mean_durations[1].get().as_secs_f64()],
                state: 0,
                state_end: None,
            },
            ArrivalSpec::Diurnal { mean_rate, amplitude, peak } => {
                Kind::Diurnal { mean_rate: *mean_rate, amplitude: *amplitude, peak_secs: peak.get().as_secs_f64() }
            }
            ArrivalSpec::Piecewise { points, repeat_every } => Kind::Piecewise {
                points: points.iter().map(|p| (p.at.get().as_nanos(), p.rate)).collect(),
                period: repeat_every.map(|d| d.get().as_nanos()),
            },
            ArrivalSpec::Hawkes { baseline, branching, decay } => Kind::Hawkes {
                baseline: *baseline,
                branching: *branching,
                decay_secs: decay.get().as_secs_f64(),
                clock: SimTime::ZERO,
                excitation: 0.0,
            },
        };
        ArrivalProcess { kind }
    }

    /// The long-run mean rate, requests per second.
    pub fn mean_rate(&self) -> f64 {
        match &self.kind {
            Kind::Poisson { rate } => *rate,
            Kind::Mmpp { rates, mean_secs, .. } => (rates[0] * mean_secs[0] + rates[1] * mean_secs[1]) / (mean_secs[0] + mean_secs[1]),
            Kind::Diurnal { mean_rate, .. } => *mean_rate,
            Kind::Hawkes { baseline, branching, .. } => baseline / (1.0 - branching),
            Kind::Trace { trace, speed, .. } => {
                if trace.len() < 2 || trace.span_ns() == 0 {
                    0.0
                } else {
                    (trace.len() - 1) as f64 / (trace.span_ns() as f64 / 1e9) * *speed
                }
            }
            Kind::Piecewise { points, period } => {
                // Time-weighted over one period, or the last rate if it holds for ever.
                match period {
                    Some(p) => {
                        let mut sum = 0.0;
                        for (i, (at, r)) in points.iter().enumerate() {
                            let end = points.get(i + 1).map_or(*p, |n| n.0);
                            sum += r * (end - at) as f64;
                        }
                        sum / *p as f64
                    }
                    None => points.last().map_or(0.0, |p| p.1),
                }
            }
        }
    }

    /// The first arrival after `now` (the previous arrival, or the start), or
    /// `None` when no more requests will come.
    pub fn next_after(&mut self, now: SimTime, rng: &mut SimRng) -> Option<SimTime> {
        match &mut self.kind {
            Kind::Trace { trace, speed, repeat, next, cycle, pending } => {
                if *next >= trace.len() {
                    if !*repeat || trace.is_empty() {
                        return None;
                    }
                    // Again, one mean gap after the last request.
                    let n = trace.len() as u64;
                    *cycle += trace.span_ns() + trace.span_ns() / n.max(2).saturating_sub(1).max(1);
                    *next = 0;
                }
                let i = *next;
                *next += 1;
                *pending = Some((trace.prompt[i], trace.output[i]));
                let at = ((*cycle + trace.offsets_ns[i]) as f64 / *speed).round();
                // Never before now: equal offsets arrive at the same instant, in trace order.
                Some(SimTime((at.min(u64::MAX as f64) as u64).max(now.0)))
            }
            Kind::Poisson { rate } => {
                if *rate <= 0.0 {
                    return None;
                }
                Some(now + SimDuration::from_secs_f64(exp_secs(*rate, rng)).max(SimDuration(1)))
            }
            Kind::Mmpp { rates, mean_secs, state, state_end } => {
                let mut t = now;
                let mut end = match state_end {
                    Some(e) => *e,
                    None => now + SimDuration::from_secs_f64(exp_secs(1.0 / mean_secs[*state], rng)),
                };
                // Both states silent: no arrival ever.
                if rates[0] <= 0.0 && rates[1] <= 0.0 {
                    return None;
                }
                loop {
                    let rate = rates[*state];
                    if rate > 0.0 {
                        let cand = t + SimDuration::from_secs_f64(exp_secs(rate, rng)).max(SimDuration(1));
                        if cand < end {
                            *state_end = Some(end);
                            return Some(cand);
                        }
                    }
                    // Memoryless: restart the draw at the switch.
                    t = end;
                    *state = 1 - *state;
                    end = t + SimDuration::from_secs_f64(exp_secs(1.0 / mean_secs[*state], rng)).max(SimDuration(1));
                }
            }
            Kind::Diurnal { mean_rate, amplitude, peak_secs } => {
                let max_rate = *mean_rate * (1.0 + *amplitude);
                if max_rate <= 0.0 {
                    return None;
                }
                // Thinning (Lewis and Shedler) against the peak rate.
                let mut t = now;
                loop {
                    t += SimDuration::from_secs_f64(exp_secs(max_rate, rng)).max(SimDuration(1));
                    let phase = (t.as_secs_f64() - *peak_secs) / 86_400.0;
                    let rate = *mean_rate * (1.0 + *amplitude * (TAU * phase).cos());
                    let u: f64 = rng.random();
                    if u * max_rate <= rate {
                        return Some(t);
                    }
                }
            }
            Kind::Piecewise { points, period } => {
                // Poisson within a segment; at a change point the draw restarts (memoryless).
                let mut t = now;
                for _ in 0..10_000_000 {
                    let (rate, end) = piecewise_at(points, *period, t)?;
                    if rate > 0.0 {
                        let cand = t + SimDuration::from_secs_f64(exp_secs(rate, rng)).max(SimDuration(1));
                        if end.is_none_or(|e| cand < e) {
                            return Some(cand);
                        }
                    }
                    t = end?;
                }
                None
            }
            Kind::Hawkes { baseline, branching, decay_secs, clock, excitation } => {
                // Ogata's thinning: the intensity only decays between arrivals,
                // so its value now bounds it until the next one.
                if *baseline <= 0.0 && *excitation <= 0.0 {
                    return None;
                }
                let mut t = (*clock).max(now);
                let mut e = *excitation * (-(t - *clock).as_secs_f64() / *decay_secs).exp();
                loop {
                    let bound = *baseline + e;
                    if bound <= 0.0 {
                        return None;
                    }
                    let w = exp_secs(bound, rng);
                    let step = SimDuration::from_secs_f64(w).max(SimDuration(1));
                    t += step;
                    e *= (-step.as_secs_f64() / *decay_secs).exp();
                    let u: f64 = rng.random();
                    if u * bound <= *baseline + e {
                        e += *branching / *decay_secs;
                        *clock = t;
                        *excitation = e;
                        return Some(t);
                    }
                }
            }
        }
    }
}

/// The rate at `t` and when it next changes (`None`: never).
fn piecewise_at(points: &[(u64, f64)], period: Option<u64>, t: SimTime) -> Option<(f64, Option<SimTime>)> {
    let (base, offset) = match period {
        Some(p) if p > 0 => (t.as_nanos() - t.as_nanos() % p, t.as_nanos() % p),
        _ => (0, t.as_nanos()),
    };
    let i = points.iter().rposition(|(at, _)| *at <= offset)?;
    let end = match (points.get(i + 1), period) {
        (Some(next), _) => Some(SimTime(base + next.0)),
        (None, Some(p)) => Some(SimTime(base + p)),
        (None, None) => None,
    };
    Some((points[i].1, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RngStreams;
    use crate::scenario::Dur;

    /// Counts arrivals in `horizon` seconds and in 1-second bins.
    fn run(spec: &ArrivalSpec, horizon: f64, seed: u64) -> (usize, Vec<u32>) {
        let mut p = ArrivalProcess::new(spec);
        let mut rng = RngStreams::new(seed).stream("a");
        let mut now = SimTime::ZERO;
        let mut bins = vec![0u32; horizon as usize];
        let mut n = 0;
        while let Some(t) = p.next_after(now, &mut rng) {
            if t.as_secs_f64() >= horizon {
                break;
            }
            bins[t.as_secs_f64() as usize] += 1;
            n += 1;
            now = t;
        }
        (n, bins)
    }

    fn dispersion(bins: &[u32]) -> f64 {
        let n = bins.len() as f64;
        let mean = bins.iter().map(|&b| b as f64).sum::<f64>() / n;
        let var = bins.iter().map(|&b| (b as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
        var / mean
    }

    #[test]
    fn every_process_matches_its_mean_rate() {
        let specs = [
            ArrivalSpec::Poisson { rate: 5.0 },
            ArrivalSpec::Mmpp { rates: [2.0, 20.0], mean_durations: [Dur::secs(60), Dur::secs(20)] },
            ArrivalSpec::Diurnal { mean_rate: 5.0, amplitude: 0.8, peak: Dur::secs(14 * 3600) },
            ArrivalSpec::Hawkes { baseline: 2.0, branching: 0.6, decay: Dur::secs(2) },
            ArrivalSpec::Piecewise {
                points: vec![
                    crate::scenario::spec::RatePoint { at: Dur::secs(0), rate: 2.0 },
                    crate::scenario::spec::RatePoint { at: Dur::secs(3_600), rate: 10.0 },
                    crate::scenario::spec::RatePoint { at: Dur::secs(4 * 3_600), rate: 0.0 },
                ],
                repeat_every: Some(Dur::secs(6 * 3_600)),
            },
        ];
        for spec in &specs {
            let expected = ArrivalProcess::new(spec).mean_rate();
            let horizon = 4.0 * 86_400.0;
            let (n, _) = run(spec, horizon, 11);
            let rate = n as f64 / horizon;
            // Bursty processes vary more than Poisson; 3% is many standard errors for Poisson here.
            assert!((rate / expected - 1.0).abs() < 0.03, "{spec:?}: {rate} vs {expected}");
        }
    }

    #[test]
    fn poisson_is_not_bursty_and_mmpp_and_hawkes_are() {
        // Index of dispersion of counts in 100-second windows. Poisson: 1. A
        // Hawkes process tends to 1/(1 − n)² = 25 over windows much longer
        // than its clusters (τ/(1 − n) = 25 s).
        let windows = |bins: Vec<u32>| bins.chunks(100).map(|c| c.iter().sum()).collect::<Vec<u32>>();
        let (_, p) = run(&ArrivalSpec::Poisson { rate: 5.0 }, 200_000.0, 2);
        let (_, m) = run(&ArrivalSpec::Mmpp { rates: [1.0, 30.0], mean_durations: [Dur::secs(60), Dur::secs(10)] }, 200_000.0, 2);
        let (_, h) = run(&ArrivalSpec::Hawkes { baseline: 1.0, branching: 0.8, decay: Dur::secs(5) }, 200_000.0, 2);
        let (p, m, h) = (dispersion(&windows(p)), dispersion(&windows(m)), dispersion(&windows(h)));
        assert!((p - 1.0).abs() < 0.15, "poisson {p}");
        assert!(m > 20.0, "mmpp {m}");
        assert!((12.0..30.0).contains(&h), "hawkes {h}");
    }

    #[test]
    fn a_zero_rate_never_arrives() {
        let mut p = ArrivalProcess::new(&ArrivalSpec::Poisson { rate: 0.0 });
        assert_eq!(p.next_after(SimTime::ZERO, &mut RngStreams::new(1).stream("a")), None);
    }
}
