//! `twin bench`: a fleet-scale week, the engine's hold model, the
//! telemetry import, the scheduler extender under load and `twin run --out`
//! streaming its records, timed here, each against a baseline in the same
//! run.
//!
//! Figures depend on the machine; quote them with it. Criterion benchmarks
//! under `benches/` measure the same workloads with statistics.

use crate::args::{BenchArgs, BenchPart};
use std::process::ExitCode;
use std::time::Instant;
use twin_sim::benchmarks::{BinaryHeapHold, fleet_week, fleet_week_sized, hold_simulation};
use twin_sim::scenario::Scenario;
use twin_sim::{RunOptions, run};

pub fn bench(a: BenchArgs) -> anyhow::Result<ExitCode> {
    let only = if a.engine_only { vec![BenchPart::Engine] } else { a.only.clone() };
    let wanted = |p: BenchPart| (only.is_empty() && !matches!(p, BenchPart::Regress | BenchPart::Extender)) || only.contains(&p);
    // First, so that the in-memory baseline's peak is this process's own.
    if only.contains(&BenchPart::Stream) {
        stream(a.million_requests)?;
    }
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
    Some(format!("{:.0} MiB", peak_rss_kib("self")? as f64 / 1024.0))
}

/// A process's peak resident memory so far in KiB (`VmHWM`, Linux), by
/// pid or `self`; `None` once it has exited.
fn peak_rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// What a child `twin run --out` did: wall time, peak RSS and its files.
struct ChildRun {
    secs: f64,
    peak_kib: u64,
    bytes: u64,
    requests: u64,
}

/// Runs this binary with `args` (a `twin run ... --out out`), watching its
/// peak RSS every 2 ms while it runs.
fn child_run(args: &[&std::ffi::OsStr], out: &std::path::Path) -> anyhow::Result<ChildRun> {
    use std::io::Read as _;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe()?;
    let t = Instant::now();
    let mut child = Command::new(&exe).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
    let mut pipe = child.stderr.take();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(p) = pipe.as_mut() {
            let _ = p.read_to_string(&mut text);
        }
        text
    });
    let pid = child.id().to_string();
    let mut peak_kib = 0;
    let status = loop {
        // VmHWM is a high-water mark: any reading after the peak holds it.
        if let Some(kib) = peak_rss_kib(&pid) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let secs = t.elapsed().as_secs_f64();
    let stderr = errors.join().unwrap_or_default();
    anyhow::ensure!(status.success(), "{} {args:?} failed ({status}):\n{stderr}", exe.display());
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json"))?)?;
    let requests = summary["services"].as_array().map_or(0, |s| s.iter().map(|s| s["arrived"].as_u64().unwrap_or(0)).sum());
    Ok(ChildRun { secs, peak_kib, bytes: folder_bytes(out)?, requests })
}

/// Bytes of the files in `dir`.
fn folder_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        n += e?.metadata()?.len();
    }
    Ok(n)
}

/// The files of `a` that differ from `b`'s of the same name (or are missing there).
fn differing_files(a: &std::path::Path, b: &std::path::Path) -> std::io::Result<Vec<String>> {
    use std::io::Read as _;
    let mut differ = Vec::new();
    for e in std::fs::read_dir(a)? {
        let e = e?;
        let other = b.join(e.file_name());
        let same = other.is_file() && e.metadata()?.len() == std::fs::metadata(&other)?.len() && {
            let (mut x, mut y) = (std::fs::File::open(e.path())?, std::fs::File::open(&other)?);
            let (mut bx, mut by) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
            loop {
                let n = x.read(&mut bx)?;
                if n == 0 {
                    break true;
                }
                y.read_exact(&mut by[..n])?;
                if bx[..n] != by[..n] {
                    break false;
                }
            }
        };
        if !same {
            differ.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    differ.sort();
    Ok(differ)
}

/// `twin run --out` with records streamed to their files, in a child
/// process whose peak RSS is watched: a week on 1,000 GPUs and the default
/// scenario; the week's baseline is the same run kept in memory and written
/// at the end, in this process. Then a week on 10,000 GPUs, summary only,
/// timed.
fn stream(million_requests: f64) -> anyhow::Result<()> {
    let mib = |kib: u64| kib as f64 / 1024.0;
    let work = tempfile::tempdir()?;
    let path = work.path().join("fleet-week.toml");
    std::fs::write(&path, fleet_week(million_requests))?;
    let streamed = work.path().join("streamed");
    outln!(
        "stream: `twin run --out` (Parquet and CSV, every record) on a week of 1,000 GPUs and {million_requests} M requests, in a child process, peak RSS read from /proc every 2 ms"
    );
    let c = child_run(&["run".as_ref(), path.as_os_str(), "--out".as_ref(), streamed.as_os_str()], &streamed)?;
    outln!(
        "  streamed: {:.1} s wall · {} requests · {:.0} MiB written · peak RSS {:.0} MiB (goal < 256 MiB)",
        c.secs,
        c.requests,
        c.bytes as f64 / 1_048_576.0,
        mib(c.peak_kib)
    );
    // The baseline: every record kept to the end, then written.
    let loaded = twin_inputs::load(&path.to_string_lossy())?;
    let before = peak_rss_kib("self").unwrap_or(0);
    let t = Instant::now();
    let output = run(&loaded.scenario, loaded.scenario.spec.seed, RunOptions::default())?;
    let kept = work.path().join("kept");
    twin_export::write_run(&kept, &output, &loaded.text, twin_export::Formats::default())?;
    let secs = t.elapsed().as_secs_f64();
    let peak = peak_rss_kib("self").unwrap_or(0);
    drop(output);
    let differ = differing_files(&streamed, &kept)?;
    outln!(
        "  kept in memory, written at the end (this process, {:.0} MiB before): {secs:.1} s · peak RSS {:.0} MiB · streamed uses {:.1}x less · {}",
        mib(before),
        mib(peak),
        peak as f64 / c.peak_kib.max(1) as f64,
        if differ.is_empty() { "the same bytes".to_string() } else { format!("files differ: {}", differ.join(", ")) }
    );
    std::fs::remove_dir_all(&kept)?;
    std::fs::remove_dir_all(&streamed)?;
    let default_out = work.path().join("default");
    let d = child_run(&["run".as_ref(), "--out".as_ref(), default_out.as_os_str()], &default_out)?;
    outln!(
        "  the default scenario streamed: {:.1} s wall · {} requests · peak RSS {:.0} MiB (1.0 GiB when kept in memory, issue 18)",
        d.secs,
        d.requests,
        mib(d.peak_kib)
    );
    std::fs::remove_dir_all(&default_out)?;

    let big = million_requests * 10.0;
    let scenario = Scenario::from_toml(&fleet_week_sized(10, big), "fleet-week-x10").map_err(|e| anyhow::anyhow!("{e}"))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    outln!("stream: a week of 10,000 GPUs and {big} M requests, summary only, one run on {threads} core(s)");
    let t = Instant::now();
    let out = run(&scenario, 1, RunOptions::summary_only())?;
    let secs = t.elapsed().as_secs_f64();
    let requests: u64 = out.summary.services.iter().map(|s| s.arrived).sum();
    outln!(
        "  {secs:.1} s wall (goal < 60 s) · {requests} requests · {} events ({:.2} M events/s)",
        out.summary.events,
        out.summary.events as f64 / secs / 1e6
    );
    Ok(())
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
