//! `twin shadow --cluster kube:KUBECONFIG` end to end: the real binary
//! watching a fake Kubernetes API server (plain HTTP on loopback, std
//! threads) through `kube`'s watcher: a list of each kind, then a watch
//! from the list's resourceVersion.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const PODS: &str = "/api/v1/pods";
const NODES: &str = "/api/v1/nodes";
const DEPLOYMENTS: &str = "/apis/apps/v1/deployments";
const HPAS: &str = "/apis/autoscaling/v2/horizontalpodautoscalers";

/// The longest any one wait in these tests may take.
const PATIENCE: Duration = Duration::from_secs(10);
/// How often blocked server threads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// An 8-GPU node priced by label.
fn node(name: &str, price: &str) -> Value {
    json!({
        "metadata": {"name": name, "uid": format!("uid-{name}"), "resourceVersion": "3", "labels": {"twin.dev/price-per-hour": price}},
        "status": {"allocatable": {"nvidia.com/gpu": "8", "cpu": "96", "memory": "1000Gi"}}
    })
}

/// The 2-GPU trainer `ml/train`, as a watch event's object, on `node` or unbound.
fn train(node: Option<&str>, rv: &str) -> Value {
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "train", "namespace": "ml", "uid": "uid-train", "resourceVersion": rv},
        "spec": {"containers": [{"name": "c", "image": "trainer:1", "resources": {"limits": {"nvidia.com/gpu": "2"}}}]},
        "status": {"phase": "Pending"}
    });
    if let Some(n) = node {
        pod["spec"]["nodeName"] = n.into();
    }
    pod
}

/// What the fake server's threads share.
#[derive(Default)]
struct Shared {
    /// Every request target (path and query), in the order they came.
    requests: Mutex<Vec<String>>,
    /// Notified at each request.
    arrived: Condvar,
    /// The test is over: every thread ends.
    stop: AtomicBool,
    /// The first pods watch has been given its events.
    pods_sent: AtomicBool,
}

/// A Kubernetes API server on loopback, plain HTTP, no auth: two priced
/// GPU nodes, no deployments or HPAs, no pods when listed; the first pods
/// watch then streams `ml/train` created unbound and bound to `gpu-dear`.
/// Every watch is then held open until the client goes.
struct FakeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FakeApi {
    fn start() -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        let accept = std::thread::spawn(move || {
            let mut connections = Vec::new();
            for stream in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let s = Arc::clone(&s);
                connections.push(std::thread::spawn(move || serve(stream, &s)));
            }
            for c in connections {
                let _ = c.join();
            }
        });
        FakeApi { addr, shared, accept: Some(accept) }
    }

    fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// A kubeconfig for this server, plain HTTP, no credentials, written to `path`.
    fn kubeconfig(&self, path: &Path) {
        std::fs::write(path, twin_shadow::kube_api::loopback_kubeconfig(self.addr)).unwrap();
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.arrived.notify_all();
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Whether a read error is the read timeout running out.
fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// One connection: requests in turn (keep-alive) until the client closes it
/// or the test ends; a watch holds it to the end.
fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(POLL));
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let head = loop {
            if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                pending.drain(..end + 4);
                break head;
            }
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            match stream.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(e) if timed_out(&e) => {}
                Err(_) => return,
            }
        };
        let target = head.lines().next().and_then(|l| l.split(' ').nth(1)).unwrap_or("/").to_string();
        shared.requests.lock().unwrap().push(target.clone());
        shared.arrived.notify_all();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        if query.split('&').any(|p| p == "watch=true") {
            watch(stream, shared, path);
            return;
        }
        let (code, body) = list(path);
        let reason = if code == 200 { "OK" } else { "Not Found" };
        let answer = format!("HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        if stream.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// The answer to a list: its status code and body.
fn list(path: &str) -> (u16, String) {
    let (api_version, kind, items, rv) = match path {
        NODES => ("v1", "NodeList", vec![node("gpu-cheap", "32"), node("gpu-dear", "98")], "5"),
        PODS => ("v1", "PodList", vec![], "10"),
        DEPLOYMENTS => ("apps/v1", "DeploymentList", vec![], "7"),
        HPAS => ("autoscaling/v2", "HorizontalPodAutoscalerList", vec![], "8"),
        _ => {
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("the server could not find the requested resource ({path})"), "reason": "NotFound", "code": 404});
            return (404, status.to_string());
        }
    };
    (200, json!({"apiVersion": api_version, "kind": kind, "metadata": {"resourceVersion": rv}, "items": items}).to_string())
}

/// A watch: its events as chunks, then the connection held open.
fn watch(mut stream: TcpStream, shared: &Shared, path: &str) {
    let mut events = Vec::new();
    if path == PODS && !shared.pods_sent.swap(true, Ordering::SeqCst) {
        // The nodes' watch starts once their listed objects have gone to
        // the session (the watcher asks for its next step only then), so
        // the pod is judged against both nodes whatever the threads' order.
        let nodes_watched = |r: &Vec<String>| r.iter().any(|t| t.starts_with(&format!("{NODES}?")) && t.contains("watch=true"));
        let deadline = Instant::now() + PATIENCE;
        let mut requests = shared.requests.lock().unwrap();
        while !nodes_watched(&requests) && Instant::now() < deadline && !shared.stop.load(Ordering::SeqCst) {
            requests = shared.arrived.wait_timeout(requests, POLL).unwrap().0;
        }
        drop(requests);
        events.push(json!({"type": "ADDED", "object": train(None, "11")}));
        events.push(json!({"type": "MODIFIED", "object": train(Some("gpu-dear"), "12")}));
    }
    let mut out = String::from("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    for e in events {
        let line = format!("{e}\n");
        out.push_str(&format!("{:x}\r\n{line}\r\n", line.len()));
    }
    if stream.write_all(out.as_bytes()).is_err() {
        return;
    }
    let mut buf = [0u8; 1024];
    while !shared.stop.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if timed_out(&e) => {}
            Err(_) => return,
        }
    }
}

/// The shadow process, killed when the test ends however it ends.
struct Shadow {
    child: Child,
}

impl Drop for Shadow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `/metrics` text, or `None` when the server does not answer (gone).
fn metrics(addr: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(PATIENCE)).ok()?;
    write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// The process's exit status, waiting `PATIENCE` at most.
fn exit_within(child: &mut Child, patience: Duration) -> ExitStatus {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "twin shadow still runs {patience:?} after it should have ended");
        std::thread::sleep(POLL);
    }
}

#[test]
fn a_binding_watched_through_the_kubernetes_api_is_judged_logged_and_summarised() {
    let api = FakeApi::start();
    let dir = tempfile::tempdir().unwrap();
    api.kubeconfig(&dir.path().join("kubeconfig.yaml"));
    let child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["shadow", "--cluster", "kube:kubeconfig.yaml", "--out", "out", "--duration", "4s", "--profile", "cost-aware"])
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("twin runs");
    let mut shadow = Shadow { child };
    let stderr = shadow.child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(addr.parse::<SocketAddr>().expect("an address"));
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let addr = rx.recv_timeout(PATIENCE).unwrap_or_else(|e| panic!("twin shadow did not say where it listens ({e})"));

    // While it runs: the divergence counted and the source up on /metrics.
    let wants = [
        "twin_shadow_divergences_total{kind=\"placement\"} 1",
        "twin_shadow_counterfactual_saving_dollars_per_hour 16.5",
        "twin_shadow_source_health{source=\"kube:kubeconfig.yaml\"} 1",
    ];
    let deadline = Instant::now() + PATIENCE;
    let mut last = String::new();
    loop {
        if let Some(text) = metrics(addr) {
            if wants.iter().all(|w| text.contains(w)) {
                break;
            }
            last = text;
        }
        let ended = shadow.child.try_wait().expect("try_wait");
        assert!(ended.is_none(), "twin shadow ended ({ended:?}) before /metrics showed {wants:?}; last:\n{last}");
        assert!(Instant::now() < deadline, "no {wants:?} in /metrics:\n{last}");
        std::thread::sleep(POLL);
    }

    let status = exit_within(&mut shadow.child, PATIENCE);
    let stderr = reader.join().unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains(
            "twin shadow: watching the Kubernetes API (kube:kubeconfig.yaml): pods, nodes, deployments, horizontalpodautoscalers"
        ),
        "{stderr}"
    );
    let mut stdout = String::new();
    shadow.child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    assert!(stdout.contains("1 placement") && stdout.contains("counterfactual saving 16.50 $/h"), "{stdout}");

    let log = std::fs::read_to_string(dir.path().join("out/divergences.jsonl")).expect("divergences.jsonl");
    let lines: Vec<Value> = log.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let placement: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "placement").collect();
    assert_eq!(placement.len(), 1, "{lines:?}");
    let d = placement[0];
    assert_eq!((d["pod"].as_str(), d["profile"].as_str()), (Some("ml/train"), Some("cost-aware")), "{d}");
    assert_eq!((d["actual"]["name"].as_str(), d["twin"]["name"].as_str()), (Some("gpu-dear"), Some("gpu-cheap")), "{d}");
    // (32 - 98) $/h × 2 of 8 GPUs.
    assert_eq!(d["cost_per_hour_difference"].as_f64(), Some(-16.5), "{d}");

    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/shadow-summary.json")).expect("shadow-summary.json"))
            .expect("JSON");
    assert_eq!(summary["health"]["kube:kubeconfig.yaml"], "up", "{summary}");
    assert_eq!(summary["divergences"]["placement"], 1, "{summary}");
    assert_eq!(summary["counterfactual_saving_per_hour"].as_f64(), Some(16.5), "{summary}");
    assert_eq!((summary["nodes"].as_u64(), summary["pods"].as_u64()), (Some(2), Some(1)), "{summary}");

    // What the watcher asked: one list of each kind (no error, no re-list),
    // then a watch from the list's resourceVersion; HPAs as autoscaling/v2.
    let requests = api.requests();
    for path in [PODS, NODES, DEPLOYMENTS, HPAS] {
        let of =
            |watching: bool| requests.iter().filter(|r| r.starts_with(&format!("{path}?")) && r.contains("watch=true") == watching).count();
        assert_eq!(of(false), 1, "{path} listed once: {requests:#?}");
        assert!(of(true) >= 1, "{path} watched: {requests:#?}");
    }
    assert!(requests.iter().all(|r| [PODS, NODES, DEPLOYMENTS, HPAS].iter().any(|p| r.starts_with(&format!("{p}?")))), "{requests:#?}");
    assert!(requests.iter().any(|r| r.starts_with(&format!("{PODS}?")) && r.contains("watch=true") && r.contains("resourceVersion=10")));
}

#[test]
fn a_kubeconfig_that_is_missing_or_not_yaml_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "clusters: [\n  - {name: a\n").unwrap();
    std::fs::write(dir.path().join("no-context.yaml"), "apiVersion: v1\nkind: Config\nclusters: []\n").unwrap();
    for (file, wants) in [
        ("missing.yaml", ["error: --cluster kube:missing.yaml: cannot read the kubeconfig missing.yaml: ", "No such file"]),
        ("bad.yaml", ["error: --cluster kube:bad.yaml: cannot read the kubeconfig bad.yaml: ", "failed to parse kubeconfig YAML"]),
        (
            "no-context.yaml",
            ["error: --cluster kube:no-context.yaml: the kubeconfig no-context.yaml gives no usable cluster: ", "current context"],
        ),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_twin"))
            .args(["shadow", "--cluster", &format!("kube:{file}"), "--duration", "1s"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("twin runs");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{file}: {stderr}");
        for want in wants {
            assert!(stderr.contains(want), "{file}: no {want:?} in {stderr}");
        }
    }
}
