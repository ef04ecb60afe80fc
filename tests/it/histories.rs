//! Real price histories and job traces as model inputs: GCP's recorded spot
//! prices drive a spot pool's price, and the Helios cluster sequence, rebuilt
//! as jobs, drives submissions (the `helios-replay` scenario).

use std::process::Command;

/// `twin run helios-replay --out DIR`: every rebuilt Helios job is
/// submitted, the owned nodes are as busy as Helios's own cluster was, and
/// the spot pool's price at every sample is GCP's recorded price then.
#[test]
fn helios_demand_and_gcp_spot_prices_drive_the_run() {
    let Some(helios) = crate::shared_data("job_traces/helios_earth_vc6YE_cluster_sequence_1min_2020-05-01_to_14.csv") else { return };
    let Some(gcp) = crate::shared_data("spot_prices/gcp_gpu_vm_ondemand_spot_price_changes_2022-2026.csv") else { return };
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_twin"))
        .current_dir(crate::root())
        .args(["run", "helios-replay", "--format", "json", "--tables", "csv", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["jobs"]["submitted"], 784, "{}", v["jobs"]);

    // Helios's own utilisation of its 208 GPUs over the two weeks.
    let text = std::fs::read_to_string(&helios).unwrap();
    let head: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
    let (run, total) = (col("running_gpu_num"), col("total_gpu_num"));
    let (mut sum, mut n) = (0.0, 0.0);
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        sum += f[run].parse::<f64>().unwrap() / f[total].parse::<f64>().unwrap();
        n += 1.0;
    }
    let helios_util = sum / n;
    let owned = v["pools"].as_array().unwrap().iter().find(|p| p["name"] == "owned").unwrap();
    let allocation = owned["allocation"].as_f64().unwrap();
    assert!((allocation - helios_util).abs() < 0.05, "owned nodes {allocation:.3} allocated, Helios ran at {helios_util:.3}");

    // The spot price at every sample is the recorded a3-highgpu-8g us-central1 spot price then.
    let mut changes: Vec<(f64, f64)> = Vec::new();
    let start = 20_209.0 * 86_400.0; // 2025-05-01 in Unix seconds
    for l in std::fs::read_to_string(&gcp).unwrap().lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f[2] == "a3-highgpu-8g" && f[5] == "us-central1" && !f[7].is_empty() {
            let d: Vec<i64> = f[0].split('-').map(|x| x.parse().unwrap()).collect();
            let days = twin_sim::time::parse_date_ns(&format!("{:04}-{:02}-{:02}", d[0], d[1], d[2])).unwrap() as f64 / 1e9;
            changes.push((days - start, f[7].parse().unwrap()));
        }
    }
    let series = std::fs::read_to_string(dir.path().join("pool_series.csv")).unwrap();
    let mut checked = 0;
    for l in series.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f[1] != "gcp-spot" {
            continue;
        }
        let t: f64 = f[0].parse().unwrap();
        let expected = changes.iter().rev().find(|c| c.0 <= t).unwrap().1;
        assert!((f[7].parse::<f64>().unwrap() - expected).abs() < 1e-9, "at {t} s: {} against {expected}", f[7]);
        checked += 1;
    }
    assert!(checked > 2_000);
}

/// A price history that does not cover the start, or names a region the
/// file lacks, stops the run with the reason and the fix.
#[test]
fn a_price_history_that_cannot_be_replayed_says_why() {
    let Some(gcp) = crate::shared_data("spot_prices/gcp_gpu_vm_ondemand_spot_price_changes_2022-2026.csv") else { return };
    let dir = tempfile::tempdir().unwrap();
    let scenario = |location: &str, start: &str| {
        format!(
            r#"format_version = 1
name = "h"
horizon = "1d"
[[pools]]
name = "spot"
node_type = "p5.48xlarge"
capacity = "spot"
price = {{ history = {{ file = "{}", instance_type = "a3-highgpu-8g", location = "{location}", start = "{start}" }} }}
"#,
            gcp.display()
        )
    };
    let run = |text: String| {
        std::fs::write(dir.path().join("h.toml"), text).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_twin")).arg("run").arg(dir.path().join("h.toml")).output().unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = run(scenario("us-centrl1", "2025-05-01"));
    assert!(e.contains("did you mean `us-central1`"), "{e}");
    let e = run(scenario("us-central1", "2022-01-01"));
    assert!(e.contains("on or before 2022-01-01") && e.contains("set `start` to a later date"), "{e}");
    let e = run(scenario("us-central1", "2025-02-30"));
    assert!(e.contains("price.history.start") && e.contains("is not a date"), "{e}");
}

/// A spot pool's interruption band looked up in AWS Spot Advisor data: the
/// newest snapshot's band for the pool's instance type and region becomes
/// its hazard; an instance type the data lacks is named with those like it.
#[test]
fn spot_advisor_data_sets_a_pools_interruption_hazard() {
    let Some(advisor) = crate::shared_data("spot_prices/aws_spot_advisor_gpu_linux_2021_2025.csv") else { return };
    // The newest p4d.24xlarge entry for us-east-1, read here from the CSV.
    let text = std::fs::read_to_string(&advisor).unwrap();
    let newest = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[2] == "us-east-1" && f[4] == "p4d.24xlarge")
        .max_by_key(|f| f[0].to_string())
        .unwrap()[9]
        .to_string();
    let p = match newest.as_str() {
        "<5%" => 0.025,
        "5-10%" => 0.075,
        "10-15%" => 0.125,
        "15-20%" => 0.175,
        _ => 0.25,
    };
    let dir = tempfile::tempdir().unwrap();
    let scenario = |instance: &str| {
        format!(
            r#"format_version = 1
name = "a"
horizon = "1h"
[[pools]]
name = "spot"
node_type = "p4de.24xlarge"
region = "us-east-1"
capacity = "spot"
price = 12.0
interruption = {{ advisor = {{ file = "{}", instance_type = "{instance}" }} }}
"#,
            advisor.display()
        )
    };
    std::fs::write(dir.path().join("a.toml"), scenario("p4d.24xlarge")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_twin")).arg("run").arg(dir.path().join("a.toml")).args(["--format", "json"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rate = v["pools"][0]["interruptions_per_node_hour"].as_f64().unwrap();
    assert!((rate - (-(1.0f64 - p).ln() / 730.0)).abs() < 1e-12, "{rate} for band {newest}");

    std::fs::write(dir.path().join("a.toml"), scenario("p4d.24xlarg")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_twin")).arg("run").arg(dir.path().join("a.toml")).output().unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("no Spot Advisor entry for p4d.24xlarg in us-east-1") && e.contains("p4d.24xlarge"), "{e}");
}

/// `twin trace import` and `twin trace info` take price histories, Spot
/// Advisor data, job traces and node lists too, detecting the format, and
/// the Parquet they write reads back to the same table.
#[test]
fn price_and_job_tables_import_to_parquet_and_read_back() {
    let files = [
        ("spot_prices/gcp_gpu_vm_ondemand_spot_price_changes_2022-2026.csv", "rows", 32_981),
        ("spot_prices/aws_spot_advisor_gpu_linux_2021_2025.csv", "rows", 1_144),
        ("job_traces/helios_earth_vc6YE_cluster_sequence_1min_2020-05-01_to_14.csv", "jobs", 784),
        ("job_traces/alibaba_openb2023_pod_list_default.csv", "jobs", 7_064),
        ("job_traces/alibaba_openb2023_node_list_gpu_node.csv", "nodes", 1_213),
    ];
    let dir = tempfile::tempdir().unwrap();
    let twin = env!("CARGO_BIN_EXE_twin");
    for (i, (file, key, n)) in files.iter().enumerate() {
        let Some(src) = crate::shared_data(file) else { return };
        let out = dir.path().join(format!("{i}.parquet"));
        let o = Command::new(twin).args(["trace", "import"]).arg(&src).arg("--out").arg(&out).output().unwrap();
        assert!(o.status.success(), "{file}: {}", String::from_utf8_lossy(&o.stderr));
        for path in [&src, &out] {
            let o = Command::new(twin).args(["trace", "info", "--json"]).arg(path).output().unwrap();
            assert!(o.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&o.stderr));
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(v[key], *n, "{}: {v}", path.display());
        }
    }
    // A GCP history as Parquet replays in a scenario like the CSV.
    let data = crate::root().join("../shared/data");
    let gcp = data.join(files[0].0);
    let base = std::fs::read_to_string(crate::root().join("scenarios/helios-replay.toml")).unwrap();
    let csv_path = "../../shared/data/spot_prices/gcp_gpu_vm_ondemand_spot_price_changes_2022-2026.csv";
    let helios = data.join(files[2].0);
    let edited = base
        .replace(csv_path, dir.path().join("0.parquet").to_str().unwrap())
        .replace("../../shared/data/job_traces/helios_earth_vc6YE_cluster_sequence_1min_2020-05-01_to_14.csv", helios.to_str().unwrap());
    assert_ne!(edited, base);
    std::fs::write(dir.path().join("p.toml"), edited).unwrap();
    let run = |path: &std::path::Path| {
        let o = Command::new(twin).arg("run").arg(path).args(["--format", "json"]).current_dir(crate::root()).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["cost"]["total"].as_f64().unwrap()
    };
    assert!(gcp.is_file());
    assert_eq!(run(&dir.path().join("p.toml")), run(&crate::root().join("scenarios/helios-replay.toml")));
}
