//! What a pod asks of a node's labels and taints: node selector, required
//! node affinity and tolerations, and whether a pool's nodes give it.
//!
//! Twin's scheduler takes a node selector (exact labels) and tolerations.
//! The richer required node affinity (`In` with several values, `NotIn`,
//! `Exists`, `DoesNotExist`, `Gt`, `Lt`, several terms) is used here to
//! choose the pools a workload may run in; where the affinity is one term,
//! its `In` expressions with one value also join the selector.

use crate::error::Fault;
use crate::field::FieldPath;
use k8s_openapi::api::core::v1::{NodeSelectorRequirement, PodSpec, Toleration as K8sToleration};
use std::collections::BTreeMap;
use twin_scheduler::{Taint, TaintEffect, Toleration};

/// The operator of a node selector requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

/// One `matchExpressions` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Expr {
    key: String,
    op: Op,
}

impl Expr {
    /// Reads a requirement at `path`.
    pub(crate) fn read(r: &NodeSelectorRequirement, path: &FieldPath) -> Result<Expr, Fault> {
        Expr::from_parts(&r.key, &r.operator, r.values.as_deref().unwrap_or(&[]), path)
    }

    /// Reads key, operator and values at `path` (node affinity and Karpenter requirements).
    pub(crate) fn from_parts(key: &str, operator: &str, values: &[String], path: &FieldPath) -> Result<Expr, Fault> {
        let number = |values: &[String]| -> Result<i64, Fault> {
            match values {
                [v] => v.trim().parse().map_err(|_| {
                    Fault::value(path.key("values").index(0), format!("{v:?} is not an integer"), "Gt and Lt compare whole numbers")
                }),
                _ => Err(Fault::value(path.key("values"), format!("{operator} takes exactly one value"), "such as values: [\"4\"]")),
            }
        };
        let op = match operator {
            "In" | "NotIn" if values.is_empty() => {
                return Err(Fault::value(path.key("values"), format!("{operator} needs at least one value"), "list the label values"));
            }
            "In" => Op::In(values.to_vec()),
            "NotIn" => Op::NotIn(values.to_vec()),
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            "Gt" => Op::Gt(number(values)?),
            "Lt" => Op::Lt(number(values)?),
            other => {
                return Err(Fault::value(
                    path.key("operator"),
                    format!("unknown operator {other:?}"),
                    "In, NotIn, Exists, DoesNotExist, Gt or Lt",
                ));
            }
        };
        Ok(Expr { key: key.to_string(), op })
    }

    /// Whether a node with `labels` passes this expression.
    pub(crate) fn passes(&self, labels: &BTreeMap<String, String>) -> bool {
        self.refuses(labels).is_none()
    }

    /// Why a node with `labels` fails this expression, or `None` when it passes.
    fn refuses(&self, labels: &BTreeMap<String, String>) -> Option<String> {
        let v = labels.get(&self.key);
        let number = || v.and_then(|v| v.trim().parse::<i64>().ok());
        let ok = match &self.op {
            Op::In(vs) => v.is_some_and(|v| vs.contains(v)),
            Op::NotIn(vs) => v.is_none_or(|v| !vs.contains(v)),
            Op::Exists => v.is_some(),
            Op::DoesNotExist => v.is_none(),
            Op::Gt(n) => number().is_some_and(|x| x > *n),
            Op::Lt(n) => number().is_some_and(|x| x < *n),
        };
        (!ok).then(|| match v {
            Some(v) => format!("{}={v} fails {self}", self.key),
            None => format!("no label {} for {self}", self.key),
        })
    }
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.op {
            Op::In(vs) => write!(f, "{} In [{}]", self.key, vs.join(", ")),
            Op::NotIn(vs) => write!(f, "{} NotIn [{}]", self.key, vs.join(", ")),
            Op::Exists => write!(f, "{} Exists", self.key),
            Op::DoesNotExist => write!(f, "{} DoesNotExist", self.key),
            Op::Gt(n) => write!(f, "{} Gt {n}", self.key),
            Op::Lt(n) => write!(f, "{} Lt {n}", self.key),
        }
    }
}

/// What a pod asks of a node's labels and taints.
#[derive(Clone, Debug, Default)]
pub struct NodeDemand {
    /// `nodeSelector`.
    selector: BTreeMap<String, String>,
    /// Required node affinity: terms ORed, expressions ANDed; `None` when absent.
    terms: Option<Vec<Vec<Expr>>>,
    /// Tolerations, as Twin's scheduler takes them.
    pub tolerations: Vec<Toleration>,
}

impl NodeDemand {
    /// Reads a pod spec at `path` (`spec.template.spec`). `taint_keys` are
    /// the keys of every pool's taints, which a toleration of every key
    /// (`operator: Exists` without `key`) stands for.
    pub(crate) fn read(pod: &PodSpec, path: &FieldPath, taint_keys: &[String]) -> Result<NodeDemand, Fault> {
        let selector = pod.node_selector.clone().unwrap_or_default();
        let mut terms = None;
        let required = pod
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref());
        if let Some(required) = required {
            let tp = path.keys("affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
            let mut read = Vec::new();
            for (i, term) in required.node_selector_terms.iter().enumerate() {
                if term.match_fields.as_ref().is_some_and(|f| !f.is_empty()) {
                    return Err(Fault::value(
                        tp.index(i).key("matchFields"),
                        "matchFields (a node's own name) is not modelled",
                        "choose nodes by their labels with matchExpressions",
                    ));
                }
                let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
                let ep = tp.index(i).key("matchExpressions");
                read.push(exprs.iter().enumerate().map(|(j, r)| Expr::read(r, &ep.index(j))).collect::<Result<Vec<_>, _>>()?);
            }
            terms = Some(read);
        }
        let mut tolerations = Vec::new();
        for (i, t) in pod.tolerations.as_deref().unwrap_or(&[]).iter().enumerate() {
            tolerations.extend(toleration(t, &path.key("tolerations").index(i), taint_keys)?);
        }
        Ok(NodeDemand { selector, terms, tolerations })
    }

    /// The node selector Twin's scheduler gets: `nodeSelector`, plus the
    /// one-value `In` expressions of a required affinity of one term.
    pub fn scheduler_selector(&self) -> BTreeMap<String, String> {
        let mut s = self.selector.clone();
        if let Some([term]) = self.terms.as_deref() {
            for e in term {
                if let Op::In(vs) = &e.op
                    && let [v] = vs.as_slice()
                {
                    s.entry(e.key.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        s
    }

    /// Why a node with `labels` and `taints` refuses the pod, or `None` when it takes it.
    pub fn refuses(&self, labels: &BTreeMap<String, String>, taints: &[Taint]) -> Option<String> {
        for (k, v) in &self.selector {
            match labels.get(k) {
                None => return Some(format!("no label {k} (nodeSelector {k}={v})")),
                Some(x) if x != v => return Some(format!("{k}={x}, not {v}")),
                Some(_) => {}
            }
        }
        if let Some(terms) = &self.terms {
            // Every term refuses (each with its reason), or one takes the node.
            let reasons: Option<Vec<String>> = terms
                .iter()
                .map(|t| {
                    if t.is_empty() { Some("an empty term matches no node".to_string()) } else { t.iter().find_map(|e| e.refuses(labels)) }
                })
                .collect();
            if let Some(reasons) = reasons {
                if reasons.is_empty() {
                    return Some("node affinity without nodeSelectorTerms matches no node".into());
                }
                return Some(format!("node affinity: {}", reasons.join("; or ")));
            }
        }
        taints
            .iter()
            .find(|t| t.effect == TaintEffect::NoSchedule && !self.tolerations.iter().any(|x| x.tolerates(t)))
            .map(|t| format!("taint {}={}:NoSchedule not tolerated", t.key, t.value))
    }

    /// The selector and affinity, for messages.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.selector.is_empty() {
            parts.push(format!("nodeSelector {}", crate::labels::show(&self.selector)));
        }
        if let Some(terms) = &self.terms {
            let t: Vec<String> = terms.iter().map(|t| t.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and ")).collect();
            parts.push(format!("node affinity {}", t.join(" or ")));
        }
        if !self.tolerations.is_empty() {
            let t: Vec<String> = self.tolerations.iter().map(|t| format!("{}={}", t.key, t.value.as_deref().unwrap_or("*"))).collect();
            parts.push(format!("tolerations [{}]", t.join(", ")));
        }
        parts.join(", ")
    }

    /// The field a placement error points at.
    pub(crate) fn field(&self, path: &FieldPath) -> FieldPath {
        if !self.selector.is_empty() {
            path.key("nodeSelector")
        } else if self.terms.is_some() {
            path.key("affinity")
        } else {
            path.clone()
        }
    }
}

/// A taint effect as written in Kubernetes; `NoExecute` keeps new pods
/// away as `NoSchedule` does, which is all Twin models of it.
pub fn effect(text: &str, path: &FieldPath) -> Result<TaintEffect, Fault> {
    match text {
        "NoSchedule" | "NoExecute" => Ok(TaintEffect::NoSchedule),
        "PreferNoSchedule" => Ok(TaintEffect::PreferNoSchedule),
        other => Err(Fault::value(path.clone(), format!("unknown taint effect {other:?}"), "NoSchedule, PreferNoSchedule or NoExecute")),
    }
}

/// A Kubernetes toleration as Twin's: `Equal` (the default) with its value,
/// `Exists` with any value; without a key, one toleration per taint key of
/// the fleet.
fn toleration(t: &K8sToleration, path: &FieldPath, taint_keys: &[String]) -> Result<Vec<Toleration>, Fault> {
    let effect = match t.effect.as_deref().filter(|e| !e.is_empty()) {
        None => None,
        Some(e) => Some(effect(e, &path.key("effect"))?),
    };
    let key = t.key.clone().unwrap_or_default();
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" if key.is_empty() => Ok(taint_keys.iter().map(|k| Toleration { key: k.clone(), value: None, effect }).collect()),
        "Exists" => Ok(vec![Toleration { key, value: None, effect }]),
        "Equal" if key.is_empty() => Err(Fault::value(
            path.key("key"),
            "a toleration with operator Equal needs a key",
            "or write operator: Exists to tolerate every taint",
        )),
        "Equal" => Ok(vec![Toleration { key, value: Some(t.value.clone().unwrap_or_default()), effect }]),
        other => Err(Fault::value(path.key("operator"), format!("unknown toleration operator {other:?}"), "Equal or Exists")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Affinity, NodeAffinity, NodeSelector, NodeSelectorTerm};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement { key: key.into(), operator: op.into(), values: Some(values.iter().map(|v| v.to_string()).collect()) }
    }

    fn pod(terms: Vec<Vec<NodeSelectorRequirement>>) -> PodSpec {
        PodSpec {
            affinity: Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: terms
                            .into_iter()
                            .map(|t| NodeSelectorTerm { match_expressions: Some(t), match_fields: None })
                            .collect(),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn affinity_terms_are_ored_and_expressions_anded() {
        let p = pod(vec![vec![req("gpu.type", "In", &["H100", "H200"]), req("zone", "NotIn", &["b"])], vec![req("big", "Exists", &[])]]);
        let d = NodeDemand::read(&p, &FieldPath::of("spec.template.spec"), &[]).unwrap();
        assert_eq!(d.refuses(&labels(&[("gpu.type", "H100"), ("zone", "a")]), &[]), None);
        assert_eq!(d.refuses(&labels(&[("big", "1")]), &[]), None);
        let why = d.refuses(&labels(&[("gpu.type", "A100")]), &[]).unwrap();
        assert_eq!(why, "node affinity: gpu.type=A100 fails gpu.type In [H100, H200]; or no label big for big Exists");
        assert!(d.scheduler_selector().is_empty(), "two terms: nothing joins the selector");
    }

    #[test]
    fn one_term_lends_its_single_value_ins_to_the_selector() {
        let p = pod(vec![vec![req("gpu.type", "In", &["H100"]), req("n", "Gt", &["3"]), req("z", "In", &["a", "b"])]]);
        let d = NodeDemand::read(&p, &FieldPath::root(), &[]).unwrap();
        assert_eq!(d.scheduler_selector(), labels(&[("gpu.type", "H100")]));
        assert_eq!(d.refuses(&labels(&[("gpu.type", "H100"), ("n", "4"), ("z", "b")]), &[]), None);
        assert!(d.refuses(&labels(&[("gpu.type", "H100"), ("n", "3"), ("z", "b")]), &[]).is_some());
    }

    #[test]
    fn tolerations_cover_taints_as_kubernetes_does() {
        let taint = Taint { key: "dedicated".into(), value: "training".into(), effect: TaintEffect::NoSchedule };
        let mut p = PodSpec::default();
        let d = NodeDemand::read(&p, &FieldPath::root(), &[]).unwrap();
        assert_eq!(d.refuses(&BTreeMap::new(), std::slice::from_ref(&taint)).unwrap(), "taint dedicated=training:NoSchedule not tolerated");
        let soft = Taint { effect: TaintEffect::PreferNoSchedule, ..taint.clone() };
        assert_eq!(d.refuses(&BTreeMap::new(), &[soft]), None);
        for t in [
            K8sToleration { key: Some("dedicated".into()), value: Some("training".into()), ..Default::default() },
            K8sToleration {
                key: Some("dedicated".into()),
                operator: Some("Exists".into()),
                effect: Some("NoSchedule".into()),
                ..Default::default()
            },
            K8sToleration { operator: Some("Exists".into()), ..Default::default() },
        ] {
            p.tolerations = Some(vec![t]);
            let d = NodeDemand::read(&p, &FieldPath::root(), &["dedicated".to_string()]).unwrap();
            assert_eq!(d.refuses(&BTreeMap::new(), std::slice::from_ref(&taint)), None);
        }
        p.tolerations = Some(vec![K8sToleration { key: Some("dedicated".into()), value: Some("serving".into()), ..Default::default() }]);
        let d = NodeDemand::read(&p, &FieldPath::root(), &[]).unwrap();
        assert!(d.refuses(&BTreeMap::new(), &[taint]).is_some());
    }

    #[test]
    fn bad_operators_name_their_field() {
        let p = pod(vec![vec![req("a", "Near", &["x"])]]);
        let f = NodeDemand::read(&p, &FieldPath::of("spec.template.spec"), &[]).unwrap_err();
        assert_eq!(
            f.path.to_string(),
            "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator"
        );
    }
}
