//! The cost of one policy decision through regorus, with the project's own
//! policies (`policies/`): evaluated afresh (a cache miss), answered from the
//! decision cache (an input seen before), and, as the baseline, compiled and
//! evaluated per decision (what calling a policy engine naïvely costs).
//!
//! `cargo bench -p twin-benches --bench policy`
#![forbid(unsafe_code)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;
use std::hint::black_box;
use twin_policy::{Point, RegoPolicies};

/// The policy library as (file, text), tests left out, and its data document.
fn library() -> (Vec<(String, String)>, String) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("policies/").map(|e| e.unwrap().path()).collect();
    files.sort();
    let sources = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rego") && !p.to_string_lossy().ends_with("_test.rego"))
        .map(|p| (p.display().to_string(), std::fs::read_to_string(p).unwrap()))
        .collect();
    (sources, std::fs::read_to_string(dir.join("data.json")).unwrap())
}

fn workload() -> serde_json::Value {
    json!({
        "kind": "InferenceService", "name": "chat", "namespace": "assistant", "team": "assistant",
        "image": "registry.internal/vllm:0.6", "labels": {"residency": "eu", "critical": "true"},
        "model": "llama-3.1-8b", "gpus": 1, "replicas": 4, "priority": 100,
        "pools": ["h100-spot", "h100-od"], "regions": ["eu-west-1"]
    })
}

/// One input per decision point, each denied by one rule of the library
/// (checked before timing): allowed-registry, critical-not-on-spot, team-budget.
/// Admission's input is Gatekeeper's: the Deployment under review and the
/// Constraint's parameters (data.json's `config`).
fn inputs(data: &str) -> [(Point, serde_json::Value); 3] {
    let config = serde_json::from_str::<serde_json::Value>(data).unwrap()["config"].clone();
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "chat", "namespace": "assistant", "labels": {"team": "assistant", "residency": "eu"}},
        "spec": {"replicas": 4, "template": {"spec": {"containers": [
            {"name": "chat", "image": "docker.io/vllm/vllm-openai:latest", "resources": {"requests": {"nvidia.com/gpu": "1"}}}
        ]}}}
    });
    [
        (
            Point::Admission,
            json!({"review": {"kind": {"group": "apps", "version": "v1", "kind": "Deployment"}, "operation": "CREATE", "object": deployment}, "parameters": config}),
        ),
        (
            Point::Placement,
            json!({"workload": workload(), "pool": {"name": "h100-spot", "capacity": "spot", "region": "eu-west-1", "zone": "eu-west-1a",
                "accelerator": "H100", "price_per_gpu_hour": 2.8, "interruption_per_hour": 0.002}}),
        ),
        (
            Point::Scaling,
            json!({"service": workload(), "current_replicas": 4, "desired_replicas": 6,
                "team": {"name": "assistant", "spend_to_date": 9000.0, "run_rate_per_hour": 40.0,
                    "forecast_monthly_spend": 30000.0, "added_monthly_spend": 7000.0}}),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let (sources, data) = library();
    let mut g = c.benchmark_group("policy");
    for (point, input) in inputs(&data) {
        let name = format!("{point:?}").to_lowercase();
        let json = input.to_string();
        let mut policies = RegoPolicies::new(&sources, Some(&data)).unwrap();
        let denied = policies.evaluate_json(point, &json).unwrap();
        assert_eq!(denied.len(), 1, "{name}: the input is denied by exactly one rule: {denied:?}");
        g.bench_function(format!("{name}/compiled-once"), |b| {
            b.iter(|| black_box(policies.evaluate_json(point, black_box(&json)).unwrap()));
        });
        let mut cached = RegoPolicies::new(&sources, Some(&data)).unwrap();
        cached.evaluate(point, &input).unwrap();
        g.bench_function(format!("{name}/cache-hit"), |b| {
            b.iter(|| black_box(cached.evaluate(point, black_box(&input)).unwrap()));
        });
        g.bench_function(format!("{name}/compile-per-decision"), |b| {
            b.iter_batched(
                || (),
                |()| {
                    let mut p = RegoPolicies::new(&sources, Some(&data)).unwrap();
                    black_box(p.evaluate_json(point, &json).unwrap())
                },
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
