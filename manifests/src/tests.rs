//! Manifests applied to small scenarios, end to end: what each kind
//! becomes, that the simulator accepts it, and where each bad input is reported.

use crate::{Applied, ManifestError, apply, parse_str};
use twin_sim::scenario::Scenario;
use twin_sim::scenario::spec::{ArrivalSpec, CapacityType, PriceSpec, ScaleMetric};

const SCENARIO: &str = r#"
format_version = 1
name = "fleet"
horizon = "1d"

[[pools]]
name = "a100-od"
node_type = "p4de.24xlarge"
capacity = "on-demand"
max_nodes = 4
labels = { "gpu.type" = "nvidia-a100" }

[[pools]]
name = "h100-spot"
node_type = "p5.48xlarge"
capacity = "spot"
price = 30.0
max_nodes = 8
taints = [{ key = "dedicated", value = "batch", effect = "NoSchedule" }]

[[pools]]
name = "l4"
node_type = "g6.xlarge"
capacity = "on-demand"
"#;

const SEED: &str = include_str!("../tests/fixtures/image-recognition.yaml");

fn scenario() -> Scenario {
    Scenario::from_toml(SCENARIO, "s.toml").unwrap()
}

/// Applies `yaml` (as `app.yaml`) to the test scenario, and checks that the
/// scenario with what it brings passes the simulator's own checks.
fn run(yaml: &str) -> Result<Applied, ManifestError> {
    let s = scenario();
    let applied = apply(&crate::parse_str("app.yaml", yaml)?, &s.spec, &s.catalogue)?;
    let mut spec = s.spec.clone();
    spec.pools.extend(applied.pools.clone());
    spec.services.extend(applied.services.clone());
    spec.training.extend(applied.training.clone());
    if let Err(e) = Scenario::from_spec(spec, "with-manifests") {
        panic!("the simulator refuses what the manifests bring: {e}");
    }
    Ok(applied)
}

fn error(yaml: &str) -> ManifestError {
    match run(yaml) {
        Ok(a) => panic!("expected an error, got {a:?}"),
        Err(e) => e,
    }
}

const LOAD: &str = r#"  annotations:
    twin.dev/model: llama-3.1-8b
    twin.dev/arrivals: "{ poisson = { rate = 20.0 } }"
    twin.dev/prompt-tokens: "{ lognormal = { median = 500, sigma = 0.9 } }"
    twin.dev/output-tokens: "250"
    twin.dev/slo-ttft: 500ms
    twin.dev/slo-e2e: 20s
    twin.dev/max-batch: "64"
"#;

fn with_load(yaml: &str) -> String {
    yaml.replacen("  name: image-recognition-inference\n", &format!("  name: image-recognition-inference\n{LOAD}"), 1)
}

#[test]
fn the_seed_deployment_holds_three_a100s() {
    let a = run(SEED).unwrap();
    assert_eq!(a.services.len(), 1);
    let s = &a.services[0];
    assert_eq!(s.name, "image-recognition-inference");
    assert_eq!((s.replicas, s.gpus_per_replica), (3, 1));
    assert_eq!((s.scheduling.cpu_milli_per_gpu, s.scheduling.memory_mib_per_gpu), (2_000, 6_144));
    assert_eq!(s.pools, ["a100-od"]);
    assert_eq!(s.scheduling.node_selector.get("gpu.type").map(String::as_str), Some("nvidia-a100"));
    assert_eq!(s.image, "apexlogic/image-recognition-model:v2.1.0");
    assert_eq!((s.team.as_str(), s.namespace.as_deref()), ("default", Some("default")));
    assert_eq!(s.labels.get("app").map(String::as_str), Some("image-recognition"));
    assert!(matches!(s.arrivals, ArrivalSpec::None));
    assert!(s.model.is_none() && s.slo.is_none());
    assert_eq!(
        a.notes,
        [
            "Deployment image-recognition-inference: no twin.dev/ load annotations: modelled as 3 replicas × 1 GPU held all run (cost, placement, fragmentation; no requests)",
            "app.yaml document 2: v1 Service image-recognition-service: not modelled, skipped",
        ]
    );
    let at = &a.origins["image-recognition-inference"];
    assert_eq!((at.file.as_str(), at.document, at.line), ("app.yaml", 1, 2));
}

#[test]
fn the_seed_deployment_with_load_annotations_serves() {
    let a = run(&with_load(SEED)).unwrap();
    let s = &a.services[0];
    assert_eq!(s.model.as_deref(), Some("llama-3.1-8b"));
    assert!(matches!(s.arrivals, ArrivalSpec::Poisson { rate } if rate == 20.0));
    let slo = s.slo.as_ref().unwrap();
    assert_eq!((slo.ttft.get().as_secs_f64(), slo.e2e.get().as_secs_f64(), slo.target), (0.5, 20.0, 0.99));
    assert_eq!(s.max_batch, 64);
    assert!(s.prompt_tokens.is_some() && s.output_tokens.is_some());
    assert_eq!(a.notes[0], "Deployment image-recognition-inference: serves llama-3.1-8b as 3 replicas × 1 GPU in pools a100-od");
}

#[test]
fn a_partial_load_is_an_error_naming_what_is_missing() {
    let yaml = SEED.replacen(
        "  name: image-recognition-inference\n",
        "  name: image-recognition-inference\n  annotations:\n    twin.dev/model: llama-3.1-8b\n",
        1,
    );
    let e = error(&yaml);
    let p = e.problem().unwrap();
    assert_eq!(p.field, "metadata.annotations[twin.dev/model]");
    assert_eq!((p.at.line, p.at.column), (7, 21));
    assert!(
        p.message.contains("twin.dev/arrivals, twin.dev/slo-ttft, twin.dev/slo-e2e, twin.dev/prompt-tokens, twin.dev/output-tokens"),
        "{e}"
    );
}

#[test]
fn an_unknown_model_lists_close_names() {
    let e = error(&with_load(SEED).replace("llama-3.1-8b", "llama-3.1-8"));
    assert!(matches!(e, ManifestError::Value(_)));
    let p = e.problem().unwrap();
    assert_eq!(p.field, "metadata.annotations[twin.dev/model]");
    assert!(p.hint.starts_with("did you mean llama-3.1-8b"), "{e}");
}

#[test]
fn an_unknown_annotation_lists_the_known_ones() {
    let yaml = SEED.replacen(
        "  name: image-recognition-inference\n",
        "  name: image-recognition-inference\n  annotations:\n    twin.dev/replicas-max: \"4\"\n",
        1,
    );
    let e = error(&yaml);
    let p = e.problem().unwrap();
    assert_eq!(p.message, "unknown annotation twin.dev/replicas-max");
    assert!(p.hint.contains("twin.dev/model") && p.hint.contains("twin.dev/max-batch"), "{e}");
    assert_eq!((p.at.document, p.at.line), (1, 7));
}

#[test]
fn a_bad_quantity_is_located_in_the_file() {
    let yaml = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n---\n{}", SEED.replace("cpu: \"2\"", "cpu: 5x"));
    let e = error(&yaml);
    assert_eq!(
        e.to_string(),
        "app.yaml: document 2, line 35, column 18: spec.template.spec.containers[0].resources.requests.cpu: \"5x\" is not a Kubernetes quantity (write 500m, 2, 6Gi)"
    );
}

#[test]
fn a_selector_no_pool_satisfies_names_every_pool_and_its_labels() {
    let e = error(&SEED.replace("gpu.type: nvidia-a100", "gpu.type: nvidia-h100"));
    assert!(matches!(e, ManifestError::Placement(_)));
    let p = e.problem().unwrap();
    assert_eq!(p.field, "spec.template.spec.nodeSelector");
    assert_eq!((p.at.line, p.at.column), (37, 7));
    assert!(p.message.starts_with("no pool can run Deployment image-recognition-inference (1 nvidia.com/gpu per pod"), "{e}");
    assert!(p.message.contains("nodeSelector {gpu.type=nvidia-h100}"), "{e}");
    assert!(p.hint.contains("a100-od {gpu.type=nvidia-a100, "), "{e}");
    assert!(p.hint.contains("gpu.type=nvidia-a100, not nvidia-h100"), "{e}");
    assert!(p.hint.contains("h100-spot {gpu.type=H100, "), "{e}");
    assert!(p.hint.contains("l4 {gpu.type=L4, "), "{e}");
}

#[test]
fn affinity_and_tolerations_choose_pools() {
    let yaml = SEED
        .replace("      nodeSelector:\n        gpu.type: nvidia-a100 # Target specific GPU nodes\n", "")
        .replace(
            "      containers:\n",
            "      affinity:\n        nodeAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            nodeSelectorTerms:\n            - matchExpressions:\n              - {key: gpu.type, operator: In, values: [H100, nvidia-a100]}\n      tolerations:\n      - {key: dedicated, operator: Exists}\n      containers:\n",
        );
    let a = run(&yaml).unwrap();
    assert_eq!(a.services[0].pools, ["a100-od", "h100-spot"]);
    assert!(a.services[0].scheduling.node_selector.is_empty());
    assert_eq!(a.services[0].scheduling.tolerations.len(), 1);
    // Without the toleration the tainted pool is out.
    let a = run(&yaml.replace("      tolerations:\n      - {key: dedicated, operator: Exists}\n", "")).unwrap();
    assert_eq!(a.services[0].pools, ["a100-od"]);
}

const HPA: &str = r#"---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: vision
  annotations:
    twin.dev/predictive: "true"
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: image-recognition-inference}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Pods
    pods:
      metric: {name: "vllm:num_requests_running"}
      target: {type: AverageValue, averageValue: "8"}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 30
      selectPolicy: Max
      policies:
      - {type: Pods, value: 4, periodSeconds: 60}
      - {type: Percent, value: 50, periodSeconds: 60}
    scaleDown:
      selectPolicy: Min
      policies:
      - {type: Pods, value: 3, periodSeconds: 60}
      - {type: Percent, value: 10, periodSeconds: 60}
"#;

#[test]
fn an_hpas_behaviour_becomes_windows_and_steps() {
    let a = run(&format!("{}{HPA}", with_load(SEED))).unwrap();
    let s = &a.services[0];
    let x = s.autoscaler.as_ref().unwrap();
    assert_eq!((x.metric, x.target, x.min, x.max), (ScaleMetric::Concurrency, 8.0, 2, 10));
    assert_eq!((x.scale_up_window.get().as_secs_f64(), x.scale_down_window.get().as_secs_f64()), (30.0, 300.0));
    assert_eq!((x.max_step_up, x.max_step_down), (Some(5), Some(1)), "up: max(4, 50% of 10); down: min(3, 10% of 10)");
    assert!(x.predictive.is_some());
    assert!(a.notes.iter().any(|n| n.contains("HPA policy periods approximated")), "{:?}", a.notes);
}

#[test]
fn disabled_scaling_and_cpu_utilisation() {
    let hpa = HPA
        .replace("selectPolicy: Min", "selectPolicy: Disabled")
        .replace(
            "  - type: Pods\n    pods:\n      metric: {name: \"vllm:num_requests_running\"}\n      target: {type: AverageValue, averageValue: \"8\"}\n",
            "  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}\n",
        )
        .replace("  minReplicas: 2\n", "  minReplicas: 4\n");
    let a = run(&format!("{}{hpa}", with_load(SEED))).unwrap();
    let s = &a.services[0];
    let x = s.autoscaler.as_ref().unwrap();
    assert_eq!((x.metric, x.target), (ScaleMetric::Utilisation, 0.7));
    assert_eq!(s.replicas, 4, "3 replicas raised to minReplicas");
    assert!(x.scale_down_window.get().as_secs_f64() >= 86_400.0);
    assert!(a.notes.iter().any(|n| n.contains("not cpu")), "{:?}", a.notes);
}

#[test]
fn an_hpa_whose_target_is_missing_is_an_error() {
    let e = error(&format!("{SEED}{}", HPA.replace("name: image-recognition-inference", "name: vision-v2")));
    assert!(matches!(e, ManifestError::Reference(_)));
    let p = e.problem().unwrap();
    assert_eq!(p.field, "spec.scaleTargetRef.name");
    assert_eq!(p.at.document, 3);
    assert_eq!(p.message, "the target Deployment vision-v2 is not in the manifests (namespace default)");
    assert_eq!(p.hint, "namespace default has Deployment image-recognition-inference");
}

#[test]
fn an_unknown_metric_lists_those_twin_reads() {
    let e = error(&format!("{SEED}{}", HPA.replace("vllm:num_requests_running", "requests_per_second")));
    let p = e.problem().unwrap();
    assert_eq!(p.field, "spec.metrics[0].pods.metric.name");
    assert!(p.hint.contains("vllm:num_requests_waiting"), "{e}");
}

const NODEPOOL: &str = r#"---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: gpu
  annotations:
    twin.dev/spot-price: "31.5"
spec:
  template:
    metadata:
      labels: {team: ml}
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}
      - {key: node.kubernetes.io/instance-type, operator: In, values: [p5.48xlarge]}
      - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1a]}
      taints:
      - {key: nvidia.com/gpu, value: "true", effect: NoSchedule}
  limits:
    nvidia.com/gpu: 64
    cpu: "2000"
  disruption:
    consolidationPolicy: WhenEmpty
    consolidateAfter: 5m
"#;

#[test]
fn a_nodepool_makes_spot_and_on_demand_pools() {
    let dep = SEED
        .replace(
            "gpu.type: nvidia-a100 # Target specific GPU nodes",
            "karpenter.sh/nodepool: gpu\n        karpenter.sh/capacity-type: spot",
        )
        .replace(
            "      containers:\n",
            "      tolerations:\n      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}\n      containers:\n",
        );
    let a = run(&format!("{}{NODEPOOL}", dep.split("---\n").next().unwrap())).unwrap();
    let names: Vec<&str> = a.pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["gpu-p5.48xlarge-spot", "gpu-p5.48xlarge-on-demand"]);
    let spot = &a.pools[0];
    assert_eq!(spot.capacity, CapacityType::Spot);
    assert!(matches!(spot.price, Some(PriceSpec::Fixed(p)) if p == 31.5));
    assert_eq!(spot.max_nodes, Some(8), "64 GPUs / 8 per node; 2000 CPUs / 192 = 10");
    assert_eq!(spot.scale_down_delay.map(|d| d.get().as_secs_f64()), Some(300.0));
    assert_eq!(spot.zone, "us-east-1a");
    assert_eq!(spot.labels.get("team").map(String::as_str), Some("ml"));
    assert_eq!(spot.labels.get("karpenter.sh/nodepool").map(String::as_str), Some("gpu"));
    assert!(a.pools[1].price.is_none(), "on-demand: the list price");
    assert_eq!(a.services[0].pools, ["gpu-p5.48xlarge-spot"]);
}

#[test]
fn a_spot_nodepool_without_a_price_is_an_error() {
    let e = error(&NODEPOOL.replace("  annotations:\n    twin.dev/spot-price: \"31.5\"\n", ""));
    assert!(e.to_string().contains("the spot pool gpu-p5.48xlarge-spot needs a price"), "{e}");
    let a = run(&NODEPOOL.replace("twin.dev/spot-price: \"31.5\"", "twin.dev/like: h100-spot")).unwrap();
    assert!(matches!(a.pools[0].price, Some(PriceSpec::Fixed(p)) if p == 30.0));
}

#[test]
fn a_nodepool_instance_type_must_be_in_the_catalogue() {
    let e = error(&NODEPOOL.replace("values: [p5.48xlarge]", "values: [p5.48xlarg]"));
    let p = e.problem().unwrap();
    assert_eq!(p.field, "spec.template.spec.requirements[1].values[0]");
    assert!(p.hint.starts_with("did you mean p5.48xlarge"), "{e}");
    let e = error(&NODEPOOL.replace("      - {key: node.kubernetes.io/instance-type, operator: In, values: [p5.48xlarge]}\n", ""));
    assert!(e.to_string().contains("Twin needs the NodePool's instance types"), "{e}");
}

const JOB: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: pretrain
  namespace: research
  labels: {kueue.x-k8s.io/pod-group-name: pretrain}
  annotations:
    twin.dev/work-gpu-hours: "100"
    twin.dev/submit-at: 2h
spec:
  parallelism: 2
  completions: 2
  template:
    spec:
      priorityClassName: high
      tolerations: [{key: dedicated, operator: Equal, value: batch}]
      containers:
      - name: train
        image: trainer:1
        resources:
          limits: {nvidia.com/gpu: 8}
          requests: {cpu: "64", memory: 512Gi}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
"#;

#[test]
fn a_job_gang_is_one_training_job() {
    let a = run(JOB).unwrap();
    assert_eq!(a.training.len(), 1);
    let t = &a.training[0];
    assert_eq!(t.name, "research/pretrain");
    assert_eq!((t.gpus, t.work_gpu_hours), (16, 200.0));
    assert_eq!(t.submit_at.get().as_secs_f64(), 7_200.0);
    assert_eq!(t.scheduling.priority, 1_000);
    assert_eq!((t.team.as_str(), t.namespace.as_deref()), ("research", Some("research")));
    assert_eq!(t.pools, ["a100-od", "h100-spot"]);
    assert_eq!(t.scheduling.cpu_milli_per_gpu, 8_000);
    assert!(a.notes[0].contains("a gang (kueue.x-k8s.io/pod-group-name) of 2 pods × 8 = 16 accelerators"), "{:?}", a.notes);
}

#[test]
fn a_job_without_a_gang_runs_its_completions_at_most_parallelism_at_a_time() {
    let a =
        run(&JOB.replace("  labels: {kueue.x-k8s.io/pod-group-name: pretrain}\n", "").replace("completions: 2", "completions: 3")).unwrap();
    let names: Vec<&str> = a.training.iter().map(|t| t.name.as_str()).collect();
    // Parallelism 2, three completions: two workers, the first runs two.
    assert_eq!(names, ["research/pretrain-0", "research/pretrain-1"]);
    let work: Vec<f64> = a.training.iter().map(|t| t.work_gpu_hours).collect();
    assert_eq!(work, [200.0, 100.0]);
    assert!(a.training.iter().all(|t| t.gpus == 8));
    assert!(a.notes.iter().any(|n| n.contains("at most 2 at a time: 2 jobs running 2 or 1 each")), "{:?}", a.notes);
}

#[test]
fn a_job_without_work_holds_capacity() {
    let e = error(&JOB.replace("    twin.dev/work-gpu-hours: \"100\"\n", ""));
    assert_eq!(e.problem().unwrap().message, "twin.dev/submit-at needs twin.dev/work-gpu-hours");
    let a = run(&JOB.replace("  annotations:\n    twin.dev/work-gpu-hours: \"100\"\n    twin.dev/submit-at: 2h\n", "")).unwrap();
    assert!(a.training.is_empty());
    assert_eq!((a.services[0].replicas, a.services[0].gpus_per_replica), (2, 8));
    assert!(a.notes[0].contains("no twin.dev/work-gpu-hours"), "{:?}", a.notes);
}

#[test]
fn an_unknown_priority_class_is_named() {
    let e = error(JOB.split("---").next().unwrap());
    let p = e.problem().unwrap();
    assert_eq!(p.field, "spec.template.spec.priorityClassName");
    assert_eq!(p.message, "PriorityClass high is not in the manifests");
    assert_eq!(p.at.line, 15);
}

#[test]
fn a_name_taken_by_the_scenario_is_an_error_naming_both() {
    let text = SCENARIO.to_string() + "\n[[services]]\nname = \"image-recognition-inference\"\npools = [\"l4\"]\narrivals = \"none\"\n";
    let s = Scenario::from_toml(&text, "s.toml").unwrap();
    let e = apply(&parse_str("app.yaml", SEED).unwrap(), &s.spec, &s.catalogue).unwrap_err();
    assert_eq!(
        e.to_string(),
        "app.yaml: document 1, line 5, column 9: metadata.name: the workload name image-recognition-inference is taken by the scenario's [[services]] entry image-recognition-inference (workload names are unique across the scenario and its manifests (namespace/name outside the namespace default))"
    );
}

#[test]
fn a_pod_without_accelerators_is_skipped_with_a_note() {
    let a = run(&SEED
        .replace("            nvidia.com/gpu: 1 # Request 1 GPU per replica\n", "")
        .replace("            nvidia.com/gpu: 1\n", ""))
    .unwrap();
    assert!(a.services.is_empty());
    assert_eq!(a.notes[0], "Deployment image-recognition-inference: asks for no accelerator: skipped (Twin models accelerator work)");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn apply_text(text: &str) {
        let s = scenario();
        if let Ok(m) = parse_str("fuzz.yaml", text) {
            let _ = apply(&m, &s.spec, &s.catalogue);
        }
    }

    /// The fixtures of this module, one stream.
    fn corpus() -> String {
        format!("{}---\n{HPA}{NODEPOOL}---\n{JOB}", with_load(SEED))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn on_random_text(text in "[ -~\n\t]{0,400}") {
            apply_text(&text);
        }

        #[test]
        fn on_yaml_like_text(text in "(---\n|  |- |: |\\{|\\}|\\[|\\]|[a-z.]{1,8}|[0-9]{1,3}|\"|'|#|&a |\\*a|\n){0,120}") {
            apply_text(&text);
        }

        #[test]
        fn on_mutated_manifests(cuts in prop::collection::vec((any::<prop::sample::Index>(), 0usize..4, "[ -~\n]{0,6}"), 1..6)) {
            let mut text = corpus().into_bytes();
            for (at, len, insert) in cuts {
                let i = at.index(text.len() + 1);
                let end = (i + len).min(text.len());
                text.splice(i..end, insert.bytes());
            }
            apply_text(&String::from_utf8_lossy(&text));
        }
    }
}
