//! What a promotion carries, read and checked before the suite runs: the
//! extender's setup, the admission policies, the fleet, its workloads and
//! manifests; and the admission gate over those workloads.

use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use twin_gitops::extender::ExtenderSetup;
use twin_gitops::layout::AdmissionPolicy;
use twin_inputs::{PolicySources, Source};
use twin_policy::RegoPolicies;
use twin_regress::suite::PromoteSpec;
use twin_sim::policy::{AdmissionInput, Inventory, KubeObject, Review, WorkloadDoc};
use twin_sim::scenario::spec::PoliciesSpec;

/// What a promotion carries, read before the suite runs.
pub(super) struct What {
    pub(super) extender: ExtenderSetup,
    pub(super) admission: Vec<AdmissionPolicy>,
    /// The policies, compiled once: the admission gate asks them.
    pub(super) engine: Option<RegoPolicies>,
    pub(super) parameters: serde_json::Value,
    pub(super) pools: Vec<twin_sim::scenario::spec::PoolSpec>,
    pub(super) catalogue: twin_sim::catalogue::Catalogue,
    pub(super) workloads: Vec<WorkloadDoc>,
    pub(super) fleet_sha256: String,
    pub(super) profile_label: String,
    /// The fleet scenario, manifests applied: what tuning runs.
    pub(super) fleet: twin_sim::scenario::Scenario,
    /// Its manifests, parsed, to find what a patch targets.
    pub(super) manifests: twin_manifests::Manifests,
    /// Its manifests' files, `(file name, text)`, as the workloads' base.
    pub(super) manifest_files: Vec<(String, String)>,
}

impl What {
    pub(super) fn read(dir: &Path, spec: &PromoteSpec) -> anyhow::Result<What> {
        if !(1..=100_000).contains(&spec.weight) {
            bail!(
                "[promote] weight = {}: kube-scheduler takes a prioritize weight above 0 (scores × weight × 10 join its own)",
                spec.weight
            );
        }
        let source = Source::Dir(dir.to_path_buf());
        let policies = if spec.policies.is_empty() {
            PolicySources::default()
        } else {
            PolicySources::read(&source, &PoliciesSpec { files: spec.policies.clone(), data: spec.policy_data.clone() })?
        };
        // Compiled once, here, so a broken policy stops the promotion before any run.
        let engine = if policies.files.is_empty() { None } else { Some(policies.compile()?) };
        let parameters = match &policies.data {
            Some(d) => serde_json::from_str::<serde_json::Value>(d)?.get("config").cloned().unwrap_or_else(|| serde_json::json!({})),
            None => serde_json::json!({}),
        };
        let mut admission = Vec::new();
        let mut placement = Vec::new();
        for (file, text) in &policies.files {
            let package = twin_policy::package_of(text).unwrap_or_default().to_string();
            let name = Path::new(file).file_name().map_or_else(|| file.clone(), |n| n.to_string_lossy().into_owned());
            match package.as_str() {
                "twin.admission" => {
                    let refs = twin_policy::gatekeeper::foreign_data_refs(text);
                    if let Some(r) = refs.first() {
                        bail!("{file}: {r}");
                    }
                    admission.push(AdmissionPolicy { file: file.clone(), package, rego: text.clone() });
                }
                "twin.placement" => {
                    if placement.iter().any(|(n, _)| *n == name) {
                        bail!("{file}: another placement policy is also named {name}; the extender's ConfigMap keys them by file name");
                    }
                    placement.push((name, text.clone()))
                }
                _ => eprintln!("note: {file}: package {package} runs only in the twin; not promoted"),
            }
        }
        let (profile_name, profile_toml, profile_label) = {
            let file = dir.join(&spec.profile);
            if spec.profile.ends_with(".toml") || file.is_file() {
                let text = std::fs::read_to_string(&file).with_context(|| format!("[promote] profile = \"{}\"", spec.profile))?;
                let _: twin_scheduler::ProfileSpec = toml::from_str(&text).with_context(|| format!("profile file {}", file.display()))?;
                (None, Some(text), spec.profile.clone())
            } else {
                twin_scheduler::Profile::builtin(&spec.profile).with_context(|| format!("[promote] profile = \"{}\"", spec.profile))?;
                (Some(spec.profile.clone()), None, spec.profile.clone())
            }
        };
        let manifests: Vec<PathBuf> = spec.manifests.iter().map(|m| dir.join(m)).collect();
        let fleet_path = dir.join(&spec.fleet);
        let fleet_dir = fleet_path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let loaded = twin_inputs::load_with(&fleet_path.display().to_string(), &manifests)
            .with_context(|| format!("[promote] fleet = \"{}\"", spec.fleet))?;
        let s = &loaded.scenario;
        let regions: BTreeMap<&str, &str> = s.spec.pools.iter().map(|p| (p.name.as_str(), p.region.as_str())).collect();
        let regions_of = |pools: &[String]| -> Vec<String> {
            let set: std::collections::BTreeSet<String> =
                pools.iter().filter_map(|p| regions.get(p.as_str())).filter(|r| !r.is_empty()).map(|r| r.to_string()).collect();
            set.into_iter().collect()
        };
        let mut workloads = Vec::new();
        for sv in &s.spec.services {
            workloads.push(WorkloadDoc {
                kind: "InferenceService",
                name: sv.name.clone(),
                namespace: sv.namespace.clone().unwrap_or_else(|| sv.team.clone()),
                team: sv.team.clone(),
                image: sv.image.clone(),
                labels: sv.labels.clone(),
                model: sv.model.clone(),
                gpus: sv.gpus_per_replica,
                replicas: sv.replicas,
                priority: sv.scheduling.priority,
                pools: sv.pools.clone(),
                regions: regions_of(&sv.pools),
            });
        }
        for t in &s.spec.training {
            workloads.push(WorkloadDoc {
                kind: "TrainingJob",
                name: t.name.clone(),
                namespace: t.namespace.clone().unwrap_or_else(|| t.team.clone()),
                team: t.team.clone(),
                image: t.image.clone(),
                labels: t.labels.clone(),
                model: None,
                gpus: t.gpus,
                replicas: 1,
                priority: t.scheduling.priority,
                pools: t.pools.clone(),
                regions: regions_of(&t.pools),
            });
        }
        let prices = prices_toml(&s.spec.pools, &s.catalogue);
        // Every manifest file the fleet ran with: its own, then [promote]'s.
        let mut paths: Vec<PathBuf> = s.spec.manifests.iter().map(|m| fleet_dir.join(m)).collect();
        paths.extend(manifests.iter().cloned());
        let files = twin_manifests::read_paths(&paths)?;
        let parsed = twin_manifests::parse(&files)?;
        let manifest_files = files
            .iter()
            .map(|f| {
                (Path::new(&f.origin).file_name().map_or_else(|| f.origin.clone(), |n| n.to_string_lossy().into_owned()), f.text.clone())
            })
            .collect();
        Ok(What {
            extender: ExtenderSetup {
                namespace: spec.namespace.clone(),
                image: spec.image.clone().unwrap_or_else(|| format!("ghcr.io/twin-sim/twin:{}", env!("CARGO_PKG_VERSION"))),
                profile_name,
                profile_toml,
                placement,
                placement_data: policies.data.clone().filter(|_| !policies.files.is_empty()),
                prices_toml: prices,
                weight: spec.weight,
                node_feed: spec.node_feed,
                feed_image: spec.feed_image.clone(),
                scheduler_kubeconfig: spec.scheduler_kubeconfig.clone(),
            },
            admission,
            parameters,
            pools: s.spec.pools.clone(),
            catalogue: s.catalogue.clone(),
            workloads,
            fleet_sha256: s.sha256.clone(),
            profile_label,
            engine,
            fleet: loaded.scenario.clone(),
            manifests: parsed,
            manifest_files,
        })
    }

    pub(super) fn admission_names(&self) -> String {
        if self.admission.is_empty() {
            "no admission policy".into()
        } else {
            self.admission.iter().map(|a| a.file.as_str()).collect::<Vec<_>>().join(", ")
        }
    }
}

/// Prices per node-hour by instance type for the extender: each node type's
/// fixed price in the fleet (on-demand first), else its catalogue list price.
fn prices_toml(pools: &[twin_sim::scenario::spec::PoolSpec], catalogue: &twin_sim::catalogue::Catalogue) -> Option<String> {
    use twin_sim::scenario::spec::{CapacityType, PriceSpec};
    let mut prices: BTreeMap<String, f64> = BTreeMap::new();
    let mut ordered: Vec<&twin_sim::scenario::spec::PoolSpec> = pools.iter().filter(|p| p.capacity != CapacityType::OnPrem).collect();
    ordered.sort_by_key(|p| p.capacity != CapacityType::OnDemand);
    for p in ordered {
        let Some(i) = catalogue.node_type(&p.node_type) else { continue };
        let nt = &catalogue.node_types[i];
        let price = match (&p.price, p.capacity) {
            (Some(PriceSpec::Fixed(x)), _) => *x,
            _ => p.list_price_per_hour.unwrap_or(nt.list_price_per_hour),
        };
        prices.entry(nt.name.clone()).or_insert(price);
    }
    if prices.is_empty() {
        return None;
    }
    let mut out = String::from("# Price per node-hour by instance type, from the promoted fleet.\n");
    for (k, v) in prices {
        let _ = writeln!(out, "\"{k}\" = {v}");
    }
    Some(out)
}

/// Every workload of the fleet, reviewed as Gatekeeper would with all the
/// others running: the denials, as `workload: rule: message`.
pub(super) fn admission_gate(what: &mut What, workloads: &[WorkloadDoc]) -> anyhow::Result<Vec<String>> {
    let Some(engine) = what.engine.as_mut().filter(|_| !what.admission.is_empty()) else {
        return Ok(Vec::new());
    };
    let objects: Vec<KubeObject> = workloads.iter().map(|w| KubeObject::of(w, w.replicas.max(1), w.gpus)).collect();
    let mut denials = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        let mut inventory = Inventory::default();
        for (j, o) in objects.iter().enumerate() {
            if j != i {
                inventory.insert(o.clone());
            }
        }
        let input = AdmissionInput { review: Review::create(object.clone()), inventory };
        for v in engine.admit(&input)? {
            denials.push(format!("{}/{}: {v}", object.metadata.namespace, object.metadata.name));
        }
    }
    Ok(denials)
}
