//! Work shared out over the machine's cores through rayon, with results in
//! the items' order.
//!
//! Everything runs on rayon's current pool: the global one (a thread per
//! core, or `RAYON_NUM_THREADS`), or the pool a caller runs the readers in
//! with `ThreadPool::install`. Results never depend on how many threads
//! there are; the tests read the same inputs in pools of 1, 2 and 3.

use rayon::prelude::*;

/// The threads of the current rayon pool: what the readers size their
/// chunks by.
pub(crate) fn cores() -> usize {
    rayon::current_num_threads()
}

/// Runs `f` on each item, each item a task of its own (so an item a thread
/// is held back on delays only that item), on the current pool; one worker
/// or fewer runs them in turn on the calling thread. Results come in the
/// items' order, whatever the thread count.
pub(crate) fn on_cores<T: Send, R: Send>(items: Vec<T>, workers: usize, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    if workers.min(items.len()) <= 1 {
        return items.into_iter().map(f).collect();
    }
    items.into_par_iter().with_max_len(1).map(&f).collect()
}

/// [`on_cores`] on all the pool's threads.
pub(crate) fn on_all<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    on_cores(items, cores(), f)
}

/// Runs `f` in a rayon pool of `threads` threads: how the tests check that
/// results do not depend on the thread count.
#[cfg(test)]
pub(crate) fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool").install(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_on_any_number_of_threads() {
        let want: Vec<u64> = (0..100u64).map(|x| x * x).collect();
        for threads in [1, 2, 3] {
            in_pool(threads, || {
                assert_eq!(cores(), threads);
                for workers in [0, 1, 3, 200] {
                    assert_eq!(on_cores((0..100u64).collect(), workers, |x| x * x), want, "{workers} workers, {threads} threads");
                }
                assert_eq!(on_all((0..100u64).collect(), |x| x * x), want, "{threads} threads");
            });
        }
    }
}
