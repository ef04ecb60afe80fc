//! Manifests applied to a scenario: its fleet and markets stay, the
//! manifests bring workloads (and NodePools' pools).

use crate::error::{Fault, Location, ManifestError};
use crate::field::FieldPath;
use crate::fleet::{self, Candidate};
use crate::job::{self, JobWork};
use crate::parse::{Manifests, Object, Resource};
use crate::priority::{self, Classes};
use crate::{hpa, nodepool, workload};
use std::collections::{BTreeMap, BTreeSet};
use twin_sim::catalogue::Catalogue;
use twin_sim::scenario::ScenarioSpec;
use twin_sim::scenario::spec::{AutoscalerSpec, PoolSpec, ServiceSpec, TrainingSpec};

/// Notes about `o`, kept with its (file, document).
fn keyed(o: &Object, list: Vec<String>, notes: &mut Vec<((usize, usize), String)>) {
    notes.extend(list.into_iter().map(|t| (o.key(), t)));
}

/// What a set of manifests adds to a scenario.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// Pools made from Karpenter NodePools, beside the scenario's own.
    pub pools: Vec<PoolSpec>,
    /// Services: Deployments and StatefulSets, and Jobs without work (capacity held).
    pub services: Vec<ServiceSpec>,
    /// Training jobs from Jobs with `twin.dev/work-gpu-hours`.
    pub training: Vec<TrainingSpec>,
    /// Where each workload (service or training job) comes from, by its Twin name.
    pub origins: BTreeMap<String, Location>,
    /// What was skipped, assumed or approximated, in order of file and document.
    pub notes: Vec<String>,
}

/// What every conversion reads: the manifests, the scenario, the fleet.
pub(crate) struct Ctx<'a> {
    pub(crate) catalogue: &'a Catalogue,
    pub(crate) fleet: Vec<Candidate>,
    pub(crate) taint_keys: Vec<String>,
    pub(crate) classes: Classes,
    pub(crate) service_template: ServiceSpec,
    pub(crate) training_template: TrainingSpec,
}

/// A service with the scenario format's defaults (read through the
/// format itself, so the defaults stay the simulator's).
pub(crate) fn service_template() -> ServiceSpec {
    toml::from_str("name = \"\"\npools = []\narrivals = \"none\"\n").expect("a service of no load reads")
}

/// A training job with the scenario format's defaults.
pub(crate) fn training_template() -> TrainingSpec {
    toml::from_str("name = \"\"\npools = []\ngpus = 1\nwork_gpu_hours = 1.0\n").expect("a training job reads")
}

/// An autoscaler with the scenario format's defaults.
pub(crate) fn autoscaler_template() -> AutoscalerSpec {
    toml::from_str("metric = \"utilisation\"\ntarget = 1.0\nmin = 1\nmax = 1\n").expect("an autoscaler reads")
}

/// A pool with the scenario format's defaults.
pub(crate) fn pool_template() -> PoolSpec {
    toml::from_str("name = \"\"\nnode_type = \"\"\ncapacity = \"on-demand\"\n").expect("a pool reads")
}

/// Workload names taken so far, and by what.
struct Names(BTreeMap<String, String>);

impl Names {
    fn of_scenario(spec: &ScenarioSpec) -> Names {
        let mut names = BTreeMap::new();
        let tables = [
            ("services", spec.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>()),
            ("training", spec.training.iter().map(|t| t.name.as_str()).collect()),
            ("training_streams", spec.training_streams.iter().map(|t| t.name.as_str()).collect()),
            ("job_traces", spec.job_traces.iter().map(|t| t.name.as_str()).collect()),
        ];
        for (table, list) in tables {
            for n in list {
                names.insert(n.to_string(), format!("the scenario's [[{table}]] entry {n}"));
            }
        }
        Names(names)
    }

    /// Takes `name` for `object`, or says who has it.
    fn claim(&mut self, name: &str, m: &Manifests, object: &Object) -> Result<(), ManifestError> {
        if let Some(by) = self.0.get(name) {
            return Err(Fault::reference(
                FieldPath::of("metadata.name"),
                format!("the workload name {name} is taken by {by}"),
                "workload names are unique across the scenario and its manifests (namespace/name outside the namespace default)",
            )
            .at(m, object));
        }
        self.0.insert(name.to_string(), format!("{} {} at {}", object.resource.kind(), object.resource.name(), object.at));
        Ok(())
    }
}

/// The workloads (and pools) `manifests` bring to the scenario `spec`,
/// whose catalogue (built-in merged with the scenario's own) is `catalogue`.
pub fn apply(manifests: &Manifests, spec: &ScenarioSpec, catalogue: &Catalogue) -> Result<Applied, ManifestError> {
    let m = manifests;
    let objects = m.objects();
    let mut notes: Vec<((usize, usize), String)> = m.keyed_notes().iter().map(|n| (n.key, n.text.clone())).collect();

    let mut class_notes = Vec::new();
    let classes = priority::read(m, &mut class_notes)?;
    for (i, t) in class_notes {
        keyed(&objects[i], vec![t], &mut notes);
    }

    // Pools of NodePools, named uniquely beside the scenario's.
    let mut pool_names: BTreeMap<String, String> =
        spec.pools.iter().map(|p| (p.name.clone(), format!("the scenario's pool {}", p.name))).collect();
    let mut pools = Vec::new();
    for o in objects {
        let Resource::NodePool(np) = &o.resource else { continue };
        let mut n = Vec::new();
        let made = nodepool::pools(np, spec, catalogue, &mut n).map_err(|f| f.at(m, o))?;
        for p in &made {
            if let Some(by) = pool_names.get(&p.name) {
                return Err(Fault::reference(
                    FieldPath::of("metadata.name"),
                    format!("the pool name {} is taken by {by}", p.name),
                    "rename the NodePool",
                )
                .at(m, o));
            }
            pool_names.insert(p.name.clone(), format!("NodePool {} at {}", o.resource.name(), o.at));
        }
        pools.extend(made);
        keyed(o, n, &mut notes);
    }

    let fleet: Vec<Candidate> = spec.pools.iter().chain(&pools).map(|p| Candidate::new(p, catalogue)).collect();
    let taint_keys = fleet::taint_keys(&fleet);
    let ctx = Ctx { catalogue, fleet, taint_keys, classes, service_template: service_template(), training_template: training_template() };

    // Workloads.
    let mut applied = Applied { pools, ..Applied::default() };
    let mut names = Names::of_scenario(spec);
    let mut targets: BTreeMap<(String, &'static str, String), usize> = BTreeMap::new();
    let mut skipped: BTreeSet<(String, &'static str, String)> = BTreeSet::new();
    for o in objects {
        let mut n = Vec::new();
        let key = (o.resource.namespace().to_string(), o.resource.kind(), o.resource.name().to_string());
        match &o.resource {
            Resource::Deployment(_) | Resource::StatefulSet(_) => match workload::service(&ctx, o, &mut n).map_err(|f| f.at(m, o))? {
                Some(s) => {
                    names.claim(&s.name, m, o)?;
                    applied.origins.insert(s.name.clone(), o.at.clone());
                    targets.insert(key, applied.services.len());
                    applied.services.push(s);
                }
                None => {
                    skipped.insert(key);
                }
            },
            Resource::Job(_) => match job::job(&ctx, o, &mut n).map_err(|f| f.at(m, o))? {
                JobWork::Training(list) => {
                    for t in list {
                        names.claim(&t.name, m, o)?;
                        applied.origins.insert(t.name.clone(), o.at.clone());
                        applied.training.push(t);
                    }
                }
                JobWork::Held(s) => {
                    names.claim(&s.name, m, o)?;
                    applied.origins.insert(s.name.clone(), o.at.clone());
                    applied.services.push(*s);
                }
                JobWork::Skipped => {}
            },
            _ => {}
        }
        keyed(o, n, &mut notes);
    }

    // Autoscalers.
    let mut scaled: BTreeMap<usize, Location> = BTreeMap::new();
    for o in objects {
        let Resource::HorizontalPodAutoscaler(h) = &o.resource else { continue };
        let target = &h.spec.scale_target_ref;
        let ns = o.resource.namespace().to_string();
        let kind: &'static str = match target.kind.as_str() {
            "Deployment" => "Deployment",
            "StatefulSet" => "StatefulSet",
            other => {
                return Err(Fault::reference(
                    FieldPath::of("spec.scaleTargetRef.kind"),
                    format!("Twin scales Deployments and StatefulSets, not {other}"),
                    "",
                )
                .at(m, o));
            }
        };
        let key = (ns.clone(), kind, target.name.clone());
        let mut n = Vec::new();
        if let Some(&i) = targets.get(&key) {
            if let Some(first) = scaled.get(&i) {
                return Err(Fault::reference(
                    FieldPath::of("spec.scaleTargetRef"),
                    format!("a second HorizontalPodAutoscaler scales {kind} {}", target.name),
                    format!("the first is at {first}"),
                )
                .at(m, o));
            }
            scaled.insert(i, o.at.clone());
            let a = hpa::autoscaler(h, &mut applied.services[i], spec.horizon.get(), &mut n).map_err(|f| f.at(m, o))?;
            applied.services[i].autoscaler = Some(a);
        } else if skipped.contains(&key) {
            n.push(format!(
                "HorizontalPodAutoscaler {}: its target {kind} {} asks for no accelerator: ignored",
                o.resource.name(),
                target.name
            ));
        } else {
            let present: Vec<String> = targets.keys().filter(|(n, _, _)| *n == ns).map(|(_, k, name)| format!("{k} {name}")).collect();
            let hint = if present.is_empty() {
                format!("the manifests have no Deployment or StatefulSet in namespace {ns}")
            } else {
                format!("namespace {ns} has {}", present.join(", "))
            };
            return Err(Fault::reference(
                FieldPath::of("spec.scaleTargetRef.name"),
                format!("the target {kind} {} is not in the manifests (namespace {ns})", target.name),
                hint,
            )
            .at(m, o));
        }
        keyed(o, n, &mut notes);
    }

    notes.sort_by_key(|(k, _)| *k);
    applied.notes = notes.into_iter().map(|(_, t)| t).collect();
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_read_with_the_formats_defaults() {
        assert_eq!(service_template().max_batch, 256);
        assert_eq!(training_template().checkpoint_interval.get().as_secs_f64(), 3_600.0);
        assert_eq!(autoscaler_template().interval.get().as_secs_f64(), 15.0);
        assert_eq!(pool_template().max_nodes, None);
    }
}
