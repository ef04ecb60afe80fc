//! The extender: filter and prioritize, decided by a Twin scheduler profile.
//!
//! For each request the candidate nodes (the full `Nodes` list, or the
//! `NodeNames` looked up in the [`NodeCache`]) are checked in three steps:
//!
//! 1. what the extender itself can tell: a node it has not seen or cannot
//!    read, a cordoned node, a node the pod's selector, affinity or
//!    tolerations refuse (Kubernetes' full semantics, in its words);
//! 2. the rest become a [`Cluster`] of empty nodes (the extender sees
//!    allocatable only), one node per class of nodes that look alike to
//!    the pod, and the profile schedules the pod on it as Twin's simulation
//!    would: its filters refuse nodes with their reasons, its scores rank
//!    the others;
//! 3. the weighted totals become integers 0 to 10 relative to the best
//!    node, as Kubernetes' `DefaultNormalizeScore` scales scores: the best
//!    node gets [`MAX_EXTENDER_PRIORITY`], a node half as good 5.

use crate::cache::NodeCache;
use crate::nodes::{NodeError, NodeRecord};
use crate::pod::{self, PodError};
use crate::verdict::{Decision, Rejection, Verdict};
use crate::wire::{ExtenderArgs, ExtenderFilterResult, HostPriority, MAX_EXTENDER_PRIORITY, NodeList};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeMap, BTreeSet};
use twin_scheduler::{Capacity, Cluster, NodeIdx, Outcome, Profile, Selector, Taint};

/// Twin's scheduler as a scheduler extender.
///
/// ```
/// use twin_extender::{Extender, NodeCache, wire::decode};
/// use twin_scheduler::Profile;
///
/// let mut extender = Extender::new(Profile::builtin("default").unwrap(), NodeCache::default());
/// let args = decode(br#"{"Pod":{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"2"}}}]}},
///   "Nodes":{"items":[{"metadata":{"name":"big"},"status":{"allocatable":{"nvidia.com/gpu":"8"}}},
///                     {"metadata":{"name":"small"},"status":{"allocatable":{"nvidia.com/gpu":"1"}}}]}}"#).unwrap();
/// let filtered = extender.filter(&args);
/// assert_eq!(filtered.nodes.unwrap().items.len(), 1);
/// assert_eq!(filtered.failed_and_unresolvable_nodes["small"], "resource-fit: too few accelerators on the node");
/// ```
#[derive(Debug)]
pub struct Extender {
    /// The profile that decides.
    pub profile: Profile,
    /// The nodes seen so far.
    pub cache: NodeCache,
}

impl Extender {
    /// An extender deciding with `profile`, answering node names from `cache`.
    pub fn new(profile: Profile, cache: NodeCache) -> Extender {
        Extender { profile, cache }
    }

    /// The filter verb: the nodes that can take the pod go back the way
    /// they came (`Nodes`, `NodeNames`); the others are failed with why,
    /// in `FailedAndUnresolvableNodes` when preemption could not help (see
    /// [`Rejection::is_unresolvable`]). A pod that cannot be read fails
    /// the request with its reason in `Error`.
    pub fn filter(&mut self, args: &ExtenderArgs) -> ExtenderFilterResult {
        match self.decide(args, true) {
            Ok(d) => Extender::filter_result(args, &d),
            Err(e) => ExtenderFilterResult { error: e.to_string(), ..ExtenderFilterResult::default() },
        }
    }

    /// The filter verb's answer to `args` from a [`decide`](Extender::decide)
    /// (with `observe`) over them, for a caller that keeps the decision too
    /// (to count verdicts, say).
    pub fn filter_result(args: &ExtenderArgs, decision: &Decision) -> ExtenderFilterResult {
        let mut result = ExtenderFilterResult::default();
        let mut fits: FxHashSet<&str> = FxHashSet::default();
        for (name, verdict) in &decision.verdicts {
            match verdict {
                Verdict::Fits { .. } => {
                    fits.insert(name);
                }
                Verdict::Refused(r) if r.is_unresolvable() => {
                    result.failed_and_unresolvable_nodes.insert(name.clone(), r.to_string());
                }
                Verdict::Refused(r) => {
                    result.failed_nodes.insert(name.clone(), r.to_string());
                }
            }
        }
        if let Some(list) = &args.nodes {
            let mut seen = FxHashSet::default();
            let items = list
                .items
                .iter()
                .filter(|n| {
                    let name = n.metadata.name.as_deref().unwrap_or("");
                    fits.contains(name) && seen.insert(name)
                })
                .cloned()
                .collect();
            result.nodes = Some(NodeList { items, metadata: list.metadata.clone() });
        }
        if let Some(names) = &args.node_names {
            let mut seen = FxHashSet::default();
            result.node_names = Some(names.iter().filter(|n| fits.contains(n.as_str()) && seen.insert(n.as_str())).cloned().collect());
        }
        result
    }

    /// The prioritize verb: every candidate node once, with its score 0 to
    /// [`MAX_EXTENDER_PRIORITY`] (0 for a node that cannot take the pod,
    /// and for every node when the pod passes through or cannot be read:
    /// filter has said why).
    pub fn prioritize(&mut self, args: &ExtenderArgs) -> Vec<HostPriority> {
        let verdicts = match self.decide(args, false) {
            Ok(d) => d.verdicts,
            Err(_) => candidates(args).into_iter().map(|n| (n.to_string(), Verdict::Fits { score: 0 })).collect(),
        };
        verdicts.into_iter().filter(|(n, _)| !n.is_empty()).map(|(host, v)| HostPriority { host, score: v.score() }).collect()
    }

    /// Decides, for filter and prioritize alike: each candidate's verdict.
    /// `observe` shows the pod to the profile's plugins first (filter does,
    /// once per scheduling attempt; the fragmentation plugin learns the
    /// workload from it). Full `Nodes` lists feed the cache.
    pub fn decide(&mut self, args: &ExtenderArgs, observe: bool) -> Result<Decision, PodError> {
        if let Some(list) = &args.nodes {
            for node in &list.items {
                // An unreadable node is kept with its error and judged below.
                let _ = self.cache.feed(node);
            }
        }
        let names = candidates(args);
        let cache = &self.cache;
        let found: Vec<Result<&NodeRecord, Rejection>> = names.iter().map(|n| lookup(cache, n)).collect();
        let taint_keys: Vec<String> =
            found.iter().flatten().flat_map(|r| r.taints.iter().map(|t| t.key.clone())).collect::<BTreeSet<_>>().into_iter().collect();
        let pod_name = pod::pod_name(&args.pod);
        let Some(request) = pod::read(&args.pod, &taint_keys)? else {
            let verdicts = names.iter().map(|n| (n.to_string(), Verdict::Fits { score: 0 })).collect();
            return Ok(Decision { pod: pod_name, passthrough: true, verdicts, trace: None });
        };
        if observe {
            self.profile.observe(&request.pod);
        }

        // 1. What the extender can tell alone; the rest grouped into classes.
        let keys: Vec<&str> = request.pod.selector.iter().map(selector_key).collect();
        let mut verdicts: Vec<Option<Verdict>> = vec![None; names.len()];
        let mut class_of: FxHashMap<ClassKey<'_>, usize> = FxHashMap::default();
        let mut classes: Vec<(&NodeRecord, Vec<usize>)> = Vec::new();
        for (i, f) in found.into_iter().enumerate() {
            let rejection = match f {
                Err(r) => r,
                Ok(r) if r.cordoned => Rejection::Cordoned,
                Ok(r) => match request.nodes.refuses(&r.labels, &r.taints) {
                    Some(why) => Rejection::Affinity(why),
                    None => {
                        let key = ClassKey::of(r, request.resource, &keys);
                        let next = classes.len();
                        let c = *class_of.entry(key).or_insert(next);
                        if c == next {
                            classes.push((r, Vec::new()));
                        }
                        classes[c].1.push(i);
                        continue;
                    }
                },
            };
            verdicts[i] = Some(Verdict::Refused(rejection));
        }

        // 2. One empty node per class, scheduled on by the profile.
        let mut cluster = Cluster::default();
        let reps: Vec<NodeIdx> = classes
            .iter()
            .map(|(r, _)| {
                let labels: BTreeMap<String, String> =
                    keys.iter().filter_map(|k| r.labels.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
                let shape = cluster.add_shape(r.shape(request.resource, labels));
                cluster.add_node(&r.name, shape)
            })
            .collect();
        let trace_top = std::mem::replace(&mut self.profile.trace_top, cluster.class_count());
        let outcome = self.profile.schedule(&request.pod, &cluster);
        self.profile.trace_top = trace_top;
        let trace = match outcome {
            Outcome::Bind { trace, .. } | Outcome::Preempt { trace, .. } | Outcome::Unschedulable { trace } => trace,
        };

        // 3. Totals to 0..10 relative to the best; reasons for the refused.
        let mut rep_of: FxHashMap<NodeIdx, NodeIdx> = FxHashMap::default();
        for (rep, members) in cluster.classes() {
            rep_of.extend(members.iter().map(|m| (*m, rep)));
        }
        let totals: FxHashMap<&str, f64> = trace.top.iter().map(|s| (s.node.as_str(), s.total)).collect();
        let best = totals.values().copied().fold(0.0, f64::max);
        for ((_, members), idx) in classes.iter().zip(&reps) {
            let rep = rep_of.get(idx).copied().unwrap_or(*idx);
            let total = cluster.node(rep).and_then(|n| totals.get(n.name.as_str()));
            let verdict = match total {
                Some(t) => Verdict::Fits { score: scale(*t, best) },
                None => {
                    let shape = cluster.view(*idx).map(|v| v.shape);
                    let (plugin, reason) = match shape.map(|s| self.profile.score_empty_node(&request.pod, s)) {
                        Some(Err(why)) => why,
                        _ => ("framework", "resources"),
                    };
                    Verdict::Refused(Rejection::Plugin { plugin, reason })
                }
            };
            for &i in members {
                verdicts[i] = Some(verdict.clone());
            }
        }
        let verdicts = names
            .iter()
            .zip(verdicts)
            .map(|(n, v)| (n.to_string(), v.unwrap_or(Verdict::Refused(Rejection::Plugin { plugin: "framework", reason: "resources" }))))
            .collect();
        Ok(Decision { pod: pod_name, passthrough: false, verdicts, trace: Some(trace) })
    }
}

/// The candidate nodes' names, each once, in the order they came: the
/// `Nodes` list's when there is one, else `NodeNames`.
fn candidates(args: &ExtenderArgs) -> Vec<&str> {
    let all: Vec<&str> = match (&args.nodes, &args.node_names) {
        (Some(list), _) => list.items.iter().map(|n| n.metadata.name.as_deref().unwrap_or("")).collect(),
        (None, Some(names)) => names.iter().map(String::as_str).collect(),
        (None, None) => Vec::new(),
    };
    let mut seen = FxHashSet::default();
    all.into_iter().filter(|n| seen.insert(*n)).collect()
}

/// A candidate from the cache, or why it cannot be judged.
fn lookup<'a>(cache: &'a NodeCache, name: &str) -> Result<&'a NodeRecord, Rejection> {
    if name.is_empty() {
        return Err(Rejection::Unreadable(NodeError::NoName));
    }
    match cache.get(name) {
        Some(Ok(r)) => Ok(r),
        Some(Err(e)) => Err(Rejection::Unreadable(e.clone())),
        None => Err(Rejection::NotCached),
    }
}

/// The label a selector reads.
fn selector_key(s: &Selector) -> &str {
    match s {
        Selector::In { key, .. } | Selector::NotIn { key, .. } | Selector::Exists { key } | Selector::DoesNotExist { key } => key,
    }
}

/// A total scaled to 0..10 relative to the best: `⌊10 × total / best⌋`.
fn scale(total: f64, best: f64) -> i64 {
    if !(best > 0.0 && total.is_finite()) {
        return 0;
    }
    ((total / best * MAX_EXTENDER_PRIORITY as f64).floor() as i64).clamp(0, MAX_EXTENDER_PRIORITY)
}

/// What makes two nodes alike to a pod: everything of the shape the
/// scheduler sees, with only the labels the pod's selector reads.
#[derive(Hash, PartialEq, Eq)]
struct ClassKey<'a> {
    pool: &'a str,
    gpu_model: &'a str,
    gpus: u32,
    cpu_milli: u32,
    memory_mib: u32,
    taints: &'a [Taint],
    price_bits: Option<u64>,
    capacity: Capacity,
    labels: Vec<Option<&'a str>>,
}

impl<'a> ClassKey<'a> {
    fn of(r: &'a NodeRecord, resource: &str, keys: &[&str]) -> ClassKey<'a> {
        ClassKey {
            pool: &r.pool,
            gpu_model: &r.gpu_model,
            gpus: r.accelerators_of(resource),
            cpu_milli: r.cpu_milli,
            memory_mib: r.memory_mib,
            taints: &r.taints,
            price_bits: r.price_per_hour.map(f64::to_bits),
            capacity: r.capacity,
            labels: keys.iter().map(|k| r.labels.get(*k).map(String::as_str)).collect(),
        }
    }
}

#[cfg(test)]
mod tests;
