//! Placement divergence: where Twin's scheduler would have put a pod that
//! the real scheduler has just bound, and what the difference costs.
//!
//! When the real scheduler binds a pod to node A, [`judge`] asks a
//! [`Profile`] (the same profiles `twin extender` serves, such as
//! `cost-aware` or `fgd`) where it would have placed that pod on the same
//! cluster, and answers a [`Verdict`]: Twin agrees, Twin would have chosen
//! node B ([`PlacementDivergence`], with both nodes' scores and the cost
//! difference per hour), Twin could place the pod nowhere, or the pod is
//! not Twin's to judge.
//!
//! Unlike the extender, which judges every node as if it were empty (it
//! sees allocatable only), shadow knows the pods bound to each node: the
//! scheduler's [`Cluster`] holds every watched node with the accelerators
//! the pods bound there already hold (pods that have not `Succeeded` or
//! `Failed`; the pod being judged is left out, so its own binding does not
//! count against node A).
//!
//! ```text
//!  ClusterState ──► NodeReader::read (every node) ──► NodeShape + GPUs held by bound pods
//!  Pod          ──► extender::pod::read ──► Twin's pod (no whole GPU: NotJudged)
//!                         │
//!                         ▼
//!  Cluster of every node ──► Profile::schedule (no preemption) ──► Twin's node B, each class's score
//!                         │
//!                         ▼
//!  B = A (or scored alike): Agrees · B ≠ A: Diverges · nowhere: TwinCouldNotPlace
//! ```
//!
//! Nodes are read as the extender reads them ([`NodeReader`]): accelerators
//! from allocatable, price per node-hour from the label
//! [`PRICE_LABEL`](twin_extender::nodes::PRICE_LABEL) or the price table by
//! instance type. A node the pod's selector, affinity or tolerations
//! refuse (Kubernetes' semantics, as the extender applies them), a cordoned
//! node and a node with a bound pod that cannot be read are left out of
//! Twin's choice, each with its reason.
//!
//! Pure: no I/O, no clock. Nodes and pods are visited in name order, so
//! the same state gives the same verdict.

use crate::cluster::{ClusterState, pod_key};
use k8s_openapi::api::core::v1::Pod as K8sPod;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use twin_extender::nodes::{NodeReader, NodeRecord};
use twin_extender::pod::{self, PodError};
use twin_scheduler::{Cluster, NodeIdx, Outcome, Pod, Profile, ScoredNode, Selector};

/// Why a placement could not be judged at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DivergenceError {
    /// The pod being judged cannot be read.
    #[error(transparent)]
    Pod(#[from] PodError),
}

/// One node of a placement, as Twin's profile saw it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeScore {
    /// The node's name.
    pub name: String,
    /// The profile's weighted total for the node (each plugin's score
    /// normalised to 0..100 across the feasible nodes, then weighted;
    /// higher is better); `None` when the node cannot take the pod.
    pub score: Option<f64>,
    /// Each scoring plugin's normalised score, 0 to 100.
    pub plugin_scores: Vec<(String, f64)>,
    /// Why Twin would not place the pod here (`plugin: reason`), if it would not.
    pub refused: Option<String>,
    /// The instance type, if labelled.
    pub instance_type: Option<String>,
    /// The node's price per node-hour, in the [`NodeReader`]'s currency
    /// (dollars), if known.
    pub price_per_hour: Option<f64>,
    /// The node's accelerators of the kind the pod asks for.
    pub gpus: u32,
    /// Those free before the pod: what the other bound pods leave (0 when
    /// they hold more than the node has).
    pub free_gpus_before: u32,
    /// The pod's allocation cost per hour on this node:
    /// `price_per_hour × gpus requested / gpus`; `None` when the price is
    /// unknown or the node has none of the pod's accelerators.
    pub cost_per_hour: Option<f64>,
}

/// Twin would have placed the pod on another node than the real scheduler.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlacementDivergence {
    /// The pod, `namespace/name`.
    pub pod: String,
    /// The profile that judged.
    pub profile: String,
    /// Whole accelerators the pod asks for.
    pub gpus: u32,
    /// The node the real scheduler chose (A).
    pub actual: NodeScore,
    /// The node Twin would have chosen (B).
    pub twin: NodeScore,
    /// B's allocation cost per hour minus A's (negative: Twin's choice is
    /// cheaper); `None` when either price is unknown. See [`judge`] for
    /// the formula.
    pub cost_per_hour_difference: Option<f64>,
    /// One line: why the profile prefers B.
    pub why: String,
}

impl PlacementDivergence {
    /// What Twin's choice would save per hour (A's cost minus B's;
    /// negative: Twin's choice costs more, for a reason the scores give).
    pub fn saving_per_hour(&self) -> Option<f64> {
        self.cost_per_hour_difference.map(|d| -d)
    }
}

/// What Twin's scheduler makes of one binding.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Twin would have chosen the same node, or one it scores exactly alike.
    Agrees {
        /// The node.
        node: String,
    },
    /// Twin would have chosen another node.
    Diverges(Box<PlacementDivergence>),
    /// Twin's filters refuse every node (the real scheduler placed the pod
    /// where Twin's profile would not, or Twin's view of the cluster is
    /// fuller than the real one).
    TwinCouldNotPlace {
        /// The scheduler's trace in one line, and why node A was refused.
        reason: String,
    },
    /// The binding is not Twin's to judge: the pod asks for no whole
    /// accelerator, or node A is not watched or cannot be read.
    NotJudged {
        /// Why.
        reason: String,
    },
}

/// What shadow knows of one watched node for this decision.
struct Known<'a> {
    record: NodeRecord,
    free: u32,
    /// Why the node is out of Twin's choice before the profile runs.
    refused: Option<String>,
    idx: Option<NodeIdx>,
    /// Its name in the state (the key, which identifies the node).
    name: &'a str,
}

/// Judges the binding of `pod` to `actual_node` with `profile`, on the
/// cluster as `state` holds it; nodes are read with `reader`.
///
/// Twin's choice is the profile's, without preemption (the question is
/// where the pod fits now). The profile sees the pod first
/// ([`Profile::observe`]), as the extender's filter shows it each pod.
///
/// The cost of a placement is the pod's share of its node's price, as
/// OpenCost allocates a node's cost to the pods on it by the resource they
/// request: `price_per_hour × gpus_requested / node_gpus`. The difference
/// is Twin's node's cost minus the actual node's, in the price table's
/// currency (dollars) per hour. Listed prices count as they are, sunk
/// capacity (on-prem, reserved) included, though `cost-aware` ranks such
/// capacity as free.
///
/// Two nodes in one class (same shape, same free resources) or with equal
/// totals are alike to the profile: Twin agrees with either.
pub fn judge(
    profile: &mut Profile,
    reader: &NodeReader,
    state: &ClusterState,
    pod: &K8sPod,
    actual_node: &str,
) -> Result<Verdict, DivergenceError> {
    let not_judged = |reason: String| Ok(Verdict::NotJudged { reason });
    if !state.nodes.contains_key(actual_node) {
        return not_judged(format!("node {actual_node:?} is not among the watched nodes"));
    }
    let mut records = Vec::with_capacity(state.nodes.len());
    for (name, node) in &state.nodes {
        match reader.read(node) {
            Ok(r) => records.push((name.as_str(), r)),
            Err(e) if name == actual_node => return not_judged(format!("node {actual_node} cannot be read: {e}")),
            // Another unreadable node is not a candidate, as in the extender.
            Err(_) => {}
        }
    }
    let taint_keys: Vec<String> = records
        .iter()
        .flat_map(|(_, r)| r.taints.iter().map(|t| t.key.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(String::from)
        .collect();
    let Some(request) = pod::read(pod, &taint_keys)? else {
        return not_judged(format!("pod {} asks for no whole accelerator", pod_key(pod)));
    };

    // What the other pods bound to each node hold of the pod's accelerator.
    let key = pod_key(pod);
    let mut held: BTreeMap<&str, u32> = BTreeMap::new();
    let mut unknown: BTreeMap<&str, String> = BTreeMap::new();
    for (k, p) in &state.pods {
        let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) else { continue };
        if *k == key || pod_key(p) == key || finished(p) {
            continue;
        }
        match pod::read(p, &[]) {
            Ok(Some(r)) if r.resource == request.resource => {
                let h = held.entry(node).or_default();
                *h = h.saturating_add(r.pod.gpus);
            }
            Ok(_) => {}
            Err(e) => {
                unknown.entry(node).or_insert_with(|| format!("occupancy unknown: a pod bound here cannot be read: {e}"));
            }
        }
    }

    // Every node the pod may go to, with what is bound there.
    let keys: BTreeSet<&str> = request.pod.selector.iter().map(selector_key).collect();
    let mut cluster = Cluster::default();
    let mut known: Vec<Known<'_>> = Vec::with_capacity(records.len());
    for (seq, (name, record)) in records.into_iter().enumerate() {
        let gpus = record.accelerators_of(request.resource);
        let h = held.get(name).copied().unwrap_or(0).min(gpus);
        let mut refused = match unknown.get(name) {
            Some(why) => Some(why.clone()),
            None if record.cordoned => Some("node is cordoned (spec.unschedulable)".to_string()),
            None => request.nodes.refuses(&record.labels, &record.taints).map(|why| format!("node-affinity: {why}")),
        };
        let mut idx = None;
        if refused.is_none() {
            let labels = keys.iter().filter_map(|k| record.labels.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
            let shape = cluster.add_shape(record.shape(request.resource, labels));
            let i = cluster.add_node(name, shape);
            if h > 0 {
                // One stand-in for the bound pods: Twin's pod ids start at 1 here (the judged pod is 0).
                let occupant = Pod::gpus(seq as u64 + 1, &format!("pods bound to {name}"), h);
                let bound = cluster.fit(&occupant, i).is_some_and(|alloc| cluster.bind(&occupant, i, alloc).is_ok());
                if !bound {
                    cluster.set_schedulable(i, false);
                    refused = Some(format!("occupancy unknown: {h} bound accelerators do not fit the node"));
                }
            }
            idx = refused.is_none().then_some(i);
        }
        known.push(Known { record, free: gpus - h, refused, idx, name });
    }

    // Twin's choice, with every class scored and no preemption.
    profile.observe(&request.pod);
    let saved = (profile.trace_top, profile.preemption);
    profile.trace_top = cluster.class_count().max(1);
    profile.preemption = false;
    let outcome = profile.schedule(&request.pod, &cluster);
    let Some(actual) = known.iter().find(|k| k.name == actual_node) else {
        (profile.trace_top, profile.preemption) = saved;
        return not_judged(format!("node {actual_node} cannot be read"));
    };
    let reps: BTreeMap<&str, &str> = cluster
        .classes()
        .flat_map(|(rep, members)| {
            let rep = cluster.node(rep).map_or("", |n| n.name.as_str());
            members.iter().filter_map(|m| cluster.node(*m)).map(move |n| (n.name.as_str(), rep))
        })
        .collect();
    let trace = outcome.trace();
    let scored = |name: &str| -> Option<&ScoredNode> {
        let rep = reps.get(name)?;
        trace.top.iter().find(|s| s.node == *rep)
    };
    let actual_refusal = match (&actual.refused, actual.idx, scored(actual_node)) {
        (Some(why), _, _) => Some(why.clone()),
        (None, _, Some(_)) => None,
        (None, Some(i), None) => Some(refusal_on(profile, &cluster, &request.pod, i)),
        (None, None, None) => Some("not schedulable".to_string()),
    };
    (profile.trace_top, profile.preemption) = saved;

    let view = |k: &Known<'_>, refused: Option<String>| {
        let s = scored(k.name);
        let gpus = k.record.accelerators_of(request.resource);
        NodeScore {
            name: k.name.to_string(),
            score: s.map(|s| s.total),
            plugin_scores: s.map(|s| s.scores.clone()).unwrap_or_default(),
            refused,
            instance_type: k.record.instance_type.clone(),
            price_per_hour: k.record.price_per_hour,
            gpus,
            free_gpus_before: k.free,
            cost_per_hour: allocation_cost(k.record.price_per_hour, request.pod.gpus, gpus),
        }
    };
    let Outcome::Bind { node, .. } = &outcome else {
        let why = actual_refusal.unwrap_or_else(|| "feasible".into());
        return Ok(Verdict::TwinCouldNotPlace { reason: format!("{} · on {actual_node}: {why}", trace.summary()) });
    };
    let twin_name = cluster.node(*node).map_or("", |n| n.name.as_str());
    let Some(twin) = known.iter().find(|k| k.name == twin_name) else {
        return not_judged(format!("Twin chose node {twin_name:?}, which shadow does not know"));
    };
    let a = view(actual, actual_refusal);
    let b = view(twin, None);
    let alike = reps.get(actual_node).is_some_and(|r| reps.get(twin_name) == Some(r))
        || matches!((a.score, b.score), (Some(x), Some(y)) if (x - y).abs() <= 1e-9 * y.abs().max(1.0));
    if alike {
        return Ok(Verdict::Agrees { node: actual_node.to_string() });
    }
    let why = format!("{} prefers {} ({}) to {} ({})", profile.name, b.name, detail(&b), a.name, detail(&a));
    let cost_per_hour_difference = b.cost_per_hour.zip(a.cost_per_hour).map(|(b, a)| b - a);
    Ok(Verdict::Diverges(Box::new(PlacementDivergence {
        pod: request.pod.name.clone(),
        profile: profile.name.clone(),
        gpus: request.pod.gpus,
        actual: a,
        twin: b,
        cost_per_hour_difference,
        why,
    })))
}

/// The pod's allocation cost per hour on a node: its share of the node's
/// accelerators times the node's price.
fn allocation_cost(price_per_hour: Option<f64>, requested: u32, gpus: u32) -> Option<f64> {
    price_per_hour.filter(|_| gpus > 0).map(|p| p * f64::from(requested) / f64::from(gpus))
}

/// Why the profile refuses node `idx`: the cluster scheduled on with that
/// node alone schedulable; the first filter's reason (preemption off).
fn refusal_on(profile: &mut Profile, cluster: &Cluster, pod: &Pod, idx: NodeIdx) -> String {
    let mut alone = cluster.clone();
    let others: Vec<NodeIdx> = alone.nodes().map(|(i, _)| i).filter(|i| *i != idx).collect();
    for i in others {
        alone.set_schedulable(i, false);
    }
    let outcome = profile.schedule(pod, &alone);
    match outcome.trace().rejected.first() {
        Some((plugin, why, _)) => format!("{plugin}: {why}"),
        None => "not chosen".to_string(),
    }
}

/// A node's score in words, for [`PlacementDivergence::why`].
fn detail(n: &NodeScore) -> String {
    let free = format!("{} of {} GPUs free", n.free_gpus_before, n.gpus);
    match (n.score, &n.refused) {
        (_, Some(why)) => format!("refused: {why}; {free}"),
        (Some(total), None) => {
            let parts: Vec<String> = n.plugin_scores.iter().map(|(p, s)| format!("{p} {s:.0}")).collect();
            format!("score {total:.1}: {}; {free}", parts.join(", "))
        }
        (None, None) => free,
    }
}

/// Whether a pod has finished and holds nothing (`Succeeded`, `Failed`).
fn finished(p: &K8sPod) -> bool {
    matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// The label a selector reads.
fn selector_key(s: &Selector) -> &str {
    match s {
        Selector::In { key, .. } | Selector::NotIn { key, .. } | Selector::Exists { key } | Selector::DoesNotExist { key } => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Node;

    const P5: f64 = 98.32;
    const P4D: f64 = 32.77;

    fn reader() -> NodeReader {
        NodeReader::new(BTreeMap::from([("p5.48xlarge".to_string(), P5), ("p4d.24xlarge".to_string(), P4D)])).unwrap()
    }

    fn node(name: &str, instance_type: &str) -> Node {
        serde_json::from_str(&format!(
            r#"{{"metadata":{{"name":"{name}","labels":{{"node.kubernetes.io/instance-type":"{instance_type}"}}}},
                "status":{{"allocatable":{{"nvidia.com/gpu":"8","cpu":"96","memory":"1000Gi"}}}}}}"#
        ))
        .unwrap()
    }

    fn gpu_pod(name: &str, gpus: u32, on: Option<&str>, phase: &str) -> K8sPod {
        let node = on.map_or(String::new(), |n| format!(r#""nodeName":"{n}","#));
        serde_json::from_str(&format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"ml"}},
                "spec":{{{node}"containers":[{{"name":"c","resources":{{"limits":{{"nvidia.com/gpu":"{gpus}"}}}}}}]}},
                "status":{{"phase":"{phase}"}}}}"#
        ))
        .unwrap()
    }

    /// Three 8-GPU nodes: `cheap-0` (p4d, full), `cheap-1` (p4d, 4 held,
    /// and a finished pod that holds nothing) and `dear-0` (p5, 2 held).
    fn state() -> ClusterState {
        let mut s = ClusterState::default();
        for (n, t) in [("cheap-0", "p4d.24xlarge"), ("cheap-1", "p4d.24xlarge"), ("dear-0", "p5.48xlarge")] {
            s.nodes.insert(n.into(), node(n, t));
        }
        for p in [
            gpu_pod("full-a", 4, Some("cheap-0"), "Running"),
            gpu_pod("full-b", 4, Some("cheap-0"), "Running"),
            gpu_pod("half", 4, Some("cheap-1"), "Running"),
            gpu_pod("done", 4, Some("cheap-1"), "Succeeded"),
            gpu_pod("small", 2, Some("dear-0"), "Pending"),
            gpu_pod("waiting", 8, None, "Pending"),
        ] {
            s.pods.insert(pod_key(&p), p);
        }
        s
    }

    fn cost_aware() -> Profile {
        Profile::builtin("cost-aware").unwrap()
    }

    #[test]
    fn a_pod_on_the_dear_node_diverges_to_the_cheap_one_with_free_gpus() {
        let s = state();
        let p = gpu_pod("train", 2, Some("dear-0"), "Running");
        let v = judge(&mut cost_aware(), &reader(), &s, &p, "dear-0").unwrap();
        let Verdict::Diverges(d) = v else { panic!("{v:?}") };
        assert_eq!((d.pod.as_str(), d.profile.as_str(), d.gpus), ("ml/train", "cost-aware", 2));
        assert_eq!(d.twin.name, "cheap-1", "cheap-0 is cheaper but full");
        assert_eq!((d.twin.free_gpus_before, d.actual.free_gpus_before), (4, 6));
        let (a, b) = (d.actual.score.unwrap(), d.twin.score.unwrap());
        assert!(b > a, "{b} > {a}");
        assert!(d.twin.plugin_scores.iter().any(|(p, _)| p == "cost-aware"));
        assert_eq!((d.actual.price_per_hour, d.twin.price_per_hour), (Some(P5), Some(P4D)));
        assert!((d.actual.cost_per_hour.unwrap() - P5 * 2.0 / 8.0).abs() < 1e-9);
        assert!((d.cost_per_hour_difference.unwrap() - (P4D - P5) * 2.0 / 8.0).abs() < 1e-9);
        assert!(d.saving_per_hour().unwrap() > 0.0);
        assert!(d.why.starts_with("cost-aware prefers cheap-1"), "{}", d.why);
        assert_eq!((d.actual.refused.as_deref(), d.twin.instance_type.as_deref()), (None, Some("p4d.24xlarge")));
    }

    #[test]
    fn a_pod_where_twin_would_put_it_agrees_and_its_own_binding_does_not_count() {
        let mut s = state();
        // The watch has already reported the binding: 4 more GPUs on cheap-1 would fill it.
        let p = gpu_pod("train", 4, Some("cheap-1"), "Running");
        s.pods.insert(pod_key(&p), p.clone());
        let v = judge(&mut cost_aware(), &reader(), &s, &p, "cheap-1").unwrap();
        assert_eq!(v, Verdict::Agrees { node: "cheap-1".into() });
    }

    #[test]
    fn occupancy_keeps_twin_off_full_nodes_and_says_why_the_actual_node_is_refused() {
        let s = state();
        // 5 GPUs: only dear-0 (6 free) can take it; the real scheduler chose cheap-1 (4 free).
        let p = gpu_pod("big", 5, Some("cheap-1"), "Running");
        let Verdict::Diverges(d) = judge(&mut cost_aware(), &reader(), &s, &p, "cheap-1").unwrap() else { panic!() };
        assert_eq!(d.twin.name, "dear-0");
        assert_eq!(d.actual.score, None);
        assert_eq!(d.actual.refused.as_deref(), Some("resource-fit: too few free accelerators"));
        assert!(d.saving_per_hour().unwrap() < 0.0, "room costs more here");
        // 8 GPUs: no node has 8 free.
        let p = gpu_pod("whole", 8, Some("dear-0"), "Running");
        let v = judge(&mut cost_aware(), &reader(), &s, &p, "dear-0").unwrap();
        let Verdict::TwinCouldNotPlace { reason } = v else { panic!("{v:?}") };
        assert!(reason.ends_with("on dear-0: resource-fit: too few free accelerators"), "{reason}");
    }

    #[test]
    fn nodes_alike_to_the_profile_agree_and_a_cordoned_node_says_so() {
        let mut s = state();
        s.nodes.insert("cheap-2".into(), node("cheap-2", "p4d.24xlarge"));
        let q = gpu_pod("half-2", 4, Some("cheap-2"), "Running");
        s.pods.insert(pod_key(&q), q);
        // cheap-1 and cheap-2 are one class: Twin takes either.
        let p = gpu_pod("train", 2, Some("cheap-2"), "Running");
        assert_eq!(judge(&mut cost_aware(), &reader(), &s, &p, "cheap-2").unwrap(), Verdict::Agrees { node: "cheap-2".into() });
        // Bound just before its node was cordoned: Twin would not go there now.
        s.nodes.get_mut("cheap-2").unwrap().spec =
            Some(k8s_openapi::api::core::v1::NodeSpec { unschedulable: Some(true), ..Default::default() });
        let Verdict::Diverges(d) = judge(&mut cost_aware(), &reader(), &s, &p, "cheap-2").unwrap() else { panic!() };
        assert_eq!((d.twin.name.as_str(), d.actual.refused.as_deref()), ("cheap-1", Some("node is cordoned (spec.unschedulable)")));
        assert_eq!(d.cost_per_hour_difference, Some(0.0));
    }

    #[test]
    fn pods_without_gpus_and_unknown_nodes_are_not_judged() {
        let s = state();
        let web: K8sPod = serde_json::from_str(
            r#"{"metadata":{"name":"web"},"spec":{"nodeName":"dear-0","containers":[{"name":"c","resources":{"requests":{"cpu":"1"}}}]}}"#,
        )
        .unwrap();
        let v = judge(&mut cost_aware(), &reader(), &s, &web, "dear-0").unwrap();
        assert_eq!(v, Verdict::NotJudged { reason: "pod default/web asks for no whole accelerator".into() });
        let p = gpu_pod("train", 1, Some("gone"), "Running");
        assert!(matches!(judge(&mut cost_aware(), &reader(), &s, &p, "gone").unwrap(), Verdict::NotJudged { .. }));
        let bad: K8sPod = serde_json::from_str(
            r#"{"metadata":{"name":"bad"},"spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"half"}}}]}}"#,
        )
        .unwrap();
        assert!(judge(&mut cost_aware(), &reader(), &s, &bad, "dear-0").is_err());
    }

    #[test]
    fn verdicts_are_deterministic_and_the_profile_is_left_as_it_was() {
        let s = state();
        let p = gpu_pod("train", 2, Some("dear-0"), "Running");
        let mut profile = cost_aware();
        let (top, pre) = (profile.trace_top, profile.preemption);
        let first = judge(&mut profile, &reader(), &s, &p, "dear-0").unwrap();
        assert_eq!(judge(&mut profile, &reader(), &s, &p, "dear-0").unwrap(), first);
        assert_eq!(judge(&mut cost_aware(), &reader(), &s.clone(), &p, "dear-0").unwrap(), first);
        assert_eq!((profile.trace_top, profile.preemption), (top, pre));
        // Another profile judges too, without error.
        assert!(judge(&mut Profile::builtin("fgd").unwrap(), &reader(), &s, &p, "dear-0").is_ok());
        let json = serde_json::to_value(&first).unwrap();
        assert_eq!(json["verdict"], "diverges");
    }
}
