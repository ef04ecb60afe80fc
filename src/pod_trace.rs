//! `twin run` on a pod-trace scenario: the FGD paper's experiment, each
//! profile filling the trace's nodes with its pods.

use crate::args::{Format, RunArgs, TableFormats};
use rayon::prelude::*;
use serde::Serialize;
use std::process::ExitCode;
use twin_inputs::Loaded;
use twin_scheduler::experiment::{FillOptions, FillPoint, FillReport, fill};
use twin_scheduler::openb::PodTrace;
use twin_scheduler::{BUILTIN_PROFILES, Profile};
use twin_sim::scenario::spec::{PodTraceSpec, ProfileChoice};

/// What a pod-trace run prints as JSON and writes as `summary.json`.
#[derive(Serialize)]
struct FillSummary<'a> {
    scenario: &'a str,
    seed: u64,
    nodes: usize,
    gpus: u64,
    pods: usize,
    /// The trace's own GPU demand as a share of capacity.
    trace_demand: f64,
    fill_to: f64,
    profiles: Vec<ProfileSummary<'a>>,
}

#[derive(Serialize)]
struct ProfileSummary<'a> {
    profile: &'a str,
    /// The cluster when arrived demand first reached capacity.
    at_capacity: Option<&'a FillPoint>,
    /// The cluster at the end of the fill.
    end: Option<&'a FillPoint>,
}

fn profiles(spec: &PodTraceSpec) -> anyhow::Result<Vec<Profile>> {
    if spec.profiles.is_empty() {
        return BUILTIN_PROFILES.iter().map(|(n, _, _)| Profile::builtin(n).map_err(Into::into)).collect();
    }
    spec.profiles
        .iter()
        .map(|c| match c {
            ProfileChoice::Builtin(n) => Profile::builtin(n),
            ProfileChoice::Custom(s) => Profile::from_spec(s),
        })
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

/// Runs the experiment and reports it.
pub fn run(a: &RunArgs, loaded: &Loaded, trace: &PodTrace) -> anyhow::Result<ExitCode> {
    let scenario = &loaded.scenario;
    let spec = scenario.spec.pod_trace.as_ref().expect("a pod-trace scenario");
    let seed = a.seed.unwrap_or(scenario.spec.seed);
    let opts = FillOptions { fill_to: spec.fill_to, report_every: spec.report_every, seed };
    // Profiles run side by side; each result depends only on its inputs,
    // and results come back in the profiles' order.
    let reports: Vec<FillReport> = profiles(spec)?.into_par_iter().map(|mut p| fill(&trace.nodes, &trace.pods, &mut p, &opts)).collect();
    let gpus: u64 = trace.nodes.iter().map(|n| u64::from(n.shape.gpus)).sum();
    let demand: u64 = trace.pods.iter().map(|p| u64::from(p.gpu_milli())).sum();
    let summary = FillSummary {
        scenario: &scenario.spec.name,
        seed,
        nodes: trace.nodes.len(),
        gpus,
        pods: trace.pods.len(),
        trace_demand: demand as f64 / (gpus * 1_000) as f64,
        fill_to: spec.fill_to,
        profiles: reports
            .iter()
            .map(|r| ProfileSummary {
                profile: &r.profile,
                at_capacity: r.points.iter().find(|p| p.arrived >= 1.0 - 1e-9),
                end: r.points.last(),
            })
            .collect(),
    };
    let json = serde_json::to_vec_pretty(&summary)?;
    if let Some(dir) = &a.out {
        let formats = twin_export::Formats { parquet: a.tables != TableFormats::Csv, csv: a.tables != TableFormats::Parquet };
        let files = twin_export::write_fill(dir, &json, &reports, &loaded.text, formats)?;
        eprintln!("wrote {} files to {}", files.len(), dir.display());
    }
    match a.format {
        Format::Json => outln!("{}", String::from_utf8_lossy(&json)),
        Format::Text => out!("{}", render(&summary, &reports, spec)),
    }
    Ok(ExitCode::SUCCESS)
}

fn render(s: &FillSummary<'_>, reports: &[FillReport], spec: &PodTraceSpec) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: {} nodes, {} GPUs, {} pods asking for {:.1}% of GPU capacity; filled to {:.0}% (pods never leave; past the trace, drawn from it with seed {})",
        s.scenario,
        s.nodes,
        s.gpus,
        s.pods,
        s.trace_demand * 100.0,
        s.fill_to * 100.0,
        s.seed
    );
    let step = (0.1f64).max(spec.report_every);
    let marks: Vec<f64> = (1..).map(|i| f64::from(i) * step).take_while(|m| *m <= spec.fill_to + 1e-9).collect();
    let table = |o: &mut String, title: &str, value: fn(&FillPoint) -> f64| {
        let _ = writeln!(o, "\n{title}");
        let _ = write!(o, "{:>8}", "arrived");
        for r in reports {
            let _ = write!(o, " {:>11}", r.profile);
        }
        o.push('\n');
        for m in &marks {
            let _ = write!(o, "{:>7.0}%", m * 100.0);
            for r in reports {
                match r.at(*m) {
                    Some(p) => {
                        let _ = write!(o, " {:>10.1}%", value(p) * 100.0);
                    }
                    None => {
                        let _ = write!(o, " {:>11}", "-");
                    }
                }
            }
            o.push('\n');
        }
    };
    table(&mut o, "GPU allocated, % of capacity", |p| p.allocated);
    table(&mut o, "GPU fragmented (free GPU the workload's pods cannot use), % of capacity", |p| p.fragmented);
    let _ = writeln!(o, "\nAt the end ({:.0}% arrived)", s.fill_to * 100.0);
    let _ = writeln!(
        o,
        "{:>12} {:>10} {:>11} {:>12} {:>12} {:>15}",
        "profile", "allocated", "fragmented", "of free GPU", "unscheduled", "at 100%: unsch."
    );
    for p in &s.profiles {
        let (Some(end), cap) = (p.end, p.at_capacity) else { continue };
        let _ = writeln!(
            o,
            "{:>12} {:>9.1}% {:>10.1}% {:>11.1}% {:>12} {:>15}",
            p.profile,
            end.allocated * 100.0,
            end.fragmented * 100.0,
            end.fragmented_of_free * 100.0,
            end.unscheduled,
            cap.map_or("-".to_string(), |c| c.unscheduled.to_string())
        );
    }
    let mut alike: Vec<String> = Vec::new();
    for (i, a) in reports.iter().enumerate() {
        if let Some(b) = reports[..i].iter().find(|b| b.points == a.points) {
            alike.push(format!("{} = {}", a.profile, b.profile));
        }
    }
    if !alike.is_empty() {
        let _ = writeln!(
            o,
            "\nDecided alike: {} (the trace has no prices, interruption rates or speed-ups, which is where those profiles differ)",
            alike.join(", ")
        );
    }
    if let Some(best) = s.profiles.iter().filter_map(|p| p.end.map(|e| (p.profile, e.allocated))).max_by(|a, b| a.1.total_cmp(&b.1)) {
        let _ = writeln!(o, "\nMost GPU allocated at the end: {} ({:.1}% of capacity)", best.0, best.1 * 100.0);
    }
    o
}
