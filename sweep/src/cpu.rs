//! The CPU backend: the model on every core, [`W`] replicas at a time in
//! SIMD lanes ([`crate::batch`]), AVX2 where the CPU has it. Threads take
//! batches from a shared queue, and every batch writes only its own
//! replicas' slots, so results do not depend on the number of threads.

use std::sync::Mutex;

use crate::batch::run_batch_fast;
use crate::lanes::W;
use crate::model::{Outcome, PointParams};

/// Batches a thread takes from the queue at a time.
const GRAB: usize = 8;

/// Runs replicas `first..first + count` of every point on `threads` threads
/// (0: all cores). Outcomes are point-major: point `i`'s replica `r` is at
/// `i * count + r`.
pub fn run(points: &[PointParams], first: u32, count: u32, threads: usize) -> Vec<Outcome> {
    let mut out = vec![Outcome::default(); points.len() * count as usize];
    if count == 0 {
        return out;
    }
    let threads = if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads }.max(1);
    // Every point's replicas in batches of W; the last of a point may be short.
    let batches: Vec<(&PointParams, u32, &mut [Outcome])> = points
        .iter()
        .zip(out.chunks_mut(count as usize))
        .flat_map(|(p, slots)| slots.chunks_mut(W).enumerate().map(move |(b, s)| (p, first.wrapping_add((b * W) as u32), s)))
        .collect();
    let queue = Mutex::new(batches.into_iter());
    let work = || {
        loop {
            let grabbed: Vec<_> = match queue.lock() {
                Ok(mut q) => q.by_ref().take(GRAB).collect(),
                Err(_) => return,
            };
            if grabbed.is_empty() {
                return;
            }
            for (p, r0, slots) in grabbed {
                let lanes = run_batch_fast(p, r0);
                let n = slots.len();
                slots.copy_from_slice(&lanes[..n]);
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::run_replica;

    #[test]
    fn thread_count_does_not_change_results() {
        let p = PointParams { steps: 200, ..crate::model::tests::autoscaled() };
        let q = PointParams { seed: 4, ..p };
        let a = run(&[p, q], 10, 37, 1);
        let b = run(&[p, q], 10, 37, 3);
        assert_eq!(a, b);
        assert_eq!(a.len(), 74);
        // Replica 15 of the second point, from a batch that starts at 10 + 0 and one at 10 + 8.
        let want = run_replica(&q, 15);
        assert!((a[37 + 5].cost - want.cost).abs() < 1e-3 * want.cost, "{:?} {want:?}", a[37 + 5]);
        assert_eq!(a[37 + 5].arrived, want.arrived);
        // A short last batch holds the same histories as a full one.
        assert_eq!(run(&[q], 42, 3, 1)[2], run(&[q], 40, 8, 1)[4]);
    }
}
