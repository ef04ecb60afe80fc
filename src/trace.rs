//! `twin trace import` and `twin trace info`: real GPU telemetry in, canonical
//! Parquet and a summary out.

use crate::args::{TraceImportArgs, TraceInfoArgs, TraceReadArgs};
use anyhow::{Context, bail};
use serde_json::json;
use std::process::ExitCode;
use twin_inputs::trace_file::TraceFile;
use twin_replay::energy;
use twin_replay::phases::{self, PhaseOptions};
use twin_replay::timefmt::format_ns;
use twin_replay::{Field, ReadOptions, Telemetry};

/// Reads the file the arguments name: telemetry or a table, text or Parquet.
fn open(a: &TraceReadArgs) -> anyhow::Result<TraceFile> {
    let interval = twin_sim::scenario::duration::parse_duration(&a.scrape_interval)
        .map_err(|e| anyhow::anyhow!("--scrape-interval `{}`: {e}", a.scrape_interval))?;
    let opts = ReadOptions { strict: a.strict, scrape_interval_ns: interval.as_nanos().min(i64::MAX as u64) as i64 };
    Ok(twin_inputs::trace_file::open(&a.file, &a.format, &opts)?)
}

/// `twin trace import`.
pub fn import(a: TraceImportArgs) -> anyhow::Result<ExitCode> {
    let (t, report) = match open(&a.read)? {
        TraceFile::Table(table, report) => return crate::tables::import(&a, &table, report.as_ref()),
        TraceFile::Telemetry(t, report) => (*t, report),
    };
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
    let (t, report) = match open(&a.read)? {
        TraceFile::Table(table, report) => return crate::tables::info(&a, &table, report.as_ref()),
        TraceFile::Telemetry(t, report) => (*t, report),
    };
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
    let Some(format) = twin_replay::requests::RequestFormat::from_name(&a.format) else {
        bail!("unknown request trace format `{}` (formats: {})", a.format, twin_replay::requests::RequestFormat::NAMES);
    };
    let (log, report) = twin_replay::requests::read_file(&a.file, format, &ReadOptions::default())?;
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
