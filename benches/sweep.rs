//! The sweep kernel: replica-steps per second for a reference sweep (the
//! default scenario's spot service, 16,384 replicas × 720 steps of one
//! minute) on all CPU cores, and on the GPU when there is one (set
//! `TWIN_BENCH_LAVAPIPE=1` to time the CPU Vulkan driver instead).
//!
//! `cargo bench -p twin-benches --bench sweep`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use twin_sim::scenario::Scenario;
use twin_sweep::{Baseline, PointParams};

const REPLICAS: u32 = 16_384;
const STEPS: u32 = 720;

fn reference() -> PointParams {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/spot-inference.toml")).expect("scenario");
    let s = Scenario::from_toml(&text, "spot-inference.toml").expect("checks");
    let mut p = Baseline::from_scenario(&s, None, twin_sim::time::SimDuration::from_secs(60)).expect("models").params;
    p.steps = STEPS;
    p
}

fn sweep(c: &mut Criterion) {
    let points = [reference()];
    let mut g = c.benchmark_group("sweep/16384x720");
    g.throughput(Throughput::Elements(u64::from(REPLICAS) * u64::from(STEPS)));
    g.sample_size(10);
    g.bench_function("cpu", |b| b.iter(|| black_box(twin_sweep::cpu::run(&points, 0, REPLICAS, 0).len())));
    let software = std::env::var("TWIN_BENCH_LAVAPIPE").is_ok_and(|v| v == "1");
    match twin_sweep::gpu::GpuBackend::new(software) {
        Ok(gpu) => {
            let name = if gpu.is_software() { "lavapipe" } else { "gpu" };
            g.bench_function(name, |b| b.iter(|| black_box(gpu.run(&points, 0, REPLICAS, &mut |_| {}).expect("runs").len())));
        }
        Err(e) => eprintln!("no GPU timed: {e}"),
    }
    g.finish();
}

criterion_group!(benches, sweep);
criterion_main!(benches);
