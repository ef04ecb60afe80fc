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

/// The NodePool of a pool, or why there is none.
pub fn of(pool: &PoolSpec, catalogue: &Catalogue, class: &NodeClassReference) -> Result<NodePoolObject, String> {
    let capacity = match pool.capacity {
        CapacityType::OnPrem => return Err(format!("pool {}: on-prem, not provisioned by Karpenter: no NodePool", pool.name)),
        CapacityType::Spot => "spot",
        CapacityType::OnDemand => "on-demand",
        CapacityType::Reserved => "reserved",
    };
    let node_type = catalogue
        .node_type(&pool.node_type)
        .map(|i| &catalogue.node_types[i])
        .ok_or_else(|| format!("pool {}: node type {} is not in the catalogue", pool.name, pool.node_type))?;
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
    let mut labels = pool.labels.clone();
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
    let limits = pool
        .max_nodes
        .map(|n| [("nvidia.com/gpu".to_string(), Quantity((n * node_type.accelerators_per_node).to_string()))].into())
        .unwrap_or_default();
    let secs = pool.scale_down().as_secs_f64().round() as u64;
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
                disruption: Some(Disruption {
                    consolidate_after: Some(format!("{secs}s")),
                    consolidation_policy: Some("WhenEmpty".into()),
                }),
                weight: None,
            },
        },
    })
}
