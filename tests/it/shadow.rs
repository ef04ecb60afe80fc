//! `twin shadow` end to end: a recorded `kubectl get pods,nodes --watch -o
//! json` stream and an nvidia-smi CSV, followed by the real binary; the
//! divergence logged, summarised and counted in `/metrics`.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Two 8-GPU nodes priced by label, a 2-GPU pod created unbound, then bound
/// to the dear one: `cost-aware` would have chosen the cheap one.
const WATCH: &str = r#"{"type":"ADDED","object":{"kind":"Node","apiVersion":"v1","metadata":{"name":"gpu-cheap","labels":{"twin.dev/price-per-hour":"32"}},"status":{"allocatable":{"nvidia.com/gpu":"8","cpu":"96","memory":"1000Gi"}}}}
{"type":"ADDED","object":{"kind":"Node","apiVersion":"v1","metadata":{"name":"gpu-dear","labels":{"twin.dev/price-per-hour":"98"}},"status":{"allocatable":{"nvidia.com/gpu":"8","cpu":"96","memory":"1000Gi"}}}}
{"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"train","namespace":"ml"},"spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"2"}}}]},"status":{"phase":"Pending"}}}
{"type":"MODIFIED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"train","namespace":"ml"},"spec":{"nodeName":"gpu-dear","containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"2"}}}]},"status":{"phase":"Pending"}}}
"#;

/// Two GPUs a minute apart: GPU 0 idle throughout, GPU 1 busy.
const SMI: &str = "timestamp, index, name, uuid, utilization.gpu [%], memory.used [MiB], power.draw [W]
2026/12/07 10:00:00.000, 0, NVIDIA H100 80GB HBM3, GPU-0, 0 %, 1024 MiB, 70 W
2026/12/07 10:00:00.000, 1, NVIDIA H100 80GB HBM3, GPU-1, 50 %, 1024 MiB, 300 W
2026/12/07 10:01:00.000, 0, NVIDIA H100 80GB HBM3, GPU-0, 0 %, 1024 MiB, 70 W
2026/12/07 10:01:00.000, 1, NVIDIA H100 80GB HBM3, GPU-1, 50 %, 1024 MiB, 300 W
";

/// The shadow process, killed when the test ends however it ends.
struct Shadow {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Shadow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `twin shadow` on the two files in `dir`, with `extra` flags.
fn start(dir: &Path, extra: &[&str]) -> Shadow {
    std::fs::write(dir.join("watch.json"), WATCH).unwrap();
    std::fs::write(dir.join("smi.csv"), SMI).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["shadow", "--telemetry", "nvidia-smi:smi.csv", "--cluster", "kubectl:watch.json", "--out", "out"])
        .args(["--listen", "127.0.0.1:0", "--idle-after", "1m"])
        .args(extra)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("twin runs");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(Ok(addr.parse::<SocketAddr>().expect("an address")));
            } else if line.starts_with("error") {
                let _ = tx.send(Err(line));
            }
        }
    });
    let addr = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(addr)) => addr,
        Ok(Err(line)) => panic!("twin shadow did not start: {line}"),
        Err(e) => panic!("twin shadow did not say where it listens: {e}"),
    };
    Shadow { child, addr }
}

/// The `/metrics` text.
fn metrics(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("an answer");
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// `/metrics` until `want` shows in it, or panics after 20 s.
fn metrics_with(addr: SocketAddr, want: &str) -> String {
    let start = Instant::now();
    loop {
        let text = metrics(addr);
        if text.contains(want) {
            return text;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no {want:?} in:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The logged divergences and the summary, once the process has ended.
fn results(dir: &Path) -> (Vec<Value>, Value) {
    let log = std::fs::read_to_string(dir.join("out/divergences.jsonl")).expect("divergences.jsonl");
    let lines = log.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let summary = std::fs::read_to_string(dir.join("out/shadow-summary.json")).expect("shadow-summary.json");
    (lines, serde_json::from_str(&summary).expect("JSON"))
}

fn assert_found(lines: &[Value], summary: &Value) {
    let placement: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "placement").collect();
    assert_eq!(placement.len(), 1, "{lines:?}");
    let d = placement[0];
    assert_eq!((d["pod"].as_str(), d["profile"].as_str()), (Some("ml/train"), Some("cost-aware")));
    assert_eq!((d["actual"]["name"].as_str(), d["twin"]["name"].as_str()), (Some("gpu-dear"), Some("gpu-cheap")));
    let (a, b) = (d["actual"]["score"].as_f64().expect("a score"), d["twin"]["score"].as_f64().expect("a score"));
    assert!(b > a, "{b} > {a}");
    // (32 - 98) $/h × 2 of 8 GPUs.
    assert_eq!(d["cost_per_hour_difference"].as_f64(), Some(-16.5));
    let idle: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "idle").collect();
    assert_eq!(idle.len(), 1, "{lines:?}");
    assert_eq!((idle[0]["gpu"].as_u64(), idle[0]["uuid"].as_str()), (Some(0), Some("GPU-0")));
    assert_eq!(summary["profile"], "cost-aware", "{summary}");
    assert_eq!(summary["divergences"]["placement"], 1, "{summary}");
    assert_eq!(summary["divergences"]["idle"], 1, "{summary}");
    assert_eq!(summary["counterfactual_saving_per_hour"].as_f64(), Some(16.5));
    assert_eq!(summary["samples_in"]["nvidia-smi:smi.csv"], 4, "{summary}");
    assert_eq!((summary["nodes"].as_u64(), summary["pods"].as_u64()), (Some(2), Some(1)));
}

#[test]
fn a_binding_to_the_dear_node_is_logged_summarised_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut shadow = start(dir.path(), &["--duration", "5s"]);
    let text = metrics_with(shadow.addr, "twin_shadow_divergences_total{kind=\"placement\"} 1");
    assert!(text.contains("twin_shadow_samples_total{source=\"nvidia-smi:smi.csv\"} 4"), "{text}");
    assert!(text.contains("twin_shadow_counterfactual_saving_dollars_per_hour 16.5"), "{text}");
    assert!(text.contains("twin_shadow_source_health{source=\"kubectl:watch.json\"} 1"), "{text}");
    let status = shadow.child.wait().expect("twin shadow ends");
    assert!(status.success(), "{status}");
    let mut out = String::new();
    shadow.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(out.contains("2 divergence(s) (1 idle, 1 placement); counterfactual saving 16.50 $/h"), "{out}");
    let (lines, summary) = results(dir.path());
    assert_found(&lines, &summary);
}

/// Without the NVIDIA driver, NVML is down and says so; the session goes on.
#[test]
fn nvml_without_a_driver_is_a_source_down_not_an_error() {
    if Path::new("/dev/nvidiactl").exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["shadow", "--telemetry", "nvml", "--out", "out", "--duration", "1s"])
        .current_dir(dir.path())
        .output()
        .expect("twin runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/shadow-summary.json")).unwrap()).unwrap();
    assert!(summary["health"]["nvml"].as_str().is_some_and(|h| h.starts_with("down")), "{summary}");
}

#[cfg(unix)]
#[test]
fn sigterm_flushes_the_log_and_writes_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let mut shadow = start(dir.path(), &[]);
    metrics_with(shadow.addr, "twin_shadow_divergences_total{kind=\"idle\"} 1");
    metrics_with(shadow.addr, "twin_shadow_divergences_total{kind=\"placement\"} 1");
    let killed = Command::new("kill").args(["-TERM", &shadow.child.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    let status = shadow.child.wait().expect("twin shadow ends");
    assert!(status.success(), "{status}");
    let (lines, summary) = results(dir.path());
    assert_found(&lines, &summary);
}

/// `--scenario` lends its profile: `spread` finds the two empty nodes alike.
#[test]
fn the_scenario_profile_judges_when_no_profile_is_given() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("watch.json"), WATCH).unwrap();
    let base = std::fs::read_to_string(crate::root().join("scenarios/spot-inference.toml")).unwrap();
    std::fs::write(dir.path().join("s.toml"), format!("{base}\n[scheduler]\nprofile = \"spread\"\n")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["shadow", "--scenario", "s.toml", "--cluster", "kubectl:watch.json", "--out", "out", "--duration", "1s"])
        .current_dir(dir.path())
        .output()
        .expect("twin runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/shadow-summary.json")).unwrap()).unwrap();
    assert_eq!((summary["profile"].as_str(), summary["agreed"].as_u64()), (Some("spread"), Some(1)), "{summary}");
    assert_eq!(summary["divergences"], serde_json::json!({}));
}

#[test]
fn sources_it_cannot_read_are_bad_input() {
    for (flag, source, want) in [
        ("--telemetry", "nvml:1ms", "below 10ms"),
        ("--telemetry", "prometheus:x", "not a source"),
        ("--cluster", "kube-api", "not a source"),
        ("--telemetry", "dcgm:https://h:9400", "HTTPS"),
        ("--scenario", "no-such-scenario.toml", "no scenario file"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_twin")).args(["shadow", flag, source, "--duration", "1s"]).output().expect("twin runs");
        assert_eq!(o.status.code(), Some(2), "{source}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{source}: {err}");
    }
}
