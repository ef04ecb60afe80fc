//! `twin bench`: the engine's hold model and a fleet-scale week, timed here.
//!
//! Figures depend on the machine; quote them with it. Criterion benchmarks
//! under `benches/` measure the same workloads with statistics.

use crate::args::BenchArgs;
use std::process::ExitCode;
use std::time::Instant;
use twin_sim::benchmarks::{BinaryHeapHold, fleet_week, hold_simulation};
use twin_sim::scenario::Scenario;
use twin_sim::{RunOptions, run};

pub fn bench(a: BenchArgs) -> anyhow::Result<ExitCode> {
    // The fleet first, so that its peak memory is not the engine's.
    if !a.engine_only {
        let text = fleet_week(a.million_requests);
        let scenario = Scenario::from_toml(&text, "fleet-week").map_err(|e| anyhow::anyhow!("{e}"))?;
        outln!("fleet: 1,000 GPUs, {} M requests over a simulated week, summary only", a.million_requests);
        let t = Instant::now();
        let out = run(&scenario, 1, RunOptions::summary_only())?;
        let secs = t.elapsed().as_secs_f64();
        let requests: u64 = out.summary.services.iter().map(|s| s.arrived).sum();
        outln!(
            "  {:.2} s wall · {} requests · {} events ({:.1} M events/s) · peak RSS {}",
            secs,
            requests,
            out.summary.events,
            out.summary.events as f64 / secs / 1e6,
            peak_rss().unwrap_or_else(|| "unknown".into())
        );
    }
    outln!("engine: hold model, one thread; baseline std BinaryHeap keyed by (time, seq), same run");
    for pending in [1_000usize, 100_000, 1_000_000] {
        let events = 20_000_000u64;
        let mut sim = hold_simulation(pending, 1);
        // Warm the queue up: one pass over its contents.
        for _ in 0..pending {
            sim.step();
        }
        let t = Instant::now();
        for _ in 0..events {
            sim.step();
        }
        let twin = events as f64 / t.elapsed().as_secs_f64();
        let mut base = BinaryHeapHold::new(pending, 1);
        for _ in 0..pending {
            base.step();
        }
        let t = Instant::now();
        for _ in 0..events {
            base.step();
        }
        let heap = events as f64 / t.elapsed().as_secs_f64();
        outln!("  {pending:>9} pending: {:>6.1} M events/s · BinaryHeap {:>6.1} M events/s · {:.2}x", twin / 1e6, heap / 1e6, twin / heap);
    }
    Ok(ExitCode::SUCCESS)
}

/// The process's peak resident memory, from /proc (Linux).
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{:.0} MiB", kb / 1024.0))
}
