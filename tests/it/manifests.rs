//! Kubernetes manifests as a user meets them: the shipped examples, a
//! stream on stdin, and bad input with its location and exit code 2.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn twin(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .current_dir(crate::root())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("twin runs");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn summary(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn the_seed_deployment_runs_as_it_stands_as_held_capacity() {
    let o = twin(&["run", "examples/k8s-fleet.toml", "--format", "json"], None);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let s = summary(&o);
    assert!(err.contains("v1 Service image-recognition-service: not modelled, skipped"), "{err}");
    assert!(err.contains("no twin.dev/ load annotations"), "{err}");
    let svc = &s["services"][0];
    assert_eq!(svc["name"], "image-recognition-inference");
    assert_eq!((svc["load"].as_bool(), svc["arrived"].as_u64(), svc["peak_replicas"].as_u64()), (Some(false), Some(0), Some(3)));
    assert!(svc["cost"].as_f64().unwrap() > 0.0);
    // Three A100s of the reserved node's eight: the rest is idle.
    let pool = &s["pools"][0];
    assert!((pool["allocation"].as_f64().unwrap() - 3.0 / 8.0).abs() < 0.01, "{pool}");
    let text = twin(&["run", "examples/k8s-fleet.toml"], None);
    assert!(String::from_utf8_lossy(&text.stdout).contains("capacity held, no load modelled"));
}

#[test]
fn with_load_annotations_the_deployment_serves_and_its_hpa_scales_it() {
    let o =
        twin(&["run", "examples/a100-fleet.toml", "--manifests", "examples/k8s/image-recognition-served.yaml", "--format", "json"], None);
    let s = summary(&o);
    let svc = &s["services"][0];
    assert_eq!(svc["load"].as_bool(), Some(true));
    assert!(svc["arrived"].as_u64().unwrap() > 1_000_000, "{svc}");
    assert!(svc["scale_ups"].as_u64().unwrap() + svc["scale_downs"].as_u64().unwrap() > 0, "the HPA acts: {svc}");
    assert_eq!(svc["team"], "vision");
}

#[test]
fn a_stream_on_stdin_reads_like_a_file() {
    let yaml = std::fs::read_to_string(crate::root().join("examples/k8s/image-recognition.yaml")).unwrap();
    let from_stdin = summary(&twin(&["run", "examples/a100-fleet.toml", "--manifests", "-", "--format", "json"], Some(&yaml)));
    let from_file = summary(&twin(
        &["run", "examples/a100-fleet.toml", "--manifests", "examples/k8s/image-recognition.yaml", "--format", "json"],
        None,
    ));
    assert_eq!(from_stdin["cost"], from_file["cost"]);
    assert_eq!(from_stdin["services"], from_file["services"]);
}

#[test]
fn bad_manifests_name_file_document_line_and_field_with_exit_two() {
    let yaml = std::fs::read_to_string(crate::root().join("examples/k8s/image-recognition.yaml")).unwrap();
    let cases = [
        (yaml.replace("cpu: \"2\"", "cpu: \"2 cores\""), "resources.requests.cpu"),
        (yaml.replace("gpu.type: nvidia-a100 #", "gpu.type: nvidia-h100 #"), "a100-od"),
        (yaml.replace("  replicas: 3", "  replicas: [3"), "line"),
    ];
    for (text, needle) in cases {
        let o = twin(&["run", "examples/a100-fleet.toml", "--manifests", "-"], Some(&text));
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("<stdin>") && err.contains("document 1") && err.contains(needle), "{needle}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// CPU a pod asks for is fitted against the node's vCPUs: eight one-GPU
/// replicas asking 24 cores each fill a 96-vCPU, 8-GPU node four at a time.
#[test]
fn cpu_requests_spread_replicas_that_gpus_alone_would_pack() {
    let text = |cpu: u32| {
        format!(
            r#"
format_version = 1
name = "cpu"
horizon = "1h"
[[pools]]
name = "a100"
node_type = "p4de.24xlarge"
capacity = "on-demand"
max_nodes = 4
[[services]]
name = "held"
pools = ["a100"]
replicas = 8
arrivals = "none"
scheduling = {{ cpu_milli_per_gpu = {cpu}, memory_mib_per_gpu = 8192 }}
"#
        )
    };
    let nodes = |cpu: u32| {
        let out = twin_sim::run(&crate::scenario(&text(cpu)), 1, twin_sim::RunOptions::summary_only()).unwrap();
        (out.summary.pools[0].peak_nodes, out.summary.services[0].peak_replicas)
    };
    assert_eq!(nodes(0), (1, 8));
    assert_eq!(nodes(2_000), (1, 8));
    assert_eq!(nodes(24_000), (2, 8));
}

#[test]
fn validate_reads_the_manifests_a_scenario_names() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = std::fs::read_to_string(crate::root().join("examples/k8s-fleet.toml")).unwrap();
    let yaml = std::fs::read_to_string(crate::root().join("examples/k8s/image-recognition.yaml")).unwrap();
    std::fs::create_dir(dir.path().join("k8s")).unwrap();
    std::fs::write(dir.path().join("fleet.toml"), fleet).unwrap();
    std::fs::write(dir.path().join("k8s/image-recognition.yaml"), yaml.replace("memory: \"6Gi\"", "memory: \"6Gb\"")).unwrap();
    let path = dir.path().join("fleet.toml");
    let o = twin(&["validate", path.to_str().unwrap()], None);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("image-recognition.yaml") && err.contains("requests.memory"), "{err}");
}
