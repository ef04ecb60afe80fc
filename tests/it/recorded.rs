//! Recorded telemetry replayed onto pools: the recording, not the model,
//! says when each accelerator was busy and what it drew; the ledger bills
//! busy time to the recording's owner and the rest as idle, idle spells are
//! priced as waste, and the run says how many nodes the work needed.

use std::process::Command;
use twin_sim::RunOptions;
use twin_sim::fleet::RecordedUsage;
use twin_sim::scenario::Scenario;

const WORKSTATION: &str = r#"
format_version = 1
name = "one-h200"
horizon = "HORIZON"
[billing]
energy_price_per_kwh = 0.2
pue = 1.5
ledger_period = "30s"
[[node_types]]
name = "h200-workstation"
accelerator = "H200"
accelerators_per_node = 1
vcpus = 32
memory_gb = 256.0
host_watts = 150.0
list_price_per_hour = 10.6
[[pools]]
name = "lab"
node_type = "h200-workstation"
capacity = "on-prem"
nodes = 1
capex = { per_node = 43800.0, years = 5.0 }
telemetry = { file = "FILE", idle_after = "9s" }
"#;

/// The H200 recording replayed once onto its own GPU: the energy the run
/// books is the trapezoid of the recorded power (plus the last sample held
/// for one interval), the idle spells are the load log's idle phases, and
/// the ledger's parts add up to the pool's cost.
#[test]
fn the_h200_recording_bills_its_own_energy_and_finds_its_idle_phases() {
    let Some(csv) = crate::shared_data("gpu_telemetry/h200_nvidia_smi_100ms.csv") else { return };
    let dir = csv.parent().unwrap();
    let (t, _) = twin_replay::read_file(&csv, twin_replay::Format::NvidiaSmi, &twin_replay::ReadOptions::default()).unwrap();
    let trapezoid = twin_replay::energy::by_gpu(&t)[0].joules;
    let span_s = (t.time_ns[t.len() - 1] - t.time_ns[0]) as f64 / 1e9;
    let last_w = t.value(twin_replay::Field::Power, t.len() - 1).unwrap();

    let text = WORKSTATION.replace("HORIZON", "10m").replace("FILE", csv.to_str().unwrap());
    let mut s = crate::scenario(&text);
    let mut notes = twin_inputs::Notes::new();
    twin_inputs::telemetry::attach(&mut s, &twin_inputs::Source::Dir("/".into()), &mut notes).unwrap();
    let usage = s.recordings.values().next().unwrap().clone();
    let interval_s = usage.median_interval_ns() as f64 / 1e9;
    let out = twin_sim::run(&s, 1, RunOptions::default()).unwrap();
    let r = &out.summary.recorded[0];
    assert_eq!(r.samples as usize, t.len());
    let expected = trapezoid + last_w * interval_s;
    assert!((r.energy_kwh * 3.6e6 - expected).abs() <= 1e-6 * expected, "{} J against {expected} J", r.energy_kwh * 3.6e6);
    // Observed: the recording's span and one held interval; the rest of the 10 minutes is unobserved.
    assert!((r.observed_gpu_hours * 3_600.0 - (span_s + interval_s)).abs() < 1e-6);
    assert!((r.unobserved_gpu_hours * 3_600.0 - (600.0 - span_s - interval_s)).abs() < 1e-6);

    // Idle spells of 9 s or more: from the start of the recording to the
    // first burst, and from the end of the sustained load to the end; the
    // 5 s pauses between bursts are not waste. Edges within 1 s of the load
    // log (utilisation trails the load by about 0.4 s).
    assert_eq!(r.idle_spells, 2);
    let log = std::fs::read_to_string(dir.join("h200_load_phases.csv")).unwrap();
    let rows: Vec<Vec<f64>> = log.lines().skip(1).map(|l| l.split(',').take(2).map(|x| x.parse::<f64>().unwrap()).collect()).collect();
    let t0 = t.time_ns[0] as f64 / 1e9;
    let (first_burst, sustained_end) = (rows[1][0] - t0, rows[rows.len() - 1][0] - t0);
    let opts = twin_sim::fleet::UsageOptions {
        speed: 1.0,
        repeat: false,
        idle_below_pct: 5.0,
        idle_after_ns: 9_000_000_000,
        max_gap_ns: 0,
        idle_watts: 70.0,
    };
    let replay =
        twin_sim::fleet::UsageReplay::compute(&usage, &opts, twin_sim::time::SimTime(600_000_000_000), 30_000_000_000, 60_000_000_000);
    let spells: Vec<(f64, f64)> = replay.idle_spells.iter().map(|s| (s.start.as_secs_f64(), s.end.as_secs_f64())).collect();
    assert_eq!(spells.len(), 2);
    assert!(spells[0].0 == 0.0 && (spells[0].1 - first_burst).abs() < 1.0, "{spells:?}, first burst at {first_burst}");
    assert!((spells[1].0 - sustained_end).abs() < 1.0, "{spells:?}, load ends at {sustained_end}");
    assert!((spells[1].1 - (span_s + interval_s)).abs() < 1e-6);
    let spells_s: f64 = spells.iter().map(|(a, b)| b - a).sum();
    assert!((r.waste_gpu_hours * 3_600.0 - spells_s).abs() < 1e-6);

    // Ledger: busy time to the owner, the rest idle, parts add up exactly.
    let pool = &out.summary.pools[0];
    assert!((r.busy_cost + r.idle_cost - pool.cost).abs() < 1e-9);
    assert_eq!(out.summary.cost.by_workload["recorded/lab"], r.busy_cost);
    let gpu_hour = 43_800.0 / (5.0 * 8_760.0);
    let busy_energy: f64 = out.records.ledger.iter().filter(|l| l.workload.is_some()).map(|l| l.account.energy_cost.to_currency()).sum();
    assert!((r.busy_cost - (r.busy_gpu_hours * gpu_hour + busy_energy)).abs() < 1e-9);
    let rows_total: f64 = out.records.ledger.iter().map(|l| l.account.total().to_currency()).sum();
    assert!((rows_total - out.summary.cost.total).abs() < 1e-9);
}

/// 64 GPUs on 8 nodes, of which only 10 ever work: the run finds 54 GPUs
/// idle all day, prices that waste, and says 2 nodes would do.
#[test]
fn a_mostly_idle_fleet_is_told_to_consolidate_with_the_money() {
    let mut rows = Vec::new();
    for g in 0..64u32 {
        for m in 0..1_440i64 {
            let busy = g < 10;
            rows.push((g, m * 60_000_000_000, if busy { 90.0 } else { 0.0 }, if busy { 600.0 } else { 70.0 }));
        }
    }
    let text = r#"
format_version = 1
name = "dgx-day"
horizon = "1d"
sample_interval = "10m"
[billing]
energy_price_per_kwh = 0.1
pue = 1.25
[[pools]]
name = "dgx"
node_type = "dgx-h100"
capacity = "on-prem"
nodes = 8
capex = { per_node = 350400.0, years = 4.0 }
telemetry = { file = "day.parquet", idle_after = "30m", owner = "team-a", team = "a" }
"#;
    let mut s = crate::scenario(text);
    s.attach_recording("day.parquet", RecordedUsage::from_rows(&rows));
    let out = twin_sim::run(&s, 1, RunOptions::summary_only()).unwrap();
    let r = &out.summary.recorded[0];
    assert_eq!((r.peak_busy_gpus, r.p99_busy_gpus, r.nodes, r.nodes_needed, r.releasable_nodes), (10, 10, 8, 2, 6));
    assert_eq!(r.idle_spells, 54);
    assert!((r.waste_gpu_hours - 54.0 * 24.0).abs() < 1e-9);
    assert!((r.busy_share - 10.0 / 64.0).abs() < 1e-12);
    // The node's price: 350,400 / (4 × 8,760) = 10 per node-hour; its idle draw: host plus 8 idle GPUs.
    let cat = &s.catalogue;
    let nt = &cat.node_types[cat.node_type("dgx-h100").unwrap()];
    let acc = &cat.accelerators[cat.accelerator(&nt.accelerator).unwrap()];
    let idle_kw = (nt.host_watts + 8.0 * acc.idle_watts) / 1e3;
    let per_node = 10.0 * 24.0 + idle_kw * 24.0 * 1.25 * 0.1;
    assert!((r.savings - 6.0 * per_node).abs() < 1e-6, "{} against {}", r.savings, 6.0 * per_node);
    assert!((r.savings_per_month - r.savings * 30.0).abs() < 1e-6);
    // Waste: 54 GPU-days at 10/8 per GPU-hour, plus 70 W each for the day at the site's energy price.
    let waste = 54.0 * 24.0 * 10.0 / 8.0 + 54.0 * 0.070 * 24.0 * 1.25 * 0.1;
    assert!((r.waste_cost - waste).abs() < 1e-6, "{} against {waste}", r.waste_cost);
    assert!(r.recommendation.contains("fits on 2 of 8 nodes"), "{}", r.recommendation);
    assert_eq!(out.summary.cost.by_team["a"], r.busy_cost);
}

/// A recorded pool is committed capacity no workload runs in; the errors
/// name the line and field.
#[test]
fn recorded_pools_reject_what_cannot_be_replayed() {
    let text = r#"format_version = 1
name = "bad"
horizon = "1h"
[[pools]]
name = "spot"
node_type = "p5.48xlarge"
capacity = "spot"
price = 30.0
telemetry = { file = "x.parquet" }
[[services]]
name = "chat"
model = "llama-3.1-8b"
pools = ["spot"]
slo = { ttft = "1s", e2e = "10s" }
prompt_tokens = { fixed = 100 }
output_tokens = { fixed = 100 }
arrivals = { poisson = { rate = 1.0 } }
"#;
    let e = Scenario::from_toml(text, "bad.toml").unwrap_err();
    let s = e.to_string();
    assert!(s.contains("bad.toml:9") && s.contains("pools[0].telemetry") && s.contains("grows and shrinks"), "{s}");
    assert!(s.contains("bad.toml:13") && s.contains("services[0].pools[0]") && s.contains("replays recorded telemetry"), "{s}");
    // A format Twin does not read is a parse error naming the formats it does.
    let bad_format = text.replace(r#"file = "x.parquet" }"#, r#"file = "x.parquet", format = "excel" }"#);
    let s = Scenario::from_toml(&bad_format, "bad.toml").unwrap_err().to_string();
    assert!(s.contains("bad.toml:9") && s.contains("pools[0].telemetry.format") && s.contains("unknown variant `excel`"), "{s}");
    assert!(s.contains("`auto`, `nvidia-smi`, `dmon`, `dcgm`, `parquet`"), "{s}");
}

/// `twin trace synth` writes a recording that `twin run` replays, the same
/// bytes each time; a recording with more GPUs than the pool says how many nodes it needs.
#[test]
fn synthesised_telemetry_runs_end_to_end_and_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let twin = env!("CARGO_BIN_EXE_twin");
    let o = Command::new(twin)
        .args(["trace", "synth", "--gpus", "16", "--span", "2d", "--interval", "1m", "--seed", "3", "--out"])
        .arg(dir.path().join("fleet.parquet"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let scenario = r#"format_version = 1
name = "fleet"
horizon = "2d"
sample_interval = "10m"
[[pools]]
name = "dgx"
node_type = "dgx-h100"
capacity = "on-prem"
nodes = NODES
capex = { per_node = 300000.0, years = 4.0 }
telemetry = { file = "fleet.parquet" }
"#;
    std::fs::write(dir.path().join("fleet.toml"), scenario.replace("NODES", "2")).unwrap();
    let run = || Command::new(twin).arg("run").arg(dir.path().join("fleet.toml")).args(["--format", "json"]).output().unwrap();
    let (a, b) = (run(), run());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let r = &v["recorded"][0];
    assert_eq!(r["gpus_recorded"], 16);
    assert!(r["busy_share"].as_f64().unwrap() > 0.1 && r["busy_share"].as_f64().unwrap() < 0.7, "{r}");
    let text = Command::new(twin).arg("run").arg(dir.path().join("fleet.toml")).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("RECORDED USAGE") && text.contains("idle for 30m or more counts as waste"), "{text}");

    std::fs::write(dir.path().join("fleet.toml"), scenario.replace("NODES", "1")).unwrap();
    let o = Command::new(twin).arg("run").arg(dir.path().join("fleet.toml")).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("has 16 GPUs") && err.contains("set `nodes = 2`"), "{err}");
}
