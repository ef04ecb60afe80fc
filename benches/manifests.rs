//! Reading Kubernetes manifests: a generated `kustomize build`-like stream
//! of 10,000 objects (Deployments with and without load annotations, their
//! HPAs, Jobs), parsed into typed objects, and parsed then applied to a
//! small fleet. The goal is under a second for the stream.
//!
//! `cargo bench -p twin-benches --bench manifests`
#![forbid(unsafe_code)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::fmt::Write;
use twin_manifests::{ManifestFile, apply, parse};
use twin_sim::scenario::Scenario;

const OBJECTS: usize = 10_000;

/// The stream: per group of four, a served Deployment, its HPA, a Deployment
/// holding capacity and a training Job.
fn stream() -> String {
    let mut s = String::new();
    for i in 0..OBJECTS / 4 {
        let _ = write!(
            s,
            r#"---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: chat-{i}
  namespace: team-{team}
  labels: {{app: chat-{i}, team: team-{team}}}
  annotations:
    twin.dev/model: llama-3.1-8b
    twin.dev/arrivals: "{{ poisson = {{ rate = 5.0 }} }}"
    twin.dev/prompt-tokens: "{{ lognormal = {{ median = 500, sigma = 0.9 }} }}"
    twin.dev/output-tokens: "250"
    twin.dev/slo-ttft: 500ms
    twin.dev/slo-e2e: 20s
spec:
  replicas: 2
  selector: {{matchLabels: {{app: chat-{i}}}}}
  template:
    metadata:
      labels: {{app: chat-{i}}}
    spec:
      nodeSelector: {{gpu.type: H100}}
      containers:
      - name: vllm
        image: vllm/vllm-openai:v0.9.0
        args: ["--model", "meta-llama/Llama-3.1-8B"]
        ports: [{{containerPort: 8000}}]
        resources:
          limits: {{nvidia.com/gpu: 1, memory: 64Gi}}
          requests: {{nvidia.com/gpu: 1, cpu: "8", memory: 48Gi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: chat-{i}
  namespace: team-{team}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: chat-{i}}}
  minReplicas: 1
  maxReplicas: 8
  metrics:
  - type: Pods
    pods:
      metric: {{name: "vllm:num_requests_running"}}
      target: {{type: AverageValue, averageValue: "16"}}
  behavior:
    scaleUp:
      policies: [{{type: Pods, value: 2, periodSeconds: 60}}]
    scaleDown:
      stabilizationWindowSeconds: 600
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: embed-{i}
  namespace: team-{team}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: embed-{i}}}}}
  template:
    metadata:
      labels: {{app: embed-{i}}}
    spec:
      containers:
      - name: server
        image: embed:1
        resources:
          limits: {{nvidia.com/gpu: 1}}
          requests: {{cpu: 2500m, memory: 16Gi}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: finetune-{i}
  namespace: team-{team}
  annotations:
    twin.dev/work-gpu-hours: "12.5"
    twin.dev/gang: "true"
spec:
  parallelism: 2
  completions: 2
  template:
    spec:
      restartPolicy: Never
      tolerations: [{{key: dedicated, operator: Equal, value: batch, effect: NoSchedule}}]
      containers:
      - name: train
        image: trainer:3
        resources:
          limits: {{nvidia.com/gpu: 8}}
          requests: {{cpu: "96", memory: 1000Gi}}
"#,
            team = i % 20
        );
    }
    s
}

const FLEET: &str = r#"
format_version = 1
name = "manifests-bench"
horizon = "1d"
[[pools]]
name = "h100"
node_type = "p5.48xlarge"
capacity = "on-demand"
max_nodes = 512
[[pools]]
name = "h100-batch"
node_type = "p5.48xlarge"
capacity = "spot"
price = 30.0
max_nodes = 512
taints = [{ key = "dedicated", value = "batch", effect = "NoSchedule" }]
"#;

fn manifests(c: &mut Criterion) {
    let files = vec![ManifestFile { origin: "stream.yaml".into(), text: stream() }];
    let scenario = Scenario::from_toml(FLEET, "manifests-bench.toml").expect("the bench fleet checks");
    let parsed = parse(&files).expect("the stream parses");
    assert_eq!(parsed.objects().len(), OBJECTS);
    let applied = apply(&parsed, &scenario.spec, &scenario.catalogue).expect("the stream applies");
    assert_eq!(applied.services.len(), OBJECTS / 2);
    let mut group = c.benchmark_group("manifests");
    group.sample_size(10);
    group.throughput(Throughput::Elements(OBJECTS as u64));
    group.bench_function("parse-10k", |b| b.iter(|| parse(&files).expect("parses")));
    group.bench_function("parse-and-apply-10k", |b| {
        b.iter(|| apply(&parse(&files).expect("parses"), &scenario.spec, &scenario.catalogue).expect("applies"))
    });
    group.finish();
}

criterion_group!(benches, manifests);
criterion_main!(benches);
