//! The sweep model against the event engine on every scenario both can run.
//!
//! Every built-in scenario is cut to each of its inference services alone
//! (that service, the pools it uses, a 12-hour horizon, no training or
//! policies: the part the sweep models), and where the sweep can model the cut scenario, both run it:
//! the event engine over [`SEEDS`] seeds, the sweep over [`REPLICAS`]
//! replicas on the CPU backend. The event engine's mean cost and mean SLO
//! attainment must lie inside the sweep's 95% band (its replicas' 2.5th to
//! 97.5th percentiles, widened by 0.1% for the event engine's per-second
//! billing), and at least three cuts must be compared.

use twin_sim::RunOptions;
use twin_sim::time::SimDuration;
use twin_sweep::engine::Engine;
use twin_sweep::summary::summarise;
use twin_sweep::{Baseline, SweepError};

/// Event-engine seeds per scenario.
const SEEDS: u64 = 8;
/// Sweep replicas per scenario.
const REPLICAS: u32 = 2000;

/// `text` cut to `service` alone, with the pools it uses and a 12-hour
/// horizon, without training or policies; `None` when the cut would keep
/// files the two engines read differently by design (a recording or price
/// history the sweep takes as a mean).
fn cut(text: &str, service: &str) -> Option<String> {
    let mut t: toml::Table = text.parse().ok()?;
    let services = t.get("services")?.as_array()?.clone();
    let svc = services.into_iter().find(|s| s.get("name").and_then(|n| n.as_str()) == Some(service))?;
    let used: Vec<String> = svc.get("pools")?.as_array()?.iter().filter_map(|p| p.as_str().map(String::from)).collect();
    let pools: Vec<toml::Value> = t
        .get("pools")?
        .as_array()?
        .iter()
        .filter(|p| p.get("name").and_then(|n| n.as_str()).is_some_and(|n| used.iter().any(|u| u == n)))
        .cloned()
        .collect();
    // A recording or a price file is replayed by the event engine and taken as a mean by the sweep.
    if pools.iter().any(|p| p.get("telemetry").is_some() || p.get("price").and_then(|x| x.get("history")).is_some()) {
        return None;
    }
    for key in ["training", "training_streams", "job_traces", "pod_trace", "policies", "services", "pools"] {
        t.remove(key);
    }
    t.insert("services".into(), toml::Value::Array(vec![svc]));
    t.insert("pools".into(), toml::Value::Array(pools));
    t.insert("horizon".into(), toml::Value::String("12h".into()));
    toml::to_string(&t).ok()
}

/// (cost, SLO attainment) of `service` in one event-engine run.
fn event(s: &twin_sim::scenario::Scenario, service: &str, seed: u64) -> (f64, f64) {
    let out = twin_sim::run(s, seed, RunOptions::summary_only()).expect("the cut scenario runs");
    let svc = out.summary.services.iter().find(|x| x.name == service).expect("the service is reported");
    (out.summary.cost.total, svc.slo_attainment)
}

#[test]
fn event_means_lie_inside_the_sweeps_95_percent_band() {
    let dir = crate::root().join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let (mut compared, mut report, mut outside) = (0, String::new(), Vec::new());
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "toml")) {
        let text = std::fs::read_to_string(file).unwrap();
        let table: toml::Table = text.parse().unwrap();
        let names: Vec<String> = table
            .get("services")
            .and_then(|s| s.as_array())
            .map(|a| a.iter().filter_map(|s| s.get("name")?.as_str().map(String::from)).collect())
            .unwrap_or_default();
        for name in names {
            let label = format!("{}/{name}", file.file_stem().unwrap().to_string_lossy());
            let Some(cut_text) = cut(&text, &name) else {
                report += &format!("{label}: not cut (replayed files)\n");
                continue;
            };
            let s = crate::scenario(&cut_text);
            let baseline = match Baseline::from_scenario(&s, Some(&name), SimDuration::from_secs(10)) {
                Ok(b) => b,
                Err(SweepError::Unsupported(why)) => {
                    report += &format!("{label}: the sweep cannot model it ({why})\n");
                    continue;
                }
                Err(e) => panic!("{label}: {e}"),
            };
            assert!(baseline.left_out.is_empty(), "{label}: the cut should be whole, but leaves out {:?}", baseline.left_out);
            let runs: Vec<(f64, f64)> = (1..=SEEDS).map(|seed| event(&s, &name, seed)).collect();
            let cost = runs.iter().map(|r| r.0).sum::<f64>() / SEEDS as f64;
            let slo = runs.iter().map(|r| r.1).sum::<f64>() / SEEDS as f64;
            let mut p = baseline.params;
            p.seed = 12_345;
            let swept = Engine::Cpu(0).sweep(&[p], REPLICAS, baseline.slo_target as f32, false, &mut |_| {}).unwrap();
            let sum = summarise(vec![], &swept.tallies[0], f64::from(p.od_price));
            let line = format!(
                "{label}: event cost {cost:.2} in sweep band [{:.2}, {:.2}] (mean {:.2}); event SLO {slo:.5} in [{:.5}, {:.5}] (mean {:.5})\n",
                sum.cost_band.0, sum.cost_band.1, sum.cost_mean, sum.attainment_band.0, sum.attainment_band.1, sum.attainment_mean
            );
            report += &line;
            // The band is of one replica's outcome; the mean of the seeds must lie in it.
            // Widened by 0.1%: the sweep bills continuously, the event engine by the second.
            let inside = |x: f64, band: (f64, f64)| band.0 * (1.0 - 1e-3) - 1e-9 <= x && x <= band.1 * (1.0 + 1e-3) + 1e-9;
            if !inside(cost, sum.cost_band) || !inside(slo, sum.attainment_band) {
                outside.push(line);
            }
            compared += 1;
        }
    }
    eprintln!("{report}");
    assert!(compared >= 3, "only {compared} scenarios compared:\n{report}");
    assert!(outside.is_empty(), "event means outside the sweep's band:\n{}", outside.concat());
}
