//! Pods: what a unit of work asks of a node.

use crate::node::{NodeShape, Taint, TaintEffect};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Identifies a pod across the scheduler's calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PodId(pub u64);

/// A node-label requirement (node affinity, or a node selector entry).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Selector {
    /// The label's value is one of these.
    In {
        /// Label key.
        key: String,
        /// Allowed values.
        values: Vec<String>,
    },
    /// The label is absent or its value is none of these.
    NotIn {
        /// Label key.
        key: String,
        /// Forbidden values.
        values: Vec<String>,
    },
    /// The label is present.
    Exists {
        /// Label key.
        key: String,
    },
    /// The label is absent.
    DoesNotExist {
        /// Label key.
        key: String,
    },
}

impl Selector {
    /// Whether a node with these labels satisfies the requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Selector::In { key, values } => labels.get(key).is_some_and(|v| values.contains(v)),
            Selector::NotIn { key, values } => labels.get(key).is_none_or(|v| !values.contains(v)),
            Selector::Exists { key } => labels.contains_key(key),
            Selector::DoesNotExist { key } => !labels.contains_key(key),
        }
    }
}

/// A toleration of taints, as in Kubernetes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toleration {
    /// Taint key tolerated.
    pub key: String,
    /// Value it must have; `None` tolerates any value.
    #[serde(default)]
    pub value: Option<String>,
    /// Effect tolerated; `None` tolerates every effect.
    #[serde(default)]
    pub effect: Option<TaintEffect>,
}

impl Toleration {
    /// Whether this toleration covers `taint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        self.key == taint.key && self.value.as_ref().is_none_or(|v| *v == taint.value) && self.effect.is_none_or(|e| e == taint.effect)
    }
}

/// Membership of a gang: pods that start together or not at all.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Gang {
    /// The gang's name.
    pub name: String,
    /// How many pods it has.
    pub size: u32,
}

/// A unit of work to place on one node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pod {
    /// Identity.
    pub id: PodId,
    /// Name, for traces.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Priority: higher goes first and may preempt lower.
    pub priority: i32,
    /// Arrival order, for ties in the queue.
    pub seq: u64,
    /// CPU thousandths.
    pub cpu_milli: u32,
    /// Memory MiB.
    pub memory_mib: u32,
    /// Whole accelerators.
    pub gpus: u32,
    /// A share of one accelerator in thousandths, when `gpus` is 0.
    pub gpu_share: u16,
    /// Accelerator models allowed; empty allows any.
    pub gpu_models: Vec<String>,
    /// Node-label requirements.
    pub selector: Vec<Selector>,
    /// Taints tolerated.
    pub tolerations: Vec<Toleration>,
    /// Gang membership.
    pub gang: Option<Gang>,
    /// Whether the work keeps its progress across an interruption
    /// (checkpoints, or is stateless and retried).
    pub checkpointed: bool,
    /// Throughput per accelerator model relative to the reference (H100 = 1).
    pub speedup: BTreeMap<String, f64>,
}

impl Pod {
    /// A pod asking for whole accelerators and nothing else of note.
    pub fn gpus(id: u64, name: &str, gpus: u32) -> Pod {
        Pod {
            id: PodId(id),
            name: name.to_string(),
            namespace: "default".into(),
            priority: 0,
            seq: id,
            cpu_milli: 0,
            memory_mib: 0,
            gpus,
            gpu_share: 0,
            gpu_models: Vec::new(),
            selector: Vec::new(),
            tolerations: Vec::new(),
            gang: None,
            checkpointed: true,
            speedup: BTreeMap::new(),
        }
    }

    /// A pod asking for a share of one accelerator, in thousandths.
    pub fn share(id: u64, name: &str, milli: u16) -> Pod {
        Pod { gpus: 0, gpu_share: milli, ..Pod::gpus(id, name, 0) }
    }

    /// Accelerator thousandths asked for in all.
    pub fn gpu_milli(&self) -> u32 {
        self.gpus * 1_000 + u32::from(self.gpu_share)
    }

    /// Its speed on a shape's accelerator: its own figure, else 1.
    pub fn speed_on(&self, shape: &NodeShape) -> f64 {
        self.speedup.get(&shape.gpu_model).copied().unwrap_or(1.0)
    }

    /// Whether it tolerates `taint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        self.tolerations.iter().any(|t| t.tolerates(taint))
    }
}
