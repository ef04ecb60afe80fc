//! The `twin` binary as a user meets it.

use std::process::{Command, Output};

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin")).args(args).current_dir(crate::root()).output().expect("twin runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_with_no_argument_runs_the_default_scenario() {
    let o = twin(&["run", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["scenario"], "spot-inference");
    assert_eq!(v["origin"], "<built-in>/spot-inference.toml");
    assert!(v["services"][0]["finished"].as_u64().unwrap() > 100_000);
    assert!(v["cost"]["spot_savings"].as_f64().unwrap() > 0.0);
    // Progress goes to a terminal only; nothing but the report on stdout.
    assert!(!stderr(&o).contains('%'), "{}", stderr(&o));
}

#[test]
fn the_text_report_has_every_section() {
    let o = twin(&["run", "mixed-fleet", "--seed", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for section in ["COST (USD)", "SERVICES", "POOLS", "TRAINING", "INTERRUPTIONS", "savings vs all on-demand", "TTFT p50/p95/p99"] {
        assert!(out.contains(section), "missing {section} in\n{out}");
    }
    assert!(out.contains("seed 2"));
}

#[test]
fn out_writes_every_table_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let o = twin(&["run", "autoscaler-rescue", "--seed", "3", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for table in ["requests", "jobs", "pool_series", "service_series", "ledger"] {
        for ext in ["parquet", "csv"] {
            let p = out.join(format!("{table}.{ext}"));
            assert!(p.metadata().is_ok_and(|m| m.len() > 0), "{} missing", p.display());
        }
    }
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let csv = std::fs::read_to_string(out.join("requests.csv")).unwrap();
    // Every request has a row: finished, dropped or in flight.
    let rows = csv.lines().count() - 1;
    assert_eq!(rows as u64, summary["services"][0]["arrived"].as_u64().unwrap());
    assert_eq!(std::fs::read_to_string(out.join("scenario.toml")).unwrap(), twin_library_text("autoscaler-rescue"));
    // No temporary files left behind.
    assert!(std::fs::read_dir(&out).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with('.')));
}

fn twin_library_text(name: &str) -> String {
    std::fs::read_to_string(crate::root().join("scenarios").join(format!("{name}.toml"))).unwrap()
}

#[test]
fn validate_reports_each_bad_file_with_location_and_exit_code_two() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let text = twin_library_text("autoscaler-rescue").replace("initial_nodes = 1", "initial_nodse = 1");
    std::fs::write(&bad, &text).unwrap();
    let line = text.lines().position(|l| l.contains("initial_nodse")).unwrap() + 1;
    let o = twin(&["validate", "scenarios/mixed-fleet.toml", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("ok    scenarios/mixed-fleet.toml"));
    let err = stderr(&o);
    assert!(err.contains(&format!("bad.toml:{line}:1: `pools[0]")), "{err}");
    assert!(err.contains("did you mean `initial_nodes`"), "{err}");
}

#[test]
fn running_a_bad_file_fails_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("neg.toml");
    std::fs::write(&bad, twin_library_text("autoscaler-rescue").replace("rate = 3.0", "rate = -3.0")).unwrap();
    let o = twin(&["run", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("services[0].arrivals.piecewise.points[0].rate"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_unknown_scenario_name_lists_the_library() {
    let o = twin(&["run", "no-such-thing"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("built-in: spot-inference"), "{}", stderr(&o));
}

#[test]
fn scenarios_lists_the_library_one_line_each() {
    let o = twin(&["scenarios"]);
    assert!(o.status.success());
    let out = stdout(&o);
    let files = std::fs::read_dir(crate::root().join("scenarios")).unwrap().count();
    assert_eq!(out.lines().count(), files, "{out}");
    assert!(out.lines().any(|l| l.starts_with("spot-inference") && l.ends_with("(default)")));
    let shown = twin(&["scenarios", "--show", "reserved-year"]);
    assert_eq!(stdout(&shown), twin_library_text("reserved-year"));
}

/// `twin bench --only import` times the telemetry import against polars'
/// own writer on the same rows and says how big each file is; Twin's file
/// is far smaller. (No time is asserted: figures depend on the machine.)
#[test]
fn bench_import_measures_against_polars_on_the_same_rows() {
    let o = twin(&["bench", "--only", "import", "--import-rows", "20000"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.starts_with("import: nvidia-smi CSV to Parquet in memory, 20000 rows"), "{out}");
    assert!(!out.contains("engine:") && !out.contains("fleet:"), "only the import part: {out}");
    let bytes: Vec<u64> = out.split(" bytes").filter_map(|part| part.rsplit(' ').next().and_then(|n| n.parse().ok())).collect();
    assert_eq!(bytes.len(), 2, "{out}");
    assert!(bytes[0] * 5 < bytes[1], "Twin's file {} bytes, polars' {}", bytes[0], bytes[1]);
    assert!(out.contains("M rows/s") && out.trim_end().ends_with('x'), "{out}");
}
