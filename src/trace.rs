//! `twin trace import` and `twin trace info`: real GPU telemetry in, canonical
//! Parquet and a summary out.

use crate::args::{TraceImportArgs, TraceInfoArgs, TraceReadArgs};
use anyhow::{Context, bail};
use serde_json::json;
use std::process::ExitCode;
use twin_replay::energy;
use twin_replay::phases::{self, PhaseOptions};
use twin_replay::timefmt::format_ns;
use twin_replay::{Field, Format, ReadOptions, ReadReport, Telemetry};
use twin_sim::fleet::RecordedUsage;

/// Reads the file the arguments name: text in a telemetry format, or Parquet.
fn load(a: &TraceReadArgs) -> anyhow::Result<(Telemetry, Option<ReadReport>)> {
    if a.file.extension().is_some_and(|e| e == "parquet") {
        return Ok((twin_replay::parquet::read(&a.file)?, None));
    }
    let Some(format) = Format::from_name(&a.format) else {
        bail!("unknown format `{}` (formats: {})", a.format, Format::NAMES);
    };
    let interval = twin_sim::scenario::duration::parse_duration(&a.scrape_interval)
        .map_err(|e| anyhow::anyhow!("--scrape-interval `{}`: {e}", a.scrape_interval))?;
    let opts = ReadOptions { strict: a.strict, scrape_interval_ns: interval.as_nanos().min(i64::MAX as u64) as i64 };
    let (t, report) = twin_replay::read_file(&a.file, format, &opts)?;
    Ok((t, Some(report)))
}

/// `twin trace import`.
pub fn import(a: TraceImportArgs) -> anyhow::Result<ExitCode> {
    if crate::tables::is_table(&a.read.file, &a.read.format) || crate::tables::parquet_is_table(&a.read.file) {
        return crate::tables::import(&a);
    }
    let (t, report) = load(&a.read)?;
    if let Some(r) = &report {
        eprintln!("{}: {r}", a.read.file.display());
    }
    if t.is_empty() {
        bail!("{}: no samples to write", a.read.file.display());
    }
    twin_replay::parquet::write(&t, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    outln!("wrote {} rows, {} GPU(s), to {}", t.len(), t.gpus().len(), a.out.display());
    Ok(ExitCode::SUCCESS)
}

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(i).copied()
}

fn stats(t: &Telemetry, rows: &[usize], f: Field) -> Option<serde_json::Value> {
    let col = t.column(f);
    let mut v: Vec<f64> = rows.iter().map(|&i| col[i]).filter(|v| !v.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    Some(json!({"mean": mean, "min": v[0], "p50": quantile(&v, 0.5), "p95": quantile(&v, 0.95), "max": v[v.len() - 1]}))
}

/// The summary `twin trace info` prints, as JSON.
pub fn summary(t: &Telemetry) -> serde_json::Value {
    let energies = energy::by_gpu(t);
    let gpus: Vec<serde_json::Value> = t
        .gpus()
        .into_iter()
        .zip(&energies)
        .map(|(g, e)| {
            let rows = t.rows_of(g);
            let mut steps: Vec<i64> = rows.windows(2).map(|w| t.time_ns[w[1]] - t.time_ns[w[0]]).collect();
            steps.sort_unstable();
            let ph = phases::detect(t, g, &PhaseOptions::default());
            // A fold from +0: an empty `sum` of floats is -0, which prints as "-0.0%".
            let busy_s = ph.iter().filter(|p| p.busy).map(phases::Phase::seconds).fold(0.0, |a, b| a + b);
            let all_s: f64 = ph.iter().map(phases::Phase::seconds).sum();
            json!({
                "gpu": g,
                "name": t.names.get(&g),
                "samples": rows.len(),
                "first": rows.first().map(|&i| format_ns(t.time_ns[i])),
                "last": rows.last().map(|&i| format_ns(t.time_ns[i])),
                "median_interval_ms": steps.get(steps.len() / 2).map(|&d| d as f64 / 1e6),
                "util_gpu_pct": stats(t, &rows, Field::UtilGpu),
                "power_w": stats(t, &rows, Field::Power),
                "mem_used_mib": stats(t, &rows, Field::MemUsed),
                "temp_c": stats(t, &rows, Field::Temp),
                "sm_clock_mhz": stats(t, &rows, Field::SmClock),
                "energy_j": e.joules,
                "energy_kwh": e.kwh(),
                "energy_counter_j": e.counter_joules,
                "busy_share": if all_s > 0.0 { Some(busy_s / all_s) } else { None },
                "phases": ph.iter().map(|p| json!({
                    "busy": p.busy, "start": format_ns(p.start_ns), "seconds": p.seconds(),
                    "mean_util_pct": p.mean_util_pct, "mean_power_w": p.mean_power_w,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let span = match (t.time_ns.iter().min(), t.time_ns.iter().max()) {
        (Some(a), Some(b)) => json!({"first": format_ns(*a), "last": format_ns(*b), "seconds": (b - a) as f64 / 1e9}),
        _ => serde_json::Value::Null,
    };
    json!({
        "rows": t.len(),
        "span": span,
        "gpus": gpus,
        "columns": Field::ALL.iter().filter(|f| t.has(**f)).map(|f| f.column()).collect::<Vec<_>>(),
        "energy_j": energies.iter().map(|e| e.joules).sum::<f64>(),
    })
}

fn num(v: &serde_json::Value, unit: &str) -> String {
    match v.as_f64() {
        Some(x) => format!("{x:.1}{unit}"),
        None => "-".into(),
    }
}

/// `twin trace info`.
pub fn info(a: TraceInfoArgs) -> anyhow::Result<ExitCode> {
    if crate::tables::is_table(&a.read.file, &a.read.format) || crate::tables::parquet_is_table(&a.read.file) {
        return crate::tables::info(&a);
    }
    let (t, report) = load(&a.read)?;
    let s = summary(&t);
    if a.json {
        let mut s = s;
        if let Some(r) = &report {
            s["read"] = json!({
                "format": r.format, "lines": r.lines, "rows": r.rows, "skipped": r.skipped,
                "truncated_last_line": r.truncated_last_line, "non_monotonic": r.non_monotonic, "gaps": r.gaps,
                "unit_mismatches": r.unit_mismatches, "ignored_columns": r.ignored_columns,
                "problems": r.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            });
        }
        outln!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{}", a.read.file.display());
    if let Some(r) = &report {
        outln!("read: {r}");
    }
    outln!(
        "{} rows · {} · {} GPU(s) · columns: {}",
        t.len(),
        match s["span"]["seconds"].as_f64() {
            Some(secs) =>
                format!("{} → {} ({secs:.1} s)", s["span"]["first"].as_str().unwrap_or("?"), s["span"]["last"].as_str().unwrap_or("?")),
            None => "no time span".into(),
        },
        t.gpus().len(),
        s["columns"].as_array().map(|c| c.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default()
    );
    for g in s["gpus"].as_array().into_iter().flatten() {
        outln!(
            "\nGPU {} {} · {} samples every {} ms (median)",
            g["gpu"],
            g["name"].as_str().unwrap_or(""),
            g["samples"],
            num(&g["median_interval_ms"], "")
        );
        for (label, key, unit) in [
            ("utilisation", "util_gpu_pct", " %"),
            ("power", "power_w", " W"),
            ("memory used", "mem_used_mib", " MiB"),
            ("temperature", "temp_c", " °C"),
            ("SM clock", "sm_clock_mhz", " MHz"),
        ] {
            let v = &g[key];
            if v.is_null() {
                continue;
            }
            outln!(
                "  {label:<12} mean {:>9}  p50 {:>9}  p95 {:>9}  max {:>9}",
                num(&v["mean"], unit),
                num(&v["p50"], unit),
                num(&v["p95"], unit),
                num(&v["max"], unit)
            );
        }
        if let Some(j) = g["energy_j"].as_f64().filter(|j| *j > 0.0) {
            outln!(
                "  energy       {j:.1} J ({:.4} kWh), trapezoid over power{}",
                j / 3.6e6,
                g["energy_counter_j"].as_f64().map(|c| format!("; the driver's counter says {c:.1} J")).unwrap_or_default()
            );
        }
        let phases = g["phases"].as_array().cloned().unwrap_or_default();
        if !phases.is_empty() {
            let busy = phases.iter().filter(|p| p["busy"] == true).count();
            outln!(
                "  phases       {} busy, {} idle · busy {:.1}% of the time",
                busy,
                phases.len() - busy,
                g["busy_share"].as_f64().unwrap_or(0.0) * 100.0
            );
            for p in &phases {
                outln!(
                    "    {} {:>7.1} s  {:<4}  util {:>7}  power {:>8}",
                    p["start"].as_str().unwrap_or(""),
                    p["seconds"].as_f64().unwrap_or(0.0),
                    if p["busy"] == true { "busy" } else { "idle" },
                    num(&p["mean_util_pct"], " %"),
                    num(&p["mean_power_w"], " W")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the request traces a scenario's services replay and attaches them,
/// so the model (which does no I/O) can replay them.
pub fn attach_request_traces(scenario: &mut twin_sim::scenario::Scenario, base: &crate::policies::Base) -> anyhow::Result<()> {
    for (file, format) in scenario.trace_files() {
        let path = crate::pod_trace::resolve(base, &file);
        let (log, report) = match twin_replay::requests::read_file(&path, &format, &ReadOptions::default()) {
            Ok(read) => read,
            Err(twin_replay::ReplayError::Io { source, .. }) => bail!(
                "cannot read the request trace {} (arrivals.trace.file = \"{file}\" in {}): {source}; paths are relative to the scenario file{}",
                path.display(),
                scenario.origin,
                if matches!(base, crate::policies::Base::BuiltIn) {
                    " (for a built-in scenario, to scenarios/ of the current folder)"
                } else {
                    ""
                }
            ),
            Err(e) => return Err(e.into()),
        };
        if report.skipped > 0 || report.non_monotonic > 0 {
            eprintln!("{}: {report}", path.display());
        }
        if log.is_empty() {
            bail!("{}: the request trace has no requests", path.display());
        }
        scenario
            .attach_trace(&file, twin_sim::workload::RequestTrace { offsets_ns: log.offsets_ns, prompt: log.prompt, output: log.output });
    }
    Ok(())
}

/// Synthetic recordings start at 2027-01-15 08:00 UTC.
const SYNTH_EPOCH_NS: i64 = 1_800_000_000_000_000_000;

/// `twin trace synth`.
pub fn synth(a: crate::args::TraceSynthArgs) -> anyhow::Result<ExitCode> {
    let dur = |flag: &str, v: &str| -> anyhow::Result<i64> {
        let d = twin_sim::scenario::duration::parse_duration(v).map_err(|e| anyhow::anyhow!("--{flag} `{v}`: {e}"))?;
        if d.is_zero() {
            bail!("--{flag} must be more than zero");
        }
        Ok(d.as_nanos().min(i64::MAX as u64) as i64)
    };
    let spec = twin_sim::fleet::SyntheticUsage {
        gpus: a.gpus,
        span_ns: dur("span", &a.span)?,
        interval_ns: dur("interval", &a.interval)?,
        job_median_s: dur("job", &a.job)? as f64 / 1e9,
        gap_median_s: dur("gap", &a.gap)? as f64 / 1e9,
        diurnal: a.diurnal,
        ..Default::default()
    };
    if a.gpus == 0 {
        bail!("--gpus must be at least 1");
    }
    if spec.rows() > 200_000_000 {
        bail!("{} rows is more than 200 million: use fewer GPUs, a shorter --span or a longer --interval", spec.rows());
    }
    let u = spec.generate(a.seed);
    let cols = twin_replay::usage::UsageColumns {
        gpus: &u.gpus,
        offsets: &u.offsets,
        time_ns: &u.time_ns,
        util_pct: &u.util_pct,
        power_w: &u.power_w,
        epoch_ns: SYNTH_EPOCH_NS,
    };
    let t = Telemetry::from_usage(cols, &a.name);
    twin_replay::parquet::write(&t, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    outln!("wrote {} rows, {} GPU(s), {} of samples every {}, to {}", t.len(), a.gpus, a.span, a.interval, a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// Whether a file a scenario or command names with `format` is Parquet:
/// `parquet`, or `auto` with a `.parquet` extension.
pub fn is_parquet(path: &std::path::Path, format: &str) -> bool {
    format == "parquet" || (format == "auto" && path.extension().is_some_and(|e| e == "parquet"))
}

/// Reads a telemetry recording in a text format (`auto` or a format's name).
fn read_text_telemetry(path: &std::path::Path, format: &str) -> anyhow::Result<(Telemetry, ReadReport)> {
    let Some(f) = Format::from_name(format) else {
        bail!("unknown telemetry format `{format}` (formats: {}, parquet)", Format::NAMES);
    };
    Ok(twin_replay::read_file(path, f, &ReadOptions::default())?)
}

/// Reads and attaches everything a scenario names beyond itself: request
/// traces, telemetry recordings, price histories, Spot Advisor bands and job traces.
pub fn attach_all(scenario: &mut twin_sim::scenario::Scenario, base: &crate::policies::Base) -> anyhow::Result<()> {
    attach_request_traces(scenario, base)?;
    attach_recordings(scenario, base)?;
    attach_price_histories(scenario, base)?;
    attach_advisor_bands(scenario, base)?;
    attach_job_traces(scenario, base)
}

/// Reads the telemetry recordings a scenario's pools replay and attaches them.
pub fn attach_recordings(scenario: &mut twin_sim::scenario::Scenario, base: &crate::policies::Base) -> anyhow::Result<()> {
    for (file, format) in scenario.telemetry_files() {
        let path = scenario_file(base, &file, "pools.telemetry.file", &scenario.origin)?;
        let usable = |rows: usize, util: &[f64]| -> anyhow::Result<()> {
            if rows == 0 {
                bail!("{}: the recording has no samples", path.display());
            }
            if util.iter().all(|v| v.is_nan()) {
                bail!(
                    "{}: the recording has no GPU utilisation, which decides busy and idle (nvidia-smi: add `utilization.gpu` to --query-gpu)",
                    path.display()
                );
            }
            Ok(())
        };
        let usage = if is_parquet(&path, &format) {
            // Only the columns the model needs.
            let rows = twin_replay::parquet::read_usage(&path)?;
            usable(rows.time_ns.len(), &rows.util_pct)?;
            RecordedUsage::from_columns(&rows.gpu, &rows.time_ns, &rows.util_pct, &rows.power_w)
        } else {
            let (t, r) = read_text_telemetry(&path, &format)?;
            if r.skipped > 0 || r.non_monotonic > 0 || r.truncated_last_line {
                eprintln!("{}: {r}", path.display());
            }
            usable(t.len(), t.column(Field::UtilGpu))?;
            RecordedUsage::from_columns(&t.gpu, &t.time_ns, t.column(Field::UtilGpu), t.column(Field::Power))
        };
        scenario.attach_recording(&file, usage);
    }
    Ok(())
}

/// Where a file named in a scenario is, or an error naming the field and the fix.
fn scenario_file(base: &crate::policies::Base, file: &str, field: &str, origin: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = crate::pod_trace::resolve(base, file);
    if !path.is_file() {
        bail!(
            "cannot read {} ({field} = \"{file}\" in {origin}): no such file; paths are relative to the scenario file{}",
            path.display(),
            if matches!(base, crate::policies::Base::BuiltIn) {
                " (for a built-in scenario, to scenarios/ of the current folder)"
            } else {
                ""
            }
        );
    }
    Ok(path)
}

/// Reads the price histories a scenario's pools replay and attaches each as
/// the price table it becomes from its start date.
pub fn attach_price_histories(scenario: &mut twin_sim::scenario::Scenario, base: &crate::policies::Base) -> anyhow::Result<()> {
    use twin_replay::prices::{self, Capacity, PriceFormat, Prices};
    use twin_sim::scenario::spec::{PricePoint, PriceTableSpec};
    for (pool, h) in scenario.price_history_files() {
        let path = scenario_file(base, &h.file, &format!("pools `{pool}` price.history.file"), &scenario.origin)?;
        let history = if is_parquet(&path, &h.format) {
            prices::read_parquet(&path)?
        } else {
            let format = if h.format == "auto" { None } else { PriceFormat::from_name(&h.format) };
            let (read, report) = prices::read_file(&path, format, &ReadOptions::default())?;
            if report.skipped > 0 {
                eprintln!("{}: {report}", path.display());
            }
            match read {
                Prices::History(history) => history,
                Prices::Advisor(_) => bail!(
                    "{}: this is Spot Advisor data (interruption bands), not a price history; name it in `interruption.band`",
                    path.display()
                ),
            }
        };
        let spec = scenario.spec.pools.iter().find(|p| p.name == pool).expect("the pool named it");
        let instance = h.instance_type.clone().unwrap_or_else(|| spec.node_type.clone());
        let location = h.location.clone().unwrap_or_else(|| if spec.zone.is_empty() { spec.region.clone() } else { spec.zone.clone() });
        let capacity = if h.capacity == "on-demand" { Capacity::OnDemand } else { Capacity::Spot };
        let series =
            history.series(&instance, &location, capacity).map_err(|e| anyhow::anyhow!("{}: pool `{pool}`: {e}", path.display()))?;
        let start = twin_sim::time::parse_date_ns(&h.start).expect("checked by validation");
        let table = history_table(&series, start, h.speed).ok_or_else(|| {
            let first = series.first().map_or(String::new(), |p| format_ns(p.0));
            anyhow::anyhow!(
                "{}: pool `{pool}`: no {} price for {instance} in {location} on or before {} (the history starts {first}); set `start` to a later date",
                path.display(),
                h.capacity,
                h.start
            )
        })?;
        scenario.attach_price_history(
            &pool,
            PriceTableSpec {
                points: table
                    .into_iter()
                    .map(|(at, price)| PricePoint { at: twin_sim::scenario::Dur(twin_sim::time::SimDuration(at)), price })
                    .collect(),
                repeat_every: None,
            },
        );
    }
    Ok(())
}

/// Looks up the Spot Advisor band of each pool whose interruptions name advisor data.
pub fn attach_advisor_bands(scenario: &mut twin_sim::scenario::Scenario, base: &crate::policies::Base) -> anyhow::Result<()> {
    use twin_replay::prices::{self, Prices};
    for (pool, a) in scenario.advisor_files() {
        let path = scenario_file(base, &a.file, &format!("pools `{pool}` interruption.advisor.file"), &scenario.origin)?;
        let (read, _) = prices::read_file(&path, None, &ReadOptions::default())?;
        let Prices::Advisor(entries) = read else {
            bail!("{}: this is a price history, not Spot Advisor data; name it in `price = {{ history = ... }}`", path.display());
        };
        let spec = scenario.spec.pools.iter().find(|p| p.name == pool).expect("the pool named it");
        let instance = a.instance_type.clone().unwrap_or_else(|| spec.node_type.clone());
        let region = a.region.clone().unwrap_or_else(|| spec.region.clone());
        let entry = prices::advisor_band(&entries, &region, &instance).ok_or_else(|| {
            let types = prices::close_matches(&instance, entries.iter().map(|e| e.instance_type.as_str()));
            let regions = prices::close_matches(&region, entries.iter().map(|e| e.region.as_str()));
            anyhow::anyhow!(
                "{}: pool `{pool}`: no Spot Advisor entry for {instance} in {region}{}{}",
                path.display(),
                if types.is_empty() { String::new() } else { format!("; instance types like it: {}", types.join(", ")) },
                if regions.is_empty() { String::new() } else { format!("; regions like it: {}", regions.join(", ")) }
            )
        })?;
        let label = prices::BAND_LABELS.get(entry.band as usize).copied().unwrap_or(">20%");
        scenario.attach_advisor_band(&pool, label);
    }
    Ok(())
}

/// The change points of `series` (Unix ns, price) from `start_ns` on, as
/// (simulated ns, price) with the price holding at the start first; `None`
/// when no price holds at the start.
fn history_table(series: &[(i64, f64)], start_ns: i64, speed: f64) -> Option<Vec<(u64, f64)>> {
    let before = series.iter().rposition(|p| p.0 <= start_ns)?;
    let mut out = vec![(0, series[before].1)];
    for &(t, price) in &series[before + 1..] {
        out.push((((t - start_ns) as f64 / speed).round() as u64, price));
    }
    Some(out)
}

/// Reads the job traces a scenario replays and attaches them.
pub fn attach_job_traces(scenario: &mut twin_sim::scenario::Scenario, base: &crate::policies::Base) -> anyhow::Result<()> {
    use twin_replay::jobs::{self, JobFormat};
    for (name, file, format) in scenario.job_trace_files() {
        let path = scenario_file(base, &file, &format!("job_traces `{name}` file"), &scenario.origin)?;
        let trace = if is_parquet(&path, &format) {
            jobs::read_parquet(&path)?
        } else {
            let f = if format == "auto" { None } else { JobFormat::from_name(&format) };
            let (trace, report) = jobs::read_file(&path, f, &ReadOptions::default())?;
            if report.skipped > 0 {
                eprintln!("{}: {report}", path.display());
            }
            trace
        };
        let jobs = trace
            .jobs
            .iter()
            .map(|j| twin_sim::workload::TraceJob {
                name: j.name.clone(),
                submit_ns: j.submit_ns.max(0) as u64,
                gpus: j.gpus.max(1),
                duration_ns: j.duration_ns.max(0) as u64,
            })
            .collect();
        scenario.attach_job_trace(&name, jobs);
    }
    Ok(())
}

/// Arrival offsets (ns) of `spec`'s generator over `span_ns`, from a named stream of `seed`.
fn generate(spec: &twin_sim::scenario::spec::ArrivalSpec, span_ns: u64, seed: u64, name: &str) -> Vec<u64> {
    let mut process = twin_sim::workload::ArrivalProcess::new(spec);
    let mut rng = twin_sim::rng::RngStreams::new(seed).stream(name);
    let mut out = Vec::new();
    let mut now = twin_sim::time::SimTime::ZERO;
    while let Some(t) = process.next_after(now, &mut rng) {
        if t.as_nanos() > span_ns || out.len() > 50_000_000 {
            break;
        }
        out.push(t.as_nanos());
        now = t;
    }
    out
}

fn secs_dur(s: f64) -> twin_sim::scenario::Dur {
    twin_sim::scenario::Dur(twin_sim::time::SimDuration::from_secs_f64(s))
}

/// `twin trace fit`.
pub fn fit(a: crate::args::TraceFitArgs) -> anyhow::Result<ExitCode> {
    use twin_replay::fit::{self as f, FitError};
    use twin_replay::requests::index_of_dispersion;
    use twin_sim::scenario::spec::ArrivalSpec;
    let parse = |what: &str, v: &str| {
        twin_sim::scenario::duration::parse_duration(v).map_err(|e| anyhow::anyhow!("--{what} `{v}`: {e}")).map(|d| d.as_secs_f64())
    };
    let (short, long) = (parse("short", &a.short)?, parse("long", &a.long)?);
    if !(short > 0.0 && long > short) {
        bail!("--short must be above zero and below --long (got {} and {})", a.short, a.long);
    }
    let (log, report) = twin_replay::requests::read_file(&a.file, &a.format, &ReadOptions::default())?;
    if report.skipped > 0 || report.non_monotonic > 0 {
        eprintln!("{}: {report}", a.file.display());
    }
    let span = log.offsets_ns.last().copied().unwrap_or(0);
    let bins = |t: &[u64]| [index_of_dispersion(t, (short * 1e9) as u64), index_of_dispersion(t, (long * 1e9) as u64)];
    let trace_idc = bins(&log.offsets_ns);
    // Each fitted generator is run for ten spans of the trace, and its IDC measured the same way.
    let check = |spec: &ArrivalSpec, name: &str| {
        let t = generate(spec, span.saturating_mul(10), a.seed, name);
        (bins(&t), t.len() as f64 / (span as f64 * 10.0 / 1e9))
    };
    let mut rows: Vec<serde_json::Value> =
        vec![json!({"model": "trace", "idc_short": trace_idc[0], "idc_long": trace_idc[1], "mean_rate": log.mean_rate()})];
    let mut toml: Vec<String> = Vec::new();
    match f::poisson(&log) {
        Ok(rate) => {
            let spec = ArrivalSpec::Poisson { rate };
            let (idc, m) = check(&spec, "fit/poisson");
            rows.push(json!({"model": "poisson", "idc_short": idc[0], "idc_long": idc[1], "mean_rate": m}));
            toml.push(format!("# Poisson\narrivals = {{ poisson = {{ rate = {rate:.4} }} }}"));
        }
        Err(e) => toml.push(format!("# Poisson: {e}")),
    }
    match f::mmpp(&log, short, long) {
        Ok(m) => {
            let spec =
                ArrivalSpec::Mmpp { rates: m.rates, mean_durations: [secs_dur(m.mean_durations_s[0]), secs_dur(m.mean_durations_s[1])] };
            let (idc, rate) = check(&spec, "fit/mmpp");
            rows.push(json!({"model": "mmpp", "idc_short": idc[0], "idc_long": idc[1], "mean_rate": rate,
                "closed_form": [m.idc(short), m.idc(long)], "rates": m.rates, "mean_durations_s": m.mean_durations_s}));
            toml.push(format!(
                "# 2-state MMPP (calm, burst), matching the mean and the IDC at {} and {}\narrivals = {{ mmpp = {{ rates = [{:.4}, {:.4}], mean_durations = [\"{:.1}s\", \"{:.1}s\"] }} }}",
                a.short, a.long, m.rates[0], m.rates[1], m.mean_durations_s[0], m.mean_durations_s[1]
            ));
        }
        Err(e) => toml.push(format!("# MMPP: {e}")),
    }
    match f::diurnal(&log) {
        Ok(d) => {
            let spec = ArrivalSpec::Diurnal { mean_rate: d.mean_rate, amplitude: d.amplitude, peak: secs_dur(d.peak_s) };
            let (idc, m) = check(&spec, "fit/diurnal");
            rows.push(json!({"model": "diurnal", "idc_short": idc[0], "idc_long": idc[1], "mean_rate": m}));
            toml.push(format!(
                "# Diurnal\narrivals = {{ diurnal = {{ mean_rate = {:.4}, amplitude = {:.3}, peak = \"{:.2}h\" }} }}",
                d.mean_rate,
                d.amplitude,
                d.peak_s / 3600.0
            ));
        }
        Err(FitError::TooLittle(why)) => toml.push(format!("# Diurnal: not fitted, {why}")),
        Err(e) => toml.push(format!("# Diurnal: {e}")),
    }
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({"requests": log.len(), "span_s": span as f64 / 1e9, "fits": rows, "toml": toml}))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{}: {} requests over {:.0} s, {:.3} requests/s", a.file.display(), log.len(), span as f64 / 1e9, log.mean_rate());
    outln!("\n{:<10} {:>12} {:>12} {:>10}", "model", format!("IDC {}", a.short), format!("IDC {}", a.long), "mean rps");
    for r in &rows {
        outln!(
            "{:<10} {:>12.2} {:>12.2} {:>10.3}",
            r["model"].as_str().unwrap_or(""),
            r["idc_short"].as_f64().unwrap_or(f64::NAN),
            r["idc_long"].as_f64().unwrap_or(f64::NAN),
            r["mean_rate"].as_f64().unwrap_or(f64::NAN)
        );
    }
    outln!("(each generator run for ten spans of the trace, seed {}; IDC is variance over mean of counts per bin)\n", a.seed);
    for t in &toml {
        outln!("{t}");
    }
    Ok(ExitCode::SUCCESS)
}
