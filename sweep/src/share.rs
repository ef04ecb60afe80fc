//! A sweep cut into shares, as the pods of a Kubernetes Indexed Job run
//! them, and the shares' parts added back into what one run computes.
//!
//! The work is cut into units of [`UNIT`] consecutive replicas of one
//! point, point-major; share *i* of *n* takes the units from ⌊*iU/n*⌋ to
//! ⌊*(i+1)U/n*⌋ of the *U* in all, so neighbouring units stay on one
//! machine and a share may hold nothing when there are more shares than
//! units. A share's replicas of one point are one [`Run`].
//!
//! Merging is exact: a [`Tally`]'s sums are order-independent
//! ([`crate::exact`]), its histograms are counts and its extremes are
//! minima and maxima, every share computes the same histogram bounds from
//! the same pilot, and on the GPU a tile never straddles units. So the
//! parts of any split add up to the bits of one unsplit run.

use crate::engine::{PILOT, Swept};
use crate::model::Outcome;
use crate::tally::Tally;

/// Replicas in one unit of work: shares are cut only between units.
pub const UNIT: u32 = 1024;

// A unit holds whole GPU tiles, and the pilot is whole units, so no cut
// lands inside a tile or splits the pilot from the device's sums differently.
const _: () = assert!((UNIT as u64).is_multiple_of(crate::gpu::TILE) && PILOT.is_multiple_of(UNIT));

/// Share `index` of `count` (0-based, as `JOB_COMPLETION_INDEX` counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Share {
    /// Which share, from 0.
    pub index: u32,
    /// How many shares the work is cut into.
    pub count: u32,
}

/// A share's replicas of one point: `first..first + count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// The point's index in the grid.
    pub point: usize,
    /// The first replica.
    pub first: u32,
    /// How many replicas.
    pub count: u32,
}

/// What a share computed for one of its runs.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPart {
    /// Which replicas of which point.
    pub run: Run,
    /// Their tally (histogram bounds from the point's pilot).
    pub tally: Tally,
    /// Their outcomes, in replica order, when outcomes are kept.
    pub outcomes: Option<Vec<Outcome>>,
}

impl Share {
    /// The whole sweep as one share.
    pub const WHOLE: Share = Share { index: 0, count: 1 };

    /// The runs of this share of `points` points × `replicas` replicas, in
    /// point order.
    pub fn runs(self, points: usize, replicas: u32) -> Vec<Run> {
        let per_point = u64::from(replicas.div_ceil(UNIT));
        let units = points as u64 * per_point;
        if units == 0 || self.count == 0 {
            return Vec::new();
        }
        let cut = |i: u32| (u128::from(units) * u128::from(i) / u128::from(self.count)) as u64;
        let (lo, hi) = (cut(self.index), cut(self.index + 1));
        let mut runs = Vec::new();
        let mut at = lo;
        while at < hi {
            let point = at / per_point;
            let end = hi.min((point + 1) * per_point);
            let (u0, u1) = (at - point * per_point, end - point * per_point);
            let first = (u0 * u64::from(UNIT)) as u32;
            let last = (u1 * u64::from(UNIT)).min(u64::from(replicas)) as u32;
            runs.push(Run { point: point as usize, first, count: last - first });
            at = end;
        }
        runs
    }

    /// Replicas in this share.
    pub fn replicas(self, points: usize, replicas: u32) -> u64 {
        self.runs(points, replicas).iter().map(|r| u64::from(r.count)).sum()
    }
}

/// Why parts do not add up to a sweep.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Some replicas of a point are in no part.
    #[error("point {point}: replicas {first}..{end} are in no part (a share is missing)")]
    Missing {
        /// The point.
        point: usize,
        /// First replica missing.
        first: u32,
        /// One past the last.
        end: u32,
    },
    /// Some replicas of a point are in two parts.
    #[error("point {point}: replicas from {first} are in two parts (a share is there twice)")]
    Overlap {
        /// The point.
        point: usize,
        /// First replica counted twice.
        first: u32,
    },
    /// A part names a point the sweep does not have.
    #[error("a part names point {point}, but the sweep has {points} point(s)")]
    NoSuchPoint {
        /// The point named.
        point: usize,
        /// The sweep's points.
        points: usize,
    },
    /// Parts of one point from different sweeps.
    #[error("point {point}: {source}")]
    Mismatch {
        /// The point.
        point: usize,
        /// What differs.
        source: crate::tally::TallyMismatch,
    },
    /// Some parts kept their outcomes and some did not.
    #[error("some parts kept every replica's outcome and some did not")]
    MixedOutcomes,
}

/// Adds `parts` (any order) into the sweep of `points` points × `replicas`
/// replicas they were cut from: one tally per point and, when every part
/// kept them, every outcome point-major. Refuses parts that leave replicas
/// out or count them twice.
pub fn merge(points: usize, replicas: u32, parts: Vec<RunPart>) -> Result<Swept, MergeError> {
    let mut by_point: Vec<Vec<RunPart>> = (0..points).map(|_| Vec::new()).collect();
    let keep = parts.first().map(|p| p.outcomes.is_some());
    for p in parts {
        if Some(p.outcomes.is_some()) != keep {
            return Err(MergeError::MixedOutcomes);
        }
        let point = p.run.point;
        by_point.get_mut(point).ok_or(MergeError::NoSuchPoint { point, points })?.push(p);
    }
    let keep = keep.unwrap_or(false);
    let mut tallies = Vec::with_capacity(points);
    let mut outcomes = keep.then(|| Vec::with_capacity(points * replicas as usize));
    for (point, mut runs) in by_point.into_iter().enumerate() {
        runs.sort_by_key(|p| p.run.first);
        let mut at = 0u32;
        let mut tally: Option<Tally> = None;
        for p in runs {
            if p.run.first > at {
                return Err(MergeError::Missing { point, first: at, end: p.run.first });
            }
            if p.run.first < at {
                return Err(MergeError::Overlap { point, first: p.run.first });
            }
            at = p.run.first + p.run.count;
            match &mut tally {
                None => tally = Some(p.tally),
                Some(t) => t.absorb(&p.tally).map_err(|source| MergeError::Mismatch { point, source })?,
            }
            if let (Some(all), Some(o)) = (&mut outcomes, p.outcomes) {
                all.extend(o);
            }
        }
        if at != replicas {
            return Err(MergeError::Missing { point, first: at, end: replicas });
        }
        // A sweep of no replicas has empty tallies, as the engine makes them.
        tallies.push(tally.unwrap_or_else(|| Tally::from_pilot(&[], 0.0)));
    }
    Ok(Swept { tallies, outcomes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The shares of any cut hold every replica once, in order.
        #[test]
        fn shares_cover_the_work_once(points in 0usize..7, replicas in 0u32..5000, count in 1u32..40) {
            let mut seen: Vec<(usize, u32, u32)> = Vec::new();
            for index in 0..count {
                for r in (Share { index, count }).runs(points, replicas) {
                    prop_assert!(r.count > 0);
                    prop_assert!(r.first % UNIT == 0);
                    seen.push((r.point, r.first, r.count));
                }
            }
            let whole: Vec<(usize, u32, u32)> = Share::WHOLE.runs(points, replicas).iter().map(|r| (r.point, r.first, r.count)).collect();
            prop_assert_eq!(whole.len(), if replicas == 0 { 0 } else { points });
            let mut at = (0usize, 0u32);
            for (p, f, c) in seen {
                if p != at.0 {
                    prop_assert_eq!(at.1, replicas);
                    at = (p, 0);
                }
                prop_assert_eq!(f, at.1);
                at.1 += c;
            }
        }
    }

    #[test]
    fn more_shares_than_units_leaves_some_empty() {
        let runs: Vec<Vec<Run>> = (0..8).map(|i| Share { index: i, count: 8 }.runs(2, 2048)).collect();
        assert_eq!(runs.iter().filter(|r| r.is_empty()).count(), 4);
        assert_eq!(runs.iter().map(|r| r.len()).sum::<usize>(), 4);
    }
}
