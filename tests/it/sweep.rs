//! `twin sweep` as a user meets it: a grid of points over the default
//! scenario's spot service, per-point distributions and the cheapest point
//! that meets the SLO, Parquet out, and the errors for bad axes and
//! scenarios the sweep model cannot run.

use std::process::{Command, Output};

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin")).current_dir(crate::root()).args(args).output().expect("run twin")
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_grid_sweep_reports_every_point_and_the_cheapest_safe_one() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "sweep",
        "spot-inference",
        "--backend",
        "cpu",
        "--replicas",
        "1500",
        "--step",
        "5m",
        "--vary",
        "spot_share=0..1:3",
        "--vary",
        "max_replicas=4,16",
        "--format",
        "json",
        "--out",
    ];
    let mut all: Vec<&str> = args.to_vec();
    all.push(dir.path().to_str().unwrap());
    let out = twin(&all);
    // What the sweep leaves out of the scenario is said.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("leave out service(s) chat-on-demand"), "{err}");
    let v = json(&out);
    assert_eq!(v["left_out"], serde_json::json!(["service(s) chat-on-demand"]));
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 6);
    assert_eq!(points[0]["values"], serde_json::json!([0.0, 4.0]));
    for p in points {
        let c = &p["cost"];
        assert!(c["p5"].as_f64() <= c["p50"].as_f64() && c["p50"].as_f64() <= c["p95"].as_f64(), "{p}");
        let a = p["slo_attainment"]["mean"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&a));
    }
    // All on on-demand costs more than all on spot, and spot saves against on-demand prices.
    let cost = |i: usize| points[i]["cost"]["mean"].as_f64().unwrap();
    assert!(cost(4) < cost(0), "spot {} against on-demand {}", cost(4), cost(0));
    assert!(points[4]["spot_savings_mean"].as_f64().unwrap() > 0.0);
    assert!(points[0]["interruptions_mean"].as_f64().unwrap() == 0.0 && points[4]["interruptions_mean"].as_f64().unwrap() > 0.0);
    // The cheapest point meets the SLO with the asked probability and costs no more than any other that does.
    let safe: Vec<&serde_json::Value> = points.iter().filter(|p| p["p_miss_slo"].as_f64().unwrap() <= 0.05).collect();
    let best = &v["cheapest"];
    assert_eq!(best.is_null(), safe.is_empty(), "{best}");
    for p in safe {
        assert!(best["p_miss_slo"].as_f64().unwrap() <= 0.05);
        assert!(best["cost"]["mean"].as_f64() <= p["cost"]["mean"].as_f64());
    }
    assert!(dir.path().join("grid.parquet").is_file() && dir.path().join("replicas.parquet").is_file());
    // Summaries do not depend on whether every replica's outcome is kept (--out) or only tallied.
    let mut tallied: Vec<&str> = args.to_vec();
    tallied.pop();
    let t = json(&twin(&tallied));
    assert_eq!(v["points"], t["points"]);
    // Same seed, same backend: the same numbers.
    let again = json(&twin(&all));
    assert_eq!(v["points"], again["points"]);
}

/// The GPU kernel through lavapipe gives the CPU path's figures within f32 tolerance.
#[test]
fn the_gpu_backend_agrees_with_the_cpu_backend() {
    let run = |backend: &str| {
        let o = twin(&[
            "sweep",
            "spot-inference",
            "--backend",
            backend,
            "--replicas",
            "256",
            "--step",
            "5m",
            "--vary",
            "spot_share=0,1",
            "--format",
            "json",
        ]);
        if !o.status.success() && std::env::var("TWIN_SKIP_GPU_TESTS").is_ok_and(|v| v == "1") {
            eprintln!("skipped (TWIN_SKIP_GPU_TESTS=1): {}", String::from_utf8_lossy(&o.stderr));
            return None;
        }
        Some(json(&o))
    };
    let Some(gpu) = run("lavapipe") else { return };
    let cpu = run("cpu").unwrap();
    for (g, c) in gpu["points"].as_array().unwrap().iter().zip(cpu["points"].as_array().unwrap()) {
        for key in ["mean", "p50"] {
            let (a, b) = (g["cost"][key].as_f64().unwrap(), c["cost"][key].as_f64().unwrap());
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "cost {key}: gpu {a} cpu {b}");
        }
        let (a, b) = (g["slo_attainment"]["mean"].as_f64().unwrap(), c["slo_attainment"]["mean"].as_f64().unwrap());
        assert!((a - b).abs() <= 1e-4, "attainment: gpu {a} cpu {b}");
    }
}

#[test]
fn bad_axes_and_unsupported_scenarios_say_what_to_do() {
    let o = twin(&["sweep", "spot-inference", "--backend", "cpu", "--vary", "spot_shar=0..1:3"]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("`spot_shar` is not a parameter") && e.contains("spot_share, replicas"), "{e}");
    let o = twin(&["sweep", "spot-inference", "--backend", "cpu", "--vary", "replicas=16..4:4"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("runs backwards"));
    let o = twin(&["sweep", "spot-inference", "--backend", "cpu", "--service", "chat"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no service `chat` (services: chat-spot, chat-on-demand)"));
    let o = twin(&["sweep", "autoscaler-rescue", "--backend", "cpu"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("piecewise rate table") && e.contains("twin trace fit"), "{e}");
    let o = twin(&["sweep", "mixed-fleet", "--service", "assistant", "--backend", "cpu"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("spreads over committed (reserved or on-prem) pools a100-reserved, h100-onprem"), "{e}");
}
