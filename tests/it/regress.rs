//! The regression gate end to end: a real temporary git repository, the
//! `twin` binary, and the statistics on real runs.

use crate::{git, text};
use std::path::Path;
use std::process::{Command, Output};
use twin_regress::suite::seeds;
use twin_regress::verdict::{Kpi, judge_all};

/// A small fleet: an on-demand and a spot pool, one served workload from a
/// manifest, one training job. Runs in milliseconds.
const SCENARIO: &str = r#"
format_version = 1
name = "gate"
horizon = "6h"
manifests = ["deploy.yaml"]

[[pools]]
name = "od"
node_type = "g6.xlarge"
capacity = "on-demand"
max_nodes = 12
provisioning_delay = "2m"
labels = { "gpu.type" = "nvidia-l4" }

[[training]]
name = "tune"
pools = ["od"]
gpus = 1
work_gpu_hours = 2
"#;

const DEPLOY: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: chat
  namespace: assistant
  annotations:
    twin.dev/model: llama-3.2-1b
    twin.dev/arrivals: "{ poisson = { rate = 2.0 } }"
    twin.dev/prompt-tokens: "{ lognormal = { median = 300, sigma = 0.6 } }"
    twin.dev/output-tokens: "{ lognormal = { median = 120, sigma = 0.5 } }"
    twin.dev/slo-ttft: "1s"
    twin.dev/slo-e2e: "20s"
spec:
  replicas: REPLICAS
  selector: { matchLabels: { app: chat } }
  template:
    metadata: { labels: { app: chat } }
    spec:
      nodeSelector: { gpu.type: nvidia-l4 }
      containers:
        - name: engine
          image: vllm/vllm-openai:v0.6.3
          resources:
            requests: { nvidia.com/gpu: 1, cpu: "2", memory: 8Gi }
            limits: { nvidia.com/gpu: 1 }
"#;

const SUITE: &str = r#"
format_version = 1
name = "gate-test"
seeds = { count = 12 }
[[scenarios]]
file = "fleet/gate.toml"
"#;

/// A repository with the suite at its first commit (3 replicas), checked out.
fn repo(replicas: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("fleet")).unwrap();
    std::fs::write(p.join("fleet/gate.toml"), SCENARIO).unwrap();
    std::fs::write(p.join("fleet/deploy.yaml"), DEPLOY.replace("REPLICAS", &replicas.to_string())).unwrap();
    std::fs::write(p.join("regress.toml"), SUITE).unwrap();
    git(p, &["init", "-q", "-b", "main"]);
    git(p, &["add", "."]);
    git(p, &["commit", "-q", "-m", "baseline"]);
    dir
}

fn regress(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin")).arg("regress").args(args).current_dir(dir).output().expect("twin runs")
}

#[test]
fn an_unchanged_tree_passes_with_tilde_everywhere_and_the_ref_baseline_equals_a_checkout() {
    let dir = repo(3);
    let p = dir.path();
    let o = regress(
        p,
        &[
            "--baseline-ref",
            "main",
            "--write-baseline",
            "base.json",
            "--write-results",
            "cand.json",
            "--junit",
            "j.xml",
            "--markdown",
            "m.md",
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("~ (p=1.000 n=12)") && out.contains("PASS") && !out.contains("regression ✗"), "{out}");
    // The baseline read from the ref equals the results of a checkout of it.
    let checkout = tempfile::tempdir().unwrap();
    git(checkout.path(), &["clone", "-q", p.to_str().unwrap(), "c"]);
    let c = checkout.path().join("c");
    let o = regress(&c, &["--write-results", "r.json", "--jobs", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let from_ref = std::fs::read(p.join("base.json")).unwrap();
    assert_eq!(from_ref, std::fs::read(c.join("r.json")).unwrap(), "baseline from the ref differs from a checkout's");
    // Same bytes at any thread count, and the candidate equals the baseline here.
    assert_eq!(from_ref, std::fs::read(p.join("cand.json")).unwrap());
    let junit = std::fs::read_to_string(p.join("j.xml")).unwrap();
    assert!(junit.contains("<testsuites") && !junit.contains("<failure"), "{junit}");
    let md = std::fs::read_to_string(p.join("m.md")).unwrap();
    assert!(md.contains("passed"), "{md}");
}

#[test]
fn a_costlier_workload_change_is_a_regression_with_exit_one() {
    let dir = repo(3);
    let p = dir.path();
    std::fs::write(p.join("fleet/deploy.yaml"), DEPLOY.replace("REPLICAS", "6")).unwrap();
    let o = regress(p, &["--baseline-ref", "HEAD", "--junit", "j.xml", "--markdown", "m.md"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("cost_per_month") && out.contains("regression") && out.contains("FAIL"), "{out}");
    let junit = std::fs::read_to_string(p.join("j.xml")).unwrap();
    assert!(junit.contains("<failure") && junit.contains("cost_per_month"), "{junit}");
    let md = std::fs::read_to_string(p.join("m.md")).unwrap();
    assert!(md.contains("failed"), "{md}");
    let team = md.lines().find(|l| l.starts_with("| assistant |")).unwrap_or_else(|| panic!("a row for the team:\n{md}"));
    assert!(team.ends_with("| ❌ worse |") && team.contains("% → "), "cost, SLO and P99 of the team, and its verdict: {team}");
}

#[test]
fn errors_exit_two_never_one() {
    let dir = repo(3);
    let p = dir.path();
    let o = regress(p, &["--baseline-ref", "no-such-branch"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("names no commit"), "{}", text(&o));
    std::fs::write(p.join("fleet/deploy.yaml"), DEPLOY.replace("cpu: \"2\"", "cpu: \"2x\"").replace("REPLICAS", "3")).unwrap();
    let o = regress(p, &["--baseline-ref", "HEAD"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("deploy.yaml") && text(&o).contains("cpu"), "{}", text(&o));
    std::fs::write(p.join("regress.toml"), SUITE.replace("count = 12", "count = 3")).unwrap();
    let o = regress(p, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// A/A: the same scenario on two disjoint seed sets, many times over. The
/// gate must flag at most alpha of the comparisons (family-wise).
#[test]
fn a_over_a_on_disjoint_seeds_flags_at_most_alpha() {
    let scenario = crate::scenario(
        r#"
format_version = 1
name = "aa"
horizon = "2h"
[[pools]]
name = "od"
node_type = "g6.xlarge"
capacity = "on-demand"
max_nodes = 6
[[services]]
name = "chat"
model = "llama-3.2-1b"
pools = ["od"]
replicas = 2
slo = { ttft = "300ms", e2e = "10s" }
arrivals = { mmpp = { rates = [1.0, 4.0], mean_durations = ["20m", "5m"] } }
prompt_tokens = { lognormal = { median = 400, sigma = 0.8 } }
output_tokens = { lognormal = { median = 150, sigma = 0.6 } }
autoscaler = { metric = "concurrency", target = 8, min = 1, max = 6 }
"#,
    );
    let suite =
        twin_regress::suite::SuiteSpec::from_toml("format_version = 1\nname = \"aa\"\n[[scenarios]]\nfile = \"x.toml\"\n", "aa.toml")
            .unwrap();
    let kpis: Vec<Kpi> = suite.kpis();
    let (reps, n) = (60, 20);
    let all = seeds(1, (2 * reps * n) as u32);
    use rayon::prelude::*;
    let measured: Vec<std::collections::BTreeMap<String, f64>> = all
        .par_iter()
        .map(|&seed| {
            twin_regress::measure::of_summary(&twin_sim::run(&scenario, seed, twin_sim::RunOptions::summary_only()).unwrap().summary, seed)
                .kpis
        })
        .collect();
    let mut flagged = 0;
    for r in 0..reps {
        let side = |k: &str, off: usize| -> Option<Vec<f64>> { (0..n).map(|i| measured[2 * r * n + off + i].get(k).copied()).collect() };
        let sides: Vec<(&Kpi, Vec<f64>, Vec<f64>)> = kpis.iter().filter_map(|k| Some((k, side(&k.name, 0)?, side(&k.name, n)?))).collect();
        let family: Vec<(&Kpi, &[f64], &[f64])> = sides.iter().map(|(k, a, b)| (*k, a.as_slice(), b.as_slice())).collect();
        if judge_all(&family, 0.05).unwrap().iter().any(|j| j.verdict.fails()) {
            flagged += 1;
        }
    }
    // At most alpha of 60: 3.
    assert!(flagged <= 3, "{flagged} of {reps} A/A comparisons flagged");
}

/// The FGD paper's experiment as a gate: the `spread` profile replacing
/// `fgd` on the openb pods strands more GPU. The baseline is a stored
/// results file here (`--baseline`), the other way the gate takes one.
#[test]
fn spread_replacing_fgd_on_openb_is_caught() {
    let Some(pods) = crate::shared_data("job_traces/alibaba_openb2023_pod_list_default.csv") else { return };
    let nodes = crate::shared_data("job_traces/alibaba_openb2023_node_list_gpu_node.csv").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("openb.toml"),
        format!(
            "format_version = 1\nname = \"openb\"\n[pod_trace]\nformat = \"openb\"\npods = \"{}\"\nnodes = \"{}\"\nfill_to = 1.1\n",
            pods.display(),
            nodes.display()
        ),
    )
    .unwrap();
    let suite = |profile: &str| {
        format!(
            "format_version = 1\nname = \"openb\"\nseeds = {{ count = 8 }}\n[[scenarios]]\nfile = \"openb.toml\"\nname = \"openb\"\nprofile = \"{profile}\"\n"
        )
    };
    std::fs::write(p.join("fgd.toml"), suite("fgd")).unwrap();
    std::fs::write(p.join("spread.toml"), suite("spread")).unwrap();
    let o = regress(p, &["--suite", "fgd.toml", "--write-results", "fgd.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = regress(p, &["--suite", "spread.toml", "--baseline", "fgd.json"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.lines().any(|l| l.starts_with("gpu_allocation") && l.contains("regression")), "{out}");
}

/// The library's office-hours surge with its predictive autoscaler at the
/// baseline revision; the pull request makes it reactive. The gate catches
/// the SLO lost at the morning ramp (the forecaster needs a day to learn,
/// so three days are run).
#[test]
fn a_reactive_autoscaler_replacing_a_predictive_one_is_caught() {
    let library = std::fs::read_to_string(crate::root().join("scenarios/predictive-vs-reactive.toml")).unwrap();
    // The scenario's predictive service alone, on its own pool.
    let head = &library[..library.find("[[services]]").unwrap()];
    let predictive = &library[library.rfind("[[services]]").unwrap()..];
    let scenario = format!("{}{predictive}", head.replace("horizon = \"4d\"", "horizon = \"3d\""));
    let reactive = scenario.replace(", predictive = { lead = \"15m\", season = \"24h\" }", "");
    assert_ne!(scenario, reactive);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("surge.toml"), &scenario).unwrap();
    std::fs::write(
        p.join("regress.toml"),
        "format_version = 1\nname = \"surge\"\nseeds = { count = 12 }\n[[scenarios]]\nfile = \"surge.toml\"\n",
    )
    .unwrap();
    git(p, &["init", "-q", "-b", "main"]);
    git(p, &["add", "."]);
    git(p, &["commit", "-q", "-m", "predictive"]);
    std::fs::write(p.join("surge.toml"), &reactive).unwrap();
    let o = regress(p, &["--baseline-ref", "main"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    for kpi in ["slo_attainment", "ttft_p99_ms"] {
        assert!(out.lines().any(|l| l.starts_with(kpi) && l.contains("✗ regression")), "{kpi}: {out}");
    }
}

fn twin_in(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_twin"));
    c.args(args).current_dir(dir).env_remove("JOB_COMPLETION_INDEX").env_remove("TWIN_SHARDS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("twin runs")
}

/// N shards run as separate processes with `JOB_COMPLETION_INDEX` set, as an
/// Indexed Job's pods run them, and merged, equal one unsharded run byte for
/// byte, for N of 1, 2, 5 and 13 (more shards than the 12 runs); the gate
/// judges the merged file as it judges a run; bad sets are refused by name.
#[test]
fn shards_merge_into_exactly_one_runs_results() {
    let dir = repo(3);
    let p = dir.path();
    let o = regress(p, &["--write-results", "full.json", "--jobs", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let full = std::fs::read(p.join("full.json")).unwrap();
    for n in [1u32, 2, 5, 13] {
        let folder = format!("shards-{n}");
        std::fs::create_dir(p.join(&folder)).unwrap();
        for i in 0..n {
            // The last set writes into the folder itself, as every pod of a Job is told to.
            let out = if n == 13 { folder.clone() } else { format!("{folder}/part-{i:02}.json") };
            let o = twin_in(
                p,
                &["regress", "--write-results", &out, "--jobs", "1"],
                &[("JOB_COMPLETION_INDEX", i.to_string()), ("TWIN_SHARDS", n.to_string())],
            );
            assert_eq!(o.status.code(), Some(0), "shard {i}/{n}: {}", text(&o));
        }
        let merged = format!("merged-{n}.json");
        let o = twin_in(p, &["merge", &folder, "--out", &merged], &[]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert_eq!(std::fs::read(p.join(&merged)).unwrap(), full, "{n} shards merged differ from one run");
    }

    // The gate judges a merged candidate as it judges one it ran.
    let ran = regress(p, &["--baseline", "full.json", "--jobs", "1"]);
    let merged = regress(p, &["--baseline", "full.json", "--candidate", "merged-5.json"]);
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged));
    assert_eq!(String::from_utf8_lossy(&merged.stdout), String::from_utf8_lossy(&ran.stdout));

    // A missing shard, a shard twice, a shard of another suite: exit 2, named.
    std::fs::remove_file(p.join("shards-5/part-03.json")).unwrap();
    let o = twin_in(p, &["merge", "shards-5", "--out", "x.json"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("missing shard 3/5"), "{}", text(&o));
    std::fs::copy(p.join("shards-5/part-02.json"), p.join("shards-5/part-03.json")).unwrap();
    let o = twin_in(p, &["merge", "shards-5", "--out", "x.json"], &[]);
    assert!(text(&o).contains("shard 2/5 is here twice"), "{}", text(&o));
    std::fs::write(p.join("regress.toml"), SUITE.replace("count = 12", "count = 10")).unwrap();
    let o = twin_in(p, &["regress", "--shard", "3/5", "--write-results", "shards-5/part-03.json", "--jobs", "1"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = twin_in(p, &["merge", "shards-5", "--out", "x.json"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("part-03.json is a shard of another run: its suite"), "{}", text(&o));
    assert!(!p.join("x.json").exists(), "nothing written from a bad set");
    // A shard without somewhere to write, and a bad index, are errors.
    let o = twin_in(p, &["regress", "--shard", "5/5"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = twin_in(p, &["regress", "--write-results", "y.json"], &[("JOB_COMPLETION_INDEX", "1".into())]);
    assert!(text(&o).contains("TWIN_SHARDS is not"), "{}", text(&o));
}

/// `--emit-k8s-job` renders the suite as an Indexed Job; its pods, played
/// here as processes (the ConfigMap's files laid out as its volume mounts
/// them, `JOB_COMPLETION_INDEX` and `TWIN_SHARDS` set as Kubernetes sets
/// them, the container's arguments as written), then the merge Job's, write
/// the very results file one unsharded run writes.
#[test]
fn a_suite_renders_as_an_indexed_job_whose_pods_merge_into_one_run() {
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::ConfigMap;
    let dir = repo(3);
    let p = dir.path();
    let o = regress(p, &["--write-results", "full.json", "--jobs", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = twin_in(
        p,
        &["regress", "--jobs", "1", "--emit-k8s-job", "k8s", "--shards", "4", "--image", "twin:test", "--job-name", "gate"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let read = |f: &str| std::fs::read_to_string(p.join("k8s").join(f)).unwrap();
    let job: Job = serde_saphyr::from_str(&read("job.yaml")).unwrap();
    let spec = job.spec.unwrap();
    assert_eq!((spec.completions, spec.completion_mode.as_deref()), (Some(4), Some("Indexed")));
    let pod = spec.template.spec.unwrap();
    assert!(pod.containers[0].resources.as_ref().and_then(|r| r.limits.as_ref()).is_none_or(|l| !l.contains_key("nvidia.com/gpu")));
    let cm: ConfigMap = serde_saphyr::from_str(&read("configmap.yaml")).unwrap();
    let data = cm.data.unwrap();
    // The ConfigMap volume as the kubelet lays it out.
    let input = p.join("input");
    let volume = pod.volumes.unwrap().into_iter().find(|v| v.name == "input").unwrap();
    for item in volume.config_map.unwrap().items.unwrap() {
        let at = input.join(&item.path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::write(at, &data[&item.key]).unwrap();
    }
    assert!(input.join("fleet/deploy.yaml").is_file(), "the manifests the scenario names travel with it");
    let local = |args: Vec<String>| -> Vec<String> {
        args.into_iter()
            .map(|a| a.replace("/twin/input", input.to_str().unwrap()).replace("/twin/results", p.join("results").to_str().unwrap()))
            .collect()
    };
    let c = &pod.containers[0];
    let shards = c.env.as_ref().unwrap().iter().find(|e| e.name == "TWIN_SHARDS").unwrap().value.clone().unwrap();
    let args = local(c.args.clone().unwrap());
    for i in 0..4 {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = twin_in(p, &a, &[("JOB_COMPLETION_INDEX", i.to_string()), ("TWIN_SHARDS", shards.clone())]);
        assert_eq!(o.status.code(), Some(0), "pod {i}: {}", text(&o));
    }
    let merge: Job = serde_saphyr::from_str(&read("merge-job.yaml")).unwrap();
    let margs = local(merge.spec.unwrap().template.spec.unwrap().containers[0].args.clone().unwrap());
    let o = twin_in(p, &margs.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read(p.join("results/gate/results.json")).unwrap(), std::fs::read(p.join("full.json")).unwrap());
}
