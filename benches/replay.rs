//! nvidia-smi CSV to canonical Parquet: rows per second through the reader
//! alone, and through reader, columns and Parquet encoding (what `twin trace
//! import` does, less the disk).
//!
//! `cargo bench -p twin-benches --bench replay`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::fmt::Write;
use std::hint::black_box;
use twin_replay::{Format, ReadOptions};

/// `rows` lines as `nvidia-smi --query-gpu=... --format=csv -lms 100` writes
/// them for 8 GPUs: the H200 recording's 15 columns, values varying.
fn csv(rows: usize) -> String {
    let mut s = String::from(
        "timestamp, index, name, pstate, utilization.gpu [%], utilization.memory [%], memory.used [MiB], memory.total [MiB], power.draw [W], power.limit [W], temperature.gpu, temperature.memory, clocks.current.sm [MHz], clocks.current.memory [MHz], clocks_event_reasons.active\n",
    );
    for i in 0..rows {
        let (tick, gpu) = (i / 8, i % 8);
        let ms = tick * 100;
        let busy = (tick / 50) % 2 == 1;
        let (util, power) = if busy { (97 + (i % 3), 650.0 + (i % 50) as f64 * 1.1) } else { (0, 77.25 + (i % 7) as f64 * 0.01) };
        let _ = writeln!(
            s,
            "2026/11/27 {:02}:{:02}:{:02}.{:03}, {gpu}, NVIDIA H200, P0, {util} %, {} %, {} MiB, 143771 MiB, {power:.2} W, 700.00 W, {}, {}, {} MHz, 3201 MHz, 0x{:016x}",
            ms / 3_600_000 % 24,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000,
            util / 2,
            if busy { 1011 } else { 0 },
            40 + util / 5,
            44 + util / 5,
            if busy { 1980 } else { 345 },
            u64::from(!busy)
        );
    }
    s
}

fn import(c: &mut Criterion) {
    let rows = 200_000;
    let text = csv(rows);
    let opts = ReadOptions::default();
    let (t, report) = twin_replay::read(&text, "bench.csv", Format::NvidiaSmi, &opts).expect("reads");
    assert_eq!((report.rows, report.skipped), (rows, 0));
    let mut g = c.benchmark_group("replay/nvidia-smi-csv");
    g.throughput(Throughput::Elements(rows as u64));
    g.sample_size(10);
    g.bench_function("read", |b| b.iter(|| black_box(twin_replay::read(black_box(&text), "bench.csv", Format::NvidiaSmi, &opts).unwrap())));
    g.bench_function("read+parquet", |b| {
        b.iter(|| {
            let (t, _) = twin_replay::read(black_box(&text), "bench.csv", Format::NvidiaSmi, &opts).unwrap();
            let mut df = twin_replay::parquet::to_frame(&t).unwrap();
            let mut buf = Vec::with_capacity(8 << 20);
            twin_replay::parquet::encode(&mut df, &mut buf).unwrap();
            black_box(buf.len())
        })
    });
    drop(t);
    g.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
