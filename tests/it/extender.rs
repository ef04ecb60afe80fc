//! `twin extender` as kube-scheduler meets it: the real binary on loopback,
//! spoken to over plain HTTP/1.1.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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
