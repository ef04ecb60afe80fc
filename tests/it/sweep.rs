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

fn twin_env(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_twin"));
    c.current_dir(crate::root()).args(args).env_remove("JOB_COMPLETION_INDEX").env_remove("TWIN_SHARDS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run twin")
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// N shares run as separate processes with `JOB_COMPLETION_INDEX` set, as an
/// Indexed Job's pods run them, and merged, write exactly the files one
/// unsharded sweep writes (grid.parquet, replicas.parquet, sweep.json) and
/// print its table; for N of 1, 3 and 11 (more shards than the 8 units of
/// work), with every replica kept and with tallies only. Bad sets are
/// refused with the shard named, and nothing is written.
#[test]
fn sweep_shards_merge_into_exactly_one_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let path = |s: &str| p.join(s).to_str().unwrap().to_string();
    let base = ["sweep", "spot-inference", "--backend", "cpu", "--threads", "1", "--replicas", "2000", "--step", "10m"];
    let run = |extra: &[&str], env: &[(&str, String)]| {
        let mut all: Vec<&str> = base.to_vec();
        all.extend_from_slice(&["--vary", "spot_share=0..1:4"]);
        all.extend_from_slice(extra);
        twin_env(&all, env)
    };
    let whole = run(&["--out", &path("whole")], &[]);
    assert!(whole.status.success(), "{}", err(&whole));
    for n in [1u32, 3, 11] {
        let parts = path(&format!("parts-{n}"));
        for i in 0..n {
            let o = run(&["--out", &parts], &[("JOB_COMPLETION_INDEX", i.to_string()), ("TWIN_SHARDS", n.to_string())]);
            assert!(o.status.success(), "shard {i}/{n}: {}", err(&o));
        }
        let merged = path(&format!("merged-{n}"));
        let o = twin_env(&["merge", &parts, "--out", &merged], &[]);
        assert!(o.status.success(), "{}", err(&o));
        for f in ["grid.parquet", "replicas.parquet", "sweep.json"] {
            assert_eq!(
                std::fs::read(p.join("whole").join(f)).unwrap(),
                std::fs::read(p.join(&merged).join(f)).unwrap(),
                "{f} from {n} shards"
            );
        }
        // The table is the one run's, but for how it ran.
        let table = |o: &Output| String::from_utf8_lossy(&o.stdout).lines().skip(2).collect::<Vec<_>>().join("\n");
        assert_eq!(table(&o), table(&whole));
    }

    // Tallies only (no replica rows): shards from --shard, merged, equal one run.
    let many = ["--replicas", "1500", "--vary", "max_replicas=4,16"];
    let mut args: Vec<&str> = base.iter().take(6).copied().chain(["--step", "10m"]).collect();
    args.extend_from_slice(&many);
    let mut one = args.clone();
    one.extend_from_slice(&["--format", "json"]);
    let single = twin_env(&one, &[]);
    let single: serde_json::Value = json(&single);
    for i in 0..2 {
        let mut a = args.clone();
        let s = format!("{i}/2");
        let out = path("tallies");
        a.extend_from_slice(&["--shard", &s, "--out", &out]);
        assert!(twin_env(&a, &[]).status.success());
    }
    let o = twin_env(&["merge", &path("tallies"), "--out", &path("tallies-merged"), "--format", "json"], &[]);
    let merged = json(&o);
    assert_eq!(merged["points"], single["points"]);
    assert_eq!(merged["cheapest"], single["cheapest"]);

    // A missing shard, a shard twice, a shard of another sweep: exit 2, named, nothing written.
    let set = p.join("parts-3");
    let name = |i: u32| format!("sweep-shard-{i:04}-of-0003");
    std::fs::rename(set.join(format!("{}.json", name(1))), p.join("aside.json")).unwrap();
    let o = twin_env(&["merge", set.to_str().unwrap(), "--out", &path("bad")], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("shard(s) 1 of 3 are missing"), "{}", err(&o));
    std::fs::rename(p.join("aside.json"), set.join(format!("{}.json", name(1)))).unwrap();
    std::fs::create_dir(p.join("dup")).unwrap();
    for ext in ["json", "outcomes"] {
        std::fs::copy(set.join(format!("{}.{ext}", name(0))), p.join("dup").join(format!("{}.{ext}", name(0)))).unwrap();
    }
    let o = twin_env(&["merge", set.to_str().unwrap(), &path("dup"), "--out", &path("bad")], &[]);
    assert!(err(&o).contains("shard 0/3 is there twice") && err(&o).contains("dup/sweep-shard-0000-of-0003.json"), "{}", err(&o));
    let other = run(&["--seed", "9", "--shard", "2/3", "--out", &path("other")], &[]);
    assert!(other.status.success(), "{}", err(&other));
    std::fs::copy(p.join("other").join(format!("{}.json", name(2))), set.join(format!("{}.json", name(2)))).unwrap();
    let o = twin_env(&["merge", set.to_str().unwrap(), "--out", &path("bad")], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains(&format!("{}.json: a shard of another sweep", name(2))), "{}", err(&o));
    // A shard's outcomes cut short is caught by its hash.
    let o = twin_env(&["merge", p.join("parts-11").to_str().unwrap(), "--out", &path("bad")], &[]);
    assert!(o.status.success());
    let f = p.join("parts-11").join("sweep-shard-0004-of-0011.outcomes");
    let mut bytes = std::fs::read(&f).unwrap();
    bytes[7] ^= 1;
    std::fs::write(&f, bytes).unwrap();
    let o = twin_env(&["merge", p.join("parts-11").to_str().unwrap(), "--out", &path("bad2")], &[]);
    assert!(err(&o).contains("sweep-shard-0004-of-0011.json: its outcomes file"), "{}", err(&o));
    assert!(!p.join("bad2").exists(), "nothing written from a bad set");
    // A shard needs somewhere to write.
    let o = run(&["--shard", "0/2"], &[]);
    assert!(!o.status.success() && err(&o).contains("a shard needs --out DIR"), "{}", err(&o));
}

/// `--emit-k8s-job` renders the sweep as an Indexed Job that parses back
/// into k8s-openapi's `Job`: completions, Indexed mode, fail-fast policy,
/// the shard count in the pods' environment, a GPU a pod for a GPU sweep,
/// the scenario in the ConfigMap at the path the pods are told; and the
/// merge Job reads where the shards write.
#[test]
fn a_sweep_renders_as_an_indexed_job() {
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::ConfigMap;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let scenario = crate::root().join("scenarios/spot-inference.toml");
    let out = p.join("job");
    let o = twin_env(
        &[
            "sweep",
            scenario.to_str().unwrap(),
            "--backend",
            "gpu",
            "--replicas",
            "1000000",
            "--vary",
            "spot_share=0..1:5",
            "--emit-k8s-job",
            out.to_str().unwrap(),
            "--shards",
            "100",
            "--parallelism",
            "20",
            "--image",
            "registry.example/twin:1",
            "--job-name",
            "year-sweep",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", err(&o));
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    let job: Job = serde_saphyr::from_str(&read("job.yaml")).unwrap();
    let spec = job.spec.unwrap();
    assert_eq!((spec.completions, spec.parallelism, spec.completion_mode.as_deref()), (Some(100), Some(20), Some("Indexed")));
    assert!(spec.pod_failure_policy.unwrap().rules.iter().any(|r| r.action == "FailJob"));
    let pod = spec.template.spec.unwrap();
    let c = &pod.containers[0];
    let args = c.args.clone().unwrap();
    assert_eq!(args[..2], ["sweep".to_string(), "/twin/input/spot-inference.toml".to_string()]);
    assert!(args.windows(2).any(|w| w[0] == "--out" && w[1] == "/twin/results/year-sweep/shards"), "{args:?}");
    assert!(args.windows(2).any(|w| w[0] == "--backend" && w[1] == "gpu"));
    let env = c.env.clone().unwrap();
    assert!(env.iter().any(|e| e.name == "TWIN_SHARDS" && e.value.as_deref() == Some("100")));
    assert!(env.iter().all(|e| e.name != "JOB_COMPLETION_INDEX"), "Kubernetes sets the index");
    assert!(c.resources.as_ref().unwrap().limits.as_ref().unwrap().contains_key("nvidia.com/gpu"));
    let cm: ConfigMap = serde_saphyr::from_str(&read("configmap.yaml")).unwrap();
    assert_eq!(cm.data.unwrap()["spot-inference.toml"], std::fs::read_to_string(&scenario).unwrap());
    let merge: Job = serde_saphyr::from_str(&read("merge-job.yaml")).unwrap();
    let margs = merge.spec.unwrap().template.spec.unwrap().containers[0].args.clone().unwrap();
    assert_eq!(margs, ["merge", "/twin/results/year-sweep/shards", "--out", "/twin/results/year-sweep/merged"]);
    assert!(read("README.md").contains("kubectl wait"));

    // What the pods could not read is refused before anything is written.
    std::fs::create_dir_all(p.join("s")).unwrap();
    std::fs::create_dir_all(p.join("policies")).unwrap();
    std::fs::copy(crate::root().join("policies/admission.rego"), p.join("policies/admission.rego")).unwrap();
    let text = std::fs::read_to_string(&scenario).unwrap();
    std::fs::write(p.join("s/x.toml"), format!("{text}\n[policies]\nfiles = [\"../policies/admission.rego\"]\n")).unwrap();
    let o = twin_env(
        &["sweep", p.join("s/x.toml").to_str().unwrap(), "--emit-k8s-job", p.join("j2").to_str().unwrap(), "--shards", "2", "--image", "i"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("policies ../policies/admission.rego lies outside"), "{}", err(&o));
    assert!(!p.join("j2").exists());
}
