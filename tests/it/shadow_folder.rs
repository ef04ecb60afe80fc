//! A `twin shadow --out` folder read back by `twin explain` and the TUI, and the Grafana dashboard against the live /metrics.

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::shadow::{SMI, WATCH};

fn twin(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin")).args(args).current_dir(dir).output().expect("twin runs")
}

/// `dir/out`, as `twin shadow` writes it on the watch and the CSV above.
fn shadow_out(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("watch.json"), WATCH).unwrap();
    std::fs::write(dir.join("smi.csv"), SMI).unwrap();
    let o = twin(
        dir,
        &[
            "shadow",
            "--telemetry",
            "nvidia-smi:smi.csv",
            "--cluster",
            "kubectl:watch.json",
            "--out",
            "out",
            "--duration",
            "2s",
            "--idle-after",
            "1m",
        ],
    );
    assert!(o.status.success(), "{}", crate::text(&o));
    dir.join("out")
}

#[test]
fn explain_tells_what_a_shadow_folder_found() {
    let dir = tempfile::tempdir().unwrap();
    shadow_out(dir.path());

    // No subject: the summary and a line per divergence.
    let o = twin(dir.path(), &["explain", "out"]);
    let text = crate::text(&o);
    assert!(o.status.success(), "{text}");
    let counts = text.lines().find(|l| l.starts_with("  divergences: ")).unwrap_or_default();
    assert!(counts.contains("1 idle") && counts.contains("1 placement"), "{text}");
    for want in [
        "shadow folder out: profile cost-aware",
        "counterfactual saving: 16.50 $/h",
        "samples in: nvidia-smi:smi.csv 4",
        "gaps: none",
        "health: kubectl:watch.json up · nvidia-smi:smi.csv up",
    ] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }
    // A line per divergence: time, kind, subject, what.
    let line =
        |kind: &str| text.lines().find(|l| l.split_whitespace().nth(2) == Some(kind)).unwrap_or_else(|| panic!("no {kind} in:\n{text}"));
    assert!(
        line("placement").contains("ml/train") && line("placement").ends_with("Twin: gpu-cheap, actual: gpu-dear: saves 16.50 $/h"),
        "{text}"
    );
    assert!(
        line("idle").contains("GPU 0") && line("idle").ends_with("0 % utilisation, idle 1m 0s since 2026-12-07 10:00:00.000"),
        "{text}"
    );

    // --pod: the placement in full, both nodes side by side.
    let o = twin(dir.path(), &["explain", "out", "--pod", "ml/train"]);
    let text = crate::text(&o);
    assert!(o.status.success(), "{text}");
    for want in [
        "1 divergence(s) about pod ml/train in out:",
        "placement · ml/train · 2 GPU(s) · profile cost-aware",
        "Twin saves 16.50 $/h (cost difference -16.50 $/h, Twin's node minus actual)",
        "actual (real scheduler)   Twin (cost-aware)",
        "node                  gpu-dear                  gpu-cheap",
        "  cost-aware          0                         100",
        "price $/node-h        98.00                     32.00",
        "pod's cost $/h        24.50                     8.00",
        "refused               -                         -",
        "why: cost-aware prefers gpu-cheap",
    ] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }
    assert!(!text.contains("idle ·"), "only the pod's divergences:\n{text}");

    // --node: the divergences that involve the node, either side of a placement.
    for node in ["gpu-dear", "gpu-cheap"] {
        let o = twin(dir.path(), &["explain", "out", "--node", node]);
        let text = crate::text(&o);
        assert!(o.status.success() && text.contains(&format!("divergence(s) involving node {node}")), "{text}");
        assert!(text.contains("placement · ml/train"), "{text}");
    }
    let o = twin(dir.path(), &["explain", "out", "--node", "gpu-none"]);
    let text = crate::text(&o);
    assert!(!o.status.success() && text.contains("no divergence involves node gpu-none") && text.contains("gpu-cheap, gpu-dear"), "{text}");
    let o = twin(dir.path(), &["explain", "out", "--pod", "ml/other"]);
    assert!(!o.status.success() && crate::text(&o).contains("the pods it names: ml/train"), "{}", crate::text(&o));

    // Options of run folders say which apply here.
    let o = twin(dir.path(), &["explain", "out", "--job", "pretrain"]);
    let text = crate::text(&o);
    assert!(!o.status.success() && text.contains("--job does not apply") && text.contains("--pod NAMESPACE/NAME or --node NAME"), "{text}");
}

#[test]
fn explain_names_the_file_line_and_field_of_a_bad_line_and_reads_a_log_still_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let good = r#"{"kind":"idle","observed_ns":1796637660000000000,"host":"gpu-a","gpu":3,"since_ns":1796637600000000000,"at_ns":1796637660000000000}"#;
    let replicas = r#"{"kind":"replicas","observed_ns":1796637670000000000,"workload":"web/chat","actual":5,"twin":3,"metric":"gpu-utilisation","value":0.35,"target":0.6,"why":"fewer replicas keep utilisation under the target"}"#;
    let unknown = r#"{"kind":"preemption","observed_ns":1796637680000000000,"node":"gpu-a","victims":["ml/x"],"note":"a kind this reader does not know"}"#;
    // Still running: no summary, and the last line not finished.
    std::fs::write(out.join("divergences.jsonl"), format!("{good}\n{replicas}\n{unknown}\n{}", &good[..30])).unwrap();
    let o = twin(dir.path(), &["explain", "out"]);
    let text = crate::text(&o);
    assert!(o.status.success(), "{text}");
    for want in [
        "no shadow-summary.json yet",
        "from divergences.jsonl alone",
        "divergences: 3 (1 idle, 1 preemption, 1 replicas)",
        "line 4 of divergences.jsonl is unfinished (being written) and left out",
        "web/chat",
        "Twin: 3 replicas, actual: 5 (gpu-utilisation 0.35 for target 0.6)",
        "preemption",
    ] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }
    // A kind the reader does not know still shows, field by field.
    let o = twin(dir.path(), &["explain", "out", "--node", "gpu-a"]);
    let text = crate::text(&o);
    assert!(o.status.success() && text.contains(r#"victims: ["ml/x"]"#) && text.contains("note: a kind this reader"), "{text}");

    // A bad line: the file, the line, the field and the fix; no panic.
    let bad = r#"{"kind":"placement","observed_ns":1796637690000000000,"pod":"ml/train","actual":{"name":"gpu-dear"},"twin":"gpu-cheap"}"#;
    std::fs::write(out.join("divergences.jsonl"), format!("{good}\n{bad}\n")).unwrap();
    let o = twin(dir.path(), &["explain", "out"]);
    let text = crate::text(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("out/divergences.jsonl:2: field `twin`: string \"gpu-cheap\" where an object was expected"), "{text}");
    assert!(text.contains("repair line 2 or delete it"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    std::fs::write(out.join("divergences.jsonl"), format!("{good}\n{{\"kind\":\"idle\",\"observed_ns\":\"soon\"}}\n")).unwrap();
    let text = crate::text(&twin(dir.path(), &["explain", "out"]));
    assert!(text.contains("divergences.jsonl:2: field `observed_ns`: string \"soon\""), "{text}");
    // Once the summary is written, an unfinished last line is a bad line.
    std::fs::write(out.join("divergences.jsonl"), format!("{good}\n{}", &good[..30])).unwrap();
    std::fs::write(out.join("shadow-summary.json"), r#"{"profile":"cost-aware","divergences":{"idle":2}}"#).unwrap();
    let text = crate::text(&twin(dir.path(), &["explain", "out"]));
    assert!(text.contains("divergences.jsonl:2: not JSON"), "{text}");

    // A run folder: --pod does not apply, and no subject is the usual error.
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join("summary.json"), "{}").unwrap();
    let text = crate::text(&twin(dir.path(), &["explain", "run", "--pod", "ml/train"]));
    assert!(text.contains("--pod explains a folder written by `twin shadow --out`"), "{text}");
    let text = crate::text(&twin(dir.path(), &["explain", "run"]));
    assert!(text.contains("say what to explain: --job, --request, --node or --service"), "{text}");
}

/// The names a Prometheus query can use for each family of `/metrics`:
/// a counter's samples end in `_total` (and `_created`), a histogram's in
/// `_bucket`, `_sum` and `_count`.
fn served_names(metrics: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else { continue };
        let mut parts = rest.split_whitespace();
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else { continue };
        let suffixes: &[&str] = match kind {
            "counter" => &["_total", "_created"],
            "histogram" | "gaugehistogram" => &["_bucket", "_sum", "_count", "_created"],
            "summary" => &["_sum", "_count", "_created"],
            "info" => &["_info"],
            _ => &[],
        };
        names.insert(name.to_string());
        for s in suffixes {
            names.insert(format!("{name}{s}"));
        }
    }
    names
}

/// Every `twin_shadow_...` metric name in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("twin_shadow_") {
        let tail = &rest[i..];
        let end = tail.find(|c: char| !(c.is_ascii_lowercase() || c == '_')).unwrap_or(tail.len());
        out.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// Every panel of a dashboard, rows' nested panels too.
fn panels(v: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in v["panels"].as_array().into_iter().flatten() {
        out.push(p);
        out.extend(panels(p));
    }
    out
}

/// `twin shadow` serving `/metrics`, killed when the test ends however it ends.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get_metrics(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    Ok(raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

#[test]
fn the_grafana_dashboard_queries_only_metrics_shadow_serves() {
    let path = crate::root().join("examples/grafana/twin-shadow.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("the dashboard is JSON");
    assert!(dashboard["__inputs"].as_array().unwrap().iter().any(|i| i["name"] == "DS_PROMETHEUS" && i["pluginId"] == "prometheus"));
    assert!((36..=41).contains(&dashboard["schemaVersion"].as_u64().unwrap()), "{}", dashboard["schemaVersion"]);
    let all = panels(&dashboard);
    let ids: BTreeSet<u64> = all.iter().map(|p| p["id"].as_u64().expect("every panel has an id")).collect();
    assert_eq!(ids.len(), all.len(), "panel ids are unique");
    let mut used: BTreeSet<String> = BTreeSet::new();
    for p in all.iter().filter(|p| p["type"] != "row") {
        let title = p["title"].as_str().unwrap_or("?");
        assert_eq!(p["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}");
        let targets = p["targets"].as_array().filter(|t| !t.is_empty()).unwrap_or_else(|| panic!("{title}: no query"));
        for t in targets {
            let expr = t["expr"].as_str().unwrap_or_else(|| panic!("{title}: a target without expr"));
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{title}: {expr} reads no twin_shadow metric");
            used.extend(names);
        }
    }
    for want in [
        "samples_total",
        "gaps_total",
        "divergences_total",
        "counterfactual_saving_dollars_per_hour",
        "source_health",
        "cost_dollars",
        "idle_gpus",
    ] {
        assert!(used.contains(&format!("twin_shadow_{want}")), "a panel shows twin_shadow_{want}: {used:?}");
    }

    // The live /metrics of a shadow on a recorded nvidia-smi CSV and watch
    // (a family shows on /metrics once it has a sample: the idle GPU makes
    // a divergence, the CSV started over a gap).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("smi.csv"), SMI).unwrap();
    std::fs::write(dir.path().join("watch.json"), WATCH).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["shadow", "--telemetry", "nvidia-smi:smi.csv", "--cluster", "kubectl:watch.json", "--listen", "127.0.0.1:0"])
        .args(["--idle-after", "1m", "--duration", "30s"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("twin runs");
    let addr = crate::shadow::listening(&mut child);
    let serving = Serving(child);
    // Waits (20 s at most) for `want` on /metrics; the last text either way.
    let metrics_with = |want: &str| {
        let start = Instant::now();
        loop {
            let text = get_metrics(addr).unwrap_or_default();
            if text.contains(want) || start.elapsed() > Duration::from_secs(20) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    metrics_with("twin_shadow_divergences_total{kind=\"idle\"} 1");
    // The CSV starts over (nvidia-smi restarted): a gap.
    std::fs::write(dir.path().join("smi.csv"), SMI.lines().take(2).map(|l| format!("{l}\n")).collect::<String>().replace("10:00", "10:05"))
        .unwrap();
    let text = metrics_with("twin_shadow_gaps_total{");
    assert!(text.contains("# TYPE twin_shadow_samples"), "{text}");
    drop(serving);
    let served = served_names(&text);
    let missing: Vec<&String> = used.iter().filter(|m| !served.contains(*m)).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics `twin shadow` does not serve: {missing:?}\nserved: {served:?}\n/metrics:\n{text}"
    );
}

#[test]
fn metric_names_are_read_from_promql_and_type_lines() {
    assert_eq!(
        metric_names(r#"sum by (kind) (rate(twin_shadow_divergences_total{instance=~"$instance"}[5m])) * 3600 / twin_shadow_idle_gpus"#),
        ["twin_shadow_divergences_total", "twin_shadow_idle_gpus"]
    );
    let served = served_names("# HELP twin_shadow_samples x\n# TYPE twin_shadow_samples counter\n# TYPE twin_shadow_idle_gpus gauge\n");
    assert!(served.contains("twin_shadow_samples_total") && served.contains("twin_shadow_idle_gpus"), "{served:?}");
}

/// `twin tui DIR` on a shadow folder in a real terminal (tmux, as
/// tests/it/tui.rs drives it): the Shadow screen opens, the filter key
/// filters, and a line appended to the log shows at the next tick.
#[test]
fn twin_tui_opens_a_shadow_folder_and_follows_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let out = shadow_out(dir.path());
    let socket = dir.path().join("tmux.sock");
    let tmux =
        |args: &[&str]| Command::new("tmux").arg("-S").arg(&socket).args(args).output().expect("tmux runs (scripts/test.sh installs it)");
    struct Kill<F: Fn(&[&str]) -> Output>(F);
    impl<F: Fn(&[&str]) -> Output> Drop for Kill<F> {
        fn drop(&mut self) {
            let _ = (self.0)(&["kill-server"]);
        }
    }
    let tmux = Kill(tmux);
    let script =
        format!("cd '{}' && HOME='{}' '{}' tui out; sleep 60", dir.path().display(), dir.path().display(), env!("CARGO_BIN_EXE_twin"));
    let o = (tmux.0)(&["new-session", "-d", "-s", "twin", "-x", "120", "-y", "40", &script]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let screen = || String::from_utf8_lossy(&(tmux.0)(&["capture-pane", "-p", "-t", "twin"]).stdout).into_owned();
    let wait_for = |what: &str| {
        let start = Instant::now();
        loop {
            let s = screen();
            if s.contains(what) {
                return s;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "the screen never showed {what:?}:\n{s}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let s = wait_for("1 placement)");
    assert!(s.contains("Shadow") && s.contains("ml/train") && s.contains("gpu-cheap") && s.contains("16.50"), "{s}");
    // The number of divergences the table shows, from its title.
    let count = |s: &str| -> usize {
        let title = s.lines().find(|l| l.contains(" divergences · ")).unwrap_or_else(|| panic!("no table title:\n{s}"));
        title.split_whitespace().find_map(|w| w.parse().ok()).unwrap_or_else(|| panic!("{title}"))
    };
    let all = count(&wait_for("every kind (f)"));
    // The filter key walks through the kinds, to idle GPUs alone, and back to every kind.
    let mut s = String::new();
    for _ in 0..8 {
        (tmux.0)(&["send-keys", "-t", "twin", "f"]);
        std::thread::sleep(Duration::from_millis(300));
        s = screen();
        if s.contains("· idle (f)") {
            break;
        }
    }
    assert!(s.contains("1 divergences · idle (f)") && !s.contains("ml/train"), "the filter shows idle GPUs only:\n{s}");
    for _ in 0..8 {
        (tmux.0)(&["send-keys", "-t", "twin", "f"]);
        std::thread::sleep(Duration::from_millis(300));
        if screen().contains("every kind (f)") {
            break;
        }
    }
    assert_eq!(count(&wait_for("every kind (f)")), all);
    let line = r#"{"kind":"policy","observed_ns":1796637700000000000,"pod":"ml/eval","node":"gpu-cheap","policy":"gpu-quota","message":"over quota"}"#;
    let mut f = std::fs::OpenOptions::new().append(true).open(out.join("divergences.jsonl")).unwrap();
    writeln!(f, "{line}").unwrap();
    let s = wait_for("ml/eval");
    assert!(count(&s) == all + 1 && s.contains("deny (gpu-quota)"), "{s}");
    (tmux.0)(&["send-keys", "-t", "twin", "q"]);
}
