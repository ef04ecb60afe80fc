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
pub(crate) const WATCH: &str = r#"{"type":"ADDED","object":{"kind":"Node","apiVersion":"v1","metadata":{"name":"gpu-cheap","labels":{"twin.dev/price-per-hour":"32"}},"status":{"allocatable":{"nvidia.com/gpu":"8","cpu":"96","memory":"1000Gi"}}}}
{"type":"ADDED","object":{"kind":"Node","apiVersion":"v1","metadata":{"name":"gpu-dear","labels":{"twin.dev/price-per-hour":"98"}},"status":{"allocatable":{"nvidia.com/gpu":"8","cpu":"96","memory":"1000Gi"}}}}
{"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"train","namespace":"ml"},"spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"2"}}}]},"status":{"phase":"Pending"}}}
{"type":"MODIFIED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"train","namespace":"ml"},"spec":{"nodeName":"gpu-dear","containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"2"}}}]},"status":{"phase":"Pending"}}}
"#;

/// Two GPUs a minute apart: GPU 0 idle throughout, GPU 1 busy.
pub(crate) const SMI: &str = "timestamp, index, name, uuid, utilization.gpu [%], memory.used [MiB], power.draw [W]
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
    let addr = listening(&mut child);
    Shadow { child, addr }
}

/// Where a `twin shadow --listen 127.0.0.1:0` child (stderr piped) listens,
/// from its `listening on ADDR` line; panics on an `error` line first.
/// Reads the rest of its stderr on a thread, so that it never blocks.
pub(crate) fn listening(child: &mut Child) -> SocketAddr {
    let stderr = child.stderr.take().expect("stderr piped");
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
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(addr)) => addr,
        Ok(Err(line)) => panic!("twin shadow did not start: {line}"),
        Err(e) => panic!("twin shadow did not say where it listens: {e}"),
    }
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
    // The empty cheap node could be released.
    let plan = &summary["consolidation"];
    assert_eq!((plan["nodes_freed"][0].as_str(), plan["saving_per_hour"].as_f64()), (Some("gpu-cheap"), Some(32.0)), "{summary}");
    let cost = &summary["cost"];
    let (hours, nodes, allocated) =
        (cost["hours"].as_f64().unwrap(), cost["nodes_dollars"].as_f64().unwrap(), cost["allocated_dollars"].as_f64().unwrap());
    assert!(hours > 0.0 && (nodes - 130.0 * hours).abs() < 1e-6, "{summary}");
    assert!(allocated <= 98.0 * 2.0 / 8.0 * hours + 1e-9, "{summary}");
}

#[test]
fn a_binding_to_the_dear_node_is_logged_summarised_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut shadow = start(dir.path(), &["--duration", "5s"]);
    // A client that sends half a request head holds up nobody else.
    let mut stalled = TcpStream::connect(shadow.addr).expect("connects");
    write!(stalled, "GET /metr").unwrap();
    let text = metrics_with(shadow.addr, "twin_shadow_divergences_total{kind=\"placement\"} 1");
    assert!(text.contains("twin_shadow_samples_total{source=\"nvidia-smi:smi.csv\"} 4"), "{text}");
    assert!(text.contains("twin_shadow_counterfactual_saving_dollars_per_hour 16.5"), "{text}");
    assert!(text.contains("twin_shadow_source_health{source=\"kubectl:watch.json\"} 1"), "{text}");
    drop(stalled);
    let status = shadow.child.wait().expect("twin shadow ends");
    assert!(status.success(), "{status}");
    let mut out = String::new();
    shadow.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(out.contains("3 divergence(s) (1 consolidation, 1 idle, 1 placement); counterfactual saving 16.50 $/h"), "{out}");
    let (lines, summary) = results(dir.path());
    assert_found(&lines, &summary);
}

/// Without the NVIDIA driver, NVML is down and says so; the session goes on.
#[test]
fn nvml_without_a_driver_is_a_source_down_not_an_error() {
    if Path::new("/dev/nvidiactl").exists() {
        eprintln!("skipped: this machine has the NVIDIA driver; the test is about a machine without one");
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
    assert_eq!(summary["divergences"].get("placement"), None, "{summary}");
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

/// A fake DCGM exporter: every request gets `body`, until the test ends.
fn dcgm_exporter(body: String) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

/// The scenario's `chat-spot` autoscaler, on GPU utilisation, judges the
/// real `chat-spot` Deployment; a placement policy judges the binding; the
/// plan and the ledger see the whole cluster.
#[test]
fn the_scenarios_autoscaler_and_placement_policies_judge_in_shadow_and_the_ledger_and_plan_follow() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(crate::root().join("scenarios/spot-inference.toml")).unwrap();
    let concurrency =
        r#"autoscaler = { metric = "concurrency", target = 24, min = 2, max = 16, interval = "30s", scale_down_window = "10m" }"#;
    assert!(base.contains(concurrency));
    let utilisation =
        r#"autoscaler = { metric = "utilisation", target = 0.6, min = 1, max = 16, interval = "1s", scale_down_window = "0s" }"#;
    std::fs::write(dir.path().join("s.toml"), base.replacen(concurrency, utilisation, 1)).unwrap();
    std::fs::write(
        dir.path().join("cap.rego"),
        "package twin.placement\n\nviolation contains {\"msg\": sprintf(\"%v costs over 10 $/GPU-h\", [input.pool.name]), \"details\": {\"rule\": \"gpu-price-cap\"}} if {\n  input.pool.price_per_gpu_hour > 10\n}\n",
    )
    .unwrap();
    let mut watch = WATCH.lines().take(2).map(str::to_string).collect::<Vec<_>>();
    watch.push(r#"{"type":"ADDED","object":{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"chat-spot","namespace":"ml"},"spec":{"replicas":4,"selector":{"matchLabels":{"app":"chat"}},"template":{}}}}"#.into());
    for i in 0..4 {
        watch.push(format!(
            r#"{{"type":"ADDED","object":{{"kind":"Pod","apiVersion":"v1","metadata":{{"name":"chat-spot-{i}","namespace":"ml","labels":{{"app":"chat"}}}},"spec":{{"nodeName":"gpu-cheap","containers":[{{"name":"c","resources":{{"limits":{{"nvidia.com/gpu":"1"}}}}}}]}},"status":{{"phase":"Running"}}}}}}"#
        ));
    }
    watch.extend(WATCH.lines().skip(2).map(str::to_string));
    std::fs::write(dir.path().join("watch.json"), watch.join("\n") + "\n").unwrap();
    let body: String = (0..4)
        .map(|i| {
            format!(
                "DCGM_FI_DEV_GPU_UTIL{{gpu=\"{i}\",UUID=\"GPU-{i}\",Hostname=\"gpu-cheap\",namespace=\"ml\",pod=\"chat-spot-{i}\"}} 10\n"
            )
        })
        .collect();
    let exporter = dcgm_exporter(format!("# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n{body}"));
    let o = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["shadow", "--scenario", "s.toml", "--profile", "cost-aware", "--policies", "cap.rego"])
        .args(["--cluster", "kubectl:watch.json", "--telemetry", &format!("dcgm:http://{exporter}/metrics")])
        .args(["--out", "out", "--duration", "4s"])
        .current_dir(dir.path())
        .output()
        .expect("twin runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("judging with profile cost-aware, placement policies, autoscalers of chat-spot"), "{stderr}");
    let (lines, summary) = results(dir.path());
    let kind = |k: &str| lines.iter().filter(|l| l["kind"] == k).collect::<Vec<_>>();
    let policy = kind("policy");
    assert_eq!(policy.len(), 1, "{lines:?}");
    assert_eq!(
        (policy[0]["pod"].as_str(), policy[0]["node"].as_str(), policy[0]["policy"].as_str()),
        (Some("ml/train"), Some("gpu-dear"), Some("gpu-price-cap"))
    );
    assert_eq!(kind("placement").len(), 1, "{lines:?}");
    let replicas = kind("replicas");
    assert_eq!(replicas.len(), 1, "one report for the same (real, Twin) pair: {lines:?}");
    let r = replicas[0];
    // 4 replicas at 10 % against 60 %: ceil(0.4 / 0.6) = 1.
    assert_eq!((r["workload"].as_str(), r["actual"].as_u64(), r["twin"].as_u64()), (Some("ml/chat-spot"), Some(4), Some(1)), "{r}");
    // The dear node's 2 GPUs fit in the cheap node's 4 free ones.
    let plan = kind("consolidation");
    assert_eq!(plan.len(), 1, "{lines:?}");
    assert_eq!(plan[0]["nodes_freed"], serde_json::json!(["gpu-dear"]));
    assert_eq!(plan[0]["moves"][0]["to"], "gpu-cheap");
    assert!(summary["autoscalers"]["chat-on-demand"].as_str().is_some_and(|s| s.starts_with("not judged")), "{summary}");
    let cost = &summary["cost"];
    let hours = cost["hours"].as_f64().unwrap();
    assert!(hours > 0.0, "{summary}");
    // Twin would have put the trainer on the cheap node: 2 × (98 − 32) / 8 $/h less, for the hours it was bound.
    assert!(cost["saving_dollars"].as_f64().unwrap() > 0.0, "{summary}");
    assert!((cost["nodes_dollars"].as_f64().unwrap() - 130.0 * hours).abs() < 1e-6, "{summary}");
}

/// Resident memory of process `pid`, KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).expect("VmRSS")
}

/// The soak, at accelerated time: a day of 1 s samples from 8 GPUs,
/// appended an hour at a time to the CSV shadow follows. Every sample
/// arrives, no gap is marked, and the process's memory after the first
/// hours stays flat.
#[cfg(target_os = "linux")]
#[test]
fn a_day_of_one_second_samples_from_8_gpus_loses_none_and_memory_stays_flat() {
    const GPUS: u64 = 8;
    const HOURS: u64 = 24;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("smi.csv");
    std::fs::write(&csv, "timestamp, index, name, uuid, utilization.gpu [%], memory.used [MiB], power.draw [W]\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["shadow", "--telemetry", "nvidia-smi:smi.csv", "--out", "out", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("twin runs");
    let shadow = Shadow { addr: listening(&mut child), child };
    let mut rss = Vec::new();
    for hour in 0..HOURS {
        let mut text = String::with_capacity(3_600 * GPUS as usize * 90);
        for s in 0..3_600 {
            let (m, sec) = (s / 60, s % 60);
            for g in 0..GPUS {
                let util = (s + g * 7 + hour) % 97 + 1;
                let watts = 100 + util * 5;
                text.push_str(&format!(
                    "2026/12/07 {hour:02}:{m:02}:{sec:02}.000, {g}, NVIDIA H100 80GB HBM3, GPU-{g}, {util} %, {} MiB, {watts}.00 W\n",
                    1024 + util * 100
                ));
            }
        }
        let mut f = std::fs::OpenOptions::new().append(true).open(&csv).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        drop(f);
        let want = format!("twin_shadow_samples_total{{source=\"nvidia-smi:smi.csv\"}} {}", (hour + 1) * 3_600 * GPUS);
        let start = Instant::now();
        while !metrics(shadow.addr).contains(&want) {
            assert!(start.elapsed() < Duration::from_secs(120), "hour {hour}: no {want:?} in\n{}", metrics(shadow.addr));
            std::thread::sleep(Duration::from_millis(20));
        }
        rss.push(rss_kib(shadow.child.id()));
    }
    let text = metrics(shadow.addr);
    assert!(!text.contains("twin_shadow_gaps_total{"), "no gap: {text}");
    let killed = Command::new("kill").args(["-TERM", &shadow.child.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    let mut shadow = shadow;
    assert!(shadow.child.wait().expect("twin shadow ends").success());
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/shadow-summary.json")).unwrap()).unwrap();
    assert_eq!(summary["samples_in"]["nvidia-smi:smi.csv"].as_u64(), Some(HOURS * 3_600 * GPUS), "{summary}");
    assert_eq!(summary["gaps"], serde_json::json!({}), "{summary}");
    assert_eq!(summary["gpus"].as_u64(), Some(GPUS), "{summary}");
    // Flat: the last twelve hours hold no more than the hours after warm-up
    // did, within 8 MiB of allocator noise (a byte kept per sample would be
    // 0.3 MiB a day; a reading kept, 40 MiB).
    let warm = *rss[2..12].iter().max().unwrap();
    let late = *rss[12..].iter().max().unwrap();
    assert!(late <= warm + 8 * 1024, "memory grew: RSS by hour (KiB) {rss:?}");
    eprintln!("soak: RSS by hour (KiB): {rss:?}");
}
