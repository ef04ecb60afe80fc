//! Synthetic GPU telemetry: a fleet whose accelerators alternate between
//! jobs and idle gaps, for examples, tests and benchmarks where no recording
//! of that size exists. `twin trace synth` writes it in the canonical schema.
//!
//! Each GPU runs jobs back to back with idle gaps between them. Job lengths
//! and gaps are log-normal; gaps stretch by up to `1 + diurnal` at night
//! (a cosine over the day, longest at 03:00), so busy GPUs peak in the
//! afternoon. While busy, utilisation is around `busy_util_pct` and power
//! rises from the idle draw toward the limit with it; while idle,
//! utilisation is 0 and power sits at the idle draw. Every GPU draws from its
//! own named random stream, so GPU `k`'s samples do not depend on how many
//! GPUs there are.

use super::RecordedUsage;
use crate::rng::RngStreams;
use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};

/// What to synthesise.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticUsage {
    /// GPUs in the fleet.
    pub gpus: u32,
    /// Length of the recording, ns.
    pub span_ns: i64,
    /// Time between samples, ns.
    pub interval_ns: i64,
    /// Median job length, seconds.
    pub job_median_s: f64,
    /// Log-space standard deviation of job lengths.
    pub job_sigma: f64,
    /// Median idle gap between jobs, seconds.
    pub gap_median_s: f64,
    /// Log-space standard deviation of gaps.
    pub gap_sigma: f64,
    /// How much longer gaps get at night (0: no daily cycle).
    pub diurnal: f64,
    /// Mean utilisation while a job runs, percent.
    pub busy_util_pct: f64,
    /// Idle draw, W.
    pub idle_watts: f64,
    /// Power limit, W.
    pub max_watts: f64,
}

impl Default for SyntheticUsage {
    /// A week of 64 H100-class GPUs sampled every 10 s, busy about a third of the time.
    fn default() -> Self {
        SyntheticUsage {
            gpus: 64,
            span_ns: 7 * 86_400 * 1_000_000_000,
            interval_ns: 10_000_000_000,
            job_median_s: 2.0 * 3_600.0,
            job_sigma: 1.0,
            gap_median_s: 3.0 * 3_600.0,
            gap_sigma: 1.2,
            diurnal: 1.0,
            busy_util_pct: 85.0,
            idle_watts: 70.0,
            max_watts: 700.0,
        }
    }
}

impl SyntheticUsage {
    /// Samples in all.
    pub fn rows(&self) -> u64 {
        let per_gpu = if self.interval_ns > 0 { (self.span_ns / self.interval_ns).max(0) as u64 + 1 } else { 0 };
        per_gpu * u64::from(self.gpus)
    }

    /// Generates the fleet's samples from `seed`. Deterministic.
    pub fn generate(&self, seed: u64) -> RecordedUsage {
        let streams = RngStreams::new(seed);
        let per_gpu = self.rows() / u64::from(self.gpus.max(1));
        let n = self.rows() as usize;
        let mut u = RecordedUsage {
            gpus: (0..self.gpus).collect(),
            offsets: (0..=self.gpus as usize).map(|k| k * per_gpu as usize).collect(),
            time_ns: Vec::with_capacity(n),
            util_pct: Vec::with_capacity(n),
            power_w: Vec::with_capacity(n),
        };
        let job = LogNormal::new(self.job_median_s.max(1e-3).ln(), self.job_sigma.max(0.0)).ok();
        let gap = LogNormal::new(self.gap_median_s.max(1e-3).ln(), self.gap_sigma.max(0.0)).ok();
        let jitter = Normal::new(0.0, 6.0).ok();
        let day_ns = 86_400e9;
        for g in 0..self.gpus {
            let mut rng = streams.stream(&format!("synthetic-telemetry/gpu/{g}"));
            // Start somewhere in a cycle, so GPUs are not in step.
            let mut busy = rng.random_bool(0.35);
            let first = if busy { job.map_or(3_600.0, |d| d.sample(&mut rng)) } else { gap.map_or(3_600.0, |d| d.sample(&mut rng)) };
            let mut until = (first * rng.random::<f64>() * 1e9) as i64;
            let mut level = self.busy_util_pct;
            for i in 0..per_gpu as i64 {
                let t = i * self.interval_ns;
                while t >= until {
                    busy = !busy;
                    let secs = if busy {
                        level = (self.busy_util_pct + rng.random_range(-15.0..10.0)).clamp(20.0, 100.0);
                        job.map_or(3_600.0, |d| d.sample(&mut rng))
                    } else {
                        // Longest gaps at 03:00, shortest at 15:00.
                        let phase = ((until as f64 / day_ns).fract() - 0.125) * std::f64::consts::TAU;
                        let stretch = 1.0 + self.diurnal * 0.5 * (1.0 + phase.cos());
                        gap.map_or(3_600.0, |d| d.sample(&mut rng)) * stretch
                    };
                    until += (secs.max(1.0) * 1e9) as i64;
                }
                let (util, power) = if busy {
                    let util = (level + jitter.map_or(0.0, |d| d.sample(&mut rng))).clamp(0.0, 100.0);
                    (util, self.idle_watts + (self.max_watts - self.idle_watts) * (util / 100.0) * rng.random_range(0.75..0.95))
                } else {
                    (0.0, self.idle_watts + rng.random_range(-2.0..2.0))
                };
                u.time_ns.push(t);
                u.util_pct.push(util.round() as f32);
                u.power_w.push((power * 100.0).round() as f32 / 100.0);
            }
        }
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{UsageOptions, UsageReplay};
    use crate::time::SimTime;

    #[test]
    fn a_synthetic_fleet_is_deterministic_and_partly_busy() {
        let spec = SyntheticUsage { gpus: 8, span_ns: 2 * 86_400 * 1_000_000_000, interval_ns: 60_000_000_000, ..Default::default() };
        let a = spec.generate(7);
        assert_eq!(a, spec.generate(7));
        assert_ne!(a, spec.generate(8));
        assert_eq!(a.len() as u64, spec.rows());
        // GPU 0 is the same whatever the fleet size.
        let small = SyntheticUsage { gpus: 2, ..spec.clone() }.generate(7);
        assert_eq!(small.time_ns[..small.offsets[1]], a.time_ns[..a.offsets[1]]);
        assert_eq!(small.util_pct[..small.offsets[1]], a.util_pct[..a.offsets[1]]);
        let opts = UsageOptions {
            speed: 1.0,
            repeat: false,
            idle_below_pct: 5.0,
            idle_after_ns: 1_800_000_000_000,
            max_gap_ns: 0,
            idle_watts: 70.0,
        };
        let r = UsageReplay::compute(&a, &opts, SimTime(spec.span_ns as u64), 3_600_000_000_000, 600_000_000_000);
        let t = r.totals();
        let share = t.busy_ns as f64 / t.observed_ns as f64;
        assert!((0.15..0.6).contains(&share), "busy share {share}");
        assert!(!r.idle_spells.is_empty());
    }
}
