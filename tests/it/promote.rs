//! `twin promote` and `twin rollback` against real temporary git
//! repositories: a promotion, the same again (nothing committed), a
//! rollback, a failing gate and a denied workload (nothing committed), a
//! dirty worktree and a detached HEAD (refused). Every rendered file parses
//! back into its type, and the ConstraintTemplate's Rego, run on
//! Gatekeeper's input, denies what the twin denies.

use crate::{git, text};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use std::path::Path;
use std::process::{Command, Output};
use twin_gitops::gatekeeper::{Constraint, ConstraintTemplate, SyncSet};
use twin_gitops::kustomize::Kustomization;
use twin_gitops::nodepool::NodePoolObject;
use twin_gitops::scheduler_config::KubeSchedulerConfiguration;

fn suite(dir: &Path, data: &str, limit: &str) -> std::path::PathBuf {
    let root = crate::root();
    let text = format!(
        r#"format_version = 1
name = "promote-test"
seeds = {{ count = 6 }}

[[kpis]]
name = "cost_per_month"
threshold = 0.01

[[kpis]]
name = "gpu_allocation"
threshold = 0.01
{limit}

[[scenarios]]
file = "{fleet}"
horizon = "2h"

[promote]
profile = "fgd"
policies = ["{policies}/admission.rego", "{policies}/placement.rego", "{policies}/scaling.rego"]
policy_data = "{data}"
fleet = "{fleet}"
"#,
        fleet = root.join("examples/k8s-fleet.toml").display(),
        policies = root.join("policies").display(),
        data = root.join(data).display(),
    );
    let path = dir.join("suite.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A GitOps repository with one commit on `main`.
fn gitops_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["config", "user.name", "ci"]);
    git(dir.path(), &["config", "user.email", "ci@example.invalid"]);
    std::fs::write(dir.path().join("README.md"), "# fleet\n").unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "init"]);
    dir
}

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin")).args(args).output().expect("twin runs")
}

fn head(repo: &Path) -> String {
    git(repo, &["rev-parse", "HEAD"]).trim().to_string()
}

fn read<T: serde::de::DeserializeOwned>(repo: &Path, rel: &str) -> T {
    let text = std::fs::read_to_string(repo.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{rel} does not parse back: {e}\n{text}"))
}

#[test]
fn a_promotion_commits_once_parses_back_and_rolls_back_by_revert() {
    let work = tempfile::tempdir().unwrap();
    let repo = gitops_repo();
    let r = repo.path();
    let suite = suite(work.path(), "examples/k8s/policy-data.json", "");
    let s = suite.to_str().unwrap();
    let before = head(r);

    let o = twin(&["promote", "--suite", s, "--to", r.to_str().unwrap(), "--env", "production", "-j", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("Regression gate against the suite's own limits (the first promotion)"), "{out}");
    assert!(out.contains("Successful    k8s-fleet"), "{out}");
    assert!(out.contains("promoted to production on main"), "{out}");
    let promoted = head(r);
    assert_ne!(promoted, before);
    let message = git(r, &["log", "-1", "--format=%B"]);
    assert!(message.contains("Twin-Promotion: production"), "{message}");
    assert!(message.contains("Twin-Version: "), "{message}");
    assert!(message.contains("k8s-fleet"), "the scenarios' hashes are in the message: {message}");
    assert_eq!(git(r, &["status", "--porcelain"]), "", "the working tree is the commit");

    // Every file parses back into its type.
    let base = "apps/production/base/twin-scheduler";
    let d: Deployment = read(r, &format!("{base}/extender-deployment.yaml"));
    let c = &d.spec.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(c.args.as_ref().unwrap()[..5], ["extender", "--listen", "0.0.0.0:8888", "--profile", "fgd"]);
    assert!(c.args.as_ref().unwrap().contains(&"--policies".to_string()), "placement policies run in the extender");
    let _: Service = read(r, &format!("{base}/extender-service.yaml"));
    let _: Namespace = read(r, &format!("{base}/namespace.yaml"));
    let cm: ConfigMap = read(r, &format!("{base}/extender-config.yaml"));
    let data = cm.data.unwrap();
    assert!(data.contains_key("placement.rego") && data.contains_key("data.json") && data.contains_key("prices.toml"), "{:?}", data.keys());
    assert!(
        !data.contains_key("admission.rego") && !data.contains_key("scaling.rego"),
        "admission goes to Gatekeeper, scaling stays in the twin"
    );
    let sched: ConfigMap = read(r, &format!("{base}/kube-scheduler-config.yaml"));
    let config: KubeSchedulerConfiguration = serde_saphyr::from_str(&sched.data.unwrap()["config.yaml"]).unwrap();
    assert_eq!(config.extenders[0].url_prefix, "http://twin-extender.twin-system.svc:8888");
    assert_eq!(config.extenders[0].managed_resources[0].name, "nvidia.com/gpu");
    let template: ConstraintTemplate = read(r, "apps/production/base/twin-policies/templates/twinadmission.yaml");
    let constraint: Constraint = read(r, "apps/production/base/twin-policies/constraints/twinadmission.yaml");
    let _: SyncSet = read(r, "apps/production/base/twin-policies/gatekeeper-syncset.yaml");
    assert_eq!(template.spec.targets[0].code[0].source.version, "v1");
    assert_eq!(
        template.spec.targets[0].code[0].source.rego,
        std::fs::read_to_string(crate::root().join("policies/admission.rego")).unwrap()
    );
    assert_eq!(constraint.kind, template.spec.crd.spec.names.kind);
    assert_eq!(constraint.spec.enforcement_action, "deny");
    for pool in ["a100-od", "a100-reserved"] {
        let np: NodePoolObject = read(r, &format!("apps/production/base/twin-fleet/nodepool-{pool}.yaml"));
        assert_eq!(np.kind, "NodePool");
        // And as the manifests loader reads a NodePool.
        let text = std::fs::read_to_string(r.join(format!("apps/production/base/twin-fleet/nodepool-{pool}.yaml"))).unwrap();
        twin_manifests::parse_str("nodepool.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    }
    for k in
        ["apps/production/base/twin-scheduler", "apps/production/base/twin-policies", "apps/production/base/twin-fleet", "apps/production"]
    {
        let kz: Kustomization = read(r, &format!("{k}/kustomization.yaml"));
        for res in &kz.resources {
            assert!(r.join(k).join(res).exists(), "{k}: {res} is listed and present");
        }
    }
    let stored = std::fs::read_to_string(r.join("twin/production/results.json")).unwrap();
    twin_regress::results::Results::from_json(&stored, "results.json").unwrap();

    // The same again: nothing to promote, nothing committed.
    let o = twin(&["promote", "--suite", s, "--to", r.to_str().unwrap(), "--env", "production", "-j", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("Regression gate against the last promotion to production"), "{}", text(&o));
    assert!(text(&o).contains("nothing to promote"), "{}", text(&o));
    assert_eq!(head(r), promoted);

    // Rollback: a new commit restoring the tree before the promotion.
    let o = twin(&["rollback", "--repo", r.to_str().unwrap(), "--env", "production"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains(&format!("reverted {}", &promoted[..12])), "{}", text(&o));
    let reverted = head(r);
    assert_eq!(git(r, &["rev-parse", "HEAD^"]).trim(), promoted, "history is kept");
    assert!(git(r, &["log", "-1", "--format=%B"]).contains(&format!("Twin-Reverts: {promoted}")));
    assert_eq!(git(r, &["diff", &before, &reverted, "--stat"]), "", "the tree is the one before the promotion");
    assert!(!r.join("apps").exists(), "the working tree follows");
    // Nothing left to revert.
    let o = twin(&["rollback", "--repo", r.to_str().unwrap(), "--env", "production"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no promotion to production left to revert"), "{}", text(&o));

    // Environments are apart: promoting production again, then staging, then
    // rolling staging back never touches production's files.
    let o = twin(&["promote", "--suite", s, "--to", r.to_str().unwrap(), "--env", "production", "-j", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let production = head(r);
    let o = twin(&["promote", "--suite", s, "--to", r.to_str().unwrap(), "--env", "staging", "-j", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let staged = head(r);
    let changed = git(r, &["diff", "--name-only", &production, &staged]);
    assert!(!changed.is_empty() && changed.lines().all(|f| f.starts_with("apps/staging/") || f.starts_with("twin/staging/")), "{changed}");
    let o = twin(&["rollback", "--repo", r.to_str().unwrap(), "--env", "staging"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(git(r, &["diff", "--stat", &production, "HEAD"]), "", "staging's rollback leaves production as promoted");
}

#[test]
fn a_failing_gate_or_a_denied_workload_commits_nothing() {
    let work = tempfile::tempdir().unwrap();
    let repo = gitops_repo();
    let r = repo.path().to_str().unwrap();
    let before = head(repo.path());

    // The fleet's allocation (37.5%) is below a floor of 50%.
    let s = suite(work.path(), "examples/k8s/policy-data.json", "limit = 0.5");
    let o = twin(&["promote", "--suite", s.to_str().unwrap(), "--to", r, "-j", "2"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("Failed        k8s-fleet                    gpu_allocation"), "{}", text(&o));
    assert!(text(&o).contains("nothing committed"), "{}", text(&o));
    assert_eq!(head(repo.path()), before);

    // The shipped data allows no apexlogic/ images: the fleet's Deployment is denied.
    let s = suite(work.path(), "policies/data.json", "");
    let o = twin(&["promote", "--suite", s.to_str().unwrap(), "--to", r, "-j", "2"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("Failed        admission  default/image-recognition-inference: allowed-registry"), "{}", text(&o));
    assert_eq!(head(repo.path()), before);
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
}

#[test]
fn a_dirty_tree_a_detached_head_and_a_missing_branch_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let repo = gitops_repo();
    let r = repo.path();
    let s = suite(work.path(), "examples/k8s/policy-data.json", "");
    let s = s.to_str().unwrap();
    std::fs::write(r.join("notes.txt"), "wip").unwrap();
    let o = twin(&["promote", "--suite", s, "--to", r.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("the working tree has changes (notes.txt)"), "{}", text(&o));
    std::fs::remove_file(r.join("notes.txt")).unwrap();

    let o = twin(&["promote", "--suite", s, "--to", r.to_str().unwrap(), "--branch", "release"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no branch release"), "{}", text(&o));

    git(r, &["checkout", "-q", "--detach", "HEAD"]);
    let o = twin(&["promote", "--suite", s, "--to", r.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("HEAD is detached"), "{}", text(&o));
}

/// The template's Rego, with the Constraint's parameters, on the input
/// Gatekeeper builds, denies exactly what the twin's admission denies.
#[test]
fn the_constraint_template_denies_what_the_twin_denies() {
    use twin_policy::RegoPolicies;
    use twin_sim::policy::{AdmissionInput, Inventory, KubeObject, Review, WorkloadDoc};
    let root = crate::root();
    let rego = std::fs::read_to_string(root.join("policies/admission.rego")).unwrap();
    let data = std::fs::read_to_string(root.join("policies/data.json")).unwrap();
    let parameters = serde_json::from_str::<serde_json::Value>(&data).unwrap()["config"].clone();
    let template = twin_gitops::gatekeeper::template("TwinAdmission", &rego, &parameters);
    let constraint = twin_gitops::gatekeeper::constraint("TwinAdmission", "twin-admission", parameters, true, "twin-system");
    // Through YAML and back, as the cluster would get them.
    let template: ConstraintTemplate = serde_saphyr::from_str(&twin_gitops::yaml::document("t", &template).unwrap()).unwrap();
    let constraint: Constraint = serde_saphyr::from_str(&twin_gitops::yaml::document("c", &constraint).unwrap()).unwrap();
    let gatekeeper_rego = &template.spec.targets[0].code[0].source.rego;

    let mut twin = RegoPolicies::new(&[("admission.rego".into(), rego.clone())], Some(&data)).unwrap();
    let doc = |name: &str, team: &str, image: &str, gpus: u32, labels: &[(&str, &str)], regions: &[&str]| WorkloadDoc {
        kind: "TrainingJob",
        name: name.into(),
        namespace: team.into(),
        team: team.into(),
        image: image.into(),
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        model: None,
        gpus,
        replicas: 1,
        priority: 0,
        pools: vec!["p".into()],
        regions: regions.iter().map(|r| r.to_string()).collect(),
    };
    let running = doc("pretrain-a", "research", "registry.internal/m", 40, &[], &["us-east-1"]);
    let cases = [
        doc("ok", "research", "registry.internal/m", 8, &[], &["us-east-1"]),
        doc("hub", "assistant", "docker.io/x/y", 1, &[], &["us-east-1"]),
        doc("eu-model", "assistant", "registry.internal/m", 1, &[("residency", "eu")], &["eu-west-1", "us-east-1"]),
        doc("big", "research", "nvcr.io/nvidia/nemo", 16, &[], &["us-east-1"]),
    ];
    let mut denied = 0;
    for d in &cases {
        let mut inventory = Inventory::default();
        inventory.insert(KubeObject::of(&running, 1, running.gpus));
        let input = AdmissionInput { review: Review::create(KubeObject::of(d, 1, d.gpus)), inventory: inventory.clone() };
        let in_twin = twin.admit(&input).unwrap();
        // Gatekeeper: the template's Rego alone, no data file, input.parameters
        // from the Constraint, data.inventory as its sync fills it.
        let mut gk = regorus::Engine::new();
        gk.add_policy("template.rego".into(), gatekeeper_rego.clone()).unwrap();
        gk.add_data_json(&serde_json::json!({"inventory": inventory}).to_string()).unwrap();
        gk.set_input_json(&serde_json::json!({"review": input.review, "parameters": constraint.spec.parameters}).to_string()).unwrap();
        let v = gk.eval_rule("data.twin.admission.violation".into()).unwrap().to_json_str().unwrap();
        let v: Vec<serde_json::Value> = serde_json::from_str(&v).unwrap();
        let mut in_cluster: Vec<(String, String)> =
            v.iter().map(|x| (x["details"]["rule"].as_str().unwrap().to_string(), x["msg"].as_str().unwrap().to_string())).collect();
        in_cluster.sort();
        let in_twin: Vec<(String, String)> = in_twin.into_iter().map(|v| (v.rule, v.message)).collect();
        assert_eq!(in_twin, in_cluster, "{}", d.name);
        denied += usize::from(!in_twin.is_empty());
    }
    assert_eq!(denied, 3, "registry, residency and quota each deny one case");
}

/// `twin policy test` runs admission tests twice, the second time as
/// Gatekeeper would (no data file), and fails an admission policy that reads
/// `data.config`, naming the line.
#[test]
fn policy_test_covers_the_twin_and_gatekeeper() {
    let out = twin(&["policy", "test", crate::root().join("policies").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("PASS  [gatekeeper]"), "{}", text(&out));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("admission.rego"),
        "package twin.admission\n\n# Reads the twin's data file: works in the twin only.\nviolation contains {\"msg\": \"over\", \"details\": {\"rule\": \"cap\"}} if {\n\tinput.review.object.spec.replicas > data.config.max_replicas\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("admission_test.rego"),
        "package twin.admission_test\n\nimport data.twin.admission\n\ntest_caps if {\n\tcount(admission.violation) == 1 with input as {\"review\": {\"object\": {\"spec\": {\"replicas\": 9}}}}\n}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("data.json"), r#"{"config": {"max_replicas": 4}}"#).unwrap();
    let out = twin(&["policy", "test", dir.path().to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("PASS  ") && t.contains("admission_test.rego: data.twin.admission_test.test_caps"), "in the twin it passes: {t}");
    assert!(t.contains("FAIL  [gatekeeper]") && t.contains("line 5: `data.config.max_replicas`"), "{t}");
    assert!(t.contains("Gatekeeper has no data file"), "{t}");
}

const TUNED_APP: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: classifier
  labels:
    team: vision
  annotations:
    twin.dev/arrivals: "{ poisson = { rate = 30.0 } }"
    twin.dev/service-time: "{ fixed = { duration = \"60ms\" } }"
    twin.dev/max-batch: "4"
    twin.dev/slo-ttft: "500ms"
    twin.dev/slo-e2e: "500ms"
    twin.dev/slo-target: "0.99"
spec:
  replicas: 4
  selector:
    matchLabels:
      app: classifier
  template:
    metadata:
      labels:
        app: classifier
    spec:
      containers:
        - name: model
          image: registry.internal/classifier:1.0
          resources:
            requests:
              nvidia.com/gpu: 1
            limits:
              nvidia.com/gpu: 1
      nodeSelector:
        gpu.type: L4
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: classifier-hpa
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: classifier
  minReplicas: 4
  maxReplicas: 6
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 60
"#;

/// `[[promote.tune]]`: the cheapest HPA bounds that meet the SLO on every
/// seed become a patch of the HPA in the overlay, over the workloads'
/// manifests as the twin ran them; a grid where nothing meets the SLO
/// patches nothing.
#[test]
fn tuned_hpa_bounds_become_a_kustomize_patch_of_the_workload() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::write(w.join("app.yaml"), TUNED_APP).unwrap();
    std::fs::write(
        w.join("fleet.toml"),
        "format_version = 1\nname = \"l4-fleet\"\nhorizon = \"1h\"\nseed = 1\nmanifests = [\"app.yaml\"]\n\n[[pools]]\nname = \"l4-od\"\nnode_type = \"g6.xlarge\"\ncapacity = \"on-demand\"\nmax_nodes = 10\n",
    )
    .unwrap();
    let suite = |grid: &str| {
        format!(
            "format_version = 1\nname = \"tune\"\nseeds = {{ count = 6 }}\n\n[[kpis]]\nname = \"cost_per_month\"\n\n[[scenarios]]\nfile = \"fleet.toml\"\n\n[promote]\nprofile = \"default\"\nfleet = \"fleet.toml\"\n\n[[promote.tune]]\nworkload = \"classifier\"\n{grid}\n"
        )
    };
    std::fs::write(w.join("suite.toml"), suite("min_replicas = [1, 2, 4]\nmax_replicas = [4, 6]")).unwrap();
    let repo = gitops_repo();
    let r = repo.path();
    let o = twin(&["promote", "--suite", w.join("suite.toml").to_str().unwrap(), "--to", r.to_str().unwrap(), "-j", "2"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("Tuned         classifier: minReplicas 4, maxReplicas 6"), "{out}");
    assert!(out.contains("→ minReplicas 1, maxReplicas 6"), "the cheapest, and on a tie the most headroom: {out}");
    let overlay: Kustomization = read(r, "apps/staging/kustomization.yaml");
    assert!(overlay.resources.contains(&"base/twin-workloads".to_string()));
    let patch = overlay.patches.iter().find(|p| p.target.kind == "HorizontalPodAutoscaler").expect("an HPA patch");
    assert_eq!(patch.target.name, "classifier-hpa");
    assert_eq!(patch.patch, "- op: add\n  path: /spec/minReplicas\n  value: 1\n");
    assert_eq!(
        std::fs::read_to_string(r.join("apps/staging/base/twin-workloads/app.yaml")).unwrap(),
        TUNED_APP,
        "the manifests as the twin ran them"
    );
    assert!(git(r, &["log", "-1", "--format=%B"]).contains("Workload changes measured over the suite's seeds:"));

    // The manifests' own bounds alone: already the cheapest, no patch.
    std::fs::write(w.join("suite.toml"), suite("min_replicas = [4]\nmax_replicas = [6]")).unwrap();
    let repo = gitops_repo();
    let o = twin(&["promote", "--suite", w.join("suite.toml").to_str().unwrap(), "--to", repo.path().to_str().unwrap(), "-j", "2"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("is already the cheapest setting that meets the SLO"), "{out}");
    let overlay: Kustomization = read(repo.path(), "apps/staging/kustomization.yaml");
    assert!(!overlay.patches.iter().any(|p| p.target.kind == "HorizontalPodAutoscaler"));

    // 500 requests/s overwhelm even the manifests' six replicas: nothing meets the SLO, no patch.
    std::fs::write(w.join("app.yaml"), TUNED_APP.replace("rate = 30.0", "rate = 500.0")).unwrap();
    std::fs::write(w.join("suite.toml"), suite("min_replicas = [1]\nmax_replicas = [1]")).unwrap();
    let repo = gitops_repo();
    let o = twin(&["promote", "--suite", w.join("suite.toml").to_str().unwrap(), "--to", repo.path().to_str().unwrap(), "-j", "2"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("Tuned         classifier: no setting tried meets the SLO of 99.0% on every seed"), "{out}");
    let overlay: Kustomization = read(repo.path(), "apps/staging/kustomization.yaml");
    assert!(!overlay.patches.iter().any(|p| p.target.kind == "HorizontalPodAutoscaler"));

    // A grid for a workload the fleet lacks is an error naming the workloads.
    std::fs::write(w.join("suite.toml"), suite("min_replicas = [1]").replace("workload = \"classifier\"", "workload = \"classifer\""))
        .unwrap();
    let o = twin(&["promote", "--suite", w.join("suite.toml").to_str().unwrap(), "--to", repo.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("the fleet has no such workload (it has: classifier)"), "{}", text(&o));
}
