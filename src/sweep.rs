//! `twin sweep`: one service's coarse model over a grid of parameters, many
//! replicas a point, on the GPU or all CPU cores; per-point distributions
//! and the cheapest point that meets the SLO.

use crate::args::{Format, SweepArgs, SweepBackend};
use crate::progress::Progress;
use anyhow::{Context, bail};
use serde_json::json;
use std::process::ExitCode;
use std::time::Instant;
use twin_export::columns::{Values, write_columns};
use twin_sweep::engine::Engine;
use twin_sweep::gpu::GpuBackend;
use twin_sweep::grid::{self, Axis};
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
    let mut progress = Progress::new(&format!("sweep {} · {}", baseline.service, engine.name()));
    let started = Instant::now();
    let keep_replicas = a.out.is_some() && total <= MAX_REPLICA_ROWS;
    let swept = engine
        .sweep(&params, a.replicas, baseline.slo_target as f32, keep_replicas, &mut |d| progress.set(d as f64 / total as f64))
        .context("sweeping")?;
    let od_price = f64::from(baseline.params.od_price);
    let summaries: Vec<PointSummary> = swept.tallies.iter().zip(&values).map(|(t, v)| summary::summarise(v.clone(), t, od_price)).collect();
    let secs = started.elapsed().as_secs_f64();
    progress.finish();
    let steps = u64::from(baseline.params.steps);
    let best = summary::cheapest(&summaries, a.confidence);

    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        write_grid(&dir.join("grid.parquet"), &axes, &summaries)?;
        if let Some(outcomes) = &swept.outcomes {
            write_replicas(&dir.join("replicas.parquet"), &axes, &values, a.replicas, outcomes)?;
        } else {
            eprintln!("note: {total} replicas is more than {MAX_REPLICA_ROWS}; replicas.parquet not written");
        }
    }

    let bench = if a.bench { Some(bench(&engine, &params, a.replicas, steps, a.threads, baseline.slo_target as f32)?) } else { None };
    if a.format == Format::Json {
        let v = json!({
            "scenario": baseline.scenario,
            "service": baseline.service,
            "backend": engine.name(),
            "replicas": a.replicas,
            "steps": steps,
            "step_s": baseline.params.dt_s,
            "seconds": secs,
            "slo_target": baseline.slo_target,
            "confidence": a.confidence,
            "model": model_json(&baseline.params),
            "left_out": baseline.left_out,
            "axes": axes.iter().map(|x| &x.key).collect::<Vec<_>>(),
            "points": summaries.iter().map(point_json).collect::<Vec<_>>(),
            "cheapest": best.map(point_json),
            "bench": bench,
        });
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "Twin sweep · {} · service {} · {} point(s) × {} replicas × {} steps of {} · {}",
        baseline.scenario,
        baseline.service,
        summaries.len(),
        a.replicas,
        steps,
        step,
        engine.name()
    );
    outln!(
        "spot pool {} · fallback {} · SLO target {:.1}% · {:.2} s ({:.3e} replica-steps/s)\n",
        baseline.spot_pool.as_deref().unwrap_or("none"),
        baseline.fallback_pool,
        100.0 * baseline.slo_target,
        secs,
        total as f64 * steps as f64 / secs.max(1e-9)
    );
    let mut head: Vec<String> = axes.iter().map(|x| x.key.clone()).collect();
    head.extend(["cost P5", "P50", "P95", "SLO mean", "P(miss)", "savings vs on-demand", "interruptions"].map(String::from));
    let mut rows = vec![head];
    for s in &summaries {
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
            100.0 * baseline.slo_target,
            100.0 * a.confidence,
            describe(&axes, &b.values),
            b.cost_mean,
            baseline.currency,
            b.cost_p95
        ),
        None => outln!("\nno point meets {:.1}% SLO with probability ≥ {:.0}%", 100.0 * baseline.slo_target, 100.0 * a.confidence),
    }
    if let Some(b) = bench {
        outln!("\nbench: {}", b["line"].as_str().unwrap_or(""));
    }
    Ok(ExitCode::SUCCESS)
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

fn describe(axes: &[Axis], values: &[f64]) -> String {
    if axes.is_empty() {
        return "the scenario as written".into();
    }
    axes.iter().zip(values).map(|(a, v)| format!("{}={v}", a.key)).collect::<Vec<_>>().join(" ")
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

fn write_grid(path: &std::path::Path, axes: &[Axis], s: &[PointSummary]) -> anyhow::Result<()> {
    let mut cols: Vec<(&str, Values)> =
        axes.iter().enumerate().map(|(i, a)| (a.key.as_str(), Values::F64(s.iter().map(|p| p.values[i]).collect()))).collect();
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

fn write_replicas(path: &std::path::Path, axes: &[Axis], values: &[Vec<f64>], count: u32, outcomes: &[Outcome]) -> anyhow::Result<()> {
    let rows: Vec<(usize, u32, Outcome)> =
        outcomes.iter().enumerate().map(|(i, o)| (i / count as usize, (i % count as usize) as u32, *o)).collect();
    let mut cols: Vec<(&str, Values)> =
        axes.iter().enumerate().map(|(i, a)| (a.key.as_str(), Values::F64(rows.iter().map(|r| values[r.0][i]).collect()))).collect();
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
