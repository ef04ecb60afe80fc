//! OPA Gatekeeper: each admission policy as a `ConstraintTemplate` whose
//! Rego v1 runs through the `code` engine (Gatekeeper 3.19 or later), its
//! `Constraint` carrying the parameters, and the `SyncSet` that syncs
//! Deployments and Jobs into `data.inventory`. `k8s-openapi` has no
//! Gatekeeper types; the fields Twin writes are typed here with Gatekeeper's
//! names, so a rendered file parses back.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `templates.gatekeeper.sh/v1` `ConstraintTemplate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConstraintTemplate {
    /// `templates.gatekeeper.sh/v1`.
    pub api_version: String,
    /// `ConstraintTemplate`.
    pub kind: String,
    /// Its name: the constraint kind in lower case.
    pub metadata: Meta,
    /// The CRD it makes and the Rego.
    pub spec: TemplateSpec,
}

/// `metadata` (name, optional namespace and annotations).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Name.
    pub name: String,
    /// Namespace, for namespaced objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Annotations (Argo CD sync waves and options).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `spec` of a template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// The constraint CRD.
    pub crd: Crd,
    /// One target: admission.
    pub targets: Vec<TemplateTarget>,
}

/// `spec.crd`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crd {
    /// `spec.crd.spec`.
    pub spec: CrdSpec,
}

/// `spec.crd.spec`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrdSpec {
    /// `names.kind`.
    pub names: CrdNames,
    /// The parameters' schema.
    pub validation: Validation,
}

/// `names`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrdNames {
    /// The constraint kind, such as `TwinAdmission`.
    pub kind: String,
}

/// `validation`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Validation {
    /// A structural OpenAPI v3 schema (`type: object` at the top).
    #[serde(rename = "openAPIV3Schema")]
    pub open_apiv3_schema: Value,
}

/// `targets[]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateTarget {
    /// `admission.k8s.gatekeeper.sh`.
    pub target: String,
    /// The engines' code: Rego v1.
    pub code: Vec<Code>,
}

/// `targets[].code[]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    /// `Rego`.
    pub engine: String,
    /// The source.
    pub source: RegoSource,
}

/// `targets[].code[].source`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegoSource {
    /// `v1`: Rego v1 syntax (`contains`, `if`).
    pub version: String,
    /// The policy, exactly as the twin runs it.
    pub rego: String,
}

/// A constraint: an instance of a template's kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Constraint {
    /// `constraints.gatekeeper.sh/v1beta1`.
    pub api_version: String,
    /// The template's kind.
    pub kind: String,
    /// Its name.
    pub metadata: Meta,
    /// What it matches, its parameters and its action.
    pub spec: ConstraintSpec,
}

/// `spec` of a constraint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConstraintSpec {
    /// `deny`, `dryrun` or `warn`.
    pub enforcement_action: String,
    /// The objects it reviews.
    #[serde(rename = "match")]
    pub matches: Match,
    /// `input.parameters`.
    pub parameters: Value,
}

/// `spec.match`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Match {
    /// Kinds by API group.
    pub kinds: Vec<MatchKind>,
    /// Namespaces never reviewed.
    pub excluded_namespaces: Vec<String>,
}

/// `spec.match.kinds[]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchKind {
    /// API groups.
    pub api_groups: Vec<String>,
    /// Kinds.
    pub kinds: Vec<String>,
}

/// `syncset.gatekeeper.sh/v1alpha1` `SyncSet`: kinds Gatekeeper syncs into
/// `data.inventory`. Gatekeeper merges every SyncSet (3.15 and later), so
/// this one adds to what other templates sync rather than replacing the
/// cluster's single `Config`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncSet {
    /// `syncset.gatekeeper.sh/v1alpha1`.
    pub api_version: String,
    /// `SyncSet`.
    pub kind: String,
    /// `twin-inventory` (cluster-scoped).
    pub metadata: Meta,
    /// The kinds.
    pub spec: SyncSetSpec,
}

/// `spec` of a SyncSet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSetSpec {
    /// The kinds synced.
    pub gvks: Vec<GroupVersionKind>,
}

/// A kind, for `gvks`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupVersionKind {
    /// Group (`apps`, `batch`).
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

/// The namespaces a constraint never reviews besides Twin's own: the control plane's and Gatekeeper's.
pub const EXCLUDED_NAMESPACES: [&str; 2] = ["kube-system", "gatekeeper-system"];

/// The template for one admission policy module. `kind` is the constraint
/// kind (CamelCase); the parameters' schema is inferred from `parameters`.
pub fn template(kind: &str, rego: &str, parameters: &Value) -> ConstraintTemplate {
    ConstraintTemplate {
        api_version: "templates.gatekeeper.sh/v1".into(),
        kind: "ConstraintTemplate".into(),
        metadata: Meta {
            name: kind.to_lowercase(),
            namespace: None,
            // The CRD must exist before the Constraint is applied.
            annotations: [("argocd.argoproj.io/sync-wave".to_string(), "-1".to_string())].into(),
        },
        spec: TemplateSpec {
            crd: Crd {
                spec: CrdSpec {
                    names: CrdNames { kind: kind.into() },
                    validation: Validation {
                        open_apiv3_schema: serde_json::json!({"type": "object", "properties": schema_of(parameters)["properties"].clone()}),
                    },
                },
            },
            targets: vec![TemplateTarget {
                target: "admission.k8s.gatekeeper.sh".into(),
                code: vec![Code { engine: "Rego".into(), source: RegoSource { version: "v1".into(), rego: rego.into() } }],
            }],
        },
    }
}

/// The constraint of a template's kind with these parameters.
pub fn constraint(kind: &str, name: &str, parameters: Value, uses_inventory: bool, twin_namespace: &str) -> Constraint {
    let mut annotations = BTreeMap::new();
    // The kind is a CRD the template makes: Argo CD must not dry-run it first.
    annotations.insert("argocd.argoproj.io/sync-options".to_string(), "SkipDryRunOnMissingResource=true".to_string());
    if uses_inventory {
        annotations
            .insert("twin.dev/needs".to_string(), "data.inventory: the SyncSet twin-inventory syncing Deployments and Jobs".to_string());
    }
    Constraint {
        api_version: "constraints.gatekeeper.sh/v1beta1".into(),
        kind: kind.into(),
        metadata: Meta { name: name.into(), namespace: None, annotations },
        spec: ConstraintSpec {
            enforcement_action: "deny".into(),
            matches: Match {
                kinds: vec![
                    MatchKind { api_groups: vec!["apps".into()], kinds: vec!["Deployment".into(), "StatefulSet".into()] },
                    MatchKind { api_groups: vec!["batch".into()], kinds: vec!["Job".into()] },
                ],
                excluded_namespaces: EXCLUDED_NAMESPACES.iter().map(|s| s.to_string()).chain([twin_namespace.to_string()]).collect(),
            },
            parameters,
        },
    }
}

/// The SyncSet of the kinds the twin's inventory holds.
pub fn sync_set() -> SyncSet {
    SyncSet {
        api_version: "syncset.gatekeeper.sh/v1alpha1".into(),
        kind: "SyncSet".into(),
        metadata: Meta { name: "twin-inventory".into(), namespace: None, annotations: BTreeMap::new() },
        spec: SyncSetSpec {
            gvks: vec![
                GroupVersionKind { group: "apps".into(), version: "v1".into(), kind: "Deployment".into() },
                GroupVersionKind { group: "batch".into(), version: "v1".into(), kind: "Job".into() },
            ],
        },
    }
}

/// A structural OpenAPI v3 schema describing a JSON value: objects with
/// fixed keys get `properties`, arrays their items' type. Maps keyed by
/// names (teams, zones) are objects too; `additionalProperties` would
/// describe them better, but one value's shape cannot tell a map from a
/// record, and `properties` accepts exactly what the twin ran with.
pub fn schema_of(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let props: serde_json::Map<String, Value> = m.iter().map(|(k, v)| (k.clone(), schema_of(v))).collect();
            serde_json::json!({"type": "object", "properties": props})
        }
        Value::Array(items) => {
            let item = items.first().map_or_else(|| serde_json::json!({"type": "string"}), schema_of);
            serde_json::json!({"type": "array", "items": item})
        }
        Value::String(_) => serde_json::json!({"type": "string"}),
        Value::Number(n) if n.is_i64() || n.is_u64() => serde_json::json!({"type": "integer"}),
        Value::Number(_) => serde_json::json!({"type": "number"}),
        Value::Bool(_) => serde_json::json!({"type": "boolean"}),
        Value::Null => serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    }
}

/// The constraint kind of a Rego package: `twin.admission` → `TwinAdmission`.
pub fn kind_of(package: &str) -> String {
    package
        .split(['.', '_', '-'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_schemas() {
        assert_eq!(kind_of("twin.admission"), "TwinAdmission");
        assert_eq!(kind_of("org.gpu_quota"), "OrgGpuQuota");
        let s = schema_of(&serde_json::json!({"allowed_registries": ["a/"], "gpu_quota": {"research": 48}, "x": 1.5}));
        assert_eq!(s["properties"]["allowed_registries"], serde_json::json!({"type": "array", "items": {"type": "string"}}));
        assert_eq!(s["properties"]["gpu_quota"]["properties"]["research"], serde_json::json!({"type": "integer"}));
        assert_eq!(s["properties"]["x"]["type"], "number");
    }
}
