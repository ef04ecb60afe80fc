//! Workloads as Kubernetes objects, the shape OPA Gatekeeper shows
//! admission policies: `input.review.object` and `data.inventory`.
//!
//! A service is an `apps/v1` Deployment, a training job a `batch/v1` Job.
//! Only the fields an admission policy can see in a cluster are set: names,
//! labels (with `team`), the container's image and its accelerator
//! requests, and the pools and regions the workload may use as a required
//! node affinity on `karpenter.sh/nodepool` and `topology.kubernetes.io/region`.
//! Fields Kubernetes omits when empty are omitted here too.

use super::WorkloadDoc;
use serde::Serialize;
use std::collections::BTreeMap;

/// The extended resource Twin writes accelerator requests under.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// The label Twin names the paying team with.
pub const TEAM_LABEL: &str = "team";
/// The annotation carrying the served model.
pub const MODEL_ANNOTATION: &str = "twin.dev/model";
/// The node label naming a node's pool (Karpenter's).
pub const POOL_LABEL: &str = "karpenter.sh/nodepool";
/// The node label naming a node's region.
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";

/// A workload as a Kubernetes object (camelCase, as the API server writes it).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeObject {
    /// `apps/v1` or `batch/v1`.
    pub api_version: &'static str,
    /// `Deployment` or `Job`.
    pub kind: &'static str,
    /// Name, namespace, labels, annotations.
    pub metadata: ObjectMeta,
    /// Replicas (Deployment) or parallelism (Job), and the pod template.
    pub spec: WorkloadSpec,
}

/// `metadata`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObjectMeta {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.labels`, with `team`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations` (the model, when served).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A Deployment's or a Job's `spec`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSpec {
    /// Deployments: the replica count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Jobs: pods at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// The pod template.
    pub template: PodTemplate,
}

/// `spec.template`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PodTemplate {
    /// The pods' labels.
    pub metadata: TemplateMeta,
    /// The pods' spec.
    pub spec: PodSpec,
}

/// `spec.template.metadata`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TemplateMeta {
    /// The pods' labels: the workload's.
    pub labels: BTreeMap<String, String>,
}

/// `spec.template.spec`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PodSpec {
    /// One container.
    pub containers: Vec<Container>,
    /// The pod's priority, when not 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Where it may run, when pinned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<affinity::Affinity>,
}

/// A container.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Container {
    /// Its name: the workload's.
    pub name: String,
    /// Its image (omitted when the workload names none).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// Requests and limits of the accelerator.
    pub resources: Resources,
}

/// `resources`: accelerator requests equal to limits, as extended resources must be.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Resources {
    /// `requests`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, String>,
    /// `limits`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
}

/// Node affinity, in the API's nesting.
pub mod affinity {
    use serde::Serialize;

    /// `affinity`.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Affinity {
        /// `nodeAffinity`.
        pub node_affinity: NodeAffinity,
    }

    /// `nodeAffinity`.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    pub struct NodeAffinity {
        /// The hard requirement.
        #[serde(rename = "requiredDuringSchedulingIgnoredDuringExecution")]
        pub required: NodeSelector,
    }

    /// A node selector: terms ORed.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct NodeSelector {
        /// The terms.
        pub node_selector_terms: Vec<NodeSelectorTerm>,
    }

    /// A term: expressions ANDed.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct NodeSelectorTerm {
        /// The expressions.
        pub match_expressions: Vec<Requirement>,
    }

    /// `key operator values`.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    pub struct Requirement {
        /// The node label.
        pub key: String,
        /// `In`.
        pub operator: &'static str,
        /// The allowed values.
        pub values: Vec<String>,
    }
}

/// Group, version and kind, as in an admission review.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupVersionKind {
    /// `apps`, `batch`.
    pub group: &'static str,
    /// `v1`.
    pub version: &'static str,
    /// `Deployment`, `Job`.
    pub kind: &'static str,
}

/// Objects by name.
pub type ByName = BTreeMap<String, KubeObject>;
/// Objects by kind, then name.
pub type ByKind = BTreeMap<String, ByName>;
/// Objects by apiVersion, kind, then name.
pub type ByApiVersion = BTreeMap<String, ByKind>;

/// Gatekeeper's `data.inventory`: `namespace → apiVersion → kind → name → object`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Inventory {
    /// Namespaced objects.
    pub namespace: BTreeMap<String, ByApiVersion>,
}

impl Inventory {
    /// Adds an object under its namespace, apiVersion, kind and name.
    pub fn insert(&mut self, o: KubeObject) {
        self.namespace
            .entry(o.metadata.namespace.clone())
            .or_default()
            .entry(o.api_version.to_string())
            .or_default()
            .entry(o.kind.to_string())
            .or_default()
            .insert(o.metadata.name.clone(), o);
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.namespace.is_empty()
    }
}

impl KubeObject {
    /// The workload as a Deployment (services) or a Job (training), with
    /// `replicas` replicas of `gpus` accelerators each.
    pub fn of(doc: &WorkloadDoc, replicas: u32, gpus: u32) -> KubeObject {
        let job = doc.kind == "TrainingJob";
        let mut labels = doc.labels.clone();
        labels.insert(TEAM_LABEL.into(), doc.team.clone());
        let annotations = doc.model.iter().map(|m| (MODEL_ANNOTATION.to_string(), m.clone())).collect();
        let gpu: BTreeMap<String, String> = if gpus > 0 { [(GPU_RESOURCE.to_string(), gpus.to_string())].into() } else { BTreeMap::new() };
        let mut expressions = Vec::new();
        if !doc.pools.is_empty() {
            expressions.push(affinity::Requirement { key: POOL_LABEL.into(), operator: "In", values: doc.pools.clone() });
        }
        if !doc.regions.is_empty() {
            expressions.push(affinity::Requirement { key: REGION_LABEL.into(), operator: "In", values: doc.regions.clone() });
        }
        let affinity = (!expressions.is_empty()).then(|| affinity::Affinity {
            node_affinity: affinity::NodeAffinity {
                required: affinity::NodeSelector {
                    node_selector_terms: vec![affinity::NodeSelectorTerm { match_expressions: expressions }],
                },
            },
        });
        KubeObject {
            api_version: if job { "batch/v1" } else { "apps/v1" },
            kind: if job { "Job" } else { "Deployment" },
            metadata: ObjectMeta { name: doc.name.clone(), namespace: doc.namespace.clone(), labels: labels.clone(), annotations },
            spec: WorkloadSpec {
                replicas: (!job).then_some(replicas),
                parallelism: job.then_some(replicas),
                template: PodTemplate {
                    metadata: TemplateMeta { labels },
                    spec: PodSpec {
                        containers: vec![Container {
                            name: doc.name.clone(),
                            image: doc.image.clone(),
                            resources: Resources { requests: gpu.clone(), limits: gpu },
                        }],
                        priority: (doc.priority != 0).then_some(doc.priority),
                        affinity,
                    },
                },
            },
        }
    }

    /// Its group, version and kind.
    pub fn gvk(&self) -> GroupVersionKind {
        let (group, version) = self.api_version.split_once('/').unwrap_or(("", self.api_version));
        GroupVersionKind { group, version, kind: self.kind }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(kind: &'static str) -> WorkloadDoc {
        WorkloadDoc {
            kind,
            name: "chat".into(),
            namespace: "assistant".into(),
            team: "assistant".into(),
            image: "registry.internal/vllm:0.6".into(),
            labels: [("critical".to_string(), "true".to_string())].into(),
            model: Some("llama-3.1-8b".into()),
            gpus: 2,
            replicas: 3,
            priority: 0,
            pools: vec!["h100-od".into()],
            regions: vec!["us-east-1".into()],
        }
    }

    #[test]
    fn a_service_is_a_deployment_as_the_api_server_writes_it() {
        let o = KubeObject::of(&doc("InferenceService"), 3, 2);
        let json = serde_json::to_string(&o).unwrap();
        assert!(json.contains(r#""apiVersion":"apps/v1","kind":"Deployment""#), "{json}");
        assert!(json.contains(r#""labels":{"critical":"true","team":"assistant"}"#), "{json}");
        assert!(json.contains(r#""replicas":3"#), "{json}");
        assert!(json.contains(r#""requests":{"nvidia.com/gpu":"2"}"#), "{json}");
        assert!(json.contains(r#""requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"karpenter.sh/nodepool","operator":"In","values":["h100-od"]}"#), "{json}");
        assert!(!json.contains("parallelism"), "{json}");
        assert!(!json.contains("priority"), "{json}");
    }

    #[test]
    fn a_training_job_is_a_job_with_its_gang_in_one_pod_spec() {
        let o = KubeObject::of(&doc("TrainingJob"), 1, 16);
        assert_eq!((o.api_version, o.kind), ("batch/v1", "Job"));
        assert_eq!(o.spec.parallelism, Some(1));
        assert_eq!(o.gvk(), GroupVersionKind { group: "batch", version: "v1", kind: "Job" });
        let mut inv = Inventory::default();
        inv.insert(o);
        assert!(inv.namespace["assistant"]["batch/v1"]["Job"].contains_key("chat"));
    }
}
