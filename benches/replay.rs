//! nvidia-smi CSV to canonical Parquet: rows per second through the reader
//! alone, and through reader, columns and Parquet encoding (what `twin trace
//! import` does, less the disk).
//!
//! `cargo bench -p twin-benches --bench replay` (`TWIN_PHASES=1` for where the
//! time goes instead: see [`phases`]).
#![forbid(unsafe_code)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use twin_replay::{Format, ReadOptions};

fn import(c: &mut Criterion) {
    let rows = 200_000;
    let text = twin_replay::benchmarks::nvidia_smi_csv(rows);
    let opts = ReadOptions::default();
    let (t, report) = twin_replay::read(&text, "bench.csv", Format::NvidiaSmi, &opts).expect("reads");
    assert_eq!((report.rows, report.skipped), (rows, 0));
    if std::env::var_os("TWIN_PHASES").is_some() {
        phases(&text, &t);
    }
    let mut g = c.benchmark_group("replay/nvidia-smi-csv");
    g.throughput(Throughput::Elements(rows as u64));
    g.sample_size(10);
    g.bench_function("read", |b| b.iter(|| black_box(twin_replay::read(black_box(&text), "bench.csv", Format::NvidiaSmi, &opts).unwrap())));
    g.bench_function("read+parquet", |b| {
        b.iter(|| {
            let (t, _) = twin_replay::read(black_box(&text), "bench.csv", Format::NvidiaSmi, &opts).unwrap();
            let mut buf = Vec::with_capacity(1 << 20);
            twin_replay::encoding::write_parquet(&t, &mut buf).unwrap();
            black_box(buf.len())
        })
    });
    drop(t);
    g.finish();
}

/// nvidia-smi timestamps: the reader's clock, which remembers the last date
/// and hour, against the calendar it falls back to (the measurement that
/// keeps the hand-written clock).
fn timestamps(c: &mut Criterion) {
    let stamps = twin_replay::benchmarks::logger_timestamps(100_000);
    assert_eq!(twin_replay::benchmarks::read_with_clock(&stamps), twin_replay::benchmarks::read_with_calendar(&stamps));
    let mut g = c.benchmark_group("replay/timestamps");
    g.throughput(Throughput::Elements(stamps.len() as u64));
    g.bench_function("clock", |b| b.iter(|| black_box(twin_replay::benchmarks::read_with_clock(black_box(&stamps)))));
    g.bench_function("calendar", |b| b.iter(|| black_box(twin_replay::benchmarks::read_with_calendar(black_box(&stamps)))));
    g.finish();
}

/// Process CPU time (user + system), ms, from /proc/self/stat.
fn cpu_ms() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) * 10.0
}

/// With `TWIN_PHASES=1`: CPU time (mean) and wall time (least and median)
/// of each phase (read, encode) over `TWIN_PHASES_N` runs (30), then the
/// least of each when they run in turn; then the same encoding through a
/// polars frame and `ParquetWriter` (what Twin did before it had its own
/// encoder) for comparison, the Parquet sizes, and the file itself to
/// `TWIN_PHASES_OUT` if set; then exits without the criterion runs.
fn phases(text: &str, t: &twin_replay::Telemetry) {
    let n: usize = std::env::var("TWIN_PHASES_N").ok().and_then(|v| v.parse().ok()).unwrap_or(30).max(1);
    let time = |name: &str, f: &mut dyn FnMut()| {
        f();
        let mut walls = Vec::with_capacity(n);
        let c0 = cpu_ms();
        for _ in 0..n {
            let w0 = std::time::Instant::now();
            f();
            walls.push(w0.elapsed().as_secs_f64() * 1e3);
        }
        let c = (cpu_ms() - c0) / n as f64;
        walls.sort_by(f64::total_cmp);
        eprintln!("{name:>16}: cpu {c:6.1} ms  wall min {:6.1} ms  median {:6.1} ms", walls[0], walls[n / 2]);
    };
    let encode = |t: &twin_replay::Telemetry| {
        let mut buf = Vec::with_capacity(1 << 20);
        twin_replay::encoding::write_parquet(t, &mut buf).unwrap();
        buf
    };
    time("read", &mut || drop(black_box(twin_replay::read(text, "b.csv", Format::NvidiaSmi, &ReadOptions::default()).unwrap())));
    time("encode", &mut || drop(black_box(encode(t))));
    // The two in turn, as `read+parquet` runs them: each phase's least time.
    let mut least = [f64::MAX; 2];
    for _ in 0..n {
        let w0 = std::time::Instant::now();
        let (t, _) = twin_replay::read(text, "b.csv", Format::NvidiaSmi, &ReadOptions::default()).unwrap();
        let w1 = std::time::Instant::now();
        black_box(encode(&t).len());
        let w2 = std::time::Instant::now();
        for (l, (a, b)) in least.iter_mut().zip([(w0, w1), (w1, w2)]) {
            *l = l.min((b - a).as_secs_f64() * 1e3);
        }
    }
    eprintln!("  in turn: read {:.1} ms, encode {:.1} ms (least of each)", least[0], least[1]);
    time("frame+polars", &mut || drop(black_box(twin_replay::benchmarks::parquet_through_polars(t).unwrap())));
    let polars = twin_replay::benchmarks::parquet_through_polars(t).unwrap();
    let ours = encode(t);
    eprintln!("{:>16}: {} bytes (through a frame and polars' writer: {} bytes)", "parquet", ours.len(), polars.len());
    if let Some(path) = std::env::var_os("TWIN_PHASES_OUT") {
        std::fs::write(path, &ours).unwrap();
    }
    std::process::exit(0);
}

criterion_group!(benches, import, timestamps);
criterion_main!(benches);
