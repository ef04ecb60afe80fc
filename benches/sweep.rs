//! The sweep kernel: replica-steps per second for a reference sweep (the
//! default scenario's spot service, 16,384 replicas × 720 steps of one
//! minute) on all CPU cores, and on the GPU when there is one (set
//! `TWIN_BENCH_LAVAPIPE=1` to time the CPU Vulkan driver instead). `cpu` and
//! `gpu` return every outcome; the `sweep` rows are the whole path a user
//! runs (pilot, model, tallies; on the GPU only summaries come back), and
//! `cpu-scalar` is the reference model one replica at a time, the baseline
//! the SIMD lanes are measured against.
//!
//! `cargo bench -p twin-benches --bench sweep`
#![forbid(unsafe_code)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use twin_sim::scenario::Scenario;
use twin_sweep::engine::Engine;
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
    g.bench_function("cpu", |b| b.iter(|| black_box(twin_sweep::cpu::run(&points, 0, REPLICAS, 0).expect("runs").len())));
    g.bench_function("cpu-scalar", |b| {
        b.iter(|| {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
            std::thread::scope(|s| {
                for t in 0..threads {
                    let p = &points[0];
                    s.spawn(move || (t..REPLICAS).step_by(threads as usize).map(|r| twin_sweep::run_replica(p, r).cost).sum::<f32>());
                }
            })
        })
    });
    g.bench_function("cpu-sweep", |b| {
        b.iter(|| black_box(Engine::Cpu(0).sweep(&points, REPLICAS, 0.99, false, &mut |_| {}).expect("runs")))
    });
    let software = std::env::var("TWIN_BENCH_LAVAPIPE").is_ok_and(|v| v == "1");
    match twin_sweep::gpu::GpuBackend::new(software) {
        Ok(gpu) => {
            let name = if gpu.is_software() { "lavapipe" } else { "gpu" };
            g.bench_function(name, |b| b.iter(|| black_box(gpu.run(&points, 0, REPLICAS, &mut |_| {}).expect("runs").len())));
            let engine = Engine::Gpu(Box::new(gpu));
            g.bench_function(format!("{name}-sweep"), |b| {
                b.iter(|| black_box(engine.sweep(&points, REPLICAS, 0.99, false, &mut |_| {}).expect("runs")))
            });
        }
        Err(e) => eprintln!("no GPU timed: {e}"),
    }
    g.finish();
}

criterion_group!(benches, sweep);
criterion_main!(benches);
