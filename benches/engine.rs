//! The bare event engine on the hold model: every event schedules one more,
//! so the queue holds a constant number of pending events. The same model on
//! `std::collections::BinaryHeap` is measured beside it as the baseline.
//!
//! `cargo bench -p twin-benches --bench engine`
#![forbid(unsafe_code)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use twin_sim::benchmarks::{BinaryHeapHold, hold_simulation};

const BATCH: u64 = 100_000;

fn hold(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine/hold");
    group.throughput(Throughput::Elements(BATCH));
    for pending in [1_000usize, 100_000, 1_000_000] {
        let mut sim = hold_simulation(pending, 1);
        for _ in 0..pending {
            sim.step();
        }
        group.bench_with_input(BenchmarkId::new("twin", pending), &pending, |b, _| {
            b.iter(|| {
                for _ in 0..BATCH {
                    sim.step();
                }
            })
        });
        let mut base = BinaryHeapHold::new(pending, 1);
        for _ in 0..pending {
            base.step();
        }
        group.bench_with_input(BenchmarkId::new("binary-heap", pending), &pending, |b, _| {
            b.iter(|| {
                for _ in 0..BATCH {
                    base.step();
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, hold);
criterion_main!(benches);
