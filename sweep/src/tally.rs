//! Per-point running statistics of replicas' outcomes: sums, the SLO misses,
//! extremes, and histograms of cost and of SLO attainment from which the
//! quantiles are read. The GPU backend fills the same statistics on the
//! device (`tally` in `kernel.wgsl`) and reads back only them; the CPU
//! backend fills them here. Either way the summary comes from a [`Tally`].
//!
//! The histograms' bounds come from a pilot: the point's first replicas, run
//! with their outcomes kept ([`Bounds::from_pilot`]). The pilot's range,
//! widened by half its span on each side, is cut into [`BINS`] bins, with one
//! more slot below and one above for anything outside. A quantile is read
//! by linear interpolation inside its bin, so it is within one bin width
//! (the pilot's span / 512) of the exact order statistic; outside the range
//! it interpolates between the range's edge and the extreme seen.

use bytemuck::{Pod, Zeroable};

use crate::exact::FixedSum;
use crate::model::{OUTCOME_FIELDS, Outcome};

/// Bins of a histogram between its bounds (`BINS` in `kernel.wgsl`).
pub const BINS: usize = 1024;
/// Slots of a histogram: one below the bounds, the bins, one above.
pub const SLOTS: usize = BINS + 2;

/// Where one histogram's bins lie.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Bounds {
    /// Lower edge of the first bin.
    pub lo: f32,
    /// Bins per unit of the value (the inverse of a bin's width).
    pub per_unit: f32,
}

impl Bounds {
    /// Bounds for values like `pilot`: its range widened by half its span
    /// on each side (a thousandth of the value, or 1e-6, when the span is 0).
    pub fn from_pilot(pilot: impl IntoIterator<Item = f32>) -> Bounds {
        let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
        for x in pilot.into_iter().filter(|x| x.is_finite()) {
            min = min.min(x);
            max = max.max(x);
        }
        if min > max {
            (min, max) = (0.0, 1.0);
        }
        let span = (max - min).max(max.abs().max(min.abs()) * 1e-3).max(1e-6);
        let (lo, hi) = (f64::from(min) - 0.5 * f64::from(span), f64::from(max) + 0.5 * f64::from(span));
        Bounds { lo: lo as f32, per_unit: (BINS as f64 / (hi - lo)) as f32 }
    }

    /// The slot of `x`: 0 below, `1..=BINS` inside, `BINS + 1` above (the
    /// shader's `slot`, in the same f32 operations).
    #[inline]
    pub fn slot(&self, x: f32) -> usize {
        if x.is_nan() || x < self.lo {
            return 0;
        }
        let b = ((x - self.lo) * self.per_unit).floor();
        if b >= BINS as f32 { BINS + 1 } else { 1 + b as usize }
    }

    /// The lower edge of bin `b` (0-based, of `BINS`).
    fn edge(&self, b: usize) -> f64 {
        f64::from(self.lo) + b as f64 / f64::from(self.per_unit)
    }
}

/// A histogram with its bounds and the extremes seen.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// Where the bins lie.
    pub bounds: Bounds,
    /// Counts per slot ([`SLOTS`] of them).
    pub counts: Vec<u64>,
    /// Smallest value seen.
    pub min: f32,
    /// Largest value seen.
    pub max: f32,
}

impl Histogram {
    /// An empty histogram over `bounds`.
    pub fn new(bounds: Bounds) -> Histogram {
        Histogram { bounds, counts: vec![0; SLOTS], min: f32::INFINITY, max: f32::NEG_INFINITY }
    }

    /// Counts `x`.
    #[inline]
    pub fn add(&mut self, x: f32) {
        self.counts[self.bounds.slot(x)] += 1;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// The `q` quantile (the value at rank `q × (n − 1)` of the sorted
    /// values), interpolated inside its slot; NaN when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        let n: u64 = self.counts.iter().sum();
        if n == 0 {
            return f64::NAN;
        }
        let rank = (n - 1) as f64 * q.clamp(0.0, 1.0);
        // The ends are known exactly.
        if rank <= 0.0 {
            return f64::from(self.min);
        }
        if rank >= (n - 1) as f64 {
            return f64::from(self.max);
        }
        let mut below = 0u64;
        for (s, &c) in self.counts.iter().enumerate() {
            if c == 0 || (below + c) as f64 <= rank {
                below += c;
                continue;
            }
            let (lo, hi) = match s {
                0 => (f64::from(self.min), self.bounds.edge(0).max(f64::from(self.min))),
                s if s == SLOTS - 1 => (self.bounds.edge(BINS).min(f64::from(self.max)), f64::from(self.max)),
                s => (self.bounds.edge(s - 1), self.bounds.edge(s)),
            };
            // The values of the slot spread evenly across it, each at the middle of its share.
            let at = ((rank - below as f64 + 0.5) / c as f64).clamp(0.0, 1.0);
            let v = lo + (hi - lo) * at;
            return v.clamp(f64::from(self.min), f64::from(self.max));
        }
        f64::from(self.max)
    }
}

/// What one grid point's replicas came to so far.
#[derive(Clone, Debug, PartialEq)]
pub struct Tally {
    /// Replicas counted.
    pub n: u64,
    /// Sums of every [`Outcome`] field, in its order: exact, so that any
    /// split of the replicas (tiles, chunks, shards) adds up to the same bits.
    pub sums: [FixedSum; OUTCOME_FIELDS],
    /// Sum of the replicas' SLO attainment (exact too).
    pub attainment_sum: FixedSum,
    /// Replicas whose attainment is below the target.
    pub misses: u64,
    /// The SLO attainment target.
    pub target: f32,
    /// Cost.
    pub cost: Histogram,
    /// SLO attainment.
    pub attainment: Histogram,
}

impl Tally {
    /// An empty tally with histogram bounds fitted to `pilot`, counting
    /// misses of `target`.
    pub fn from_pilot(pilot: &[Outcome], target: f32) -> Tally {
        Tally {
            n: 0,
            sums: [FixedSum::ZERO; OUTCOME_FIELDS],
            attainment_sum: FixedSum::ZERO,
            misses: 0,
            target,
            cost: Histogram::new(Bounds::from_pilot(pilot.iter().map(|o| o.cost))),
            attainment: Histogram::new(Bounds::from_pilot(pilot.iter().map(Outcome::attainment))),
        }
    }

    /// An empty tally with the same bounds and target.
    pub fn cleared(&self) -> Tally {
        Tally {
            n: 0,
            sums: [FixedSum::ZERO; OUTCOME_FIELDS],
            attainment_sum: FixedSum::ZERO,
            misses: 0,
            target: self.target,
            cost: Histogram::new(self.cost.bounds),
            attainment: Histogram::new(self.attainment.bounds),
        }
    }

    /// Counts one replica.
    pub fn add(&mut self, o: &Outcome) {
        let a = o.attainment();
        self.n += 1;
        for (s, v) in self.sums.iter_mut().zip(bytemuck::cast::<Outcome, [f32; OUTCOME_FIELDS]>(*o)) {
            s.add(v);
        }
        self.attainment_sum.add(a);
        self.misses += u64::from(a < self.target);
        self.cost.add(o.cost);
        self.attainment.add(a);
    }

    /// Adds what the device counted for a tile of this point's replicas.
    pub fn merge(&mut self, part: &Partial) {
        self.n += u64::from(part.n);
        for (s, v) in self.sums.iter_mut().zip(part.sums) {
            s.add(v);
        }
        self.attainment_sum.add(part.attainment_sum);
        self.misses += u64::from(part.misses);
        if part.n > 0 {
            self.cost.min = self.cost.min.min(part.cost_min);
            self.cost.max = self.cost.max.max(part.cost_max);
            self.attainment.min = self.attainment.min.min(part.attainment_min);
            self.attainment.max = self.attainment.max.max(part.attainment_max);
        }
    }

    /// Adds histogram counts the device kept: cost's [`SLOTS`] then attainment's.
    pub fn merge_counts(&mut self, counts: &[u32]) {
        let (cost, att) = counts.split_at(SLOTS);
        for (c, &v) in self.cost.counts.iter_mut().zip(cost) {
            *c += u64::from(v);
        }
        for (c, &v) in self.attainment.counts.iter_mut().zip(att) {
            *c += u64::from(v);
        }
    }

    /// Adds another tally of the same point's other replicas (another
    /// shard's, say): counts, sums and extremes. The two must share bounds
    /// and target; the result does not depend on the order of absorbing.
    pub fn absorb(&mut self, o: &Tally) -> Result<(), TallyMismatch> {
        if o.target != self.target || o.cost.bounds != self.cost.bounds || o.attainment.bounds != self.attainment.bounds {
            return Err(TallyMismatch);
        }
        self.n += o.n;
        for (s, v) in self.sums.iter_mut().zip(o.sums) {
            *s += v;
        }
        self.attainment_sum += o.attainment_sum;
        self.misses += o.misses;
        for (mine, theirs) in [(&mut self.cost, &o.cost), (&mut self.attainment, &o.attainment)] {
            mine.counts.iter_mut().zip(&theirs.counts).for_each(|(c, v)| *c += v);
            mine.min = mine.min.min(theirs.min);
            mine.max = mine.max.max(theirs.max);
        }
        Ok(())
    }

    /// Sum of the [`Outcome`] field at `field`.
    pub fn sum(&self, field: usize) -> f64 {
        self.sums[field].get()
    }

    /// Mean of the [`Outcome`] field at `field` (0 with no replicas).
    pub fn mean(&self, field: usize) -> f64 {
        if self.n == 0 { 0.0 } else { self.sum(field) / self.n as f64 }
    }
}

/// Two tallies of one point whose histograms or targets differ: parts of
/// different sweeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the parts' histogram bounds or SLO targets differ: they are not parts of one sweep")]
pub struct TallyMismatch;

impl Tally {
    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

/// What the device's `tally` entry point writes for one tile of replicas
/// (`Partial` in `kernel.wgsl`, 16 four-byte fields).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Partial {
    /// Sums of the outcome fields.
    pub sums: [f32; OUTCOME_FIELDS],
    /// Sum of attainment.
    pub attainment_sum: f32,
    /// Replicas below the target.
    pub misses: u32,
    /// Replicas in the tile.
    pub n: u32,
    /// Smallest cost.
    pub cost_min: f32,
    /// Largest cost.
    pub cost_max: f32,
    /// Smallest attainment.
    pub attainment_min: f32,
    /// Largest attainment.
    pub attainment_max: f32,
    /// Padding to 64 bytes.
    pub pad: u32,
}

// The shader's `Partial`: `array<f32, 8>` (stride 4, 32 bytes), then 4-byte scalars.
crate::layout::wgsl_layout!(Partial, size 64 {
    sums: 0, attainment_sum: 32, misses: 36, n: 40, cost_min: 44, cost_max: 48, attainment_min: 52,
    attainment_max: 56, pad: 60,
});

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(sorted: &[f64], q: f64) -> f64 {
        let pos = (sorted.len() - 1) as f64 * q;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
    }

    #[test]
    fn quantiles_are_within_a_bin_of_the_exact_ones() {
        // A skewed sample: the pilot is its first 200 values.
        let mut s = crate::model::stream(9, 1);
        let xs: Vec<f32> = (0..20_000).map(|_| 100.0 * (1.0 + 0.2 * crate::model::normal(&mut s)).exp()).collect();
        let bounds = Bounds::from_pilot(xs[..200].iter().copied());
        let mut h = Histogram::new(bounds);
        xs.iter().for_each(|&x| h.add(x));
        let mut sorted: Vec<f64> = xs.iter().map(|&x| f64::from(x)).collect();
        sorted.sort_by(f64::total_cmp);
        let width = 1.0 / f64::from(bounds.per_unit);
        for q in [0.0, 0.025, 0.05, 0.5, 0.95, 0.975, 1.0] {
            let (got, want) = (h.quantile(q), exact(&sorted, q));
            // Inside the bins: one bin; in the outer slots the spread is wider.
            let tol = if bounds.slot(want as f32) == 0 || bounds.slot(want as f32) == SLOTS - 1 { 0.05 * want } else { width };
            assert!((got - want).abs() <= tol, "q {q}: {got} against {want} (bin {width})");
        }
        assert_eq!(h.quantile(0.0), sorted[0]);
        assert_eq!(h.quantile(1.0), sorted[sorted.len() - 1]);
    }

    #[test]
    fn a_constant_sample_and_an_empty_one() {
        let mut h = Histogram::new(Bounds::from_pilot([5.0f32; 10]));
        (0..10).for_each(|_| h.add(5.0));
        assert!((h.quantile(0.5) - 5.0).abs() < 1e-9);
        assert!(Histogram::new(Bounds::from_pilot([])).quantile(0.5).is_nan());
        let b = Bounds::from_pilot([1.0, 2.0]);
        assert_eq!((b.slot(f32::NAN), b.slot(-1e9), b.slot(1e9)), (0, 0, SLOTS - 1));
        assert_eq!(b.slot(1.5), 1 + BINS / 2);
    }

    #[test]
    fn merging_device_parts_is_adding() {
        let o = Outcome { cost: 3.0, arrived: 10.0, met: 9.0, ..Default::default() };
        let mut a = Tally::from_pilot(&[o], 0.95);
        let mut b = a.clone();
        a.add(&o);
        a.add(&o);
        let mut counts = vec![0u32; 2 * SLOTS];
        counts[a.cost.bounds.slot(3.0)] = 2;
        counts[SLOTS + a.attainment.bounds.slot(0.9)] = 2;
        b.merge(&Partial {
            sums: [6.0, 0.0, 20.0, 18.0, 0.0, 0.0, 0.0, 0.0],
            attainment_sum: 1.8,
            misses: 2,
            n: 2,
            cost_min: 3.0,
            cost_max: 3.0,
            attainment_min: 0.9,
            attainment_max: 0.9,
            pad: 0,
        });
        b.merge_counts(&counts);
        assert_eq!(a.n, b.n);
        assert_eq!(a.misses, b.misses);
        assert_eq!(a.cost, b.cost);
        assert_eq!(a.attainment, b.attainment);
        assert!((a.attainment_sum.get() - b.attainment_sum.get()).abs() < 1e-6 && (a.mean(0) - 3.0).abs() < 1e-12);
    }
}
