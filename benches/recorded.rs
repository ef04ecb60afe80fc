//! A 10-million-sample telemetry recording replayed into the model: the
//! replay alone (what a run does with an attached recording), and from the
//! Parquet file on disk through the canonical columns to the replay (what
//! `twin run` does with a pool's `telemetry = { file = ... }`).
//!
//! `cargo bench -p twin-benches --bench recorded`
#![forbid(unsafe_code)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use twin_replay::Telemetry;
use twin_replay::usage::UsageColumns;
use twin_sim::fleet::{RecordedUsage, SyntheticUsage, UsageOptions, UsageReplay};
use twin_sim::time::SimTime;

const GPUS: u32 = 64;
const PER_GPU: i64 = 156_250;
const SEC: i64 = 1_000_000_000;

fn options() -> UsageOptions {
    UsageOptions { speed: 1.0, repeat: false, idle_below_pct: 5.0, idle_after_ns: 1_800 * SEC as u64, max_gap_ns: 0, idle_watts: 70.0 }
}

fn replay(u: &RecordedUsage) -> UsageReplay {
    let horizon = SimTime((PER_GPU * SEC) as u64);
    UsageReplay::compute(u, &options(), horizon, 3_600 * SEC as u64, 60 * SEC as u64)
}

fn recorded(c: &mut Criterion) {
    // 64 GPUs sampled every second for 43.4 hours: 10,000,000 samples.
    let spec = SyntheticUsage { gpus: GPUS, span_ns: (PER_GPU - 1) * SEC, interval_ns: SEC, ..SyntheticUsage::default() };
    let usage = spec.generate(1);
    assert_eq!(usage.len(), 10_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fleet.parquet");
    let cols = UsageColumns {
        gpus: &usage.gpus,
        offsets: &usage.offsets,
        time_ns: &usage.time_ns,
        util_pct: &usage.util_pct,
        power_w: &usage.power_w,
        epoch_ns: 0,
    };
    twin_replay::parquet::write(&Telemetry::from_usage(cols, "H100"), &path).expect("writes");
    let r = replay(&usage);
    assert_eq!(r.samples, 10_000_000);

    let mut g = c.benchmark_group("recorded/10M-samples");
    g.throughput(Throughput::Elements(usage.len() as u64));
    g.sample_size(10);
    g.bench_function("replay", |b| b.iter(|| black_box(replay(black_box(&usage)).samples)));
    g.bench_function("parquet+replay", |b| {
        b.iter(|| {
            let t = twin_replay::parquet::read_usage(&path).expect("reads");
            let u = RecordedUsage::from_columns(&t.gpu, &t.time_ns, &t.util_pct, &t.power_w);
            black_box(replay(&u).samples)
        })
    });
    g.finish();
}

criterion_group!(benches, recorded);
criterion_main!(benches);
