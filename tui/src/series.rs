//! Time series with bounded memory, ready to draw.
//!
//! A week-long run sampled every minute has ten thousand points per line and
//! a chart has a few hundred columns, so a [`Series`] keeps at most
//! [`Series::CAPACITY`] bins of (first time, min, max, last). When it is
//! full, neighbouring bins merge and the bin width doubles: memory is fixed,
//! and spikes survive (the min and the max of a bin are both drawn), which
//! is the min/max decimation monitoring tools use.

/// One bin: the values seen from `t` until the next bin starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bin {
    /// Time of the first value, seconds.
    pub t: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Latest value.
    pub last: f64,
}

/// A downsampled series of (seconds, value).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    bins: Vec<Bin>,
    /// Width of a bin, seconds (0 until the first merge: every point kept).
    width: f64,
}

impl Default for Series {
    fn default() -> Self {
        Series { bins: Vec::new(), width: 0.0 }
    }
}

impl Series {
    /// Most bins kept.
    pub const CAPACITY: usize = 2048;

    /// Adds a value at time `t` (seconds, not before the last one's).
    pub fn push(&mut self, t: f64, v: f64) {
        if !v.is_finite() {
            return;
        }
        if let Some(b) = self.bins.last_mut()
            && self.width > 0.0
            && t < b.t + self.width
        {
            b.min = b.min.min(v);
            b.max = b.max.max(v);
            b.last = v;
            return;
        }
        self.bins.push(Bin { t, min: v, max: v, last: v });
        if self.bins.len() > Self::CAPACITY {
            self.halve();
        }
    }

    fn halve(&mut self) {
        let span = self.bins.last().map_or(0.0, |l| l.t) - self.bins[0].t;
        self.width = (self.width * 2.0).max(span / (Self::CAPACITY / 2) as f64);
        let mut out: Vec<Bin> = Vec::with_capacity(Self::CAPACITY);
        for b in self.bins.drain(..) {
            match out.last_mut() {
                Some(o) if b.t < o.t + self.width => {
                    o.min = o.min.min(b.min);
                    o.max = o.max.max(b.max);
                    o.last = b.last;
                }
                _ => out.push(b),
            }
        }
        self.bins = out;
    }

    /// The bins, in time order.
    pub fn bins(&self) -> &[Bin] {
        &self.bins
    }

    /// The latest value.
    pub fn last(&self) -> Option<f64> {
        self.bins.last().map(|b| b.last)
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    /// Points to draw between `from` and `to` seconds, at most about
    /// `columns` × 2: each bin's min and max at its time, bins merged
    /// further when there are more than the columns hold.
    pub fn points(&self, from: f64, to: f64, columns: usize) -> Vec<(f64, f64)> {
        let inside: Vec<&Bin> = self.bins.iter().filter(|b| b.t >= from && b.t <= to).collect();
        let per = inside.len().div_ceil(columns.max(1)).max(1);
        let mut out = Vec::with_capacity(2 * inside.len().div_ceil(per));
        for group in inside.chunks(per) {
            let t = group[0].t;
            let lo = group.iter().map(|b| b.min).fold(f64::INFINITY, f64::min);
            let hi = group.iter().map(|b| b.max).fold(f64::NEG_INFINITY, f64::max);
            out.push((t, lo));
            if hi != lo {
                out.push((t, hi));
            }
        }
        out
    }

    /// The largest value between `from` and `to` seconds (0 when none).
    pub fn max_in(&self, from: f64, to: f64) -> f64 {
        self.bins.iter().filter(|b| b.t >= from && b.t <= to).map(|b| b.max).fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_spike_survives_a_million_points() {
        let mut s = Series::default();
        for i in 0..1_000_000u32 {
            let v = if i == 777_777 { 100.0 } else { 1.0 };
            s.push(f64::from(i), v);
        }
        assert!(s.bins().len() <= Series::CAPACITY);
        assert_eq!(s.max_in(0.0, 1e9), 100.0);
        assert_eq!(s.last(), Some(1.0));
        let pts = s.points(0.0, 1e6, 200);
        assert!(pts.len() <= 400, "{}", pts.len());
        assert!(pts.iter().any(|p| p.1 == 100.0));
    }

    proptest! {
        #[test]
        fn bounded_and_extremes_kept(values in proptest::collection::vec(-1e6f64..1e6, 1..6000)) {
            let mut s = Series::default();
            for (i, v) in values.iter().enumerate() {
                s.push(i as f64, *v);
            }
            prop_assert!(s.bins().len() <= Series::CAPACITY);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            prop_assert_eq!(s.bins().iter().map(|b| b.max).fold(f64::NEG_INFINITY, f64::max), hi);
            prop_assert_eq!(s.bins().iter().map(|b| b.min).fold(f64::INFINITY, f64::min), lo);
            prop_assert_eq!(s.last(), values.last().copied());
            prop_assert!(s.bins().windows(2).all(|w| w[0].t < w[1].t));
        }
    }
}
