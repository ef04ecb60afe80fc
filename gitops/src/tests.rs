//! Rendering and committing, on a small promotion and a real temporary repository.

use crate::extender::ExtenderSetup;
use crate::layout::{AdmissionPolicy, Promotion, render};
use crate::repo::{Checkout, Outcome, trailers};
use crate::{Env, GitOpsError};
use std::collections::BTreeMap;

fn promotion(env: Env) -> Promotion {
    let scenario = twin_sim::scenario::Scenario::from_toml(
        r#"format_version = 1
name = "t"
horizon = "1h"
[[pools]]
name = "h100-spot"
node_type = "p5.48xlarge"
capacity = "spot"
price = 22.0
max_nodes = 4
scale_down_delay = "2m"
taints = [{ key = "twin.dev/spot", effect = "NoSchedule" }]
[[pools]]
name = "dc"
node_type = "p5.48xlarge"
capacity = "on-prem"
nodes = 2
price = 30.0
"#,
        "t.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Promotion {
        env,
        extender: ExtenderSetup {
            namespace: "twin-system".into(),
            image: "twin:test".into(),
            profile_name: Some("fgd".into()),
            profile_toml: None,
            placement: vec![("placement.rego".into(), "package twin.placement\n".into())],
            placement_data: None,
            prices_toml: None,
            weight: 5,
            node_feed: false,
            feed_image: "kubectl:test".into(),
            scheduler_kubeconfig: "/etc/kubernetes/scheduler.conf".into(),
        },
        admission: vec![AdmissionPolicy {
            file: "admission.rego".into(),
            package: "twin.admission".into(),
            rego: "package twin.admission\n\nviolation contains {\"msg\": \"x\"} if {\n\tsome o in data.inventory.namespace[_]\n\to == input.review.object\n}\n".into(),
        }],
        parameters: serde_json::json!({"allowed_registries": ["r/"]}),
        pools: scenario.spec.pools.clone(),
        catalogue: scenario.catalogue.clone(),
        node_class: "gpu".into(),
        results_json: "{}\n".into(),
        workloads: Vec::new(),
        workload_patches: Vec::new(),
    }
}

#[test]
fn every_listed_resource_is_rendered_and_on_prem_pools_are_noted() {
    let r = render(&promotion(Env::Staging)).unwrap();
    let kustomizations: Vec<&String> = r.files.keys().filter(|k| k.ends_with("kustomization.yaml")).collect();
    assert_eq!(kustomizations.len(), 4, "{kustomizations:?}");
    for k in kustomizations {
        let kz: crate::kustomize::Kustomization = serde_saphyr::from_str(&r.files[k]).unwrap();
        let dir = k.trim_end_matches("kustomization.yaml");
        for res in kz.resources {
            let path = format!("{dir}{res}");
            let exists = r.files.contains_key(&path) || r.files.keys().any(|f| f.starts_with(&format!("{}/", normalize(&path))));
            assert!(exists, "{k} lists {res}, which is not rendered");
        }
    }
    assert!(r.files.contains_key("apps/staging/base/twin-fleet/nodepool-h100-spot.yaml"));
    assert!(!r.files.keys().any(|f| f.contains("nodepool-dc")));
    assert_eq!(r.notes, vec!["pool dc: on-prem, not provisioned by Karpenter: no NodePool".to_string()]);
    assert!(r.files.contains_key("apps/staging/base/twin-policies/gatekeeper-syncset.yaml"), "the Rego reads data.inventory");
    let np = &r.files["apps/staging/base/twin-fleet/nodepool-h100-spot.yaml"];
    for want in [
        "- spot",
        "nvidia.com/gpu: \"32\"",
        "cpu: \"768\"",
        "consolidateAfter: 120s",
        "key: twin.dev/spot",
        "effect: NoSchedule",
        "name: gpu",
    ] {
        assert!(np.contains(want), "{want} in\n{np}");
    }
    let overlay = &r.files["apps/staging/kustomization.yaml"];
    assert!(overlay.contains("value: warn") && overlay.contains("name: twin-admission"), "{overlay}");
    let production = render(&promotion(Env::Production)).unwrap();
    assert!(!production.files["apps/production/kustomization.yaml"].contains("warn"));
}

/// `apps/staging/./x/../y` → `apps/staging/y`.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            ".." => {
                parts.pop();
            }
            "" | "." => {}
            p => parts.push(p),
        }
    }
    parts.join("/")
}

#[test]
fn rendering_is_deterministic_and_a_new_config_rolls_the_pods() {
    let a = render(&promotion(Env::Staging)).unwrap();
    assert_eq!(a.files, render(&promotion(Env::Staging)).unwrap().files);
    let mut p = promotion(Env::Staging);
    p.extender.placement[0].1.push_str("# changed\n");
    let b = render(&p).unwrap();
    let d = "apps/staging/base/twin-scheduler/extender-deployment.yaml";
    assert_ne!(a.files[d], b.files[d], "the ConfigMap's hash is in the pod template");
}

#[test]
fn two_modules_of_one_package_are_refused() {
    let mut p = promotion(Env::Staging);
    let mut second = p.admission[0].clone();
    second.file = "more.rego".into();
    p.admission.push(second);
    let e = render(&p).unwrap_err();
    assert!(matches!(&e, GitOpsError::Render(m) if m.contains("merge them into one file")), "{e}");
}

#[test]
fn trailers_are_the_last_paragraphs_key_value_lines() {
    let m = "Promote x\n\nBody: not a trailer line? it is in the body.\n\nTwin-Promotion: staging\nTwin-Version: 0.1.0\n";
    assert_eq!(trailers(m), vec![("Twin-Promotion".into(), "staging".into()), ("Twin-Version".into(), "0.1.0".into())]);
    assert!(trailers("Just a summary").is_empty());
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let o = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn commit_then_nothing_then_revert_in_a_real_repository() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    // An unborn branch: the first promotion is the first commit.
    let c = Checkout::open(dir.path(), None).unwrap();
    assert_eq!(c.branch, "main");
    let owned = crate::layout::owned(Env::Staging);
    assert_eq!(owned, ["apps/staging", "twin/staging"], "a promotion to staging owns nothing of production");
    let mut files = BTreeMap::new();
    files.insert("apps/staging/kustomization.yaml".to_string(), "a\n".to_string());
    files.insert("twin/staging/results.json".to_string(), "{}\n".to_string());
    let msg = "Promote\n\nTwin-Promotion: staging\nTwin-Path: deploy\n";
    let Outcome::Committed { commit, changed } = c.commit_files("deploy", &owned, &files, msg).unwrap() else { panic!("committed") };
    assert_eq!(changed, 2);
    assert!(dir.path().join("deploy/twin/staging/results.json").exists());
    assert_eq!(c.read_at_head("deploy/twin/staging/results.json").unwrap().as_deref(), Some("{}\n"));
    assert_eq!(c.commit_files("deploy", &owned, &files, msg).unwrap(), Outcome::NothingToPromote);
    assert_eq!(c.last_promotion(Env::Staging, "deploy").unwrap().map(|(id, _)| id.to_string()), Some(commit.clone()));
    assert_eq!(c.last_promotion(Env::Production, "deploy").unwrap(), None);
    assert_eq!(c.last_promotion(Env::Staging, "other").unwrap(), None, "another path's promotions are not this one's");

    // A second promotion drops a file: it is removed, not left behind.
    files.remove("apps/staging/kustomization.yaml");
    let Outcome::Committed { commit: second, .. } = c.commit_files("deploy", &owned, &files, msg).unwrap() else { panic!() };
    assert!(!dir.path().join("deploy/apps/staging/kustomization.yaml").exists());

    let (reverted, _, rollback) = c.rollback(Env::Staging, "deploy").unwrap().unwrap();
    assert_eq!(reverted, second);
    assert!(dir.path().join("deploy/apps/staging/kustomization.yaml").exists(), "the revert restores the first promotion's files");

    // `git revert <rollback>` re-applies the second promotion: it is the last again.
    git(dir.path(), &["revert", "--no-edit", &rollback]);
    assert_eq!(c.last_promotion(Env::Staging, "deploy").unwrap().map(|(id, _)| id.to_string()), Some(second.clone()));
    let (reverted, _, _) = c.rollback(Env::Staging, "deploy").unwrap().unwrap();
    assert_eq!(reverted, second, "rolled back once more");
    let (reverted, _, _) = c.rollback(Env::Staging, "deploy").unwrap().unwrap();
    assert_eq!(reverted, commit);
    assert!(c.rollback(Env::Staging, "deploy").unwrap().is_none());
    assert!(!dir.path().join("deploy").exists());
}

#[test]
fn the_node_feed_adds_a_sidecar_rbac_and_node_names_only() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    let mut p = promotion(Env::Production);
    p.extender.node_feed = true;
    let r = render(&p).unwrap();
    let base = "apps/production/base/twin-scheduler";
    let d: Deployment = serde_saphyr::from_str(&r.files[&format!("{base}/extender-deployment.yaml")]).unwrap();
    let spec = d.spec.template.spec.unwrap();
    assert_eq!(spec.containers.len(), 2);
    assert!(spec.containers[0].args.as_ref().unwrap().windows(2).any(|w| w == ["--nodes", "/feed/nodes.json"]));
    assert_eq!(spec.service_account_name.as_deref(), Some("twin-extender-node-feed"));
    let docs: Vec<&str> = r.files[&format!("{base}/node-feed-rbac.yaml")].split("---\n").collect();
    let _: ServiceAccount = serde_saphyr::from_str(docs[0]).unwrap();
    let role: ClusterRole = serde_saphyr::from_str(docs[1]).unwrap();
    assert_eq!(role.rules.unwrap()[0].verbs, ["get", "list"]);
    let _: ClusterRoleBinding = serde_saphyr::from_str(docs[2]).unwrap();
    let k: crate::kustomize::Kustomization = serde_saphyr::from_str(&r.files[&format!("{base}/kustomization.yaml")]).unwrap();
    assert!(k.resources.contains(&"node-feed-rbac.yaml".to_string()));
    let cm: ConfigMap = serde_saphyr::from_str(&r.files[&format!("{base}/kube-scheduler-config.yaml")]).unwrap();
    assert!(cm.data.unwrap()["config.yaml"].contains("nodeCacheCapable: true"));
    // Without it: one container, full Node lists.
    let r = render(&promotion(Env::Production)).unwrap();
    assert!(r.files[&format!("{base}/kube-scheduler-config.yaml")].contains("nodeCacheCapable: false"));
    assert!(!r.files.contains_key(&format!("{base}/node-feed-rbac.yaml")));
}
