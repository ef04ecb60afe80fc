//! `twin trace import` and `twin trace info` for price histories, Spot
//! Advisor data, job traces and cluster node lists (telemetry is in
//! `trace.rs`).

use crate::args::{TraceImportArgs, TraceInfoArgs};
use anyhow::{Context, bail};
use serde_json::json;
use std::process::ExitCode;
use twin_inputs::trace_file::Table;
use twin_replay::ReadReport;
use twin_replay::timefmt::format_ns;
use twin_replay::{jobs, nodes, prices};

/// `twin trace import` of a price history, Spot Advisor data, a job trace or a node list.
pub fn import(a: &TraceImportArgs, table: &Table, report: Option<&ReadReport>) -> anyhow::Result<ExitCode> {
    if let Some(r) = report {
        eprintln!("{}: {r}", a.read.file.display());
    }
    let (rows, what) = match table {
        Table::Prices(h) => (h.len(), "price points"),
        Table::Advisor(e) => (e.len(), "Spot Advisor entries"),
        Table::Jobs(j) => (j.len(), "jobs"),
        Table::Nodes(l) => (l.nodes.len(), "nodes"),
    };
    if rows == 0 {
        bail!("{}: nothing to write", a.read.file.display());
    }
    match table {
        Table::Prices(h) => prices::write_parquet(h, &a.out),
        Table::Advisor(e) => prices::write_advisor_parquet(e, &a.out),
        Table::Jobs(j) => jobs::write_parquet(j, &a.out),
        Table::Nodes(l) => nodes::write_parquet(l, &a.out),
    }
    .with_context(|| format!("writing {}", a.out.display()))?;
    outln!("wrote {rows} {what} to {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// What `twin trace info` says of a table, as JSON.
fn summary(table: &Table) -> serde_json::Value {
    match table {
        Table::Prices(h) => {
            let times = h.rows.iter().map(|p| p.time_ns);
            let span = times.clone().min().zip(times.max());
            let mut by_capacity = std::collections::BTreeMap::<&str, (usize, f64)>::new();
            for p in &h.rows {
                let e = by_capacity.entry(p.capacity.name()).or_default();
                e.0 += 1;
                e.1 += p.price_per_hour;
            }
            json!({
                "kind": "price history",
                "rows": h.len(),
                "first": span.map(|s| format_ns(s.0)),
                "last": span.map(|s| format_ns(s.1)),
                "instance_types": h.instance_types().len(),
                "locations": h.rows.iter().map(|p| p.location.as_str()).collect::<std::collections::BTreeSet<_>>().len(),
                "by_capacity": by_capacity.iter().map(|(c, (n, sum))| json!({"capacity": c, "points": n, "mean_price_per_hour": sum / *n as f64})).collect::<Vec<_>>(),
            })
        }
        Table::Advisor(e) => {
            let mut bands = [0usize; 5];
            for x in e {
                bands[usize::from(x.band.min(4))] += 1;
            }
            json!({
                "kind": "spot advisor",
                "rows": e.len(),
                "regions": e.iter().map(|x| x.region.as_str()).collect::<std::collections::BTreeSet<_>>().len(),
                "instance_types": e.iter().map(|x| x.instance_type.as_str()).collect::<std::collections::BTreeSet<_>>().len(),
                "bands": prices::BAND_LABELS.iter().zip(bands).map(|(l, n)| json!({"band": l, "entries": n})).collect::<Vec<_>>(),
            })
        }
        Table::Jobs(j) => {
            let mut sizes = std::collections::BTreeMap::<u32, usize>::new();
            for job in &j.jobs {
                *sizes.entry(job.gpus).or_default() += 1;
            }
            let mut durations: Vec<i64> = j.jobs.iter().map(|x| x.duration_ns).collect();
            durations.sort_unstable();
            let q = |p: f64| durations.get(((durations.len().max(1) - 1) as f64 * p).round() as usize).map(|d| *d as f64 / 3.6e12);
            json!({
                "kind": "job trace",
                "jobs": j.len(),
                "not_gpu_jobs": j.skipped_not_gpu,
                "censored": j.jobs.iter().filter(|x| x.censored).count(),
                "span_hours": j.jobs.iter().map(|x| x.end_ns()).max().unwrap_or(0) as f64 / 3.6e12,
                "gpu_hours": j.gpu_hours(),
                "gpus": sizes.iter().map(|(g, n)| json!({"gpus": g, "jobs": n})).collect::<Vec<_>>(),
                "duration_hours": json!({"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": q(1.0)}),
            })
        }
        Table::Nodes(l) => json!({
            "kind": "node list",
            "nodes": l.nodes.len(),
            "gpus": l.gpus(),
            "cpu_cores": l.nodes.iter().map(|n| n.cpu_milli).sum::<u64>() as f64 / 1000.0,
            "memory_gib": l.nodes.iter().map(|n| n.memory_mib).sum::<u64>() as f64 / 1024.0,
            "by_model": l.by_model().iter().map(|m| json!({"model": m.model, "nodes": m.nodes, "gpus": m.gpus, "gpus_per_node": m.per_node})).collect::<Vec<_>>(),
        }),
    }
}

/// `twin trace info` of a price history, Spot Advisor data, a job trace or a node list.
pub fn info(a: &TraceInfoArgs, table: &Table, report: Option<&ReadReport>) -> anyhow::Result<ExitCode> {
    let s = summary(table);
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{}", a.read.file.display());
    if let Some(r) = report {
        outln!("read: {r}");
    }
    match table {
        Table::Prices(_) => {
            outln!(
                "{} price points · {} → {} · {} instance types in {} locations",
                s["rows"],
                s["first"].as_str().unwrap_or("?"),
                s["last"].as_str().unwrap_or("?"),
                s["instance_types"],
                s["locations"]
            );
            for c in s["by_capacity"].as_array().into_iter().flatten() {
                outln!(
                    "  {:<10} {:>7} points, mean {:.2}/h",
                    c["capacity"].as_str().unwrap_or(""),
                    c["points"],
                    c["mean_price_per_hour"].as_f64().unwrap_or(0.0)
                );
            }
        }
        Table::Advisor(_) => {
            outln!("{} Spot Advisor entries · {} instance types in {} regions", s["rows"], s["instance_types"], s["regions"]);
            for b in s["bands"].as_array().into_iter().flatten() {
                outln!("  interrupted {:<7} a month: {} entries", b["band"].as_str().unwrap_or(""), b["entries"]);
            }
        }
        Table::Jobs(j) => {
            outln!(
                "{} GPU jobs ({} rows without GPUs left out, {} censored at the end) · {:.1} h · {:.1} GPU-hours",
                j.len(),
                j.skipped_not_gpu,
                s["censored"],
                s["span_hours"].as_f64().unwrap_or(0.0),
                j.gpu_hours()
            );
            let d = &s["duration_hours"];
            outln!(
                "  duration: p50 {:.2} h · p90 {:.2} h · p99 {:.2} h · max {:.2} h",
                d["p50"].as_f64().unwrap_or(0.0),
                d["p90"].as_f64().unwrap_or(0.0),
                d["p99"].as_f64().unwrap_or(0.0),
                d["max"].as_f64().unwrap_or(0.0)
            );
            let sizes: Vec<String> =
                s["gpus"].as_array().into_iter().flatten().map(|g| format!("{}×{} GPU", g["jobs"], g["gpus"])).collect();
            outln!("  sizes: {}", sizes.join(" · "));
        }
        Table::Nodes(l) => {
            outln!(
                "{} nodes · {} GPUs · {:.0} CPU cores · {:.1} TiB memory",
                l.nodes.len(),
                l.gpus(),
                s["cpu_cores"].as_f64().unwrap_or(0.0),
                s["memory_gib"].as_f64().unwrap_or(0.0) / 1024.0
            );
            for m in l.by_model() {
                let per: Vec<String> = m.per_node.iter().map(u32::to_string).collect();
                outln!(
                    "  {:<10} {:>5} nodes {:>6} GPUs ({} a node)",
                    m.model.as_deref().unwrap_or("no GPU"),
                    m.nodes,
                    m.gpus,
                    per.join("/")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
