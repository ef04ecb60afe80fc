//! `twin bench`: a fleet-scale week, the engine's hold model, the
//! telemetry import and the scheduler extender under load, timed here, each
//! against a baseline in the same run.
//!
//! Figures depend on the machine; quote them with it. Criterion benchmarks
//! under `benches/` measure the same workloads with statistics.

use crate::args::{BenchArgs, BenchPart};
use std::process::ExitCode;
use std::time::Instant;
use twin_sim::benchmarks::{BinaryHeapHold, fleet_week, hold_simulation};
use twin_sim::scenario::Scenario;
use twin_sim::{RunOptions, run};

pub fn bench(a: BenchArgs) -> anyhow::Result<ExitCode> {
    let only = if a.engine_only { vec![BenchPart::Engine] } else { a.only.clone() };
    let wanted = |p: BenchPart| (only.is_empty() && !matches!(p, BenchPart::Regress | BenchPart::Extender)) || only.contains(&p);
    if wanted(BenchPart::Regress) {
        regress_suite()?;
    }
    // The fleet first, so that its peak memory is not the engine's.
    if wanted(BenchPart::Fleet) {
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
    if wanted(BenchPart::Tui) {
        tui(a.million_requests)?;
    }
    if wanted(BenchPart::Engine) {
        engine();
    }
    if wanted(BenchPart::Import) {
        import(a.import_rows)?;
    }
    if wanted(BenchPart::Extender) {
        crate::bench_extender::bench()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The event queue's hold model against a `BinaryHeap`, one thread.
fn engine() {
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
}

/// nvidia-smi CSV to Parquet in memory (what `twin trace import` does,
/// less the disk) on all the cores this process may use, against the same
/// reader with polars' own `ParquetWriter` through a frame; each the median
/// and best of 9 runs, taken in turn after a second of both as warm-up.
fn import(rows: usize) -> anyhow::Result<()> {
    use twin_replay::{Format, ReadOptions};
    let rows = rows.max(1);
    let text = twin_replay::benchmarks::nvidia_smi_csv(rows);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    outln!(
        "import: nvidia-smi CSV to Parquet in memory, {rows} rows × 15 columns, 8 GPUs, {threads} thread(s); baseline the same reader and polars' ParquetWriter, same run"
    );
    let read = || twin_replay::read(&text, "bench.csv", Format::NvidiaSmi, &ReadOptions::default()).map(|(t, _)| t);
    let ours = || -> anyhow::Result<usize> {
        let mut buf = Vec::with_capacity(1 << 20);
        twin_replay::encoding::write_parquet(&read()?, &mut buf)?;
        Ok(buf.len())
    };
    let polars = || -> anyhow::Result<usize> { Ok(twin_replay::benchmarks::parquet_through_polars(&read()?)?.len()) };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    // Warm up as criterion does, both in turn for a second or more: caches,
    // the allocator's thresholds and the cores' clocks settle.
    let warm = Instant::now();
    let (mut a_bytes, mut b_bytes) = (ours()?, polars()?);
    while warm.elapsed().as_secs_f64() < 1.0 {
        (a_bytes, b_bytes) = (ours()?, polars()?);
    }
    for _ in 0..9 {
        let t = Instant::now();
        a_bytes = ours()?;
        a.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        b_bytes = polars()?;
        b.push(t.elapsed().as_secs_f64());
    }
    let rate = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (rows as f64 / v[v.len() / 2] / 1e6, rows as f64 / v[0] / 1e6)
    };
    let ((a_med, a_best), (b_med, b_best)) = (rate(a), rate(b));
    outln!(
        "  {a_med:.2} M rows/s (best {a_best:.2}), {a_bytes} bytes · polars ParquetWriter {b_med:.2} M rows/s (best {b_best:.2}), {b_bytes} bytes · {:.2}x",
        a_med / b_med
    );
    Ok(())
}

/// The default scenario headless and watched in the TUI at max speed
/// (frames drawn at 200×60 as the terminal loop draws them), three pairs in
/// turn; then a week on 1,000 GPUs watched, for the UI's memory.
fn tui(million_requests: f64) -> anyhow::Result<()> {
    use twin_tui::worker::{RunRequest, Speed};
    let loaded = std::sync::Arc::new(twin_inputs::load(twin_inputs::library::DEFAULT)?);
    let seed = loaded.scenario.spec.seed;
    outln!("tui: {} watched at max speed (frames at 200×60) against the same run headless, three pairs in turn", loaded.scenario.spec.name);
    let req = RunRequest { loaded: loaded.clone(), seed, factory: None };
    let mut ratios = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let headless = run(&loaded.scenario, seed, RunOptions::summary_only())?;
        let h = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let watched = twin_tui::watch::watch(req.clone(), Speed::Max, 200, 60).map_err(|e| anyhow::anyhow!(e))?;
        let w = t.elapsed().as_secs_f64();
        anyhow::ensure!(watched.cost == headless.summary.cost.total, "the watched run's cost differs from the headless run's");
        outln!("  headless {h:.2} s · watched {w:.2} s ({} frames) · {:.2}x", watched.frames, w / h);
        ratios.push(w / h);
    }
    ratios.sort_by(f64::total_cmp);
    outln!("  median {:.2}x (goal ≤ 1.25x)", ratios[1]);
    let text = fleet_week(million_requests);
    let week =
        twin_inputs::load_text(twin_inputs::ScenarioText { origin: "fleet-week".into(), text, source: twin_inputs::Source::BuiltIn })?;
    let req = RunRequest { loaded: std::sync::Arc::new(week), seed: 1, factory: None };
    let t = Instant::now();
    let w = twin_tui::watch::watch(req, Speed::Max, 200, 60).map_err(|e| anyhow::anyhow!(e))?;
    outln!(
        "  a week on 1,000 GPUs ({million_requests} M requests) watched: {:.2} s, {} events, {} frames · peak RSS of this process {} (goal < 200 MiB)",
        t.elapsed().as_secs_f64(),
        w.events,
        w.frames,
        peak_rss().unwrap_or_else(|| "unknown".into())
    );
    Ok(())
}

/// The process's peak resident memory, from /proc (Linux).
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{:.0} MiB", kb / 1024.0))
}

/// One side of the shipped regression suite, its runs one after another on
/// one thread and then on all cores, in one process; the two results must
/// be the same bytes.
fn regress_suite() -> anyhow::Result<()> {
    use crate::suite_run::{Place, run_suite};
    let path = std::path::Path::new("regress.toml");
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("run `twin bench --only regress` in a checkout of Twin: regress.toml: {e}"))?;
    let suite = twin_regress::suite::SuiteSpec::from_toml(&text, "regress.toml")?;
    let runs = suite.scenarios.len() * suite.seeds.count as usize;
    let all = rayon::current_num_threads();
    outln!("regress: the shipped suite, one side: {runs} runs ({} scenarios × {} seeds)", suite.scenarios.len(), suite.seeds.count);
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let t = Instant::now();
    let serial = one.install(|| run_suite(path, &suite, &Place::Disk))?;
    let s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let parallel = run_suite(path, &suite, &Place::Disk)?;
    let p = t.elapsed().as_secs_f64();
    anyhow::ensure!(serial.to_json() == parallel.to_json(), "the results on 1 and {all} threads differ");
    outln!(
        "  one after another {s:.1} s · on {all} threads {p:.1} s · {:.2}x · the same bytes · both sides about {:.0} s (goal < 300 s)",
        s / p,
        2.0 * p
    );
    Ok(())
}
