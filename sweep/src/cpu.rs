//! The CPU backend: the reference model on every core, replicas split into
//! contiguous blocks, one thread a block; results do not depend on the
//! number of threads.

use crate::model::{Outcome, PointParams, run_replica};

/// Runs replicas `first..first + count` of every point on `threads` threads
/// (0: all cores). Outcomes are point-major: point `i`'s replica `r` is at
/// `i * count + r`.
pub fn run(points: &[PointParams], first: u32, count: u32, threads: usize) -> Vec<Outcome> {
    let total = points.len() * count as usize;
    let mut out = vec![Outcome::default(); total];
    let threads = if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads }.max(1);
    let block = total.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (b, chunk) in out.chunks_mut(block).enumerate() {
            s.spawn(move || {
                for (j, slot) in chunk.iter_mut().enumerate() {
                    let i = b * block + j;
                    let (point, r) = (i / count as usize, i % count as usize);
                    *slot = run_replica(&points[point], first + r as u32);
                }
            });
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_count_does_not_change_results() {
        let p = PointParams { steps: 200, ..crate::model::tests::autoscaled() };
        let q = PointParams { seed: 4, ..p };
        let a = run(&[p, q], 10, 37, 1);
        let b = run(&[p, q], 10, 37, 3);
        assert_eq!(a, b);
        assert_eq!(a[37 + 5], run_replica(&q, 15));
    }
}
