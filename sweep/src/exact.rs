//! Sums whose value does not depend on the order of their terms.
//!
//! A sweep's per-point sums are added up from replicas, device tiles and,
//! across machines, shards. Floating-point addition is not associative, so
//! the same replicas summed in another grouping would give other last bits,
//! and a sweep split over shards would not merge into the bytes one run
//! writes. A [`FixedSum`] holds its total as an integer count of 2⁻⁴⁰ units
//! in an `i128`: each term is rounded once, on its own, to the nearest unit
//! (exact for any `f32` of magnitude 2⁻¹⁷ or more, within 2⁻⁴¹ of a smaller
//! one), and integer addition is associative, so any split
//! and any order give the same total. The range is ±2⁸⁶ (about 7.7e25):
//! a billion replicas of a cost of a million stay far inside it; a term
//! beyond it, or not finite, saturates.

/// Units per 1.0: 2⁴⁰.
const SCALE: f64 = (1u64 << 40) as f64;

/// An order-independent sum of `f32` terms (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FixedSum(i128);

impl FixedSum {
    /// Nothing yet.
    pub const ZERO: FixedSum = FixedSum(0);

    /// `x` rounded to the nearest unit (saturating; NaN counts as 0).
    #[inline]
    pub fn of(x: f32) -> FixedSum {
        // An f32 times 2^40 is exact in f64; `as` saturates and maps NaN to 0.
        FixedSum((f64::from(x) * SCALE).round() as i128)
    }

    /// Adds the term `x`.
    #[inline]
    pub fn add(&mut self, x: f32) {
        *self += FixedSum::of(x);
    }

    /// The total, rounded to the nearest `f64`.
    pub fn get(self) -> f64 {
        self.0 as f64 / SCALE
    }

    /// The total in units of 2⁻⁴⁰, for storing.
    pub fn units(self) -> i128 {
        self.0
    }

    /// A total stored by [`Self::units`].
    pub fn from_units(units: i128) -> FixedSum {
        FixedSum(units)
    }
}

impl std::ops::AddAssign for FixedSum {
    #[inline]
    fn add_assign(&mut self, o: FixedSum) {
        self.0 = self.0.saturating_add(o.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn totals_are_exact_for_ordinary_values() {
        let mut s = FixedSum::ZERO;
        [0.1f32, 0.2, 0.3, 1e6, -1e6].iter().for_each(|&x| s.add(x));
        let want = f64::from(0.1f32) + f64::from(0.2f32) + f64::from(0.3f32);
        assert!((s.get() - want).abs() < 1e-11);
        assert_eq!(FixedSum::of(f32::NAN), FixedSum::ZERO);
        assert_eq!(FixedSum::from_units(FixedSum::of(2.5).units()).get(), 2.5);
        let mut big = FixedSum::of(f32::MAX);
        big += FixedSum::of(f32::MAX);
        assert!(big.get() > 1e25);
    }

    proptest! {
        /// Any split into two groups, summed separately and added, gives the
        /// total of summing in order: the property shard merges rest on.
        #[test]
        fn any_grouping_gives_the_same_total(xs in proptest::collection::vec(-1e7f32..1e7, 0..200), cut in 0usize..200) {
            let cut = cut.min(xs.len());
            let mut all = FixedSum::ZERO;
            xs.iter().for_each(|&x| all.add(x));
            let (mut a, mut b) = (FixedSum::ZERO, FixedSum::ZERO);
            xs[..cut].iter().for_each(|&x| a.add(x));
            xs[cut..].iter().rev().for_each(|&x| b.add(x));
            b += a;
            prop_assert_eq!(all, b);
        }
    }
}
