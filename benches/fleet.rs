//! Fleet-scale runs: 1,000 GPUs serving a week of requests (one million here;
//! `twin bench` runs the full ten million once), and the default scenario.
//!
//! `cargo bench -p twin-benches --bench fleet`
#![forbid(unsafe_code)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use twin_sim::benchmarks::fleet_week;
use twin_sim::scenario::Scenario;
use twin_sim::{RunOptions, run};

fn fleet(c: &mut Criterion) {
    let mut group = c.benchmark_group("fleet");
    group.sample_size(10);
    let week = Scenario::from_toml(&fleet_week(1.0), "fleet-week").expect("the bench scenario checks");
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("week-1000-gpus-1M-requests", |b| b.iter(|| run(&week, 1, RunOptions::summary_only()).expect("runs")));
    let text = include_str!("../scenarios/spot-inference.toml");
    let spot = Scenario::from_toml(text, "spot-inference").expect("the library scenario checks");
    group.throughput(Throughput::Elements(1));
    group.bench_function("spot-inference-2d", |b| b.iter(|| run(&spot, 1, RunOptions::summary_only()).expect("runs")));
    group.finish();
}

criterion_group!(benches, fleet);
criterion_main!(benches);
