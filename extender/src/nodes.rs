//! Node objects read into what Twin's scheduler knows of a node.
//!
//! | what | read from |
//! | --- | --- |
//! | accelerators | `status.allocatable`: `nvidia.com/gpu` and every resource [`twin_manifests::ACCELERATORS`] lists, whole devices |
//! | CPU, memory | `status.allocatable` `cpu` and `memory` (absent: 0) |
//! | labels, taints | `metadata.labels`, `spec.taints` (`NoExecute` keeps new pods away as `NoSchedule` does) |
//! | cordoned | `spec.unschedulable` |
//! | accelerator model | the first label of [`GPU_MODEL_LABELS`], else the resource name |
//! | pool | the first label of [`POOL_LABELS`], else the instance type, else `default` |
//! | price per node-hour | the label [`PRICE_LABEL`], else the price table by instance type (label [`INSTANCE_TYPE_LABELS`]) |
//! | capacity | [`CAPACITY_LABELS`]: Twin's own, Karpenter's, EKS's, GKE's and AKS's spot labels; else on-demand |
//! | region, zone | [`REGION_LABELS`], [`ZONE_LABELS`] (for placement policies) |
//!
//! Only allocatable is read, never what the pods already on a node hold:
//! kube-scheduler does not send them, so the extender judges every node as
//! if it were empty (kube-scheduler's own `NodeResourcesFit` has already
//! checked what is free).
//!
//! A node that cannot be read (no allocatable, a bad quantity, a bad price
//! or taint) is a [`NodeError`], never a panic.

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use std::collections::BTreeMap;
use twin_manifests::{ACCELERATORS, FieldPath, Quantity, taint_effect};
use twin_scheduler::{Capacity, NodeShape, Taint};

/// The label giving a node's price in dollars per node-hour (`12.5`); it
/// wins over the price table.
pub const PRICE_LABEL: &str = "twin.dev/price-per-hour";

/// Labels naming the accelerator model, first found wins: Twin's own,
/// Twin's pools' `gpu.type`, NVIDIA GPU feature discovery, Karpenter on
/// AWS, GKE.
pub const GPU_MODEL_LABELS: &[&str] = &[
    "twin.dev/gpu-model",
    "gpu.type",
    "nvidia.com/gpu.product",
    "karpenter.k8s.aws/instance-gpu-name",
    "cloud.google.com/gke-accelerator",
];

/// Labels naming the pool (node group), first found wins.
pub const POOL_LABELS: &[&str] = &[
    "twin.dev/pool",
    "karpenter.sh/nodepool",
    "eks.amazonaws.com/nodegroup",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
];

/// Labels naming the instance type, the key of the price table.
pub const INSTANCE_TYPE_LABELS: &[&str] = &["node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type"];

/// Labels naming the node's region, first found wins.
pub const REGION_LABELS: &[&str] = &["topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region"];

/// Labels naming the node's zone, first found wins.
pub const ZONE_LABELS: &[&str] = &["topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"];

/// Labels saying how the capacity is bought, in the order they are looked at.
///
/// | label | values |
/// | --- | --- |
/// | `twin.dev/capacity-type` | `on-prem`, `reserved`, `spot`, `on-demand` (anything else is an error) |
/// | `karpenter.sh/capacity-type` | `spot`, `reserved`; else on-demand |
/// | `eks.amazonaws.com/capacityType` | `SPOT`, `CAPACITY_BLOCK` (reserved); else on-demand |
/// | `cloud.google.com/gke-spot`, `cloud.google.com/gke-preemptible` | `true`: spot |
/// | `kubernetes.azure.com/scalesetpriority` | `spot` |
pub const CAPACITY_LABELS: &[&str] = &[
    "twin.dev/capacity-type",
    "karpenter.sh/capacity-type",
    "eks.amazonaws.com/capacityType",
    "cloud.google.com/gke-spot",
    "cloud.google.com/gke-preemptible",
    "kubernetes.azure.com/scalesetpriority",
];

/// The most accelerators of one kind a node may have (the scheduler
/// indexes them with a byte).
pub const MAX_ACCELERATORS: u32 = 255;

/// Why a node could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The node has no `metadata.name`.
    #[error("the node has no metadata.name")]
    NoName,
    /// `status.allocatable` is absent or empty.
    #[error("status.allocatable is missing or empty")]
    NoAllocatable,
    /// An allocatable quantity Twin cannot read.
    #[error("status.allocatable[{resource}]: {message}")]
    Quantity {
        /// The resource, such as `nvidia.com/gpu`.
        resource: String,
        /// What is wrong.
        message: String,
    },
    /// More accelerators than [`MAX_ACCELERATORS`].
    #[error("status.allocatable[{resource}]: {count} accelerators on one node (at most {MAX_ACCELERATORS})")]
    TooManyAccelerators {
        /// The resource.
        resource: &'static str,
        /// How many.
        count: u64,
    },
    /// The price label is not a price.
    #[error("label {PRICE_LABEL}={text:?} is not a price (write dollars per node-hour, such as 12.5)")]
    Price {
        /// The label's value.
        text: String,
    },
    /// `twin.dev/capacity-type` has a value Twin does not know.
    #[error("label twin.dev/capacity-type={text:?} is not on-prem, reserved, spot or on-demand")]
    Capacity {
        /// The label's value.
        text: String,
    },
    /// A taint Twin cannot read.
    #[error("{field}: {message}")]
    Taint {
        /// The field, such as `spec.taints[0].effect`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// A price in the price table that is negative or not a number.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("price table: {instance_type} costs {price} per node-hour; prices are finite and ≥ 0")]
pub struct BadPrice {
    /// The instance type.
    pub instance_type: String,
    /// Its price.
    pub price: f64,
}

/// A node as the extender knows it: what Twin's scheduler needs, and no
/// more. The scheduler's [`NodeShape`] for a given pod comes from
/// [`NodeRecord::shape`].
#[derive(Clone, Debug, PartialEq)]
pub struct NodeRecord {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.resourceVersion`, if any: a node seen again at the same
    /// version is not read again.
    pub resource_version: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Taints.
    pub taints: Vec<Taint>,
    /// Whole accelerators allocatable, by resource name (those with none left out).
    pub accelerators: Vec<(&'static str, u32)>,
    /// Allocatable CPU, thousandths of a core.
    pub cpu_milli: u32,
    /// Allocatable memory, MiB.
    pub memory_mib: u32,
    /// The accelerator model.
    pub gpu_model: String,
    /// The pool.
    pub pool: String,
    /// The instance type, if labelled.
    pub instance_type: Option<String>,
    /// Dollars per node-hour, if known.
    pub price_per_hour: Option<f64>,
    /// How the capacity is bought.
    pub capacity: Capacity,
    /// The region, `""` when not labelled.
    pub region: String,
    /// The zone, `""` when not labelled.
    pub zone: String,
    /// `spec.unschedulable`: no new pods.
    pub cordoned: bool,
}

impl NodeRecord {
    /// Whole accelerators of `resource` allocatable.
    pub fn accelerators_of(&self, resource: &str) -> u32 {
        self.accelerators.iter().find(|(r, _)| *r == resource).map_or(0, |(_, n)| *n)
    }

    /// The node as Twin's scheduler sees it for a pod asking for
    /// `resource`, with `labels` (the extender keeps only those the pod's
    /// selector reads, so that nodes alike to the pod form one class).
    ///
    /// The price per accelerator-hour is the node's price over its
    /// accelerators; an unknown price counts as unbounded, so `cost-aware`
    /// ranks such a node last (sunk capacity costs nothing whatever its price).
    pub fn shape(&self, resource: &str, labels: BTreeMap<String, String>) -> NodeShape {
        let gpus = self.accelerators_of(resource);
        NodeShape {
            pool: self.pool.clone(),
            gpu_model: self.gpu_model.clone(),
            gpus,
            cpu_milli: self.cpu_milli,
            memory_mib: self.memory_mib,
            labels,
            taints: self.taints.clone(),
            price_per_gpu_hour: self.price_per_hour.map_or(f64::INFINITY, |p| p / f64::from(gpus.max(1))),
            capacity: self.capacity,
            interruption_per_hour: 0.0,
        }
    }
}

/// Reads Node objects, with a price table for nodes without a price label.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeReader {
    prices: BTreeMap<String, f64>,
}

impl NodeReader {
    /// A reader with prices per node-hour by instance type.
    pub fn new(prices: BTreeMap<String, f64>) -> Result<NodeReader, BadPrice> {
        if let Some((t, p)) = prices.iter().find(|(_, p)| !p.is_finite() || **p < 0.0) {
            return Err(BadPrice { instance_type: t.clone(), price: *p });
        }
        Ok(NodeReader { prices })
    }

    /// The price table.
    pub fn prices(&self) -> &BTreeMap<String, f64> {
        &self.prices
    }

    /// Reads one node.
    pub fn read(&self, node: &Node) -> Result<NodeRecord, NodeError> {
        let name = node.metadata.name.clone().filter(|n| !n.is_empty()).ok_or(NodeError::NoName)?;
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let allocatable =
            node.status.as_ref().and_then(|s| s.allocatable.as_ref()).filter(|a| !a.is_empty()).ok_or(NodeError::NoAllocatable)?;
        let mut accelerators = Vec::new();
        for &(resource, _) in ACCELERATORS {
            let Some(q) = allocatable.get(resource) else { continue };
            let count = quantity(resource, q)?.count().ok_or_else(|| NodeError::Quantity {
                resource: resource.into(),
                message: format!("{:?} is not a whole number of devices", q.0),
            })?;
            if count > u64::from(MAX_ACCELERATORS) {
                return Err(NodeError::TooManyAccelerators { resource, count });
            }
            if count > 0 {
                accelerators.push((resource, count as u32));
            }
        }
        let cpu_milli = match allocatable.get("cpu") {
            Some(q) => small("cpu", q, quantity("cpu", q)?.milli())?,
            None => 0,
        };
        let memory_mib = match allocatable.get("memory") {
            Some(q) => small("memory", q, quantity("memory", q)?.mib())?,
            None => 0,
        };
        let spec = node.spec.as_ref();
        let mut taints = Vec::new();
        for (i, t) in spec.and_then(|s| s.taints.as_deref()).unwrap_or(&[]).iter().enumerate() {
            let path = FieldPath::of("spec.taints").index(i).key("effect");
            let effect = taint_effect(&t.effect, &path).map_err(|f| NodeError::Taint { field: f.path.to_string(), message: f.message })?;
            taints.push(Taint { key: t.key.clone(), value: t.value.clone().unwrap_or_default(), effect });
        }
        let first = |keys: &[&str]| keys.iter().find_map(|k| labels.get(*k)).filter(|v| !v.is_empty()).cloned();
        let instance_type = first(INSTANCE_TYPE_LABELS);
        let gpu_model = first(GPU_MODEL_LABELS).unwrap_or_else(|| accelerators.first().map_or_else(String::new, |(r, _)| r.to_string()));
        let pool = first(POOL_LABELS).or_else(|| instance_type.clone()).unwrap_or_else(|| "default".into());
        let price_per_hour = match labels.get(PRICE_LABEL) {
            Some(text) => Some(
                text.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|p| p.is_finite() && *p >= 0.0)
                    .ok_or_else(|| NodeError::Price { text: text.clone() })?,
            ),
            None => instance_type.as_ref().and_then(|t| self.prices.get(t)).copied(),
        };
        let (region, zone) = (first(REGION_LABELS).unwrap_or_default(), first(ZONE_LABELS).unwrap_or_default());
        Ok(NodeRecord {
            name,
            resource_version: node.metadata.resource_version.clone(),
            capacity: capacity(&labels)?,
            labels,
            taints,
            accelerators,
            cpu_milli,
            memory_mib,
            gpu_model,
            pool,
            instance_type,
            price_per_hour,
            region,
            zone,
            cordoned: spec.and_then(|s| s.unschedulable).unwrap_or(false),
        })
    }
}

/// An allocatable quantity, not negative.
fn quantity(resource: &str, q: &K8sQuantity) -> Result<Quantity, NodeError> {
    let bad = |message: String| NodeError::Quantity { resource: resource.into(), message };
    let v = Quantity::parse(&q.0).map_err(bad)?;
    if v.is_negative() {
        return Err(bad(format!("{:?} is negative", q.0)));
    }
    Ok(v)
}

/// A converted quantity that fits 32 bits.
fn small(resource: &str, q: &K8sQuantity, v: Option<u64>) -> Result<u32, NodeError> {
    v.and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| NodeError::Quantity { resource: resource.into(), message: format!("{:?} is too large", q.0) })
}

/// How the node's capacity is bought, from [`CAPACITY_LABELS`].
fn capacity(labels: &BTreeMap<String, String>) -> Result<Capacity, NodeError> {
    let get = |k: &str| labels.get(k).map(String::as_str);
    if let Some(v) = get("twin.dev/capacity-type") {
        return match v {
            "on-prem" => Ok(Capacity::OnPrem),
            "reserved" => Ok(Capacity::Reserved),
            "spot" => Ok(Capacity::Spot),
            "on-demand" => Ok(Capacity::OnDemand),
            other => Err(NodeError::Capacity { text: other.into() }),
        };
    }
    Ok(match (get("karpenter.sh/capacity-type"), get("eks.amazonaws.com/capacityType")) {
        (Some("spot"), _) | (None, Some("SPOT")) => Capacity::Spot,
        (Some("reserved"), _) | (None, Some("CAPACITY_BLOCK")) => Capacity::Reserved,
        (Some(_), _) | (None, Some(_)) => Capacity::OnDemand,
        (None, None) => {
            let spot = get("cloud.google.com/gke-spot") == Some("true")
                || get("cloud.google.com/gke-preemptible") == Some("true")
                || get("kubernetes.azure.com/scalesetpriority") == Some("spot");
            if spot { Capacity::Spot } else { Capacity::OnDemand }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(json: &str) -> Node {
        serde_json::from_str(json).unwrap()
    }

    fn reader() -> NodeReader {
        NodeReader::new(BTreeMap::from([("p5.48xlarge".to_string(), 98.32)])).unwrap()
    }

    #[test]
    fn a_gpu_node_reads_into_the_scheduler_model() {
        let n = node(
            r#"{"metadata":{"name":"gpu-0","resourceVersion":"7","labels":{
                "node.kubernetes.io/instance-type":"p5.48xlarge","karpenter.sh/capacity-type":"spot",
                "karpenter.sh/nodepool":"h100","nvidia.com/gpu.product":"NVIDIA-H100-80GB-HBM3"}},
              "spec":{"taints":[{"key":"nvidia.com/gpu","value":"present","effect":"NoExecute"}]},
              "status":{"allocatable":{"nvidia.com/gpu":"8","cpu":"191450m","memory":"2003Gi","pods":"110"}}}"#,
        );
        let r = reader().read(&n).unwrap();
        assert_eq!((r.name.as_str(), r.resource_version.as_deref()), ("gpu-0", Some("7")));
        assert_eq!(r.accelerators, [("nvidia.com/gpu", 8)]);
        assert_eq!((r.cpu_milli, r.memory_mib), (191_450, 2_003 * 1_024));
        assert_eq!((r.gpu_model.as_str(), r.pool.as_str(), r.capacity), ("NVIDIA-H100-80GB-HBM3", "h100", Capacity::Spot));
        assert_eq!(r.price_per_hour, Some(98.32));
        assert_eq!(
            r.taints,
            [Taint { key: "nvidia.com/gpu".into(), value: "present".into(), effect: twin_scheduler::TaintEffect::NoSchedule }]
        );
        let shape = r.shape("nvidia.com/gpu", BTreeMap::new());
        assert_eq!(shape.gpus, 8);
        assert!((shape.price_per_gpu_hour - 98.32 / 8.0).abs() < 1e-12);
        assert_eq!(r.shape("amd.com/gpu", BTreeMap::new()).gpus, 0);
    }

    #[test]
    fn the_price_label_wins_and_an_unknown_price_is_unbounded() {
        let n = node(
            r#"{"metadata":{"name":"a","labels":{"twin.dev/price-per-hour":"16","node.kubernetes.io/instance-type":"p5.48xlarge","eks.amazonaws.com/capacityType":"ON_DEMAND"}},
              "status":{"allocatable":{"amd.com/gpu":"4"}}}"#,
        );
        let r = reader().read(&n).unwrap();
        assert_eq!((r.price_per_hour, r.capacity, r.cpu_milli), (Some(16.0), Capacity::OnDemand, 0));
        assert_eq!(r.shape("amd.com/gpu", BTreeMap::new()).price_per_gpu_hour, 4.0);
        assert_eq!((r.gpu_model.as_str(), r.pool.as_str()), ("amd.com/gpu", "p5.48xlarge"));
        let n = node(r#"{"metadata":{"name":"b","labels":{"cloud.google.com/gke-spot":"true"}},"status":{"allocatable":{"cpu":"4"}}}"#);
        let r = reader().read(&n).unwrap();
        assert_eq!((r.price_per_hour, r.capacity, r.pool.as_str()), (None, Capacity::Spot, "default"));
        assert_eq!(r.shape("nvidia.com/gpu", BTreeMap::new()).price_per_gpu_hour, f64::INFINITY);
    }

    #[test]
    fn unreadable_nodes_say_why() {
        let cases = [
            (r#"{"metadata":{}}"#, "the node has no metadata.name"),
            (r#"{"metadata":{"name":"a"},"status":{}}"#, "status.allocatable is missing or empty"),
            (
                r#"{"metadata":{"name":"a"},"status":{"allocatable":{"cpu":"5x"}}}"#,
                "status.allocatable[cpu]: \"5x\" is not a Kubernetes quantity",
            ),
            (r#"{"metadata":{"name":"a"},"status":{"allocatable":{"nvidia.com/gpu":"1.5"}}}"#, "not a whole number of devices"),
            (r#"{"metadata":{"name":"a"},"status":{"allocatable":{"nvidia.com/gpu":"1e9"}}}"#, "1000000000 accelerators on one node"),
            (r#"{"metadata":{"name":"a"},"status":{"allocatable":{"memory":"-1Gi"}}}"#, "is negative"),
            (r#"{"metadata":{"name":"a"},"status":{"allocatable":{"memory":"1e30"}}}"#, "is too large"),
            (
                r#"{"metadata":{"name":"a","labels":{"twin.dev/price-per-hour":"cheap"}},"status":{"allocatable":{"cpu":"1"}}}"#,
                "is not a price",
            ),
            (
                r#"{"metadata":{"name":"a","labels":{"twin.dev/capacity-type":"free"}},"status":{"allocatable":{"cpu":"1"}}}"#,
                "capacity-type=\"free\"",
            ),
            (
                r#"{"metadata":{"name":"a"},"spec":{"taints":[{"key":"k","effect":"Sometimes"}]},"status":{"allocatable":{"cpu":"1"}}}"#,
                "spec.taints[0].effect: unknown taint effect \"Sometimes\"",
            ),
        ];
        for (json, want) in cases {
            let e = reader().read(&node(json)).unwrap_err().to_string();
            assert!(e.contains(want), "{json}: {e}");
        }
    }

    #[test]
    fn the_price_table_refuses_bad_prices() {
        assert!(NodeReader::new(BTreeMap::from([("x".to_string(), -1.0)])).is_err());
        assert!(NodeReader::new(BTreeMap::from([("x".to_string(), f64::NAN)])).is_err());
    }
}
