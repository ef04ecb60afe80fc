//! The scheduler, policies and external schedulers in the loop, as a user
//! meets them through `twin`.

use std::path::Path;
use std::process::{Command, Output};

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin")).args(args).current_dir(crate::root()).output().expect("twin runs")
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

#[test]
fn the_rego_library_passes_its_own_tests() {
    let o = twin(&["policy", "test", "policies"]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    assert!(out.contains("26 passed, 0 failed"), "{out}");
    assert_eq!(out.matches("PASS  [gatekeeper]").count(), 10, "the admission tests again, as Gatekeeper runs them: {out}");
}

#[test]
fn a_failing_rego_test_fails_the_command() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.rego"),
        "package twin.placement\n\nviolation contains {\"msg\": \"x\", \"details\": {\"rule\": \"r\"}} if input.bad\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p_test.rego"),
        "package twin.placement_test\n\ntest_never if {\n\tcount(data.twin.placement.violation) == 1 with input as {\"bad\": false}\n}\n",
    )
    .unwrap();
    let o = twin(&["policy", "test", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).contains("FAIL"), "{}", text(&o.stdout));
}

#[test]
fn validate_compiles_the_policies_a_scenario_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.rego"), "package twin.admission\n\nviolation contains msg if {\n\tmsg := \n}\n").unwrap();
    std::fs::write(dir.path().join("norule.rego"), "package twin.scaling\n\ndeny contains \"no\" if input.x\n").unwrap();
    let base = "format_version = 1\nname = \"p\"\nhorizon = \"1h\"\n[[pools]]\nname = \"a\"\nnode_type = \"g6.xlarge\"\ncapacity = \"on-demand\"\n";
    for (file, expected) in [
        ("bad.rego", "bad.rego"),
        ("norule.rego", "package twin.scaling must define `violation contains"),
        ("missing.rego", "missing.rego"),
    ] {
        let scenario = dir.path().join("s.toml");
        std::fs::write(&scenario, format!("{base}[policies]\nfiles = [\"{file}\"]\n")).unwrap();
        let o = twin(&["validate", scenario.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{file}: {}", text(&o.stdout));
        let err = text(&o.stderr);
        assert!(err.contains("[policies]") && err.contains(expected), "{file}: {err}");
    }
}

#[test]
fn guardrails_deny_with_their_rules_in_the_summary() {
    let o = twin(&["run", "policy-guardrails", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let denials = v["scheduling"]["denials"].as_array().unwrap();
    let rules: Vec<&str> = denials.iter().map(|d| d["rule"].as_str().unwrap()).collect();
    for rule in ["allowed-registry", "data-residency", "team-gpu-quota", "critical-not-on-spot", "team-budget"] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
    // The critical service never ran on spot; the residency-bound one never ran.
    let pools = v["pools"].as_array().unwrap();
    assert!(v["services"][0]["finished"].as_u64().unwrap() > 0);
    assert_eq!(v["services"][2]["finished"], 0);
    assert_eq!(v["services"][2]["dropped"]["rejected_by_policy"], v["services"][2]["arrived"]);
    // Its autoscaler (min 1) never brings a replica up behind the policy's back.
    assert_eq!(v["services"][2]["replicas_started"], 0);
    assert_eq!(v["services"][2]["peak_replicas"], 0);
    assert_eq!(v["services"][2]["cost"], 0.0);
    assert_eq!(v["jobs"]["rejected"], 2);
    assert!(pools.iter().any(|p| p["name"] == "h100-od" && p["gpu_hours"].as_f64().unwrap() > 0.0));
}

#[test]
fn a_python_scheduler_places_a_whole_scenario() {
    let o = twin(&["run", "examples/external-scheduler.toml", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["placement"], "external: python best-fit");
    assert!(v["services"][0]["finished"].as_u64().unwrap() > 100_000);
    assert_eq!(v["jobs"]["finished"], 1, "the 16-GPU gang was placed over two nodes");
}

/// A scenario using `script` as its external scheduler, written beside it.
fn external(dir: &Path, script: &str) -> String {
    std::fs::write(dir.join("sched.py"), script).unwrap();
    let scenario = r#"
format_version = 1
name = "ext"
horizon = "1h"
[scheduler]
external = { command = ["python3", "sched.py"], timeout = "1s" }
[[pools]]
name = "l4"
node_type = "g6.xlarge"
capacity = "on-demand"
initial_nodes = 1
[[services]]
name = "s"
model = "llama-3.2-1b"
pools = ["l4"]
replicas = 2
slo = { ttft = "1s", e2e = "5s" }
arrivals = { poisson = { rate = 1.0 } }
prompt_tokens = 100
output_tokens = 10
"#;
    let path = dir.join("ext.toml");
    std::fs::write(&path, scenario).unwrap();
    path.to_str().unwrap().to_string()
}

const HELLO: &str = "import json, sys\nline = sys.stdin.readline()\nprint(json.dumps({'type': 'ready'}), flush=True)\n";

#[test]
fn external_scheduler_failures_end_the_run_naming_the_message_and_write_nothing() {
    let cases = [
        ("crash", format!("{HELLO}sys.stdin.readline()\nsys.stderr.write('boom: no capacity model\\n')\nsys.exit(3)\n"), "exited"),
        ("hang", format!("{HELLO}import time\nsys.stdin.readline()\ntime.sleep(30)\n"), "did not answer message 2"),
        (
            "malformed",
            format!("{HELLO}sys.stdin.readline()\nprint('this is not json', flush=True)\nsys.stdin.readline()\n"),
            "malformed JSON: this is not json",
        ),
        (
            "bad-node",
            format!(
                "{HELLO}sys.stdin.readline()\nprint(json.dumps({{'type': 'bind', 'nodes': [99], 'per_node': 1}}), flush=True)\nsys.stdin.readline()\n"
            ),
            "node 99",
        ),
    ];
    for (name, script, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let scenario = external(dir.path(), &script);
        let out = dir.path().join("results");
        let o = twin(&["run", &scenario, "--out", out.to_str().unwrap()]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(expected), "{name}: {err}");
        assert!(err.contains("message 2 (decide for s/replica-0"), "{name}: the message at fault is named: {err}");
        assert!(!err.contains("message 3"), "{name}: nothing more is asked once a session failed: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(!out.exists(), "{name}: results were written");
        if name == "crash" {
            assert!(err.contains("boom: no capacity model"), "the scheduler's stderr is shown: {err}");
        }
    }
}

#[test]
fn explain_tells_the_story_of_each_kind_of_subject() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let o = twin(&["run", "mixed-fleet", "--out", out.to_str().unwrap(), "--tables", "parquet"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let dir_s = out.to_str().unwrap();
    let job = text(&twin(&["explain", dir_s, "--job", "pretrain-7b"]).stdout);
    assert!(job.starts_with("job pretrain-7b (team research, 16 GPUs)"), "{job}");
    assert!(job.contains("placement  bound") && job.contains("gang of 2 × 8"), "{job}");
    let svc = text(&twin(&["explain", dir_s, "--service", "assistant"]).stdout);
    assert!(svc.contains("scale-up") && svc.contains("target 48"), "{svc}");
    let req = text(&twin(&["explain", dir_s, "--request", "1000"]).stdout);
    assert!(req.starts_with("request 1000 to "), "{req}");
    assert!(req.contains("first token after") && req.contains("served by replica-"), "{req}");
    let node = text(&twin(&["explain", dir_s, "--node", "h100-onprem/node-0"]).stdout);
    assert!(node.contains("bound"), "{node}");
    let missing = twin(&["explain", dir_s, "--job", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no job `nope`"));
}

#[test]
fn priority_work_preempts_and_the_victim_rolls_back() {
    let s = crate::scenario(
        r#"
format_version = 1
name = "preempt"
horizon = "6h"
[[pools]]
name = "h100"
node_type = "p5.48xlarge"
capacity = "reserved"
nodes = 1
price = 30.0
[[training]]
name = "background"
pools = ["h100"]
gpus = 8
work_gpu_hours = 100
checkpoint_interval = "30m"
scheduling = { priority = 0 }
[[training]]
name = "urgent"
pools = ["h100"]
gpus = 8
work_gpu_hours = 8
submit_at = "2h10m"
scheduling = { priority = 100 }
"#,
    );
    let out = twin_sim::run(&s, 1, twin_sim::RunOptions::default()).unwrap();
    assert_eq!(out.summary.scheduling.preemptions, 1);
    let bg = out.records.jobs.iter().find(|j| j.name == "background").unwrap();
    let urgent = out.records.jobs.iter().find(|j| j.name == "urgent").unwrap();
    assert_eq!(bg.preemptions, 1);
    // Checkpoints of a minute every half hour of compute: the last one ends at
    // 2h04m; preempted at 2h10m, six minutes of eight GPUs are lost.
    assert!((bg.lost_gpu_hours - 8.0 * 6.0 / 60.0).abs() < 0.01, "{}", bg.lost_gpu_hours);
    assert_eq!(urgent.state, "finished");
    assert!(urgent.start_s.unwrap() < 2.0 * 3600.0 + 11.0 * 60.0);
    let evicted = out.records.decisions.iter().find(|d| d.outcome == "evicted").unwrap();
    assert_eq!(evicted.subject, "background");
    assert!(evicted.detail.contains("by urgent (priority 100)"), "{}", evicted.detail);
}

#[test]
fn scheduler_mistakes_in_a_scenario_are_located() {
    let base = "format_version = 1\nname = \"x\"\nhorizon = \"1h\"\n[[pools]]\nname = \"p\"\nnode_type = \"g6.xlarge\"\ncapacity = \"on-demand\"\n";
    let e = twin_sim::scenario::Scenario::from_toml(&format!("{base}[scheduler]\nprofile = \"fastest\"\n"), "s.toml").unwrap_err().0;
    assert_eq!(e[0].field, "scheduler.profile");
    assert_eq!(e[0].line, 9);
    assert!(e[0].hint.as_deref().unwrap().contains("fgd"));
    let e = twin_sim::scenario::Scenario::from_toml(
        &format!("{base}[scheduler]\nprofile = {{ plugins = [{{ name = \"bin-pack\" }}, {{ name = \"magic\" }}] }}\n"),
        "s.toml",
    )
    .unwrap_err()
    .0;
    assert_eq!(e[0].field, "scheduler.profile.plugins[1].name");
    assert!(e[0].hint.as_deref().unwrap().contains("fragmentation-aware"));
}

#[test]
fn forecasting_halves_the_morning_drops_at_the_same_cost() {
    let s = crate::scenario(&std::fs::read_to_string(crate::root().join("scenarios/predictive-vs-reactive.toml")).unwrap());
    let out = twin_sim::run(&s, s.spec.seed, twin_sim::RunOptions::summary_only()).unwrap();
    let (r, p) = (&out.summary.services[0], &out.summary.services[1]);
    assert_eq!((r.name.as_str(), p.name.as_str()), ("reactive", "predictive"));
    let drops = |s: &twin_sim::metrics::ServiceSummary| s.dropped.values().sum::<u64>() as f64;
    assert!(drops(p) < 0.75 * drops(r), "predictive {} vs reactive {}", drops(p), drops(r));
    assert!(p.slo_attainment > r.slo_attainment);
    assert!((p.cost / r.cost - 1.0).abs() < 0.05, "cost {} vs {}", p.cost, r.cost);
}

/// The openb trace's folder in ../shared/data (see [`crate::shared_data`]).
fn openb_data() -> Option<std::path::PathBuf> {
    crate::shared_data("job_traces/alibaba_openb2023_pod_list_default.csv").map(|f| f.parent().unwrap().to_path_buf())
}

#[test]
fn openb_replay_shows_fgd_stranding_the_least_gpu() {
    if openb_data().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("openb");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["run", "scenarios/openb-fragmentation.toml", "--format", "json", "--tables", "csv", "--out"])
        .arg(&out)
        .current_dir(crate::root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["nodes"].as_u64(), v["gpus"].as_u64(), v["pods"].as_u64()), (Some(1213), Some(6212), Some(8152)));
    let end = |profile: &str, field: &str| {
        let p = v["profiles"].as_array().unwrap().iter().find(|p| p["profile"] == profile).unwrap_or_else(|| panic!("{profile}"));
        p["end"][field].as_f64().unwrap()
    };
    for p in ["default", "bin-pack", "spread", "cost-aware", "gavel", "fgd"] {
        assert!(end(p, "arrived") >= 1.3, "{p} filled to 130%");
        let accounted = end(p, "allocated") + end(p, "unscheduled_demand");
        assert!((accounted - end(p, "arrived")).abs() < 1e-9, "{p}: every arrived GPU is allocated or unscheduled");
    }
    // The FGD paper's finding on its own data: FGD allocates more and strands less.
    for other in ["bin-pack", "spread", "cost-aware"] {
        assert!(end("fgd", "allocated") > end(other, "allocated") + 0.005, "fgd vs {other}");
        assert!(end("fgd", "fragmented") < end(other, "fragmented"), "fgd vs {other}");
    }
    let csv = std::fs::read_to_string(out.join("fragmentation.csv")).unwrap();
    assert!(csv.starts_with("profile,pods,arrived,allocated,fragmented,fragmented_of_free,unscheduled,unscheduled_demand\n"));
    assert_eq!(csv.lines().filter(|l| l.starts_with("fgd,")).count(), 26, "a point every 5% up to 130%");
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), o.stdout.strip_suffix(b"\n").unwrap());
}

#[test]
fn a_pod_trace_with_a_missing_file_names_it_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.toml");
    std::fs::write(
        &path,
        "format_version = 1\nname = \"missing\"\n[pod_trace]\npods = \"nope/pods.csv\"\nnodes = \"nope/nodes.csv\"\nprofiles = [\"fgd\"]\n",
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_twin")).args(["run"]).arg(&path).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nope/nodes.csv") && err.contains("pod_trace.nodes"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_pod_trace_scenario_takes_no_fleet_of_its_own() {
    let text = "format_version = 1\nname = \"x\"\n[pod_trace]\npods = \"p.csv\"\nnodes = \"n.csv\"\nprofiles = [\"fgd\", \"nope\"]\nfill_to = 0\n\n[[pools]]\nname = \"od\"\nnode_type = \"g6.xlarge\"\ncapacity = \"on-demand\"\nmax_nodes = 1\n";
    let e = twin_sim::scenario::Scenario::from_toml(text, "x.toml").unwrap_err().to_string();
    assert!(e.contains("x.toml:9") && e.contains("`pools` has no place here"), "{e}");
    assert!(e.contains("pod_trace.profiles[1]") && e.contains("no scheduler profile `nope`"), "{e}");
    assert!(e.contains("pod_trace.fill_to"), "{e}");
}

/// A scheduler that tries to cheat: both members of an 8-GPU gang on one
/// 4-GPU node, a zero-GPU bind, a replica spread over two nodes. Twin refuses
/// each, traces it, and never over-allocates a node.
#[test]
fn an_external_scheduler_cannot_over_allocate_or_shortchange_work() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg['type'] == 'hello':
        print(json.dumps({'type': 'ready', 'name': 'cheat'}), flush=True)
        continue
    req = msg['request']
    ready = [n['id'] for n in msg['nodes'] if n['state'] == 'ready']
    if req['workload'] == 'gang':
        answer = {'type': 'bind', 'nodes': [ready[0], ready[0]], 'per_node': 4, 'why': 'same node twice'}
    elif req['workload'] == 'tiny':
        answer = {'type': 'bind', 'nodes': [ready[0]], 'per_node': 0, 'why': 'for free'}
    else:
        answer = {'type': 'bind', 'nodes': ready[:2], 'per_node': 1, 'why': 'a replica on two nodes'}
    print(json.dumps(answer), flush=True)
"#;
    std::fs::write(dir.path().join("cheat.py"), script).unwrap();
    let scenario = r#"
format_version = 1
name = "cheat"
horizon = "30m"
[scheduler]
external = { command = ["python3", "cheat.py"], timeout = "5s" }
[[pools]]
name = "l4x4"
node_type = "g6.12xlarge"
capacity = "on-demand"
initial_nodes = 2
max_nodes = 2
[[services]]
name = "svc"
model = "llama-3.2-1b"
pools = ["l4x4"]
gpus_per_replica = 2
slo = { ttft = "1s", e2e = "5s" }
arrivals = { poisson = { rate = 0.5 } }
prompt_tokens = 100
output_tokens = 10
[[training]]
name = "gang"
pools = ["l4x4"]
gpus = 8
work_gpu_hours = 1.0
[[training]]
name = "tiny"
pools = ["l4x4"]
gpus = 1
work_gpu_hours = 0.1
"#;
    let path = dir.path().join("cheat.toml");
    std::fs::write(&path, scenario).unwrap();
    let out = dir.path().join("run");
    let o = twin(&["run", path.to_str().unwrap(), "--format", "json", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["jobs"]["finished"], 0, "no job ran on what it was not given: {v}");
    assert_eq!(v["jobs"]["running"], 0);
    assert_eq!(v["services"][0]["finished"], 0, "the replica was never bound");
    assert!(v["pools"][0]["allocation"].as_f64().unwrap_or(0.0) <= 1e-9, "nothing allocated: {}", v["pools"][0]);
    for (what, id) in [("--job", "gang"), ("--job", "tiny"), ("--service", "svc")] {
        let e = twin(&["explain", out.to_str().unwrap(), what, id]);
        let story = text(&e.stdout);
        assert!(e.status.success(), "{}", text(&e.stderr));
        assert!(story.contains("invalid-bind"), "{id}: {story}");
    }
}

/// The launch-day surge with the autoscaler on P95 time to first token
/// instead of concurrency: it still scales out, and without it the service
/// drowns.
#[test]
fn a_latency_autoscaler_rescues_the_launch_day_surge() {
    let text = std::fs::read_to_string(crate::root().join("scenarios/autoscaler-rescue.toml")).unwrap();
    let concurrency = r#"autoscaler = { metric = "concurrency", target = 20, min = 2, max = 40, interval = "15s", scale_down_window = "5m", max_step_up = 4 }"#;
    assert!(text.contains(concurrency));
    let latency = text.replace(
        concurrency,
        r#"autoscaler = { metric = "ttft", target = 0.5, percentile = 0.95, min = 2, max = 40, interval = "15s", scale_down_window = "5m", max_step_up = 4, max_step_down = 2 }"#,
    );
    let fixed = text.replace(concurrency, "");
    let run = |t: &str| twin_sim::run(&crate::scenario(t), 11, twin_sim::RunOptions::summary_only()).unwrap().summary.services.remove(0);
    let (l, f) = (run(&latency), run(&fixed));
    assert!(l.scale_ups >= 3 && l.peak_replicas > 8, "scaled out: {} ups, peak {}", l.scale_ups, l.peak_replicas);
    assert!(l.slo_attainment > f.slo_attainment + 0.2, "latency-scaled {} vs fixed {}", l.slo_attainment, f.slo_attainment);
    let drops = |s: &twin_sim::metrics::ServiceSummary| s.dropped.values().sum::<u64>();
    assert!(drops(&l) * 4 < drops(&f), "drops {} vs {}", drops(&l), drops(&f));
}

/// Replicas that each need a node of their own at the start (one-GPU nodes
/// from an empty on-demand pool) are bound to the nodes launched for them.
/// A start-up pass that only launched nodes used to end the start-up, and
/// the replicas waited all run beside idle, billed nodes.
#[test]
fn replicas_that_each_launch_a_node_at_the_start_are_bound_to_them() {
    let s = crate::scenario(
        r#"format_version = 1
name = "one-gpu-nodes"
horizon = "1h"
seed = 1

[[pools]]
name = "l4-od"
node_type = "g6.xlarge"
capacity = "on-demand"
max_nodes = 10

[[services]]
name = "classifier"
pools = ["l4-od"]
replicas = 4
service_time = { fixed = { duration = "60ms" } }
max_batch = 4
slo = { ttft = "500ms", e2e = "500ms", target = 0.99 }
arrivals = { poisson = { rate = 30.0 } }
"#,
    );
    let out = twin_sim::run(&s, 1, twin_sim::RunOptions::summary_only()).unwrap();
    let svc = &out.summary.services[0];
    assert_eq!(svc.peak_replicas, 4);
    assert!(svc.slo_met, "served from the start: {:.4}", svc.slo_attainment);
    assert_eq!(out.summary.pools[0].peak_nodes, 4, "one node a replica, none extra");
}
