//! The extender: filter and prioritize, decided by a Twin scheduler profile.
//!
//! For each request the candidate nodes (the full `Nodes` list, or the
//! `NodeNames` looked up in the [`NodeCache`]) are checked in three steps:
//!
//! 1. what the extender itself can tell: a node it has not seen or cannot
//!    read, a cordoned node, a node the pod's selector, affinity or
//!    tolerations refuse (Kubernetes' full semantics, in its words), and,
//!    with [placement policies](crate::placement), a node they deny;
//! 2. the rest become a [`Cluster`] of empty nodes (the extender sees
//!    allocatable only), one node per class of nodes that look alike to
//!    the pod, and the profile schedules the pod on it as Twin's simulation
//!    would: its filters refuse nodes with their reasons, its scores rank
//!    the others;
//! 3. the weighted totals become integers 0 to 10 relative to the best
//!    node, as Kubernetes' `DefaultNormalizeScore` scales scores: the best
//!    node gets [`MAX_EXTENDER_PRIORITY`], a node half as good 5.

use crate::cache::{NodeCache, NodeKind};
use crate::nodes::{NodeError, NodeRecord};
use crate::placement::{self, PlacementPolicy};
use crate::pod::{self, PodError};
use crate::verdict::{Decision, Rejection, Verdict};
use crate::wire::{ExtenderArgs, ExtenderFilterResult, HostPriority, MAX_EXTENDER_PRIORITY, NodeList};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use twin_policy::PolicyError;
use twin_scheduler::{Cluster, NodeIdx, Outcome, Profile, Selector};
use twin_sim::policy::Violation;

/// Why a request could not be decided at all (its answer carries `Error`).
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The pod cannot be read.
    #[error(transparent)]
    Pod(#[from] PodError),
    /// A placement policy failed to evaluate (never taken as an allow).
    #[error("placement policy: {0}")]
    Policy(#[from] PolicyError),
}

impl DecideError {
    /// What failed, for metrics: `pod` or `policy`.
    pub fn source(&self) -> &'static str {
        match self {
            DecideError::Pod(_) => "pod",
            DecideError::Policy(_) => "policy",
        }
    }
}

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
    /// Placement policies, asked about every node the pod's selector,
    /// affinity and tolerations allow; `None`: no policy.
    pub policy: Option<PlacementPolicy>,
}

impl Extender {
    /// An extender deciding with `profile`, answering node names from
    /// `cache`, without placement policies.
    pub fn new(profile: Profile, cache: NodeCache) -> Extender {
        Extender { profile, cache, policy: None }
    }

    /// The extender with placement policies.
    pub fn with_policy(mut self, policy: PlacementPolicy) -> Extender {
        self.policy = Some(policy);
        self
    }

    /// The filter verb: the nodes that can take the pod go back the way
    /// they came (`Nodes`, `NodeNames`); the others are failed with why,
    /// in `FailedAndUnresolvableNodes` when preemption could not help (see
    /// [`Rejection::is_unresolvable`]). A pod that cannot be read, or a
    /// placement policy that fails to evaluate, fails the request with the
    /// reason in `Error`.
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
        let (mut failed, mut unresolvable) = (Vec::new(), Vec::new());
        // Nodes of a class share their verdict: say why once for a run of them.
        let mut said: Option<(&Rejection, String)> = None;
        for (name, verdict) in &decision.verdicts {
            let Verdict::Refused(r) = verdict else { continue };
            let why = match &said {
                Some((last, why)) if *last == r => why.clone(),
                _ => said.insert((r, r.to_string())).1.clone(),
            };
            if r.is_unresolvable() { &mut unresolvable } else { &mut failed }.push((name.clone(), why));
        }
        // Go writes map keys sorted, as a BTreeMap does; built at once from the pairs.
        result.failed_nodes = failed.into_iter().collect();
        result.failed_and_unresolvable_nodes = unresolvable.into_iter().collect();
        let fits = || -> FxHashSet<&str> { decision.verdicts.iter().filter(|(_, v)| v.fits()).map(|(n, _)| n.as_str()).collect() };
        if let Some(list) = &args.nodes {
            let fits = fits();
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
            result.node_names = Some(if args.nodes.is_none() {
                // The verdicts are these names, each once, in order.
                decision.verdicts.iter().filter(|(_, v)| v.fits()).map(|(n, _)| n.clone()).collect()
            } else {
                let (fits, mut seen) = (fits(), FxHashSet::default());
                names.iter().filter(|n| fits.contains(n.as_str()) && seen.insert(n.as_str())).cloned().collect()
            });
        }
        result
    }

    /// The prioritize verb: every candidate node once, with its score 0 to
    /// [`MAX_EXTENDER_PRIORITY`] (0 for a node that cannot take the pod,
    /// and for every node when the pod passes through or the request
    /// cannot be decided: filter has said why).
    pub fn prioritize(&mut self, args: &ExtenderArgs) -> Vec<HostPriority> {
        match self.decide(args, false) {
            Ok(d) => {
                d.verdicts.into_iter().filter(|(n, _)| !n.is_empty()).map(|(host, v)| HostPriority { host, score: v.score() }).collect()
            }
            Err(_) => Extender::zero_scores(args),
        }
    }

    /// Every candidate node once with score 0: the prioritize answer to a
    /// request that cannot be decided (filter has said why).
    pub fn zero_scores(args: &ExtenderArgs) -> Vec<HostPriority> {
        candidates(args).into_iter().filter(|n| !n.is_empty()).map(|n| HostPriority { host: n.to_string(), score: 0 }).collect()
    }

    /// Decides, for filter and prioritize alike: each candidate's verdict.
    /// `observe` shows the pod to the profile's plugins first (filter does,
    /// once per scheduling attempt; the fragmentation plugin learns the
    /// workload from it). Full `Nodes` lists feed the cache.
    pub fn decide(&mut self, args: &ExtenderArgs, observe: bool) -> Result<Decision, DecideError> {
        if let Some(list) = &args.nodes {
            for node in &list.items {
                // An unreadable node is kept with its error and judged below.
                let _ = self.cache.feed(node);
            }
        }
        let names = candidates(args);
        let cache = &self.cache;
        let found: Vec<Result<(&NodeRecord, NodeKind), Rejection>> = names.iter().map(|n| lookup(cache, n)).collect();
        let pod_name = pod::pod_name(&args.pod);
        let Some(request) = pod::read(&args.pod, &taint_keys(&found))? else {
            let verdicts = names.iter().map(|n| (n.to_string(), Verdict::Fits { score: 0 })).collect();
            return Ok(Decision { pod: pod_name, passthrough: true, verdicts, trace: None });
        };
        if observe {
            self.profile.observe(&request.pod);
        }

        // 1. What the extender can tell alone; the rest grouped into classes.
        let keys: Vec<&str> = request.pod.selector.iter().map(selector_key).collect();
        let workload = self.policy.as_ref().map(|_| placement::workload(&args.pod, &request));
        // Nodes of a kind in one zone are the same question to a policy.
        let mut asked: FxHashMap<(NodeKind, &str, &str), Option<Vec<Violation>>> = FxHashMap::default();
        let mut verdicts: Vec<Option<Verdict>> = vec![None; names.len()];
        let mut class_of: FxHashMap<ClassKey<'_>, usize> = FxHashMap::default();
        let mut classes: Vec<(&NodeRecord, Vec<usize>)> = Vec::new();
        for (i, f) in found.into_iter().enumerate() {
            let (r, kind) = match f {
                Err(rejection) => {
                    verdicts[i] = Some(Verdict::Refused(rejection));
                    continue;
                }
                Ok(found) => found,
            };
            let refused =
                if r.cordoned { Some(Rejection::Cordoned) } else { request.nodes.refuses(&r.labels, &r.taints).map(Rejection::Affinity) };
            if let Some(rejection) = refused {
                verdicts[i] = Some(Verdict::Refused(rejection));
                continue;
            }
            if let (Some(policy), Some(workload)) = (self.policy.as_mut(), &workload) {
                let denied = match asked.entry((kind, r.region.as_str(), r.zone.as_str())) {
                    Entry::Occupied(e) => e.get().clone(),
                    Entry::Vacant(e) => {
                        let v = policy.judge(&placement::input(workload, r, request.resource))?;
                        e.insert((!v.is_empty()).then_some(v)).clone()
                    }
                };
                if let Some(violations) = denied {
                    verdicts[i] = Some(Verdict::Refused(Rejection::Policy(violations)));
                    continue;
                }
            }
            let key = ClassKey { kind, labels: keys.iter().map(|k| r.labels.get(*k).map(String::as_str)).collect() };
            let next = classes.len();
            let c = *class_of.entry(key).or_insert(next);
            if c == next {
                classes.push((r, Vec::new()));
            }
            classes[c].1.push(i);
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

/// The candidates' taint keys, each once, sorted: what a toleration of
/// every key stands for.
fn taint_keys(found: &[Result<(&NodeRecord, NodeKind), Rejection>]) -> Vec<String> {
    // Nodes of a kind have the same taints: each kind's once.
    let mut kinds = FxHashSet::default();
    let mut keys = BTreeSet::new();
    for (r, kind) in found.iter().flatten() {
        if kinds.insert(*kind) {
            keys.extend(r.taints.iter().map(|t| t.key.as_str()));
        }
    }
    keys.into_iter().map(String::from).collect()
}

/// The candidate nodes' names, each once, in the order they came: the
/// `Nodes` list's when there is one, else `NodeNames`.
fn candidates(args: &ExtenderArgs) -> Vec<&str> {
    let all: Vec<&str> = match (&args.nodes, &args.node_names) {
        (Some(list), _) => list.items.iter().map(|n| n.metadata.name.as_deref().unwrap_or("")).collect(),
        (None, Some(names)) => names.iter().map(String::as_str).collect(),
        (None, None) => Vec::new(),
    };
    let mut seen = FxHashSet::with_capacity_and_hasher(all.len(), Default::default());
    all.into_iter().filter(|n| seen.insert(*n)).collect()
}

/// A candidate from the cache, or why it cannot be judged.
fn lookup<'a>(cache: &'a NodeCache, name: &str) -> Result<(&'a NodeRecord, NodeKind), Rejection> {
    if name.is_empty() {
        return Err(Rejection::Unreadable(NodeError::NoName));
    }
    match cache.get_with_kind(name) {
        Some(Ok(found)) => Ok(found),
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

/// What makes two nodes alike to a pod: their kind (everything of the
/// shape the scheduler sees but labels), and the labels the pod's selector
/// reads.
#[derive(Hash, PartialEq, Eq)]
struct ClassKey<'a> {
    kind: NodeKind,
    labels: Vec<Option<&'a str>>,
}

#[cfg(test)]
mod tests;
