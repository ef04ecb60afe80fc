//! Merging a sharded sweep: 1,000 shard files of a 1e6-replica sweep (10
//! grid points × 100,000 replicas of the default scenario's spot service,
//! 48 steps of an hour), as `twin merge` meets them: each file read from
//! disk and parsed, the set checked (one sweep, one Twin, every share once,
//! each share's runs), the exact tallies added, and every point summarised.
//! The baseline row parses the same files without merging, so the ratio
//! shows what checking and adding cost over reading.
//!
//! The shards are computed once, for real, before timing (about 15 s here).
//!
//! `cargo bench -p twin-benches --bench merge`
#![forbid(unsafe_code)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use twin_sim::scenario::Scenario;
use twin_sweep::engine::Engine;
use twin_sweep::shard_file::{self, ShardFile};
use twin_sweep::share::Share;
use twin_sweep::{Baseline, PointParams};

const SHARDS: u32 = 1_000;
const POINTS: usize = 10;
const REPLICAS: u32 = 100_000;

fn points() -> Vec<PointParams> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/spot-inference.toml")).expect("scenario");
    let s = Scenario::from_toml(&text, "spot-inference.toml").expect("checks");
    let p = Baseline::from_scenario(&s, None, twin_sim::time::SimDuration::from_secs(3600)).expect("models").params;
    (0..POINTS).map(|i| PointParams { spot_share: i as f32 / (POINTS - 1) as f32, ..p }).collect()
}

/// Writes the 1,000 shard files into `dir`; returns their paths.
fn write_shards(dir: &std::path::Path) -> Vec<PathBuf> {
    let pts = points();
    let header = serde_json::json!({"bench": "merge", "points": POINTS, "replicas": REPLICAS});
    let engine = Engine::Cpu(0);
    (0..SHARDS)
        .map(|index| {
            let share = Share { index, count: SHARDS };
            let parts = engine.sweep_share(&pts, REPLICAS, 0.99, false, share, &mut |_| {}).expect("runs");
            let file = ShardFile::new("bench", header.clone(), &pts, REPLICAS, share, &parts, None);
            let path = dir.join(ShardFile::file_name(share));
            std::fs::write(&path, file.to_json()).expect("writes");
            path
        })
        .collect()
}

fn read(paths: &[PathBuf]) -> Vec<(String, ShardFile, Option<Vec<u8>>)> {
    paths
        .iter()
        .map(|p| {
            let origin = p.display().to_string();
            let text = std::fs::read_to_string(p).expect("reads");
            (origin.clone(), ShardFile::from_json(&text, &origin).expect("parses"), None)
        })
        .collect()
}

fn merge(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = write_shards(dir.path());
    let bytes: u64 = paths.iter().map(|p| std::fs::metadata(p).map_or(0, |m| m.len())).sum();
    eprintln!("{SHARDS} shard files, {:.1} MiB in all", bytes as f64 / (1 << 20) as f64);
    let mut g = c.benchmark_group("merge/1000-shards-of-1e6-replicas");
    g.sample_size(10);
    g.bench_function("read-only", |b| b.iter(|| black_box(read(&paths).len())));
    g.bench_function("read-check-merge-summarise", |b| {
        b.iter(|| {
            let merged = shard_file::merge("bench", read(&paths)).expect("a whole set");
            let s: Vec<_> = merged.swept.tallies.iter().map(|t| twin_sweep::summary::summarise(vec![], t, 55.0)).collect();
            assert_eq!(s.iter().map(|p| p.replicas).sum::<u64>(), POINTS as u64 * u64::from(REPLICAS));
            black_box(s)
        })
    });
    g.finish();
}

criterion_group!(benches, merge);
criterion_main!(benches);
