//! The CPU backend: the model on every core, [`W`] replicas at a time in
//! SIMD lanes ([`crate::batch`]), AVX2 where the CPU has it. Batches run on
//! rayon's workers, and every batch writes only its own replicas' slots, so
//! results do not depend on the number of threads.

use rayon::prelude::*;

use crate::SweepError;
use crate::batch::run_batch_fast;
use crate::lanes::W;
use crate::model::{Outcome, PointParams};

/// Runs replicas `first..first + count` of every point on `threads` threads
/// (0: rayon's global pool, all cores unless `RAYON_NUM_THREADS` says
/// otherwise). Outcomes are point-major: point `i`'s replica `r` is at
/// `i * count + r`. Fails only when a pool of `threads` threads cannot start.
pub fn run(points: &[PointParams], first: u32, count: u32, threads: usize) -> Result<Vec<Outcome>, SweepError> {
    let mut out = vec![Outcome::default(); points.len() * count as usize];
    if count == 0 {
        return Ok(out);
    }
    // Every point's replicas in batches of W; the last of a point may be short.
    let work = |out: &mut [Outcome]| {
        out.par_chunks_mut(count as usize).zip(points).for_each(|(slots, p)| {
            slots.par_chunks_mut(W).enumerate().for_each(|(b, slots)| {
                let lanes = run_batch_fast(p, first.wrapping_add((b * W) as u32));
                slots.copy_from_slice(&lanes[..slots.len()]);
            });
        });
    };
    if threads == 0 {
        work(&mut out);
    } else {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|error| SweepError::Threads { threads, error })?
            .install(|| work(&mut out));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::run_replica;

    #[test]
    fn thread_count_does_not_change_results() {
        let p = PointParams { steps: 200, ..crate::model::tests::autoscaled() };
        let q = PointParams { seed: 4, ..p };
        let a = run(&[p, q], 10, 37, 1).unwrap();
        for threads in [2, 3, 0] {
            let b = run(&[p, q], 10, 37, threads).unwrap();
            assert!(bytemuck::cast_slice::<_, u8>(&a) == bytemuck::cast_slice::<_, u8>(&b), "{threads} threads");
        }
        assert_eq!(a.len(), 74);
        // Replica 15 of the second point, from a batch that starts at 10 + 0 and one at 10 + 8.
        let want = run_replica(&q, 15);
        assert!((a[37 + 5].cost - want.cost).abs() < 1e-3 * want.cost, "{:?} {want:?}", a[37 + 5]);
        assert_eq!(a[37 + 5].arrived, want.arrived);
        // A short last batch holds the same histories as a full one.
        assert_eq!(run(&[q], 42, 3, 1).unwrap()[2], run(&[q], 40, 8, 1).unwrap()[4]);
    }

    /// Every batch writes only its own slots: the outcomes are those of the
    /// batches run one after another, whatever the threads, inside another
    /// pool or not.
    #[test]
    fn batches_land_in_their_own_slots() {
        let base = PointParams { steps: 60, ..crate::model::tests::autoscaled() };
        let points: Vec<PointParams> = (0..5).map(|i| PointParams { seed: 20 + i, ..base }).collect();
        // Two full batches and a short one per point.
        let (first, count) = (3, 2 * W as u32 + 13);
        let mut want = Vec::new();
        for p in &points {
            for b in (0..count).step_by(W) {
                want.extend_from_slice(&run_batch_fast(p, first + b)[..W.min((count - b) as usize)]);
            }
        }
        let bits = |o: &[Outcome]| bytemuck::cast_slice::<_, u8>(o).to_vec();
        for threads in [0, 1, 2, 4] {
            assert!(bits(&run(&points, first, count, threads).unwrap()) == bits(&want), "{threads} threads");
        }
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        assert!(bits(&pool.install(|| run(&points, first, count, 0)).unwrap()) == bits(&want));
        assert!(run(&[], 0, 10, 2).unwrap().is_empty() && run(&points, 0, 0, 2).unwrap().is_empty());
    }
}
