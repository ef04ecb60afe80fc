//! Latency distributions with bounded memory: HDR histograms in microseconds.

use crate::time::SimDuration;
use hdrhistogram::Histogram;

/// Largest latency kept exactly: ten hours; longer ones count as ten hours.
const MAX_MICROS: u64 = 36_000_000_000;

/// A distribution of durations at two significant digits (1% relative error,
/// as DDSketch-style monitoring uses; small enough to stay in cache).
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    h: Histogram<u64>,
    sum_ns: u128,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            // Bounds are constants that hdrhistogram accepts.
            h: Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("valid histogram bounds"),
            sum_ns: 0,
        }
    }
}

impl LatencyHistogram {
    /// Adds one duration.
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        self.sum_ns += u128::from(d.as_nanos());
        self.h.saturating_record((d.as_nanos() / 1_000).clamp(1, MAX_MICROS));
    }

    /// How many durations were added.
    pub fn count(&self) -> u64 {
        self.h.len()
    }

    /// The exact mean, in seconds (0 when empty).
    pub fn mean_secs(&self) -> f64 {
        if self.count() == 0 { 0.0 } else { self.sum_ns as f64 / 1e9 / self.count() as f64 }
    }

    /// The durations added since `earlier`, a copy of this histogram taken
    /// before: what a window of a run saw (a front end draws a P99 line
    /// from it). Empty when `earlier` is not an earlier copy.
    pub fn since(&self, earlier: &LatencyHistogram) -> LatencyHistogram {
        let mut h = self.h.clone();
        if h.subtract(&earlier.h).is_err() {
            return LatencyHistogram::default();
        }
        LatencyHistogram { h, sum_ns: self.sum_ns.saturating_sub(earlier.sum_ns) }
    }

    /// The `q` quantile (0 to 1), in seconds (0 when empty).
    pub fn quantile_secs(&self, q: f64) -> f64 {
        if self.count() == 0 { 0.0 } else { self.h.value_at_quantile(q) as f64 / 1e6 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_within_one_percent() {
        let mut h = LatencyHistogram::default();
        for ms in 1..=1000u64 {
            h.record(SimDuration::from_millis(ms));
        }
        assert_eq!(h.count(), 1000);
        assert!((h.quantile_secs(0.5) / 0.5 - 1.0).abs() < 0.01);
        assert!((h.quantile_secs(0.99) / 0.99 - 1.0).abs() < 0.01);
        assert!((h.mean_secs() - 0.5005).abs() < 1e-12);
    }

    #[test]
    fn a_window_holds_only_what_came_after_the_copy() {
        let mut h = LatencyHistogram::default();
        for _ in 0..100 {
            h.record(SimDuration::from_millis(10));
        }
        let before = h.clone();
        for _ in 0..50 {
            h.record(SimDuration::from_millis(900));
        }
        let w = h.since(&before);
        assert_eq!(w.count(), 50);
        assert!((w.quantile_secs(0.01) / 0.9 - 1.0).abs() < 0.01);
        assert!((w.mean_secs() - 0.9).abs() < 1e-9);
        // Not an earlier copy: empty rather than nonsense.
        assert_eq!(before.since(&h).count(), 0);
    }
}
