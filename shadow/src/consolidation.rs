//! Consolidation: which nodes could be emptied by moving their
//! accelerator pods onto the free accelerators of other nodes, and what
//! freeing them would save.
//!
//! The plan is greedy, as Karpenter's consolidation and the cluster
//! autoscaler's scale-down are: nodes are tried emptiest first (fewest
//! accelerators held, then the dearer, then by name); a node is freed when
//! every accelerator pod on it fits elsewhere. Each pod, largest first,
//! goes to the node it leaves fullest (best fit, then by name) among nodes
//! that are not cordoned, not already freed, have its kind of accelerator
//! of the same model, and that its node selector, affinity and tolerations
//! accept. A node holding no accelerator pod at all is freed as it is.
//! Pods without accelerators are not moved and do not keep a node.

use crate::allocation::Allocation;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One pod moved by a plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Move {
    /// The pod, `namespace/name`.
    pub pod: String,
    /// The node it leaves.
    pub from: String,
    /// The node it goes to.
    pub to: String,
    /// Its accelerators.
    pub gpus: u32,
}

/// A consolidation plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    /// The nodes the plan empties, by name.
    pub nodes_freed: Vec<String>,
    /// Their accelerators, all idle once the plan is carried out.
    pub gpus_freed: u32,
    /// The moves, in the order made.
    pub moves: Vec<Move>,
    /// The freed nodes' prices per hour (those with a known price).
    pub saving_per_hour: f64,
    /// One line, in words.
    pub why: String,
}

/// The plan for `alloc` (empty when no node can be freed).
pub fn plan(alloc: &Allocation) -> Plan {
    let used = alloc.used();
    // Free accelerators by (node, resource), for the nodes that can take pods.
    let mut free: BTreeMap<(&str, &'static str), u32> = BTreeMap::new();
    for (name, record, _) in alloc.accelerated() {
        for (resource, n) in &record.accelerators {
            let u = used.get(&(name.as_str(), *resource)).copied().unwrap_or(0);
            free.insert((name.as_str(), *resource), n.saturating_sub(u));
        }
    }
    let mut pods_on: BTreeMap<&str, Vec<&crate::allocation::Held>> = BTreeMap::new();
    for h in alloc.held.values() {
        pods_on.entry(h.node.as_str()).or_default().push(h);
    }
    let held_on = |n: &str| pods_on.get(n).map_or(0, |v| v.iter().map(|h| h.gpus).sum::<u32>());
    let mut order: Vec<(&String, u32, f64)> =
        alloc.accelerated().map(|(n, r, _)| (n, held_on(n), r.price_per_hour.unwrap_or(0.0))).collect();
    order.sort_by(|a, b| a.1.cmp(&b.1).then(b.2.total_cmp(&a.2)).then(a.0.cmp(b.0)));

    let mut freed: BTreeSet<&str> = BTreeSet::new();
    let mut out = Plan::default();
    for (name, _, _) in order {
        let mut pods: Vec<&crate::allocation::Held> = pods_on.get(name.as_str()).cloned().unwrap_or_default();
        pods.sort_by(|a, b| b.gpus.cmp(&a.gpus).then(a.pod.cmp(&b.pod)));
        let mut trial = free.clone();
        let mut moves = Vec::new();
        let model = &alloc.nodes[name].gpu_model;
        let fits_all = pods.iter().all(|h| {
            let best = trial
                .iter()
                .filter(|((n, r), f)| *n != name.as_str() && *r == h.resource && **f >= h.gpus && !freed.contains(n))
                .filter(|((n, _), _)| {
                    let t = &alloc.nodes[*n];
                    !t.cordoned && t.gpu_model == *model && h.request.nodes.refuses(&t.labels, &t.taints).is_none()
                })
                .min_by(|a, b| (a.1 - h.gpus).cmp(&(b.1 - h.gpus)).then(a.0.cmp(b.0)))
                .map(|(k, _)| *k);
            let Some(k) = best else { return false };
            *trial.get_mut(&k).expect("a key of the map") -= h.gpus;
            moves.push(Move { pod: h.pod.clone(), from: name.clone(), to: k.0.to_string(), gpus: h.gpus });
            true
        });
        if !fits_all {
            continue;
        }
        free = trial;
        // A freed node takes no pods.
        free.retain(|(n, _), _| *n != name.as_str());
        freed.insert(name.as_str());
        let record = &alloc.nodes[name];
        out.gpus_freed += record.accelerators.iter().map(|(_, c)| *c).sum::<u32>();
        out.saving_per_hour += record.price_per_hour.unwrap_or(0.0);
        out.nodes_freed.push(name.clone());
        out.moves.extend(moves);
    }
    if !out.nodes_freed.is_empty() {
        out.why = format!(
            "{} node(s) ({}) could be emptied by moving {} pod(s) onto free accelerators elsewhere, freeing {} accelerator(s) and {:.2} $/h",
            out.nodes_freed.len(),
            out.nodes_freed.join(", "),
            out.moves.len(),
            out.gpus_freed,
            out.saving_per_hour
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ClusterState;
    use crate::kubectl::WatchReader;
    use twin_extender::nodes::NodeReader;

    fn node(name: &str, gpus: u32, price: f64, extra: &str) -> String {
        format!(
            r#"{{"kind":"Node","metadata":{{"name":"{name}","labels":{{"twin.dev/price-per-hour":"{price}","nvidia.com/gpu.product":"H100"}}}},"spec":{{{extra}}},"status":{{"allocatable":{{"nvidia.com/gpu":"{gpus}"}}}}}}"#
        )
    }

    fn pod(name: &str, on: &str, gpus: u32) -> String {
        format!(
            r#"{{"kind":"Pod","metadata":{{"name":"{name}","namespace":"ml"}},"spec":{{"nodeName":"{on}","containers":[{{"name":"c","resources":{{"limits":{{"nvidia.com/gpu":"{gpus}"}}}}}}]}},"status":{{"phase":"Running"}}}}"#
        )
    }

    fn alloc(objects: &[String]) -> Allocation {
        let mut state = ClusterState::default();
        let mut r = WatchReader::new();
        for e in r.feed(objects.join("\n").as_bytes()).into_iter().chain(r.finish()) {
            state.apply(&e.unwrap());
        }
        Allocation::read(&state, &NodeReader::default())
    }

    #[test]
    fn the_emptiest_node_is_freed_onto_the_others_free_gpus() {
        let a = alloc(&[
            node("a", 8, 98.0, ""),
            node("b", 8, 98.0, ""),
            node("c", 8, 98.0, ""),
            pod("p1", "a", 6),
            pod("p2", "b", 2),
            pod("p3", "c", 4),
        ]);
        let p = plan(&a);
        // b (2 held) goes to a (2 free: best fit); then c (4 held) finds only... a is full, b freed: c stays.
        assert_eq!(p.nodes_freed, vec!["b".to_string()]);
        assert_eq!(p.moves, vec![Move { pod: "ml/p2".into(), from: "b".into(), to: "a".into(), gpus: 2 }]);
        assert_eq!(p.gpus_freed, 8);
        assert!((p.saving_per_hour - 98.0).abs() < 1e-9);
        assert!(p.why.contains("1 node(s) (b)"), "{}", p.why);
    }

    #[test]
    fn cordoned_nodes_take_nothing_and_empty_nodes_are_freed_as_they_are() {
        let a =
            alloc(&[node("a", 8, 10.0, r#""unschedulable":true"#), node("b", 8, 20.0, ""), node("idle", 8, 30.0, ""), pod("p", "b", 4)]);
        let p = plan(&a);
        // `a` (cordoned, empty) and `idle` are freed; `b`'s pod could only go to `idle` or `a`: `idle` is freed first
        // (same emptiness, dearer), `a` is cordoned, so `b` stays.
        assert_eq!(p.nodes_freed, vec!["idle".to_string(), "a".to_string()]);
        assert!(p.moves.is_empty());
        assert!((p.saving_per_hour - 40.0).abs() < 1e-9);
    }

    #[test]
    fn nothing_to_free_is_an_empty_plan() {
        let a = alloc(&[node("a", 8, 10.0, ""), node("b", 8, 10.0, ""), pod("p", "a", 8), pod("q", "b", 8)]);
        assert_eq!(plan(&a), Plan::default());
    }
}
