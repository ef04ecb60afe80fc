//! `twin sweep`: one service's coarse model over a grid of parameters, many
//! replicas a point, on the GPU or all CPU cores; per-point distributions
//! and the cheapest point that meets the SLO.

use crate::args::{Format, SweepArgs, SweepBackend};
use crate::progress::Progress;
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use twin_export::columns::{Values, write_columns};
use twin_sweep::engine::Engine;
use twin_sweep::gpu::GpuBackend;
use twin_sweep::grid::{self, Axis};
use twin_sweep::shard_file::{self, OutcomesRecord, ShardFile};
use twin_sweep::share::Share;
use twin_sweep::summary::{self, PointSummary};
use twin_sweep::{Baseline, Outcome, PointParams};

/// Most replica rows written to replicas.parquet.
const MAX_REPLICA_ROWS: u64 = 20_000_000;

fn engine(backend: SweepBackend, threads: usize) -> anyhow::Result<Engine> {
    Ok(match backend {
        SweepBackend::Cpu => Engine::Cpu(threads),
        SweepBackend::Gpu => Engine::Gpu(Box::new(GpuBackend::new(false)?)),
        SweepBackend::Lavapipe => Engine::Gpu(Box::new(GpuBackend::new(true)?)),
        SweepBackend::Auto => match GpuBackend::new(false) {
            Ok(g) => Engine::Gpu(Box::new(g)),
            Err(e) => {
                eprintln!("note: no GPU ({}); running on the CPU", e.to_string().lines().next().unwrap_or(""));
                Engine::Cpu(threads)
            }
        },
    })
}

/// What a sweep is, as its shards carry it and `sweep.json` starts: all a
/// merge needs to print and write what the unsharded run would.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    scenario: String,
    service: String,
    /// `gpu` or `cpu`: shards of one sweep run on one kind of backend.
    backend: String,
    replicas: u32,
    steps: u64,
    step: String,
    step_s: f64,
    seed: u64,
    slo_target: f64,
    confidence: f64,
    currency: String,
    spot_pool: Option<String>,
    fallback_pool: String,
    on_demand_price: f64,
    model: serde_json::Value,
    left_out: Vec<String>,
    axes: Vec<String>,
    values: Vec<Vec<f64>>,
    /// Whether replicas.parquet is written (every replica's outcome kept).
    replica_rows: bool,
}

/// The shard to run: `--shard`, else `JOB_COMPLETION_INDEX` with `TWIN_SHARDS`.
fn share_of(a: &SweepArgs) -> anyhow::Result<Option<Share>> {
    Ok(crate::regress::shard_from(a.shard.as_deref())?.map(|s| Share { index: s.index, count: s.count }))
}

/// `twin sweep`.
pub fn sweep(a: SweepArgs) -> anyhow::Result<ExitCode> {
    let loaded = match crate::load::scenario(a.scenario.as_deref())? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let scenario = &loaded.scenario;
    let step = twin_sim::scenario::duration::parse_duration(&a.step).map_err(|e| anyhow::anyhow!("--step `{}`: {e}", a.step))?;
    let baseline = Baseline::from_scenario(scenario, a.service.as_deref(), step)?;
    if !baseline.left_out.is_empty() {
        eprintln!("note: the sweep models service `{}` on its own; its costs leave out {}", baseline.service, baseline.left_out.join("; "));
    }
    if a.replicas == 0 {
        bail!("--replicas must be at least 1");
    }
    if !(0.0..=1.0).contains(&a.confidence) {
        bail!("--confidence is a probability, between 0 and 1");
    }
    let axes: Vec<Axis> = a.vary.iter().map(|v| Axis::parse(v)).collect::<Result<_, _>>()?;
    let mut keys: Vec<&str> = axes.iter().map(|x| x.key.as_str()).collect();
    keys.sort_unstable();
    if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
        bail!("--vary {} is given twice", w[0]);
    }
    if a.job.emit_k8s_job.is_some() {
        return emit_job(&a, &loaded);
    }
    let share = share_of(&a)?;
    if share.is_some() && a.out.is_none() {
        bail!("a shard needs --out DIR: where its part of the sweep goes, for `twin merge`");
    }
    let values = grid::points(&axes);
    let seed = a.seed.unwrap_or(scenario.spec.seed);
    // Every point uses the same seed: replica r meets the same luck at every point (common random numbers).
    let point_seed = (seed ^ (seed >> 32)) as u32;
    let params: Vec<PointParams> = values
        .iter()
        .map(|v| {
            let mut p = baseline.params;
            p.seed = point_seed;
            for (axis, x) in axes.iter().zip(v) {
                grid::apply(&mut p, &axis.key, *x);
            }
            p
        })
        .collect();
    let engine = engine(a.backend, a.threads)?;
    let total = values.len() as u64 * u64::from(a.replicas);
    let keep_replicas = a.out.is_some() && total <= MAX_REPLICA_ROWS;
    let header = Header {
        scenario: baseline.scenario.clone(),
        service: baseline.service.clone(),
        backend: if matches!(engine, Engine::Gpu(_)) { "gpu" } else { "cpu" }.into(),
        replicas: a.replicas,
        steps: u64::from(baseline.params.steps),
        step: step.to_string(),
        step_s: f64::from(baseline.params.dt_s),
        seed,
        slo_target: baseline.slo_target,
        confidence: a.confidence,
        currency: baseline.currency.clone(),
        spot_pool: baseline.spot_pool.clone(),
        fallback_pool: baseline.fallback_pool.clone(),
        on_demand_price: f64::from(baseline.params.od_price),
        model: model_json(&baseline.params),
        left_out: baseline.left_out.clone(),
        axes: axes.iter().map(|x| x.key.clone()).collect(),
        values,
        replica_rows: keep_replicas,
    };
    let target = baseline.slo_target as f32;
    if let Some(share) = share {
        let dir = a.out.as_deref().expect("checked above");
        return run_share(&engine, &header, &params, share, dir);
    }
    let mut progress = Progress::new(&format!("sweep {} · {}", baseline.service, engine.name()));
    let started = Instant::now();
    let swept =
        engine.sweep(&params, a.replicas, target, keep_replicas, &mut |d| progress.set(d as f64 / total as f64)).context("sweeping")?;
    let secs = started.elapsed().as_secs_f64();
    progress.finish();
    let report = Report::new(header, &swept.tallies);
    if let Some(dir) = &a.out {
        report.write(dir, swept.outcomes.as_deref())?;
    }
    let bench = if a.bench { Some(bench(&engine, &params, a.replicas, report.header.steps, a.threads, target)?) } else { None };
    let ran = Ran { engine: engine.name(), secs, bench };
    report.print(a.format, Some(&ran))?;
    Ok(ExitCode::SUCCESS)
}

/// `--emit-k8s-job`: the same sweep as an Indexed Job, each pod a share.
fn emit_job(a: &SweepArgs, loaded: &twin_inputs::Loaded) -> anyhow::Result<ExitCode> {
    let name = a.scenario.as_deref().unwrap_or(twin_inputs::library::DEFAULT);
    let path = Path::new(name);
    let mut inputs = crate::k8s_job::Inputs::new(path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")));
    let scenario = if path.is_file() {
        inputs.scenario(path)?
    } else {
        // A built-in scenario is in the image; the files it names are not.
        let s = &loaded.scenario;
        if !(s.trace_files().is_empty()
            && s.telemetry_files().is_empty()
            && s.price_history_files().is_empty()
            && s.job_trace_files().is_empty())
        {
            bail!(
                "the built-in scenario {name} reads data files the pods do not have: write it to a file (`twin scenarios --show {name} > {name}.toml`), put its files beside it, and sweep that file"
            );
        }
        name.to_string()
    };
    let (backend, gpus) = match a.backend {
        // A cluster's GPUs are asked for: `auto` here says nothing of the nodes there.
        SweepBackend::Auto | SweepBackend::Gpu => ("gpu", 1),
        SweepBackend::Lavapipe => ("lavapipe", 0),
        SweepBackend::Cpu => ("cpu", 0),
    };
    let mut args: Vec<String> =
        vec!["sweep".into(), scenario, "--replicas".into(), a.replicas.to_string(), "--step".into(), a.step.clone()];
    args.extend(["--backend".into(), backend.into(), "--confidence".into(), a.confidence.to_string()]);
    if let Some(s) = &a.service {
        args.extend(["--service".into(), s.clone()]);
    }
    for v in &a.vary {
        args.extend(["--vary".into(), v.clone()]);
    }
    if let Some(seed) = a.seed {
        args.extend(["--seed".into(), seed.to_string()]);
    }
    if a.threads != 0 {
        args.extend(["--threads".into(), a.threads.to_string()]);
    }
    args.extend(["--out".into(), "{OUT}".into()]);
    crate::k8s_job::emit(&a.job, crate::k8s_job::Work { kind: "sweep", shard_args: args, merged: "merged", gpus, inputs })
}

/// Runs share `share` and writes its shard file (and outcomes) into `dir`.
fn run_share(engine: &Engine, header: &Header, params: &[PointParams], share: Share, dir: &Path) -> anyhow::Result<ExitCode> {
    let mine = share.replicas(params.len(), header.replicas);
    let mut progress = Progress::new(&format!("sweep {} · shard {}/{} · {}", header.service, share.index, share.count, engine.name()));
    let started = Instant::now();
    let parts = engine
        .sweep_share(params, header.replicas, header.slo_target as f32, header.replica_rows, share, &mut |d| {
            progress.set(d as f64 / mine.max(1) as f64)
        })
        .context("sweeping")?;
    progress.finish();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = ShardFile::file_name(share);
    let outcomes = if header.replica_rows {
        let bytes = shard_file::outcomes_bytes(parts.iter().flat_map(|p| p.outcomes.as_deref().unwrap_or_default()));
        let file = name.replace(".json", ".outcomes");
        write_bytes(&dir.join(&file), &bytes)?;
        Some(OutcomesRecord { file, replicas: mine, sha256: shard_file::sha256(&bytes) })
    } else {
        None
    };
    let header_json = serde_json::to_value(header)?;
    let file = ShardFile::new(TWIN_VERSION, header_json, params, header.replicas, share, &parts, outcomes);
    let path = dir.join(&name);
    write_bytes(&path, file.to_json().as_bytes())?;
    eprintln!(
        "shard {}/{}: {mine} of {} replicas in {:.1} s; wrote {}",
        share.index,
        share.count,
        params.len() as u64 * u64::from(header.replicas),
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn write_bytes(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    // Bytes, not text, through the same atomic write: the file appears whole or not at all.
    twin_replay::atomic::write_with(path, |w| std::io::Write::write_all(w, bytes)).map_err(|e| {
        let (twin_replay::atomic::AtomicError::Io(e) | twin_replay::atomic::AtomicError::Fill(e)) = e;
        anyhow::anyhow!("cannot write {}: {e}", path.display())
    })
}

/// `twin merge` of sweep shards: `files` (shard JSON) into `out`, the
/// folder an unsharded `twin sweep --out` writes, and the same table printed.
pub fn merge(files: &[PathBuf], out: &Path, format: Format) -> anyhow::Result<()> {
    let mut set = Vec::with_capacity(files.len());
    for f in files {
        let origin = f.display().to_string();
        let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {origin}"))?;
        let file = ShardFile::from_json(&text, &origin)?;
        let bytes = match &file.outcomes {
            Some(rec) => {
                let path = f.parent().unwrap_or(Path::new(".")).join(&rec.file);
                Some(std::fs::read(&path).with_context(|| format!("{origin}: cannot read its outcomes file {}", path.display()))?)
            }
            None => None,
        };
        set.push((origin, file, bytes));
    }
    let shards = set.len();
    let merged = shard_file::merge(TWIN_VERSION, set)?;
    let header: Header = serde_json::from_value(merged.header).context("the shards' header")?;
    let report = Report::new(header, &merged.swept.tallies);
    report.write(out, merged.swept.outcomes.as_deref())?;
    eprintln!("merged {shards} sweep shard(s) into {}", out.display());
    report.print(format, None)
}

/// The Twin that writes and merges shards.
const TWIN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How the run went, when there was one here (not for a merge).
struct Ran {
    engine: String,
    secs: f64,
    bench: Option<serde_json::Value>,
}

/// A sweep's results: what is written and printed, the same from one run
/// or from merged shards.
struct Report {
    header: Header,
    summaries: Vec<PointSummary>,
}

impl Report {
    fn new(header: Header, tallies: &[twin_sweep::tally::Tally]) -> Report {
        let summaries = tallies.iter().zip(&header.values).map(|(t, v)| summary::summarise(v.clone(), t, header.on_demand_price)).collect();
        Report { header, summaries }
    }

    fn cheapest(&self) -> Option<&PointSummary> {
        summary::cheapest(&self.summaries, self.header.confidence)
    }

    /// The results as JSON: what `sweep.json` holds (no timings, so the
    /// same sweep always writes the same bytes).
    fn json(&self) -> serde_json::Value {
        let h = &self.header;
        json!({
            "scenario": h.scenario,
            "service": h.service,
            "backend": h.backend,
            "replicas": h.replicas,
            "steps": h.steps,
            "step_s": h.step_s,
            "seed": h.seed,
            "slo_target": h.slo_target,
            "confidence": h.confidence,
            "currency": h.currency,
            "model": h.model,
            "left_out": h.left_out,
            "axes": h.axes,
            "points": self.summaries.iter().map(point_json).collect::<Vec<_>>(),
            "cheapest": self.cheapest().map(point_json),
        })
    }

    /// grid.parquet, replicas.parquet (with `outcomes`) and sweep.json in `dir`.
    fn write(&self, dir: &Path, outcomes: Option<&[Outcome]>) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        write_grid(&dir.join("grid.parquet"), &self.header.axes, &self.summaries)?;
        match outcomes {
            Some(outcomes) => write_replicas(&dir.join("replicas.parquet"), &self.header, outcomes)?,
            None => eprintln!(
                "note: {} replicas is more than {MAX_REPLICA_ROWS}; replicas.parquet not written",
                self.header.values.len() as u64 * u64::from(self.header.replicas)
            ),
        }
        let mut text = serde_json::to_string_pretty(&self.json())?;
        text.push('\n');
        write_bytes(&dir.join("sweep.json"), text.as_bytes())
    }

    fn print(&self, format: Format, ran: Option<&Ran>) -> anyhow::Result<()> {
        let h = &self.header;
        let best = self.cheapest();
        if format == Format::Json {
            let mut v = self.json();
            if let Some(r) = ran {
                v["backend"] = json!(r.engine);
                v["seconds"] = json!(r.secs);
                v["bench"] = json!(r.bench);
            }
            outln!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(());
        }
        outln!(
            "Twin sweep · {} · service {} · {} point(s) × {} replicas × {} steps of {} · {}",
            h.scenario,
            h.service,
            self.summaries.len(),
            h.replicas,
            h.steps,
            h.step,
            ran.map_or(h.backend.as_str(), |r| r.engine.as_str())
        );
        let timing = match ran {
            Some(r) => format!(
                "{:.2} s ({:.3e} replica-steps/s)",
                r.secs,
                self.summaries.len() as f64 * f64::from(h.replicas) * h.steps as f64 / r.secs.max(1e-9)
            ),
            None => "merged from shards".into(),
        };
        outln!(
            "spot pool {} · fallback {} · SLO target {:.1}% · {timing}\n",
            h.spot_pool.as_deref().unwrap_or("none"),
            h.fallback_pool,
            100.0 * h.slo_target,
        );
        let mut head: Vec<String> = h.axes.clone();
        head.extend(["cost P5", "P50", "P95", "SLO mean", "P(miss)", "savings vs on-demand", "interruptions"].map(String::from));
        let mut rows = vec![head];
        for s in &self.summaries {
            let mut row: Vec<String> = s.values.iter().map(|v| format!("{v}")).collect();
            row.extend([
                format!("{:.2}", s.cost_p5),
                format!("{:.2}", s.cost_p50),
                format!("{:.2}", s.cost_p95),
                format!("{:.2}%", 100.0 * s.attainment_mean),
                format!("{:.1}%", 100.0 * s.p_miss_slo),
                format!("{:.2}", s.spot_savings_mean),
                format!("{:.2}", s.interruptions_mean),
            ]);
            rows.push(row);
        }
        out!("{}", table(&rows));
        match best {
            Some(b) => outln!(
                "\ncheapest point meeting {:.1}% SLO with probability ≥ {:.0}%: {} · mean cost {:.2} {} (P95 {:.2})",
                100.0 * h.slo_target,
                100.0 * h.confidence,
                describe(&h.axes, &b.values),
                b.cost_mean,
                h.currency,
                b.cost_p95
            ),
            None => outln!("\nno point meets {:.1}% SLO with probability ≥ {:.0}%", 100.0 * h.slo_target, 100.0 * h.confidence),
        }
        if let Some(b) = ran.and_then(|r| r.bench.as_ref()) {
            outln!("\nbench: {}", b["line"].as_str().unwrap_or(""));
        }
        Ok(())
    }
}

/// Times the sweep on `engine` and on the CPU backend, same points, the
/// whole path (pilot, model, tallies; no outcomes kept).
fn bench(
    engine: &Engine,
    params: &[PointParams],
    replicas: u32,
    steps: u64,
    threads: usize,
    target: f32,
) -> anyhow::Result<serde_json::Value> {
    let work = params.len() as f64 * f64::from(replicas) * steps as f64;
    let time = |e: &Engine| -> anyhow::Result<f64> {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            e.sweep(params, replicas, target, false, &mut |_| {})?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        Ok(best)
    };
    let main = time(engine)?;
    let cpu_engine = Engine::Cpu(threads);
    let cpu = if matches!(engine, Engine::Cpu(_)) { main } else { time(&cpu_engine)? };
    let line = format!(
        "{}: {:.3e} replica-steps/s · {}: {:.3e} replica-steps/s · ratio {:.1}× (best of 3, {} replica-steps)",
        engine.name(),
        work / main,
        cpu_engine.name(),
        work / cpu,
        cpu / main,
        work
    );
    Ok(json!({"backend": engine.name(), "replica_steps_per_s": work / main, "cpu_replica_steps_per_s": work / cpu, "line": line}))
}

/// What the model took from the scenario, in its units.
fn model_json(p: &PointParams) -> serde_json::Value {
    json!({
        "rate_calm_per_s": p.rate_calm, "rate_burst_per_s": p.rate_burst,
        "replica_requests_per_s": p.mu, "mean_e2e_s": p.e2e_s, "ttft_budget_s": p.ttft_budget_s, "batch_slots": p.slots,
        "replicas_min": p.replicas_min, "replicas_max": p.replicas_max, "target_concurrency": p.target_concurrency,
        "replicas_per_node": p.replicas_per_node, "spot_share": p.spot_share, "spot_mean_price": p.spot_mean,
        "on_demand_price": p.od_price, "p_interrupt_per_step": p.p_interrupt, "p_ready_per_step": p.p_ready,
        "committed_nodes": p.committed_nodes, "committed_price": p.committed_price, "on_demand_max_nodes": p.od_max_nodes,
    })
}

fn describe(axes: &[String], values: &[f64]) -> String {
    if axes.is_empty() {
        return "the scenario as written".into();
    }
    axes.iter().zip(values).map(|(a, v)| format!("{a}={v}")).collect::<Vec<_>>().join(" ")
}

fn point_json(s: &PointSummary) -> serde_json::Value {
    json!({
        "values": s.values,
        "replicas": s.replicas,
        "cost": {"mean": s.cost_mean, "p5": s.cost_p5, "p50": s.cost_p50, "p95": s.cost_p95, "band95": [s.cost_band.0, s.cost_band.1]},
        "slo_attainment": {"mean": s.attainment_mean, "p5": s.attainment_p5, "band95": [s.attainment_band.0, s.attainment_band.1]},
        "p_miss_slo": s.p_miss_slo,
        "spot_savings_mean": s.spot_savings_mean,
        "interruptions_mean": s.interruptions_mean,
        "dropped_share": s.dropped_share,
        "spot_node_hours_mean": s.spot_node_hours_mean,
        "on_demand_node_hours_mean": s.od_node_hours_mean,
    })
}

fn write_grid(path: &Path, axes: &[String], s: &[PointSummary]) -> anyhow::Result<()> {
    let mut cols: Vec<(&str, Values)> =
        axes.iter().enumerate().map(|(i, a)| (a.as_str(), Values::F64(s.iter().map(|p| p.values[i]).collect()))).collect();
    let f = |g: fn(&PointSummary) -> f64| Values::F64(s.iter().map(g).collect());
    cols.extend([
        ("replicas", Values::U64(s.iter().map(|p| p.replicas).collect())),
        ("cost_mean", f(|p| p.cost_mean)),
        ("cost_p5", f(|p| p.cost_p5)),
        ("cost_p50", f(|p| p.cost_p50)),
        ("cost_p95", f(|p| p.cost_p95)),
        ("slo_attainment_mean", f(|p| p.attainment_mean)),
        ("slo_attainment_p5", f(|p| p.attainment_p5)),
        ("p_miss_slo", f(|p| p.p_miss_slo)),
        ("spot_savings_mean", f(|p| p.spot_savings_mean)),
        ("interruptions_mean", f(|p| p.interruptions_mean)),
        ("dropped_share", f(|p| p.dropped_share)),
        ("spot_node_hours_mean", f(|p| p.spot_node_hours_mean)),
        ("on_demand_node_hours_mean", f(|p| p.od_node_hours_mean)),
    ]);
    write_columns(path, cols).with_context(|| format!("writing {}", path.display()))
}

fn write_replicas(path: &Path, h: &Header, outcomes: &[Outcome]) -> anyhow::Result<()> {
    let (count, values) = (h.replicas, &h.values);
    let rows: Vec<(usize, u32, Outcome)> =
        outcomes.iter().enumerate().map(|(i, o)| (i / count as usize, (i % count as usize) as u32, *o)).collect();
    let mut cols: Vec<(&str, Values)> =
        h.axes.iter().enumerate().map(|(i, a)| (a.as_str(), Values::F64(rows.iter().map(|r| values[r.0][i]).collect()))).collect();
    let f = |g: fn(&Outcome) -> f32| Values::F64(rows.iter().map(|r| f64::from(g(&r.2))).collect());
    cols.extend([
        ("point", Values::U64(rows.iter().map(|r| r.0 as u64).collect())),
        ("replica", Values::U64(rows.iter().map(|r| u64::from(r.1)).collect())),
        ("cost", f(|o| o.cost)),
        ("list_cost", f(|o| o.list_cost)),
        ("arrived", f(|o| o.arrived)),
        ("slo_met", f(|o| o.met)),
        ("dropped", f(|o| o.dropped)),
        ("interruptions", f(|o| o.interruptions)),
        ("spot_node_hours", f(|o| o.spot_node_hours)),
        ("od_node_hours", f(|o| o.od_node_hours)),
    ]);
    write_columns(path, cols).with_context(|| format!("writing {}", path.display()))
}

/// Aligned text: first column left, the rest right.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r.iter().enumerate().map(|(c, s)| format!("{s:>w$}", w = widths[c])).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
