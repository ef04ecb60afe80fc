//! A promotion rendered as files in a Kustomize base/overlays layout that
//! Argo CD and Flux both reconcile (fluxcd/flux2-kustomize-helm-example):
//!
//! ```text
//! apps/<env>/base/twin-scheduler/  the extender: Namespace, ConfigMap, Deployment, Service,
//!                                  and the kube-scheduler configuration (ConfigMap)
//! apps/<env>/base/twin-policies/   Gatekeeper: ConstraintTemplates, Constraints, SyncSet
//! apps/<env>/base/twin-fleet/      Karpenter NodePools
//! apps/<env>/base/twin-workloads/  the workloads' manifests as the twin ran them (when tuned)
//! apps/<env>/kustomization.yaml    the overlay: the bases, and the environment's patches
//! twin/<env>/results.json     the suite's results: the next promotion's baseline
//! ```
//!
//! Each environment has its own bases: promoting (or rolling back) staging
//! never changes what production reconciles.
//!
//! Every object is typed (`k8s-openapi` where it has the type, this crate's
//! types where it has not) and serialised to YAML.

use crate::extender::{self, ExtenderSetup};
use crate::gatekeeper;
use crate::kustomize::{Kustomization, Patch, Target};
use crate::nodepool;
use crate::yaml::document;
use crate::{Env, GitOpsError};
use std::collections::BTreeMap;
use twin_sim::catalogue::Catalogue;
use twin_sim::scenario::spec::PoolSpec;

/// The folders a promotion to `env` owns, relative to its path: their
/// contents are replaced by each promotion to that environment, and no
/// other environment's.
pub fn owned(env: Env) -> Vec<String> {
    vec![format!("apps/{}", env.as_str()), format!("twin/{}", env.as_str())]
}

/// Where a promotion keeps its results, the next one's baseline.
pub fn results_path(env: Env) -> String {
    format!("twin/{}/results.json", env.as_str())
}

/// A Rego module promoted to Gatekeeper.
#[derive(Clone, Debug)]
pub struct AdmissionPolicy {
    /// The file it came from (for messages).
    pub file: String,
    /// Its package, such as `twin.admission`.
    pub package: String,
    /// Its text, unchanged.
    pub rego: String,
}

/// Everything a promotion writes.
#[derive(Clone, Debug)]
pub struct Promotion {
    /// The environment whose overlay it writes.
    pub env: Env,
    /// The extender's setup.
    pub extender: ExtenderSetup,
    /// Admission policies, each a ConstraintTemplate and a Constraint.
    pub admission: Vec<AdmissionPolicy>,
    /// `input.parameters` of the constraints: the data document's `config`.
    pub parameters: serde_json::Value,
    /// The cloud pools, as NodePools.
    pub pools: Vec<PoolSpec>,
    /// The catalogue the pools' node types are in.
    pub catalogue: Catalogue,
    /// The `EC2NodeClass` the NodePools use.
    pub node_class: String,
    /// The suite's results, JSON.
    pub results_json: String,
    /// The workloads' manifests as the twin ran them, `(file name, text)`:
    /// a base the overlay patches (empty: no workloads base).
    pub workloads: Vec<(String, String)>,
    /// The workload changes the twin measured and recommends, for the overlay.
    pub workload_patches: Vec<Patch>,
}

/// The rendered files, by path relative to the promotion's path, and notes
/// on what was left out.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    /// Path → text.
    pub files: BTreeMap<String, String>,
    /// What was skipped and why.
    pub notes: Vec<String>,
}

/// Renders a promotion.
pub fn render(p: &Promotion) -> Result<Rendered, GitOpsError> {
    let mut out = Rendered::default();
    let env = p.env.as_str();

    // The scheduler extender.
    let base = &format!("apps/{env}/base/twin-scheduler");
    let config = extender::config_map(&p.extender);
    let config_yaml = document("the extender's ConfigMap", &config)?;
    let sha = twin_sim::scenario::hex_sha256(config_yaml.as_bytes());
    let scheduler = document("the KubeSchedulerConfiguration", &extender::scheduler_config(&p.extender))?;
    let files = [
        ("namespace.yaml", document("the Namespace", &extender::namespace(&p.extender))?),
        ("extender-config.yaml", config_yaml),
        ("extender-deployment.yaml", document("the extender's Deployment", &extender::deployment(&p.extender, &sha[..16]))?),
        ("extender-service.yaml", document("the extender's Service", &extender::service(&p.extender))?),
        ("kube-scheduler-config.yaml", document("the scheduler ConfigMap", &extender::scheduler_config_map(&p.extender, scheduler))?),
    ];
    let mut resources = Vec::new();
    for (name, text) in files {
        resources.push(name.to_string());
        out.files.insert(format!("{base}/{name}"), text);
    }
    if p.extender.node_feed {
        let (account, role, binding) = extender::feed_rbac(&p.extender);
        let rbac = crate::yaml::stream(&[
            document("the node feed's ServiceAccount", &account)?,
            document("the node feed's ClusterRole", &role)?,
            document("the node feed's ClusterRoleBinding", &binding)?,
        ]);
        out.files.insert(format!("{base}/node-feed-rbac.yaml"), rbac);
        resources.push("node-feed-rbac.yaml".into());
    }
    out.files.insert(format!("{base}/kustomization.yaml"), document("a kustomization", &Kustomization::of(resources))?);

    // Gatekeeper.
    let base = &format!("apps/{env}/base/twin-policies");
    let mut resources = Vec::new();
    let mut kinds = BTreeMap::new();
    let mut inventory = false;
    for a in &p.admission {
        let kind = gatekeeper::kind_of(&a.package);
        if let Some(other) = kinds.insert(kind.clone(), a.file.clone()) {
            return Err(GitOpsError::Render(format!(
                "{} and {other} are both package {}: a Gatekeeper template holds one Rego module, so merge them into one file",
                a.file, a.package
            )));
        }
        let uses = a.rego.contains("data.inventory");
        inventory |= uses;
        let name = kind.to_lowercase();
        let t = format!("templates/{name}.yaml");
        out.files.insert(format!("{base}/{t}"), document("a ConstraintTemplate", &gatekeeper::template(&kind, &a.rego, &p.parameters))?);
        resources.push(t);
        let c = format!("constraints/{name}.yaml");
        let constraint_name = a.package.replace(['.', '_'], "-");
        out.files.insert(
            format!("{base}/{c}"),
            document("a Constraint", &gatekeeper::constraint(&kind, &constraint_name, p.parameters.clone(), uses, &p.extender.namespace))?,
        );
        resources.push(c);
    }
    if inventory {
        out.files.insert(format!("{base}/gatekeeper-syncset.yaml"), document("Gatekeeper's SyncSet", &gatekeeper::sync_set())?);
        resources.push("gatekeeper-syncset.yaml".into());
    }
    let with_policies = !resources.is_empty();
    if with_policies {
        out.files.insert(format!("{base}/kustomization.yaml"), document("a kustomization", &Kustomization::of(resources))?);
    } else {
        out.notes.push("no admission policies: nothing for Gatekeeper".into());
    }

    // Karpenter.
    let base = &format!("apps/{env}/base/twin-fleet");
    let class = nodepool::node_class(&p.node_class);
    let mut resources = Vec::new();
    for pool in &p.pools {
        match nodepool::of(pool, &p.catalogue, &class) {
            Ok(np) => {
                let name = format!("nodepool-{}.yaml", pool.name);
                out.files.insert(format!("{base}/{name}"), document("a NodePool", &np)?);
                resources.push(name);
            }
            Err(why) => out.notes.push(why),
        }
    }
    let with_fleet = !resources.is_empty();
    if with_fleet {
        out.files.insert(format!("{base}/kustomization.yaml"), document("a kustomization", &Kustomization::of(resources))?);
    }

    // The workloads, as the twin ran them.
    let base = &format!("apps/{env}/base/twin-workloads");
    let mut resources = Vec::new();
    for (name, text) in &p.workloads {
        if resources.contains(name) {
            return Err(GitOpsError::Render(format!(
                "two manifest files are named {name}: rename one, the workloads' base keeps file names"
            )));
        }
        out.files.insert(format!("{base}/{name}"), text.clone());
        resources.push(name.clone());
    }
    let with_workloads = !resources.is_empty();
    if with_workloads {
        out.files.insert(format!("{base}/kustomization.yaml"), document("a kustomization", &Kustomization::of(resources))?);
    }

    // The overlay.
    let mut overlay = Kustomization::of(
        [
            Some("base/twin-scheduler"),
            with_policies.then_some("base/twin-policies"),
            with_fleet.then_some("base/twin-fleet"),
            with_workloads.then_some("base/twin-workloads"),
        ]
        .into_iter()
        .flatten()
        .map(str::to_string)
        .collect(),
    );
    overlay.common_annotations.insert("twin.dev/environment".into(), env.into());
    if p.env == Env::Staging && with_policies {
        // Staging warns where production denies: what would be refused shows
        // in audit and in kubectl's warnings first.
        for a in &p.admission {
            overlay.patches.push(Patch {
                patch: "- op: replace\n  path: /spec/enforcementAction\n  value: warn\n".into(),
                target: Target {
                    group: Some("constraints.gatekeeper.sh".into()),
                    kind: gatekeeper::kind_of(&a.package),
                    name: a.package.replace(['.', '_'], "-"),
                },
            });
        }
    }
    if p.env == Env::Staging {
        overlay.patches.push(Patch {
            patch: "- op: replace\n  path: /spec/replicas\n  value: 1\n".into(),
            target: Target { group: Some("apps".into()), kind: "Deployment".into(), name: extender::NAME.into() },
        });
    }
    if !p.workload_patches.is_empty() && !with_workloads {
        return Err(GitOpsError::Render("workload patches without the workloads' manifests to patch".into()));
    }
    overlay.patches.extend(p.workload_patches.iter().cloned());
    out.files.insert(format!("apps/{env}/kustomization.yaml"), document("a kustomization", &overlay)?);
    out.files.insert(results_path(p.env), p.results_json.clone());
    Ok(out)
}
