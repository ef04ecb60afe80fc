//! Placement policies: Rego's `twin.placement` asked about each candidate
//! node, with the input document Twin's simulation gives it.
//!
//! The simulation asks "may this workload run in this pool?" with a
//! [`PlacementInput`]; the extender asks the same of the pod and each
//! candidate node, so a policy tested in simulation (`twin policy test`,
//! `twin run`) judges the live cluster unchanged:
//!
//! | input | from |
//! | --- | --- |
//! | `workload.kind` | `"Pod"` |
//! | `workload.name`, `namespace`, `labels` | the pod's metadata |
//! | `workload.team` | the pod's label `team` (else `twin.dev/team`), else its namespace |
//! | `workload.image` | the first container's image |
//! | `workload.model` | the pod's annotation `twin.dev/model`, else `null` |
//! | `workload.gpus`, `priority` | whole accelerators asked for, `spec.priority` |
//! | `workload.replicas` | 1 (kube-scheduler places one pod at a time) |
//! | `workload.pools`, `regions` | the pools and the region the pod's `nodeSelector` names (by the labels of [`POOL_LABELS`], `topology.kubernetes.io/region`), else empty |
//! | `pool.name` | the node's pool ([`NodeRecord::pool`]: Karpenter's node pool, another pool label, else the instance type) |
//! | `pool.capacity` | `on-prem`, `reserved`, `spot` or `on-demand`, from the capacity-type labels |
//! | `pool.region`, `pool.zone` | `topology.kubernetes.io/region` and `zone` (or their `failure-domain.beta` forms), else `""` |
//! | `pool.accelerator` | the accelerator model label, else the resource name |
//! | `pool.price_per_gpu_hour` | the node's price per hour over its accelerators; `null` when the price is unknown |
//! | `pool.interruption_per_hour` | 0 (the extender has no interruption rates) |
//!
//! A node with a violation is refused with the policy's words
//! ([`Rejection::Policy`](crate::Rejection::Policy)); a rule that fails to
//! evaluate fails the whole request (never an allow). Nodes whose input is
//! the same (the same pool, price and zone) are asked about once per
//! request, and answers are kept for repeated inputs (the same pod at
//! filter and then at prioritize) in a cache of bounded size.

use crate::nodes::{NodeRecord, POOL_LABELS, REGION_LABELS};
use crate::pod::PodRequest;
use k8s_openapi::api::core::v1::Pod as K8sPod;
use std::fmt;
use twin_policy::{Point, PolicyError, RegoPolicies};
use twin_scheduler::Capacity;
use twin_sim::policy::{PlacementInput, PoolDoc, Violation, WorkloadDoc};

/// Why placement policies cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlacementPolicyError {
    /// The files do not compile, the data does not load, or a package has
    /// no `violation` set; the message names the file or the package.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// No file defines package `twin.placement`, the only one the extender asks.
    #[error("no policy file defines package twin.placement (the extender asks placement policies only; found: {found})")]
    NoPlacement {
        /// The packages found, comma-separated.
        found: String,
    },
}

/// Counters of placement questions, for logs and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlacementStats {
    /// Distinct (pod, pool) inputs asked, one per request and input.
    pub asked: u64,
    /// Of those, answered from the cache.
    pub cached: u64,
}

/// Compiled `twin.placement` policies, with `twin-policy`'s bounded
/// decision cache ([`twin_policy::CACHE_LIMIT`] answers).
pub struct PlacementPolicy {
    rego: RegoPolicies,
}

impl fmt::Debug for PlacementPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlacementPolicy").field("stats", &self.stats()).finish()
    }
}

impl PlacementPolicy {
    /// Compiles policy sources, `(file name, text)`, with an optional JSON
    /// data document; one of them must define `twin.placement`.
    ///
    /// ```
    /// use twin_extender::placement::PlacementPolicy;
    /// let rego = "package twin.placement\n\nviolation contains {\"msg\": \"no\", \"details\": {\"rule\": \"r\"}} if { input.pool.capacity == \"spot\" }\n";
    /// assert!(PlacementPolicy::compile(&[("p.rego".into(), rego.into())], None).is_ok());
    /// let other = "package twin.scaling\n\nviolation contains {\"msg\": \"no\"} if { false }\n";
    /// let e = PlacementPolicy::compile(&[("s.rego".into(), other.into())], None).unwrap_err();
    /// assert!(e.to_string().contains("twin.placement"), "{e}");
    /// ```
    pub fn compile(sources: &[(String, String)], data_json: Option<&str>) -> Result<PlacementPolicy, PlacementPolicyError> {
        PlacementPolicy::new(RegoPolicies::new(sources, data_json)?)
    }

    /// Placement policies from compiled ones, which must cover `twin.placement`.
    pub fn new(rego: RegoPolicies) -> Result<PlacementPolicy, PlacementPolicyError> {
        if !rego.covers(Point::Placement) {
            let found = twin_policy_packages(&rego);
            return Err(PlacementPolicyError::NoPlacement { found });
        }
        Ok(PlacementPolicy { rego })
    }

    /// The violations of placing the workload in the pool (empty: allowed).
    pub fn judge(&mut self, input: &PlacementInput) -> Result<Vec<Violation>, PolicyError> {
        self.rego.evaluate(Point::Placement, input)
    }

    /// Counters of the questions asked.
    pub fn stats(&self) -> PlacementStats {
        PlacementStats { asked: self.rego.stats.decisions, cached: self.rego.stats.cache_hits }
    }
}

/// The packages a set of policies defines, for a message.
fn twin_policy_packages(rego: &RegoPolicies) -> String {
    let mut found: Vec<&str> = [Point::Admission, Point::Scaling].into_iter().filter(|p| rego.covers(*p)).map(Point::package).collect();
    if found.is_empty() {
        found.push("none of twin.admission, twin.placement, twin.scaling");
    }
    found.join(", ")
}

/// The pod as policies see a workload.
pub fn workload(pod: &K8sPod, request: &PodRequest) -> WorkloadDoc {
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".into());
    let team = ["team", "twin.dev/team"].iter().find_map(|k| labels.get(*k)).filter(|t| !t.is_empty()).cloned();
    let spec = pod.spec.as_ref();
    let selector = spec.and_then(|s| s.node_selector.as_ref());
    let pools = selector.map(|s| POOL_LABELS.iter().filter_map(|k| s.get(*k).cloned()).collect()).unwrap_or_default();
    let regions = selector.map(|s| REGION_LABELS.iter().filter_map(|k| s.get(*k).cloned()).take(1).collect()).unwrap_or_default();
    WorkloadDoc {
        kind: "Pod",
        name: pod.metadata.name.clone().unwrap_or_default(),
        team: team.unwrap_or_else(|| namespace.clone()),
        namespace,
        image: spec.and_then(|s| s.containers.first()).and_then(|c| c.image.clone()).unwrap_or_default(),
        model: pod.metadata.annotations.as_ref().and_then(|a| a.get("twin.dev/model")).cloned(),
        labels,
        gpus: request.pod.gpus,
        replicas: 1,
        priority: request.pod.priority,
        pools,
        regions,
    }
}

/// A node as policies see a pool, for a pod asking for `resource`.
pub fn pool(node: &NodeRecord, resource: &str) -> PoolDoc {
    let gpus = node.accelerators_of(resource);
    PoolDoc {
        name: node.pool.clone(),
        capacity: capacity_name(node.capacity),
        region: node.region.clone(),
        zone: node.zone.clone(),
        accelerator: node.gpu_model.clone(),
        // Unknown: NaN, which JSON writes as `null`.
        price_per_gpu_hour: node.price_per_hour.map_or(f64::NAN, |p| p / f64::from(gpus.max(1))),
        interruption_per_hour: 0.0,
    }
}

/// Capacity as the policy documents write it.
pub fn capacity_name(c: Capacity) -> &'static str {
    match c {
        Capacity::OnPrem => "on-prem",
        Capacity::Reserved => "reserved",
        Capacity::Spot => "spot",
        Capacity::OnDemand => "on-demand",
    }
}

/// The question about one pool, for a caller that asks about many.
pub(crate) fn input(workload: &WorkloadDoc, node: &NodeRecord, resource: &str) -> PlacementInput {
    PlacementInput { workload: workload.clone(), pool: pool(node, resource) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::NodeReader;
    use k8s_openapi::api::core::v1::Node;

    const CRITICAL: &str = include_str!("../../policies/placement.rego");

    fn node(labels: &str) -> NodeRecord {
        let n: Node = serde_json::from_str(&format!(
            r#"{{"metadata":{{"name":"n","labels":{{{labels}}}}},"status":{{"allocatable":{{"nvidia.com/gpu":"8"}}}}}}"#
        ))
        .unwrap();
        NodeReader::default().read(&n).unwrap()
    }

    fn gpu_pod(labels: &str, extra: &str) -> (K8sPod, PodRequest) {
        let pod: K8sPod = serde_json::from_str(&format!(
            r#"{{"metadata":{{"name":"train","namespace":"ml","labels":{{{labels}}}}},"spec":{{{extra}"priority":7,
                "containers":[{{"name":"c","image":"reg/x:1","resources":{{"limits":{{"nvidia.com/gpu":"4"}}}}}}]}}}}"#
        ))
        .unwrap();
        let request = crate::pod::read(&pod, &[]).unwrap().unwrap();
        (pod, request)
    }

    #[test]
    fn the_pod_and_node_read_as_the_simulations_documents() {
        let (pod, request) = gpu_pod(
            r#""team":"research","critical":"true""#,
            r#""nodeSelector":{"karpenter.sh/nodepool":"h100","topology.kubernetes.io/region":"us-east-1"},"#,
        );
        let w = workload(&pod, &request);
        assert_eq!((w.kind, w.name.as_str(), w.namespace.as_str(), w.team.as_str()), ("Pod", "train", "ml", "research"));
        assert_eq!((w.image.as_str(), w.gpus, w.priority, w.replicas), ("reg/x:1", 4, 7, 1));
        assert_eq!((w.pools, w.regions), (vec!["h100".to_string()], vec!["us-east-1".to_string()]));
        let (pod, request) = gpu_pod("", "");
        assert_eq!(workload(&pod, &request).team, "ml", "the namespace when there is no team label");

        let n = node(
            r#""karpenter.sh/nodepool":"h100-spot","karpenter.sh/capacity-type":"spot","topology.kubernetes.io/region":"us-east-1",
               "topology.kubernetes.io/zone":"us-east-1a","nvidia.com/gpu.product":"H100","twin.dev/price-per-hour":"20""#,
        );
        let p = pool(&n, "nvidia.com/gpu");
        assert_eq!((p.name.as_str(), p.capacity, p.region.as_str(), p.zone.as_str()), ("h100-spot", "spot", "us-east-1", "us-east-1a"));
        assert_eq!((p.accelerator.as_str(), p.price_per_gpu_hour), ("H100", 2.5));
        let unknown = serde_json::to_value(pool(&node(r#""node.kubernetes.io/instance-type":"p5.48xlarge""#), "nvidia.com/gpu")).unwrap();
        assert_eq!(unknown["price_per_gpu_hour"], serde_json::Value::Null);
        assert_eq!((unknown["name"].as_str(), unknown["capacity"].as_str()), (Some("p5.48xlarge"), Some("on-demand")));
    }

    #[test]
    fn the_shipped_policy_keeps_critical_work_off_spot_and_repeats_come_from_the_cache() {
        let mut p = PlacementPolicy::compile(&[("placement.rego".into(), CRITICAL.into())], None).unwrap();
        let (pod, request) = gpu_pod(r#""critical":"true""#, "");
        let w = workload(&pod, &request);
        let spot = node(r#""karpenter.sh/nodepool":"h100-spot","karpenter.sh/capacity-type":"spot""#);
        let od = node(r#""karpenter.sh/nodepool":"h100-od""#);
        let v = p.judge(&input(&w, &spot, "nvidia.com/gpu")).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].to_string(), "critical-not-on-spot: train is critical and may not run on spot pool h100-spot");
        assert!(p.judge(&input(&w, &od, "nvidia.com/gpu")).unwrap().is_empty());
        assert_eq!(p.judge(&input(&w, &spot, "nvidia.com/gpu")).unwrap(), v);
        assert_eq!(p.stats(), PlacementStats { asked: 3, cached: 1 });
    }

    #[test]
    fn a_runtime_error_is_an_error_and_other_packages_alone_are_refused() {
        let failing = "package twin.placement\n\nviolation contains {\"msg\": \"x\"} if { to_number(input.pool.name) > 0 }\n";
        let mut p = PlacementPolicy::compile(&[("f.rego".into(), failing.into())], None).unwrap();
        let (pod, request) = gpu_pod("", "");
        let spot = node(r#""karpenter.sh/nodepool":"h100-spot","karpenter.sh/capacity-type":"spot""#);
        let e = p.judge(&input(&workload(&pod, &request), &spot, "nvidia.com/gpu")).unwrap_err();
        assert!(e.to_string().starts_with("evaluating twin.placement"), "{e}");
        let admission = "package twin.admission\n\nviolation contains {\"msg\": \"no\"} if { false }\n";
        let e = PlacementPolicy::compile(&[("a.rego".into(), admission.into())], None).unwrap_err().to_string();
        assert!(e.contains("found: twin.admission"), "{e}");
    }
}
