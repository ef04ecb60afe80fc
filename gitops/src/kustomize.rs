//! `kustomization.yaml` (`kustomize.config.k8s.io/v1beta1`): the files both
//! Argo CD (which detects Kustomize by this file) and Flux (which builds one
//! when missing, so Twin always commits one) reconcile.

use serde::{Deserialize, Serialize};

/// A kustomization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Kustomization {
    /// `kustomize.config.k8s.io/v1beta1`.
    pub api_version: String,
    /// `Kustomization`.
    pub kind: String,
    /// Files and folders it builds from.
    pub resources: Vec<String>,
    /// Labels added to every object (and selector).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub common_annotations: std::collections::BTreeMap<String, String>,
    /// Patches, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
}

impl Kustomization {
    /// A kustomization of these resources.
    pub fn of(resources: Vec<String>) -> Kustomization {
        Kustomization {
            api_version: "kustomize.config.k8s.io/v1beta1".into(),
            kind: "Kustomization".into(),
            resources,
            common_annotations: Default::default(),
            patches: Vec::new(),
        }
    }
}

/// `patches[]`: a JSON 6902 or strategic-merge patch and the objects it targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    /// The patch text (YAML).
    pub patch: String,
    /// Which objects.
    pub target: Target,
}

/// `patches[].target`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// API group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
}
