//! The scenario's cloud pools as Karpenter `karpenter.sh/v1` NodePools:
//! one per pool, requiring its instance type and capacity type, with its
//! labels and taints, its accelerator limit and its scale-down delay as
//! `consolidateAfter`. On-prem pools are not Karpenter's and are left out.

use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use twin_manifests::{
    Disruption, NodeClaimTemplate, NodeClaimTemplateSpec, NodeClassReference, NodePool, NodePoolSpec, Requirement, TemplateMetadata,
};
use twin_sim::catalogue::Catalogue;
use twin_sim::scenario::spec::{CapacityType, PoolSpec};

/// A NodePool with its `apiVersion` and `kind`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolObject {
    /// `karpenter.sh/v1`.
    pub api_version: String,
    /// `NodePool`.
    pub kind: String,
    /// The pool.
    #[serde(flatten)]
    pub pool: NodePool,
}

/// The node class every NodePool refers to (`EC2NodeClass` named `node_class`).
pub fn node_class(name: &str) -> NodeClassReference {
    NodeClassReference { group: "karpenter.k8s.aws".into(), kind: "EC2NodeClass".into(), name: name.into() }
}

/// Whether Karpenter refuses a label of this key on a NodePool's template:
/// its own domain and Kubernetes' are reserved.
fn restricted(key: &str) -> bool {
    let Some((domain, _)) = key.split_once('/') else { return false };
    domain == "karpenter.sh" || domain.ends_with("kubernetes.io") || domain.ends_with("k8s.io")
}

/// The extended resource a vendor's accelerators are requested as.
fn resource_of(vendor: &str) -> Option<&'static str> {
    match vendor {
        "NVIDIA" => Some("nvidia.com/gpu"),
        "AWS" => Some("aws.amazon.com/neuron"),
        _ => None,
    }
}

/// The NodePool of a pool, or why there is none: on-prem pools, pools that
/// came from a NodePool manifest (promote that manifest as it is), and node
/// types that are not AWS instances (the NodePools use `EC2NodeClass`).
pub fn of(pool: &PoolSpec, catalogue: &Catalogue, class: &NodeClassReference) -> Result<NodePoolObject, String> {
    let capacity = match pool.capacity {
        CapacityType::OnPrem => return Err(format!("pool {}: on-prem, not provisioned by Karpenter: no NodePool", pool.name)),
        CapacityType::Spot => "spot",
        CapacityType::OnDemand => "on-demand",
        CapacityType::Reserved => "reserved",
    };
    if let Some(np) = pool.labels.get("karpenter.sh/nodepool") {
        return Err(format!(
            "pool {}: made from the NodePool {np} in the manifests; that manifest is the NodePool, no second one",
            pool.name
        ));
    }
    let node_type = catalogue
        .node_type(&pool.node_type)
        .map(|i| &catalogue.node_types[i])
        .ok_or_else(|| format!("pool {}: node type {} is not in the catalogue", pool.name, pool.node_type))?;
    if !node_type.source.starts_with("AWS") {
        return Err(format!(
            "pool {}: {} is not an AWS instance type, and the NodePools use Karpenter's EC2NodeClass: no NodePool",
            pool.name, node_type.name
        ));
    }
    let mut requirements = vec![
        Requirement {
            key: "node.kubernetes.io/instance-type".into(),
            operator: "In".into(),
            values: vec![node_type.name.clone()],
            min_values: None,
        },
        Requirement { key: "karpenter.sh/capacity-type".into(), operator: "In".into(), values: vec![capacity.into()], min_values: None },
    ];
    if !pool.zone.is_empty() {
        requirements.push(Requirement {
            key: "topology.kubernetes.io/zone".into(),
            operator: "In".into(),
            values: vec![pool.zone.clone()],
            min_values: None,
        });
    }
    let mut labels: std::collections::BTreeMap<String, String> =
        pool.labels.iter().filter(|(k, _)| !restricted(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.insert("twin.dev/pool".into(), pool.name.clone());
    let taints = pool
        .taints
        .iter()
        .map(|t| Taint {
            key: t.key.clone(),
            value: (!t.value.is_empty()).then(|| t.value.clone()),
            effect: match t.effect {
                twin_scheduler::TaintEffect::NoSchedule => "NoSchedule".into(),
                twin_scheduler::TaintEffect::PreferNoSchedule => "PreferNoSchedule".into(),
            },
            ..Default::default()
        })
        .collect();
    // The twin's ceiling: max_nodes (64 when unset), or a committed pool's node count.
    let nodes = pool.max_node_count();
    let mut limits = std::collections::BTreeMap::new();
    limits.insert("cpu".to_string(), Quantity((nodes * node_type.vcpus).to_string()));
    let accelerator = catalogue.accelerator(&node_type.accelerator).map(|i| &catalogue.accelerators[i]);
    if let Some(resource) = accelerator.and_then(|a| resource_of(&a.vendor)) {
        limits.insert(resource.to_string(), Quantity((nodes * node_type.accelerators_per_node).to_string()));
    }
    // Committed capacity is paid for whether busy or not: never consolidated away.
    let consolidate_after =
        if pool.capacity.is_committed() { "Never".to_string() } else { format!("{}s", pool.scale_down().as_secs_f64().round() as u64) };
    Ok(NodePoolObject {
        api_version: "karpenter.sh/v1".into(),
        kind: "NodePool".into(),
        pool: NodePool {
            metadata: ObjectMeta { name: Some(pool.name.clone()), ..Default::default() },
            spec: NodePoolSpec {
                template: NodeClaimTemplate {
                    metadata: Some(TemplateMetadata { labels, annotations: Default::default() }),
                    spec: NodeClaimTemplateSpec { requirements, taints, startup_taints: Vec::new(), node_class_ref: Some(class.clone()) },
                },
                limits,
                disruption: Some(Disruption { consolidate_after: Some(consolidate_after), consolidation_policy: Some("WhenEmpty".into()) }),
                weight: None,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::restricted;

    #[test]
    fn reserved_label_domains() {
        assert!(restricted("karpenter.sh/nodepool"));
        assert!(restricted("node.kubernetes.io/instance-type"));
        assert!(restricted("kubernetes.io/arch"));
        assert!(restricted("node-role.k8s.io/gpu"));
        assert!(!restricted("gpu.type"));
        assert!(!restricted("nvidia.com/gpu.product"));
        assert!(!restricted("twin.dev/pool"));
    }
}
