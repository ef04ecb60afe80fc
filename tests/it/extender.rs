//! `twin extender` as kube-scheduler meets it: the real binary on loopback,
//! spoken to over plain HTTP/1.1: filter and prioritize, bad bodies,
//! placement policies, a slow client, the node feed file, and a request
//! as kube-scheduler sends it answered as the scheduler decides in process.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The server, killed when the test ends however it ends.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
            .args(["extender", "--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(crate::root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
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
        let mut server = Server { child, addr: "0.0.0.0:0".parse().unwrap() };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(addr)) => server.addr = addr,
            Ok(Err(line)) => panic!("the extender did not start: {line}"),
            Err(e) => panic!("the extender did not say where it listens: {e}"),
        }
        server
    }

    /// One request on its own connection: the status, the headers (lowercase names) and the body.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<(String, String)>, String) {
        let mut s = TcpStream::connect(self.addr).expect("connects");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("an answer");
        let raw = String::from_utf8(raw).expect("UTF-8");
        let (head, body) = raw.split_once("\r\n\r\n").expect("a head");
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
        (status, headers, body.to_string())
    }

    /// The metrics text.
    fn metrics(&self) -> String {
        let (status, _, text) = self.request("GET", "/metrics", b"");
        assert_eq!(status, 200, "{text}");
        text
    }

    /// Waits until the metrics have a line, for what the server does by
    /// itself (reloading a file); panics after a minute.
    fn wait_for_metric(&self, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = self.metrics();
            if text.lines().any(|l| l == line) {
                return;
            }
            assert!(Instant::now() < deadline, "no `{line}` within a minute in\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A verb's JSON answer, which must be 200 and JSON.
    fn post(&self, verb: &str, body: &Value) -> Value {
        let (status, headers, text) = self.request("POST", &format!("/{verb}"), body.to_string().as_bytes());
        assert_eq!(status, 200, "{verb}: {text}");
        assert!(headers.iter().any(|(k, v)| k == "content-type" && v == "application/json"), "{headers:?}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{verb} answered {text}: {e}"))
    }
}

fn pod(gpus: Option<u32>) -> Value {
    let resources = match gpus {
        Some(n) => json!({"limits": {"nvidia.com/gpu": n.to_string()}}),
        None => json!({"requests": {"cpu": "1"}}),
    };
    json!({"metadata": {"name": "train-0", "namespace": "ml"},
           "spec": {"containers": [{"name": "c", "resources": resources}]}})
}

fn node(name: &str, gpus: u32, instance_type: &str) -> Value {
    json!({"metadata": {"name": name, "resourceVersion": "1", "labels": {"node.kubernetes.io/instance-type": instance_type}},
           "status": {"allocatable": {"nvidia.com/gpu": gpus.to_string(), "cpu": "96", "memory": "1000Gi"}}})
}

fn names(list: &Value) -> Vec<&str> {
    list["items"].as_array().unwrap().iter().map(|n| n["metadata"]["name"].as_str().unwrap()).collect()
}

#[test]
fn the_extender_filters_and_scores_over_http_and_refuses_bad_bodies() {
    let prices = tempfile::Builder::new().suffix(".json").tempfile().unwrap();
    std::fs::write(prices.path(), r#"{"p5.48xlarge": 98.32, "g5.12xlarge": 5.67}"#).unwrap();
    let server = Server::start(&["--profile", "cost-aware", "--prices", prices.path().to_str().unwrap()]);
    let nodes = json!({"metadata": {}, "items": [node("big", 8, "p5.48xlarge"), node("small", 2, "g5.12xlarge")]});
    let args = json!({"Pod": pod(Some(4)), "Nodes": nodes, "NodeNames": null});

    // Filter: the node with too few GPUs fails for good, with a reason.
    let f = server.post("filter", &args);
    assert_eq!(names(&f["Nodes"]), ["big"], "{f}");
    let why = f["FailedAndUnresolvableNodes"]["small"].as_str().unwrap_or_else(|| panic!("{f}"));
    assert!(why.contains("accelerators"), "{why}");
    assert_eq!(f["Error"], "", "{f}");

    // By name only (nodeCacheCapable): the cache answers for the nodes seen.
    let by_name = server.post("filter", &json!({"Pod": pod(Some(4)), "Nodes": null, "NodeNames": ["small", "big", "ghost"]}));
    assert_eq!(by_name["NodeNames"], json!(["big"]), "{by_name}");
    assert!(by_name["FailedNodes"]["ghost"].as_str().unwrap().contains("cache"), "{by_name}");

    // Prioritize: every node once, 0..10, the one that fits best.
    let p = server.post("prioritize", &args);
    let scores: Vec<(&str, i64)> =
        p.as_array().unwrap().iter().map(|h| (h["Host"].as_str().unwrap(), h["Score"].as_i64().unwrap())).collect();
    assert_eq!(scores.iter().map(|s| s.0).collect::<Vec<_>>(), ["big", "small"], "{p}");
    assert!(scores.iter().all(|s| (0..=10).contains(&s.1)), "{p}");
    assert_eq!(scores[1].1, 0, "{p}");
    assert!(scores[0].1 > 0, "{p}");

    // A pod asking for no GPU passes through.
    let cpu = server.post("filter", &json!({"Pod": pod(None), "Nodes": nodes, "NodeNames": null}));
    assert_eq!(names(&cpu["Nodes"]), ["big", "small"], "{cpu}");
    assert_eq!(cpu["FailedNodes"], Value::Null, "{cpu}");
    assert_eq!(cpu["FailedAndUnresolvableNodes"], Value::Null, "{cpu}");

    // Bad bodies: 400 with what is wrong.
    let (status, _, text) = server.request("POST", "/filter", br#"{"Pod": {"#);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("not JSON"), "{text}");
    let (status, _, text) = server.request("POST", "/prioritize", br#"{"Pod": {}, "NodeNames": "n1"}"#);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("NodeNames"), "{text}");
    let (status, _, text) = server.request("POST", "/filter", br#"{"Pod": {"spec": {"containers": 7}}}"#);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("Pod.spec.containers"), "{text}");

    let (status, _, text) = server.request("GET", "/healthz", b"");
    assert_eq!((status, text.trim()), (200, "ok"));

    let (status, _, text) = server.request("GET", "/metrics", b"");
    assert_eq!(status, 200, "{text}");
    for line in [
        r#"twin_extender_requests_total{verb="filter",status="200"} 3"#,
        r#"twin_extender_requests_total{verb="filter",status="400"} 2"#,
        r#"twin_extender_requests_total{verb="prioritize",status="200"} 1"#,
        r#"twin_extender_requests_total{verb="prioritize",status="400"} 1"#,
        r#"twin_extender_decisions_total{verb="filter",verdict="refused",source="resource-fit"} 2"#,
        r#"twin_extender_decisions_total{verb="filter",verdict="refused",source="cache"} 1"#,
        r#"twin_extender_decisions_total{verb="filter",verdict="passthrough",source=""} 2"#,
        r#"twin_extender_request_duration_seconds_count{verb="filter"} 5"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
}

#[test]
fn the_extender_refuses_an_unknown_profile() {
    let o = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["extender", "--listen", "127.0.0.1:0", "--profile", "no-such-profile"])
        .output()
        .expect("twin runs");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no built-in profile `no-such-profile`"), "{err}");
}

/// `twin extender ARGS` that must fail to start: its exit code and stderr.
fn refused_start(args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["extender", "--listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(crate::root())
        .stdin(Stdio::null())
        .output()
        .expect("twin runs");
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn labelled_node(name: &str, labels: Value) -> Value {
    json!({"metadata": {"name": name, "resourceVersion": "1", "labels": labels},
           "status": {"allocatable": {"nvidia.com/gpu": "8", "cpu": "96", "memory": "1000Gi"}}})
}

fn critical_pod(critical: &str) -> Value {
    json!({"metadata": {"name": "payments-0", "namespace": "payments", "labels": {"critical": critical, "team": "payments"}},
           "spec": {"containers": [{"name": "c", "image": "registry.internal/vllm:0.6.3", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}})
}

#[test]
fn placement_policies_keep_critical_pods_off_spot() {
    // The shipped folder: placement.rego with admission, scaling, data.json and tests beside it.
    let server = Server::start(&["--policies", "policies"]);
    let nodes = json!({"metadata": {}, "items": [
        labelled_node("spot-0", json!({"karpenter.sh/nodepool": "h100-spot", "karpenter.sh/capacity-type": "spot"})),
        labelled_node("od-0", json!({"karpenter.sh/nodepool": "h100-od", "karpenter.sh/capacity-type": "on-demand"})),
    ]});
    let args = json!({"Pod": critical_pod("true"), "Nodes": nodes, "NodeNames": null});
    let f = server.post("filter", &args);
    assert_eq!(names(&f["Nodes"]), ["od-0"], "{f}");
    assert_eq!(
        f["FailedAndUnresolvableNodes"]["spot-0"],
        "policy critical-not-on-spot: payments-0 is critical and may not run on spot pool h100-spot",
        "{f}"
    );
    let p = server.post("prioritize", &args);
    assert_eq!(p, json!([{"Host": "spot-0", "Score": 0}, {"Host": "od-0", "Score": 10}]), "{p}");
    // By name, from the cache, the same.
    let by_name = server.post("filter", &json!({"Pod": critical_pod("true"), "Nodes": null, "NodeNames": ["spot-0", "od-0"]}));
    assert_eq!(by_name["NodeNames"], json!(["od-0"]), "{by_name}");
    // Work that is not critical may use spot.
    let f = server.post("filter", &json!({"Pod": critical_pod("false"), "Nodes": nodes, "NodeNames": null}));
    assert_eq!(names(&f["Nodes"]), ["spot-0", "od-0"], "{f}");
    let text = server.metrics();
    for line in [
        r#"twin_extender_decisions_total{verb="filter",verdict="refused",source="policy"} 2"#,
        r#"twin_extender_decisions_total{verb="prioritize",verdict="refused",source="policy"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
}

#[test]
fn a_policy_that_fails_at_run_time_fails_the_request_and_bad_policies_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let failing = dir.path().join("failing.rego");
    std::fs::write(&failing, "package twin.placement\n\nviolation contains {\"msg\": \"x\"} if { to_number(input.pool.name) > 0 }\n")
        .unwrap();
    let server = Server::start(&["--policies", failing.to_str().unwrap()]);
    let nodes = json!({"metadata": {}, "items": [labelled_node("a", json!({"karpenter.sh/nodepool": "h100"}))]});
    let f = server.post("filter", &json!({"Pod": critical_pod("true"), "Nodes": nodes, "NodeNames": null}));
    assert!(f["Error"].as_str().unwrap().starts_with("placement policy: evaluating twin.placement"), "{f}");
    assert_eq!(f["Nodes"], Value::Null, "{f}");
    let p = server.post("prioritize", &json!({"Pod": critical_pod("true"), "Nodes": nodes, "NodeNames": null}));
    assert_eq!(p, json!([{"Host": "a", "Score": 0}]), "{p}");
    assert!(server.metrics().lines().any(|l| l == r#"twin_extender_decisions_total{verb="filter",verdict="error",source="policy"} 1"#));

    let broken = dir.path().join("broken.rego");
    std::fs::write(&broken, "package twin.placement\n\nviolation contains if {\n").unwrap();
    let (code, err) = refused_start(&["--policies", broken.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("broken.rego"), "{err}");
    let (code, err) = refused_start(&["--policies", dir.path().join("nowhere").to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nowhere: no such file or folder"), "{err}");
    let other = dir.path().join("scaling-only");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("s.rego"), "package twin.scaling\n\nviolation contains {\"msg\": \"no\"} if { false }\n").unwrap();
    let (code, err) = refused_start(&["--policies", other.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no policy file defines package twin.placement"), "{err}");
}

/// Reads what the server sends until it closes the connection; panics if
/// it has not closed it within a minute.
fn read_until_closed(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => {}
        // A reset is a close too.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server did not close the stalled connection: {e}"),
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn a_slow_client_stalls_only_itself_and_is_cut_off() {
    let server = Server::start(&["--read-timeout", "1"]);
    // Half a head, then nothing.
    let mut half_head = TcpStream::connect(server.addr).unwrap();
    half_head.write_all(b"POST /filter HTTP/1.1\r\nHost: x\r\nContent-Le").unwrap();
    // A whole head, then half the body.
    let body = json!({"Pod": pod(Some(1)), "Nodes": null, "NodeNames": ["a"]}).to_string();
    let mut half_body = TcpStream::connect(server.addr).unwrap();
    let head = format!("POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
    half_body.write_all(head.as_bytes()).unwrap();
    half_body.write_all(&body.as_bytes()[..body.len() / 2]).unwrap();

    // Meanwhile others are answered.
    for _ in 0..3 {
        let by_name = server.post("filter", &json!({"Pod": pod(Some(1)), "Nodes": null, "NodeNames": ["a"]}));
        assert!(by_name["FailedNodes"]["a"].is_string(), "{by_name}");
    }

    // The stalled connections are closed: the half head without an answer,
    // the half body with 408.
    read_until_closed(&mut half_head);
    let answer = read_until_closed(&mut half_body);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within"), "{answer}");
    assert!(server.metrics().lines().any(|l| l == r#"twin_extender_requests_total{verb="filter",status="408"} 1"#));
}

#[test]
fn a_body_over_64_mib_gets_413() {
    let server = Server::start(&[]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    let size = (64 << 20) + 1024;
    let head = format!("POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b' '; 1 << 20];
    // The server may stop reading and answer before the whole body is sent.
    for _ in 0..65 {
        if s.write_all(&chunk).is_err() {
            break;
        }
    }
    let answer = read_until_closed(&mut s);
    assert!(answer.starts_with("HTTP/1.1 413"), "{}", &answer[..answer.len().min(200)]);
}

/// Writes `text` to `path` as a sidecar would: a temporary file renamed over it.
fn replace_file(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn node_list(items: &[Value]) -> String {
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}).to_string()
}

#[test]
fn the_node_feed_answers_names_and_follows_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nodes.json");
    std::fs::write(&file, node_list(&[node("big", 8, "p5.48xlarge"), node("small", 2, "g5.12xlarge")])).unwrap();
    let server = Server::start(&["--nodes", file.to_str().unwrap()]);
    assert!(server.metrics().lines().any(|l| l == "twin_extender_cached_nodes 2"));

    // nodeCacheCapable: names only, answered from the file.
    let by_names = |names: &[&str]| server.post("filter", &json!({"Pod": pod(Some(4)), "Nodes": null, "NodeNames": names}));
    let f = by_names(&["big", "small", "ghost"]);
    assert_eq!(f["NodeNames"], json!(["big"]), "{f}");
    assert!(f["FailedAndUnresolvableNodes"]["small"].as_str().unwrap().contains("accelerators"), "{f}");
    assert!(f["FailedNodes"]["ghost"].as_str().unwrap().contains("cache"), "{f}");

    // Rewritten: `big` shrinks, `small` goes, `new` comes.
    replace_file(&file, &node_list(&[node("big", 2, "p5.48xlarge"), node("new", 8, "p5.48xlarge")]));
    server.wait_for_metric(r#"twin_extender_node_feed_loads_total{result="ok"} 1"#);
    let f = by_names(&["big", "small", "new"]);
    assert_eq!(f["NodeNames"], json!(["new"]), "{f}");
    assert!(f["FailedAndUnresolvableNodes"]["big"].as_str().unwrap().contains("accelerators"), "{f}");
    assert!(f["FailedNodes"]["small"].as_str().unwrap().contains("cache"), "{f}");

    // A bad rewrite keeps what was read before.
    replace_file(&file, r#"{"items": [{"metadata": {"name": 7}}]}"#);
    server.wait_for_metric(r#"twin_extender_node_feed_loads_total{result="error"} 1"#);
    assert_eq!(by_names(&["new"])["NodeNames"], json!(["new"]));

    // YAML, as `kubectl get nodes -o yaml` writes it.
    let yaml = dir.path().join("nodes.yaml");
    std::fs::write(
        &yaml,
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata:\n    name: y\n  status:\n    allocatable:\n      nvidia.com/gpu: \"8\"\n",
    )
    .unwrap();
    let server = Server::start(&["--nodes", yaml.to_str().unwrap()]);
    let f = server.post("filter", &json!({"Pod": pod(Some(4)), "Nodes": null, "NodeNames": ["y"]}));
    assert_eq!(f["NodeNames"], json!(["y"]), "{f}");
}

#[test]
fn a_bad_node_file_stops_the_start_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nodes.json");
    std::fs::write(&file, r#"{"kind": "List", "items": [{"metadata": {"name": "a"}, "status": {"allocatable": 7}}]}"#).unwrap();
    let (code, err) = refused_start(&["--nodes", file.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nodes.json") && err.contains("items[0].status.allocatable"), "{err}");
    let (code, err) = refused_start(&["--nodes", dir.path().join("none.json").to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("none.json"), "{err}");
}

#[test]
fn a_recorded_kube_scheduler_request_is_answered_as_the_scheduler_decides() {
    use twin_extender::wire::{ExtenderArgs, ExtenderFilterResult, HostPriority, decode};
    let body = std::fs::read(crate::root().join("extender/src/tests/fixtures/kube-scheduler-filter.json")).unwrap();
    let prices = tempfile::Builder::new().suffix(".json").tempfile().unwrap();
    let table: std::collections::BTreeMap<&str, f64> = twin_extender::benchmarks::PRICES.iter().copied().collect();
    std::fs::write(prices.path(), serde_json::to_string(&table).unwrap()).unwrap();
    let server = Server::start(&["--profile", "cost-aware", "--prices", prices.path().to_str().unwrap()]);
    let (status, _, filtered) = server.request("POST", "/filter", &body);
    assert_eq!(status, 200, "{filtered}");
    let (status, _, scores) = server.request("POST", "/prioritize", &body);
    assert_eq!(status, 200, "{scores}");
    let filtered: ExtenderFilterResult = decode(filtered.as_bytes()).unwrap();
    let scores: Vec<HostPriority> = decode(scores.as_bytes()).unwrap();

    // The same request through the library in process, and through Twin's
    // scheduler directly: the node it binds scores 10 over HTTP.
    let args: ExtenderArgs = decode(&body).unwrap();
    let reader = twin_extender::NodeReader::new(table.iter().map(|(k, v)| (k.to_string(), *v)).collect()).unwrap();
    let profile = || twin_scheduler::Profile::builtin("cost-aware").unwrap();
    let mut x = twin_extender::Extender::new(profile(), twin_extender::NodeCache::new(reader.clone()));
    assert_eq!(filtered, x.filter(&args));
    assert_eq!(scores, x.prioritize(&args));
    let request = twin_extender::pod::read(&args.pod, &["nvidia.com/gpu".to_string()]).unwrap().unwrap();
    let mut cluster = twin_scheduler::Cluster::default();
    for node in &args.nodes.as_ref().unwrap().items {
        let r = reader.read(node).unwrap();
        if !r.cordoned && request.nodes.refuses(&r.labels, &r.taints).is_none() {
            let shape = cluster.add_shape(r.shape(request.resource, Default::default()));
            cluster.add_node(&r.name, shape);
        }
    }
    let mut scheduler = profile();
    let twin_scheduler::Outcome::Bind { node, .. } = scheduler.schedule(&request.pod, &cluster) else { panic!("unschedulable") };
    let chosen = cluster.node(node).unwrap().name.clone();
    assert_eq!(scores.iter().find(|h| h.host == chosen).map(|h| h.score), Some(10), "{chosen}: {scores:?}");
    let kept: Vec<&str> = filtered.nodes.as_ref().unwrap().items.iter().filter_map(|n| n.metadata.name.as_deref()).collect();
    assert!(kept.contains(&chosen.as_str()) && kept.len() == 4, "{kept:?}");
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_gracefully() {
    let mut server = Server::start(&[]);
    // An idle keep-alive connection does not hold the shutdown up.
    let mut idle = TcpStream::connect(server.addr).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = [0u8; 12];
    idle.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    let killed = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the extender did not stop within a minute of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    read_until_closed(&mut idle);
}
