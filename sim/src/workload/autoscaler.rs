//! A reactive autoscaler shaped like the Kubernetes HPA.
//!
//! Every interval it reads a metric summed over the service, computes the
//! replicas that would bring the per-replica value to the target
//! (`ceil(total / target)`, unchanged within the tolerance), then stabilises:
//! a scale-up takes the lowest recommendation of the up window, a scale-down
//! the highest of the down window, so a brief dip does not release capacity
//! that a provisioning delay would make slow to get back. Steps are limited
//! to `max_step_up` and `max_step_down` replicas, as HPA's scaling policies
//! limit pods per period.
//!
//! Latency metrics (`ttft`, `e2e`) are service-wide values: above the target
//! they scale out the way HPA scales an object metric, `ceil(ready × value /
//! target)`; below it (beyond the tolerance) they release one replica per
//! look, since latency barely moves with replicas until they run short
//! ([`Autoscaler::decide_latency`]). The value is
//! a percentile of the latencies of requests finished since the last look,
//! or the wait of the oldest queued request if that is longer (a queue that
//! does not move finishes nothing, and must still scale).

use super::forecast::HoltWinters;
use crate::scenario::spec::{AutoscalerSpec, ScaleMetric};
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

/// An autoscaler's settings and the recommendations it remembers.
#[derive(Clone, Debug)]
pub struct Autoscaler {
    /// What it watches.
    pub metric: ScaleMetric,
    /// Per-replica target.
    pub target: f64,
    /// Fewest replicas.
    pub min: u32,
    /// Most replicas.
    pub max: u32,
    /// How often it looks.
    pub interval: SimDuration,
    up_window: SimDuration,
    down_window: SimDuration,
    tolerance: f64,
    max_step_up: Option<u32>,
    max_step_down: Option<u32>,
    /// For latency metrics: the percentile held at the target.
    pub percentile: f64,
    /// For latency metrics: latencies (ns) of requests finished since the last look.
    pub latencies: Vec<u64>,
    history: VecDeque<(SimTime, u32)>,
    /// The service's busy nanoseconds at the last look (for utilisation).
    pub last_busy_ns: u64,
    /// The service's arrivals at the last look (for forecasting).
    pub last_arrived: u64,
    /// The forecaster and how many looks ahead to provision for, when predictive.
    pub predictive: Option<(HoltWinters, usize)>,
}

impl Autoscaler {
    /// From a scenario's `autoscaler` table (already checked).
    pub fn new(spec: &AutoscalerSpec) -> Autoscaler {
        Autoscaler {
            metric: spec.metric,
            target: spec.target,
            min: spec.min,
            max: spec.max,
            interval: spec.interval.get(),
            up_window: spec.scale_up_window.get(),
            down_window: spec.scale_down_window.get(),
            tolerance: spec.tolerance,
            max_step_up: spec.max_step_up,
            max_step_down: spec.max_step_down,
            percentile: spec.percentile,
            latencies: Vec::new(),
            history: VecDeque::new(),
            last_busy_ns: 0,
            last_arrived: 0,
            predictive: spec.predictive.as_ref().map(|p| {
                let step = spec.interval.get().as_nanos().max(1);
                let period = (p.season.get().as_nanos() / step).max(1) as usize;
                let lead = p.lead.get().as_nanos().div_ceil(step) as usize;
                (HoltWinters::new(period, p.alpha, p.beta, p.gamma), lead)
            }),
        }
    }

    /// Notes a finished request's latencies, when the metric is one of them.
    pub fn record(&mut self, ttft: SimDuration, e2e: SimDuration) {
        match self.metric {
            ScaleMetric::Ttft => self.latencies.push(ttft.as_nanos()),
            ScaleMetric::E2e => self.latencies.push(e2e.as_nanos()),
            _ => {}
        }
    }

    /// The latency observed since the last look, in seconds: the percentile
    /// of finished requests' latencies, or `oldest_wait` if longer; and
    /// forgets the samples. 0 when nothing finished or waits.
    pub fn take_latency(&mut self, oldest_wait: SimDuration) -> f64 {
        let finished = if self.latencies.is_empty() {
            0
        } else {
            // Nearest rank: the smallest value with at least `percentile` of samples at or below it.
            let rank = ((self.percentile * self.latencies.len() as f64).ceil() as usize).clamp(1, self.latencies.len());
            *self.latencies.select_nth_unstable(rank - 1).1
        };
        self.latencies.clear();
        finished.max(oldest_wait.as_nanos()) as f64 / 1e9
    }

    /// Feeds the arrival rate of the last interval to the forecaster and
    /// returns how much more (or less) load to expect `lead` ahead: the
    /// forecast over the smoothed present, 1 when not predictive or still
    /// learning its first season.
    pub fn growth_ahead(&mut self, arrival_rate: f64) -> f64 {
        let Some((hw, lead)) = &mut self.predictive else { return 1.0 };
        hw.observe(arrival_rate);
        let now = hw.forecast(0);
        // Trust the forecast after two seasons of history.
        if hw.observations() < 2 * hw.period() || now <= 1e-9 {
            return 1.0;
        }
        hw.forecast(*lead) / now
    }

    /// The replica count to run, given the metric summed over the service
    /// (`total`), the replicas serving (`ready`) and those wanted now (`current`).
    pub fn decide(&mut self, now: SimTime, total: f64, ready: u32, current: u32) -> u32 {
        let raw = if ready > 0 && ((total / f64::from(ready)) / self.target - 1.0).abs() <= self.tolerance {
            current
        } else {
            (total / self.target).ceil().clamp(0.0, f64::from(u32::MAX)) as u32
        };
        self.stabilise(now, raw, current)
    }

    /// The replica count for a latency metric (`latency` seconds observed):
    /// above the target, `ceil(ready × latency / target)` as HPA scales an
    /// object metric, but held while replicas are still starting (capacity
    /// on its way that cannot yet have lowered the latency); below the target
    /// beyond the tolerance, one replica fewer; otherwise unchanged. Then
    /// stabilised like [`Autoscaler::decide`]. `growth` is the predictive
    /// factor (1 when reactive).
    pub fn decide_latency(&mut self, now: SimTime, latency: f64, growth: f64, ready: u32, current: u32) -> u32 {
        let raw = if latency > self.target * (1.0 + self.tolerance) {
            if current > ready { current } else { (f64::from(ready.max(1)) * latency / self.target).ceil().min(f64::from(u32::MAX)) as u32 }
        } else if latency < self.target * (1.0 - self.tolerance) {
            current.saturating_sub(1)
        } else {
            current
        };
        let raw = if growth > 1.0 { (f64::from(raw) * growth).ceil().min(f64::from(u32::MAX)) as u32 } else { raw };
        self.stabilise(now, raw, current)
    }

    /// Clamps a recommendation to `[min, max]` and stabilises it over the windows and step limits.
    fn stabilise(&mut self, now: SimTime, raw: u32, current: u32) -> u32 {
        let raw = raw.clamp(self.min, self.max);
        self.history.push_back((now, raw));
        let keep = self.up_window.max(self.down_window);
        while self.history.front().is_some_and(|(t, _)| now.saturating_since(*t) > keep) {
            self.history.pop_front();
        }
        let within = |w: SimDuration| self.history.iter().filter(move |(t, _)| now.saturating_since(*t) <= w).map(|(_, r)| *r);
        if raw > current {
            let up = within(self.up_window).min().unwrap_or(raw).max(current);
            let limit = self.max_step_up.map_or(u32::MAX, |s| current.saturating_add(s));
            up.min(limit)
        } else if raw < current {
            let down = within(self.down_window).max().unwrap_or(raw).min(current);
            down.max(self.max_step_down.map_or(0, |s| current.saturating_sub(s)))
        } else {
            current
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Dur;

    fn scaler(down: u64) -> Autoscaler {
        Autoscaler::new(&AutoscalerSpec {
            metric: ScaleMetric::Concurrency,
            target: 10.0,
            min: 1,
            max: 20,
            interval: Dur::secs(15),
            scale_up_window: Dur::secs(0),
            scale_down_window: Dur::secs(down),
            tolerance: 0.1,
            max_step_up: Some(4),
            max_step_down: None,
            percentile: 0.95,
            predictive: None,
        })
    }

    #[test]
    fn scales_up_at_once_within_the_step_limit() {
        let mut a = scaler(300);
        assert_eq!(a.decide(SimTime(0), 100.0, 2, 2), 6, "wants 10, limited to +4");
        assert_eq!(a.decide(SimTime(15), 100.0, 6, 6), 10);
        assert_eq!(a.decide(SimTime(30), 1_000.0, 10, 10), 14);
    }

    #[test]
    fn scales_down_only_after_the_window_and_holds_within_tolerance() {
        let mut a = scaler(60);
        let s = |x: u64| SimTime(x * 1_000_000_000);
        assert_eq!(a.decide(s(0), 80.0, 8, 8), 8);
        assert_eq!(a.decide(s(15), 85.0, 8, 8), 8, "within tolerance");
        assert_eq!(a.decide(s(30), 20.0, 8, 8), 8, "the window still holds a recommendation of 8");
        assert_eq!(a.decide(s(70), 20.0, 8, 8), 8);
        assert_eq!(a.decide(s(95), 20.0, 8, 8), 2, "the 8s have aged out");
        assert_eq!(a.decide(s(110), 0.0, 2, 2), 2, "recent recommendation of 2 holds");
    }

    #[test]
    fn scale_down_steps_are_limited_too() {
        let mut a = scaler(0);
        a.max_step_down = Some(3);
        assert_eq!(a.decide(SimTime(0), 10.0, 12, 12), 9, "wants 1, limited to -3");
        assert_eq!(a.decide(SimTime(1), 10.0, 9, 9), 6);
    }

    #[test]
    fn a_latency_is_the_percentile_of_the_interval_or_the_oldest_wait() {
        let mut a = scaler(0);
        a.metric = ScaleMetric::Ttft;
        let ms = SimDuration::from_millis;
        for i in 1..=100u64 {
            a.record(ms(i * 10), ms(100_000));
        }
        assert_eq!(a.take_latency(ms(0)), 0.95, "P95 of 10..1000 ms by nearest rank");
        assert_eq!(a.take_latency(ms(0)), 0.0, "samples are forgotten after a look");
        a.record(ms(200), ms(900));
        assert_eq!(a.take_latency(ms(4_000)), 4.0, "a stuck queue is seen though nothing finished");
        a.metric = ScaleMetric::E2e;
        a.record(ms(200), ms(900));
        assert_eq!(a.take_latency(ms(0)), 0.9);
    }
}
