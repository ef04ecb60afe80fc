//! Karpenter's `karpenter.sh/v1` NodePool: the parts Twin reads.
//!
//! `k8s-openapi` has no Karpenter types; these mirror the fields of the
//! `NodePool` custom resource that Twin turns into pools, and ignore the
//! rest (`nodeClassRef`, `expireAfter`, `budgets`, ...), so a NodePool that
//! Karpenter accepts reads here too. Field names are Karpenter's.

use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A Karpenter NodePool (`apiVersion: karpenter.sh/v1`, `kind: NodePool`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePool {
    /// Name, labels and annotations (`twin.dev/spot-price`, `twin.dev/like`).
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What nodes the NodePool may launch.
    #[serde(default)]
    pub spec: NodePoolSpec,
}

/// `spec` of a NodePool.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolSpec {
    /// The nodes' labels, requirements and taints.
    #[serde(default)]
    pub template: NodeClaimTemplate,
    /// Most resources all the NodePool's nodes together may have
    /// (`cpu`, `memory`, `nvidia.com/gpu`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Quantity>,
    /// When empty or underused nodes are removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruption: Option<Disruption>,
    /// Preference among NodePools: higher is tried first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// `spec.template` of a NodePool.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeClaimTemplate {
    /// Labels and annotations the nodes get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMetadata>,
    /// Requirements and taints.
    #[serde(default)]
    pub spec: NodeClaimTemplateSpec,
}

/// `spec.template.metadata` of a NodePool.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMetadata {
    /// Labels every node gets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations every node gets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `spec.template.spec` of a NodePool.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeClaimTemplateSpec {
    /// What the nodes must be: instance types, capacity types, zones, labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<Requirement>,
    /// Taints every node gets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    /// Taints removed once the node is initialised (not modelled: a node is
    /// ready when provisioned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub startup_taints: Vec<Taint>,
    /// The cloud provider's node class (`EC2NodeClass`, `AKSNodeClass`, ...):
    /// Karpenter requires one; Twin reads past it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_class_ref: Option<NodeClassReference>,
}

/// `spec.template.spec.nodeClassRef`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeClassReference {
    /// `karpenter.k8s.aws`, ...
    pub group: String,
    /// `EC2NodeClass`, ...
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// One node requirement, as a node selector requirement with `minValues`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    /// The label key, such as `node.kubernetes.io/instance-type`.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`.
    pub operator: String,
    /// The values for `In`, `NotIn`, `Gt`, `Lt`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Least number of distinct values Karpenter keeps (flexibility; not modelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_values: Option<i32>,
}

/// `spec.disruption` of a NodePool.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disruption {
    /// How long a node may stay empty (or underused) before it goes: a
    /// duration such as `30s` or `5m`, or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consolidate_after: Option<String>,
    /// `WhenEmpty` or `WhenEmptyOrUnderutilized`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consolidation_policy: Option<String>,
}
