//! The scheduling cycle: filter, score, select; gangs; preemption.

use crate::cluster::{Cluster, fit_on};
use crate::node::{Alloc, Node, NodeIdx, NodeShape, NodeView};
use crate::pod::{Pod, PodId};
use crate::profile::Profile;
use crate::trace::{ScoredNode, Trace};
use std::cmp::Ordering;

/// A scheduling plugin: it may filter nodes, score them, or both.
///
/// Plugins see a node through a [`NodeView`] and must judge only by what it
/// shows (shape and free resources): nodes that look alike get the same
/// verdict, which lets the framework run plugins once per class of nodes.
pub trait Plugin: Send {
    /// The plugin's name, as profiles and traces spell it.
    fn name(&self) -> &'static str;

    /// Rejects a node with a short reason; the default accepts every node.
    fn filter(&self, _pod: &Pod, _node: NodeView<'_>) -> Result<(), &'static str> {
        Ok(())
    }

    /// Scores a feasible node, higher is better, given what the pod would
    /// hold there; `None` when the plugin does not score. Scores are
    /// normalised to 0..100 across the feasible nodes before weighting.
    fn score(&self, _pod: &Pod, _node: NodeView<'_>, _alloc: &Alloc) -> Option<f64> {
        None
    }

    /// Sees every pod that enters the queue (the fragmentation plugin learns
    /// the workload's shape from them).
    fn observe(&mut self, _pod: &Pod) {}
}

/// The result of scheduling one pod.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Bind the pod to this node with this allocation.
    Bind {
        /// The node.
        node: NodeIdx,
        /// What the pod holds there.
        alloc: Alloc,
        /// Why.
        trace: Trace,
    },
    /// Evict these lower-priority pods from the node, then bind the pod there.
    Preempt {
        /// The node.
        node: NodeIdx,
        /// Pods to evict (whole gangs included).
        victims: Vec<PodId>,
        /// Why.
        trace: Trace,
    },
    /// No node can take the pod now.
    Unschedulable {
        /// Why.
        trace: Trace,
    },
}

impl Outcome {
    /// The decision's trace.
    pub fn trace(&self) -> &Trace {
        match self {
            Outcome::Bind { trace, .. } | Outcome::Preempt { trace, .. } | Outcome::Unschedulable { trace } => trace,
        }
    }
}

/// The result of scheduling a gang.
#[derive(Clone, Debug, PartialEq)]
pub enum GangOutcome {
    /// Every member has a place: bind them all.
    Bind {
        /// (member, node, allocation), in the members' order.
        placements: Vec<(PodId, NodeIdx, Alloc)>,
        /// The last member's trace.
        trace: Trace,
    },
    /// Some member has no place: none is bound.
    Wait {
        /// The trace of the member that did not fit.
        trace: Trace,
    },
}

/// The order pods leave the queue: higher priority first, then arrival.
pub fn queue_order(a: &Pod, b: &Pod) -> Ordering {
    b.priority.cmp(&a.priority).then(a.seq.cmp(&b.seq))
}

impl Profile {
    /// Shows a pod entering the queue to every plugin.
    pub fn observe(&mut self, pod: &Pod) {
        for (p, _) in &mut self.plugins {
            p.observe(pod);
        }
    }

    /// Runs the filters on one node; the first rejection, if any.
    fn first_rejection(&self, pod: &Pod, view: NodeView<'_>) -> Option<(&'static str, &'static str)> {
        self.plugins.iter().find_map(|(p, _)| p.filter(pod, view).err().map(|why| (p.name(), why)))
    }

    /// Schedules one pod on the cluster as it is (nothing is bound).
    pub fn schedule(&mut self, pod: &Pod, cluster: &Cluster) -> Outcome {
        let mut trace = Trace { pod: pod.name.clone(), profile: self.name.clone(), ..Trace::default() };
        // Filter, once per class of alike nodes.
        let mut feasible: Vec<(NodeIdx, usize, Alloc)> = Vec::new();
        for (rep, members) in cluster.classes() {
            trace.classes += 1;
            trace.nodes += members.len();
            let Some(view) = cluster.view(rep) else {
                continue;
            };
            if let Some((plugin, why)) = self.first_rejection(pod, view) {
                trace.reject(plugin, why, members.len());
                continue;
            }
            match fit_on(pod, view.node) {
                Some(alloc) => {
                    trace.feasible += members.len();
                    feasible.push((rep, members.len(), alloc));
                }
                None => trace.reject("framework", "resources", members.len()),
            }
        }
        if feasible.is_empty() {
            if self.preemption {
                if let Some((node, victims)) = self.find_victims(pod, cluster) {
                    trace.victims = victims.iter().filter_map(|v| cluster.binding(*v).map(|b| b.name.clone())).collect();
                    trace.note =
                        format!("preempts {} lower-priority pod(s) on {}", victims.len(), cluster.node(node).map_or("?", |n| &n.name));
                    return Outcome::Preempt { node, victims, trace };
                }
                trace.note = "no node frees enough by evicting lower-priority pods".into();
            }
            return Outcome::Unschedulable { trace };
        }
        // Score, normalise per plugin, weight, select.
        let totals = self.score_candidates(pod, cluster, &feasible, &mut trace);
        let best =
            (0..feasible.len()).max_by(|&a, &b| totals[a].total_cmp(&totals[b]).then(b.cmp(&a))).expect("at least one feasible class");
        let (node, _, alloc) = feasible.swap_remove(best);
        Outcome::Bind { node, alloc, trace }
    }

    /// Weighted, normalised totals of the candidates; fills the trace's top list.
    fn score_candidates(&mut self, pod: &Pod, cluster: &Cluster, candidates: &[(NodeIdx, usize, Alloc)], trace: &mut Trace) -> Vec<f64> {
        let n = candidates.len();
        let mut totals = vec![0.0; n];
        // One reused buffer: a row of normalised scores per scoring plugin.
        let mut rows = std::mem::take(&mut self.scratch);
        rows.clear();
        let mut names: Vec<&'static str> = Vec::with_capacity(self.plugins.len());
        for (plugin, weight) in &self.plugins {
            if *weight == 0.0 {
                continue;
            }
            let start = rows.len();
            let mut any = false;
            for (node, _, alloc) in candidates {
                let s = cluster.view(*node).and_then(|v| plugin.score(pod, v, alloc));
                any |= s.is_some();
                rows.push(s.unwrap_or(f64::NEG_INFINITY));
            }
            if !any {
                rows.truncate(start);
                continue;
            }
            normalise(&mut rows[start..]);
            for (t, s) in totals.iter_mut().zip(&rows[start..]) {
                *t += weight * s;
            }
            names.push(plugin.name());
        }
        let mut order: Vec<usize> = (0..n).collect();
        let top = self.trace_top.min(n);
        if top > 0 {
            order.select_nth_unstable_by(top - 1, |&a, &b| totals[b].total_cmp(&totals[a]).then(a.cmp(&b)));
            order.truncate(top);
            order.sort_by(|&a, &b| totals[b].total_cmp(&totals[a]).then(a.cmp(&b)));
        }
        trace.top = order
            .iter()
            .map(|&i| ScoredNode {
                node: cluster.node(candidates[i].0).map_or_else(String::new, |node| node.name.clone()),
                total: totals[i],
                scores: names.iter().enumerate().map(|(k, name)| (name.to_string(), rows[k * n + i])).collect(),
            })
            .collect();
        self.scratch = rows;
        totals
    }

    /// Post-filter preemption: the node where evicting pods strictly below
    /// the pod's priority makes it fit, choosing the node whose most
    /// important victim has the lowest priority, then the fewest victims,
    /// then the lowest index (as Kubernetes' DefaultPreemption ranks). A
    /// victim in a gang brings its whole gang down with it.
    fn find_victims(&self, pod: &Pod, cluster: &Cluster) -> Option<(NodeIdx, Vec<PodId>)> {
        let mut best: Option<((i32, usize, NodeIdx), Vec<PodId>)> = None;
        for (idx, node) in cluster.nodes() {
            if !node.schedulable {
                continue;
            }
            let mut lower: Vec<(i32, u64, PodId)> = cluster
                .pods_on(idx)
                .iter()
                .filter_map(|p| cluster.binding(*p).map(|b| (b.priority, b.seq, *p)))
                .filter(|(prio, _, _)| *prio < pod.priority)
                .collect();
            if lower.is_empty() {
                continue;
            }
            // Lowest priority first, newest first among equals.
            lower.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            let shape = cluster.shape(node.shape);
            let mut hypothetical: Node = node.clone();
            let mut victims = Vec::new();
            let mut fits = false;
            for (_, _, v) in &lower {
                release(&mut hypothetical, cluster, *v);
                victims.push(*v);
                let view = NodeView { node: &hypothetical, shape };
                if self.first_rejection(pod, view).is_none() && fit_on(pod, &hypothetical).is_some() {
                    fits = true;
                    break;
                }
            }
            if !fits {
                continue;
            }
            let victims = with_whole_gangs(cluster, victims);
            if victims.iter().any(|v| cluster.binding(*v).is_some_and(|b| b.priority >= pod.priority)) {
                continue;
            }
            let top = victims.iter().filter_map(|v| cluster.binding(*v).map(|b| b.priority)).max().unwrap_or(i32::MIN);
            let key = (top, victims.len(), idx);
            if best.as_ref().is_none_or(|(k, _)| key < *k) {
                best = Some((key, victims));
            }
        }
        best.map(|((_, _, idx), v)| (idx, v))
    }

    /// Schedules every member of a gang or none: members are placed one
    /// after another as if the earlier ones were bound; the cluster is left
    /// as it was.
    pub fn schedule_gang(&mut self, pods: &[Pod], cluster: &mut Cluster) -> GangOutcome {
        let mut placed: Vec<(PodId, NodeIdx, Alloc)> = Vec::new();
        let mut last = Trace::default();
        let mut failed = None;
        for pod in pods {
            match self.schedule_no_preemption(pod, cluster) {
                Outcome::Bind { node, alloc, trace } => {
                    if cluster.bind(pod, node, alloc.clone()).is_err() {
                        failed = Some(trace);
                        break;
                    }
                    placed.push((pod.id, node, alloc));
                    last = trace;
                }
                other => {
                    failed = Some(other.trace().clone());
                    break;
                }
            }
        }
        for (id, _, _) in &placed {
            cluster.unbind(*id);
        }
        match failed {
            Some(mut trace) => {
                trace.note = format!(
                    "gang waits: member {} of {} has no place ({} placed, all released)",
                    placed.len() + 1,
                    pods.len(),
                    placed.len()
                );
                GangOutcome::Wait { trace }
            }
            None => GangOutcome::Bind { placements: placed, trace: last },
        }
    }

    fn schedule_no_preemption(&mut self, pod: &Pod, cluster: &Cluster) -> Outcome {
        let pre = std::mem::replace(&mut self.preemption, false);
        let out = self.schedule(pod, cluster);
        self.preemption = pre;
        out
    }

    /// The weighted score an empty node of `shape` would get, or the filter
    /// that rejects it: how an autoscaler's expander picks a pool to grow.
    pub fn score_empty_node(&self, pod: &Pod, shape: &NodeShape) -> Result<f64, (&'static str, &'static str)> {
        let node = empty_node(shape);
        let view = NodeView { node: &node, shape };
        if let Some(r) = self.first_rejection(pod, view) {
            return Err(r);
        }
        let alloc = fit_on(pod, &node).ok_or(("framework", "resources"))?;
        Ok(self.plugins.iter().filter_map(|(p, w)| p.score(pod, view, &alloc).map(|s| w * s)).sum())
    }

    /// Ranks candidate empty nodes, one per pool that could grow, the way
    /// [`Profile::schedule`] ranks nodes: each plugin's raw scores are
    /// normalised to 0..100 across the feasible candidates, then weighted
    /// and summed. `None` for a candidate a filter rejects. This is how a
    /// cluster autoscaler's expander picks the pool to grow, on the same
    /// scale as placement (raw scores mix dollars, shares and hazards).
    pub fn rank_empty_nodes(&self, candidates: &[(Pod, NodeShape)]) -> Vec<Option<f64>> {
        let nodes: Vec<Node> = candidates.iter().map(|(_, shape)| empty_node(shape)).collect();
        // Raw scores per feasible candidate, per plugin (NaN: the plugin does not score it).
        let raw: Vec<Option<Vec<f64>>> = candidates
            .iter()
            .zip(&nodes)
            .map(|((pod, shape), node)| {
                let view = NodeView { node, shape };
                if self.first_rejection(pod, view).is_some() {
                    return None;
                }
                let alloc = fit_on(pod, node)?;
                Some(self.plugins.iter().map(|(p, _)| p.score(pod, view, &alloc).unwrap_or(f64::NAN)).collect())
            })
            .collect();
        let mut total: Vec<Option<f64>> = raw.iter().map(|r| r.as_ref().map(|_| 0.0)).collect();
        for (k, (_, weight)) in self.plugins.iter().enumerate() {
            let idx: Vec<usize> = (0..raw.len()).filter(|&i| raw[i].as_ref().is_some_and(|r| !r[k].is_nan())).collect();
            let mut vals: Vec<f64> = idx.iter().map(|&i| raw[i].as_ref().map_or(0.0, |r| r[k])).collect();
            normalise(&mut vals);
            for (&i, v) in idx.iter().zip(vals) {
                if let Some(t) = total[i].as_mut() {
                    *t += weight * v;
                }
            }
        }
        total
    }
}

/// A node of `shape` with nothing on it, as a pool would add one.
fn empty_node(shape: &NodeShape) -> Node {
    Node {
        name: String::new(),
        shape: crate::node::ShapeId(0),
        free_cpu: shape.cpu_milli,
        free_mem: shape.memory_mib,
        gpu_free: vec![crate::node::MILLI; shape.gpus as usize],
        schedulable: true,
    }
}

/// Gives a bound pod's resources back on a copy of its node.
fn release(node: &mut Node, cluster: &Cluster, pod: PodId) {
    if let Some(b) = cluster.binding(pod) {
        node.free_cpu += b.alloc.cpu_milli;
        node.free_mem += b.alloc.memory_mib;
        for &(g, m) in &b.alloc.gpus {
            node.gpu_free[g as usize] += m;
        }
    }
}

/// The victims plus every other bound member of their gangs.
fn with_whole_gangs(cluster: &Cluster, mut victims: Vec<PodId>) -> Vec<PodId> {
    let gangs: Vec<&str> = victims.iter().filter_map(|v| cluster.binding(*v).and_then(|b| b.gang.as_deref())).collect();
    if gangs.is_empty() {
        return victims;
    }
    let extra: Vec<PodId> = cluster
        .bindings()
        .iter()
        .filter(|(id, b)| !victims.contains(id) && b.gang.as_deref().is_some_and(|g| gangs.contains(&g)))
        .map(|(id, _)| *id)
        .collect();
    victims.extend(extra);
    victims
}

/// Min-max normalisation to 0..100 in place; equal values (no preference)
/// give 100, a plugin's missing score 0.
fn normalise(vals: &mut [f64]) {
    let finite = vals.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    for v in vals {
        *v = if !v.is_finite() {
            0.0
        } else if hi > lo {
            100.0 * (*v - lo) / (hi - lo)
        } else {
            100.0
        };
    }
}

#[cfg(test)]
mod tests;
