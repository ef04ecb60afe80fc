//! One shadow session: what the live sources said, folded into what Twin
//! would have done differently.
//!
//! A [`Session`] is tokio-free: the binary's driver hands it each
//! telemetry [`Event`] ([`Session::on_telemetry`]) and each cluster
//! [`WatchEvent`] ([`Session::on_cluster`]) in the order they arrive, and
//! gets back the [`Divergence`]s they revealed, to log as they happen.
//! [`Session::summary`] says what the session saw so far.
//!
//! The session's clock is paced to the wall clock by its driver:
//! [`Session::tick`] (once a second in `twin shadow`, faster in tests)
//! moves it on, accrues the cost ledger over the span, and runs what Twin
//! does on a clock: its autoscalers at their intervals and the
//! consolidation plan. Telemetry keeps each GPU's utilisation (by pod when
//! the source maps pods, by host always), which the autoscalers read; the
//! watch keeps the cluster, which the scheduler, the policies, the ledger
//! and the plan read.
//!
//! The divergences:
//!
//! - `placement`: the real scheduler bound a pod to a node Twin's profile
//!   would not have chosen ([`crate::divergence::judge`]), and
//!   `unplaceable`, where Twin's profile would not have placed it at all;
//! - `policy`: a pod bound to a node where Twin's placement policies
//!   (Rego, `twin.placement`) would have denied it;
//! - `replicas`: a Deployment whose replica count Twin's autoscaler would
//!   have set otherwise ([`crate::autoscale`]);
//! - `idle`: a GPU whose utilisation has read 0 for the whole of the idle
//!   window (one record per idle spell);
//! - `consolidation`: nodes that could be emptied, and what that frees
//!   ([`crate::consolidation`]), reported when the plan changes.
//!
//! The cost ledger ([`crate::ledger`]) is the OpenCost-style account of
//! the whole session: what the nodes cost, what their pods were allocated,
//! idle cost, and the allocation Twin's placements would have made.

use crate::allocation::Allocation;
use crate::autoscale::{ReplicasDivergence, Scalers, Utilisation};
use crate::cluster::{Change, ClusterState};
use crate::consolidation::{self, Plan};
use crate::divergence::{self, PlacementDivergence, Verdict};
use crate::feed::{Event, Health};
use crate::kubectl::{Object, WatchEvent};
use crate::ledger::{CostLedger, Rates};
use serde::Serialize;
use std::collections::BTreeMap;
use twin_extender::nodes::NodeReader;
use twin_extender::placement::{self, PlacementPolicy};
use twin_replay::Field;
use twin_scheduler::Profile;
use twin_sim::policy::PlacementInput;

/// Something Twin would have done otherwise, as logged (one JSON line each).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Divergence {
    /// Twin's profile would have bound the pod to another node.
    Placement(Box<PlacementDivergence>),
    /// Twin's profile would not have placed the pod anywhere.
    Unplaceable {
        /// The pod, `namespace/name`.
        pod: String,
        /// The node the real scheduler chose.
        node: String,
        /// Why Twin's profile refuses every node.
        reason: String,
    },
    /// Twin's placement policies would have denied the pod on its node.
    Policy {
        /// The pod, `namespace/name`.
        pod: String,
        /// The node the real scheduler chose.
        node: String,
        /// The violated rule.
        policy: String,
        /// What the rule says.
        message: String,
    },
    /// Twin's autoscaler would have set another replica count.
    Replicas(Box<ReplicasDivergence>),
    /// Nodes that could be emptied (the plan changed since last reported).
    Consolidation(Box<Plan>),
    /// A GPU read 0 % utilisation for the whole idle window.
    Idle {
        /// The host of the GPU.
        host: String,
        /// The GPU's index on the host.
        gpu: u32,
        /// The GPU's UUID, when known.
        uuid: Option<String>,
        /// The first reading of the idle spell, ns since the epoch.
        since_ns: i64,
        /// The reading at which the spell reached the window, ns since the epoch.
        at_ns: i64,
    },
}

impl Divergence {
    /// The kind, as the JSON `kind` field writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            Divergence::Placement(_) => "placement",
            Divergence::Unplaceable { .. } => "unplaceable",
            Divergence::Policy { .. } => "policy",
            Divergence::Replicas(_) => "replicas",
            Divergence::Consolidation(_) => "consolidation",
            Divergence::Idle { .. } => "idle",
        }
    }
}

/// One GPU's latest state.
#[derive(Clone, Debug, Default)]
struct Gpu {
    uuid: Option<String>,
    last_ns: i64,
    util: Option<f64>,
    /// Start of the current run of 0 % readings.
    idle_since: Option<i64>,
    /// The current idle spell was reported.
    reported: bool,
    /// The latest memory reading, MiB.
    memory_mib: Option<f64>,
    /// The last power reading (W) and its time, for the energy integral.
    power: Option<(i64, f64)>,
}

/// Readings further apart than this are not joined by the energy integral.
const ENERGY_SPAN_NS: i64 = 60_000_000_000;

/// What a session saw, for `shadow-summary.json` and the exit message.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// The scheduler profile that judged the bindings.
    pub profile: String,
    /// Divergences by kind.
    pub divergences: BTreeMap<String, u64>,
    /// Sum over placement divergences of what Twin's choice would save per
    /// hour (dollars; negative: Twin's choices would cost more).
    pub counterfactual_saving_per_hour: f64,
    /// Bindings Twin agreed with.
    pub agreed: u64,
    /// Bindings not judged (no whole accelerator asked, unknown node).
    pub not_judged: u64,
    /// Bindings that could not be judged at all (the pod does not read).
    pub errors: u64,
    /// Readings received, by source.
    pub samples_in: BTreeMap<String, u64>,
    /// Gaps received, by source.
    pub gaps: BTreeMap<String, u64>,
    /// Each source's last health, in words (`up`, `retrying: ...`).
    pub health: BTreeMap<String, String>,
    /// GPUs seen, all hosts together.
    pub gpus: usize,
    /// Nodes in the cluster state at the end.
    pub nodes: usize,
    /// Pods in the cluster state at the end.
    pub pods: usize,
    /// GPUs in an idle spell as long as the idle window now.
    pub idle_gpus: usize,
    /// The OpenCost-style cost of the session so far.
    pub cost: CostLedger,
    /// The latest consolidation plan (empty: no node can be freed).
    pub consolidation: Plan,
    /// The scenario's autoscalers: what each judges, or why it does not.
    pub autoscalers: BTreeMap<String, String>,
    /// Seconds on the session's clock.
    pub clock_s: f64,
    /// Energy the GPUs drew, kWh, from their power readings (trapezoids
    /// between consecutive readings of a GPU at most a minute apart; a gap
    /// breaks them).
    pub energy_kwh: f64,
    /// GPU memory in use now, all GPUs together, MiB (the latest reading of each).
    pub memory_used_mib: f64,
}

/// A source's health as a number for a gauge: 1 up, 0.5 degraded or
/// retrying, 0 down.
pub fn health_value(h: &Health) -> f64 {
    match h {
        Health::Up => 1.0,
        Health::Retrying { .. } | Health::Degraded(_) => 0.5,
        Health::Down(_) => 0.0,
    }
}

fn health_words(h: &Health) -> String {
    match h {
        Health::Up => "up".into(),
        Health::Retrying { attempt, error } => format!("retrying (attempt {attempt}): {error}"),
        Health::Degraded(why) => format!("degraded: {why}"),
        Health::Down(why) => format!("down: {why}"),
    }
}

/// How often the consolidation plan is made again by default (session clock).
pub const CONSOLIDATE_EVERY_NS: i64 = 60_000_000_000;

/// The shadow session's state (see the [module](self) docs).
pub struct Session {
    profile: Profile,
    reader: NodeReader,
    cluster: ClusterState,
    gpus: BTreeMap<(String, u32), Gpu>,
    idle_window_ns: i64,
    policy: Option<PlacementPolicy>,
    scalers: Scalers,
    util: Utilisation,
    /// The allocation, read again when the cluster changed.
    alloc: Allocation,
    alloc_stale: bool,
    /// Per pod Twin would have placed elsewhere: Twin's node's cost per
    /// hour minus the real node's.
    twin_delta: BTreeMap<String, f64>,
    /// The wall clock (ns since the epoch) of the first and the last tick.
    clock: Option<(i64, i64)>,
    consolidate_every_ns: i64,
    next_plan_ns: i64,
    plan_stale: bool,
    summary: Summary,
}

impl Session {
    /// A session judging with `profile`, reading nodes with `reader`,
    /// reporting GPUs idle for `idle_window_ns` (0 or less: never).
    pub fn new(profile: Profile, reader: NodeReader, idle_window_ns: i64) -> Session {
        let summary = Summary { profile: profile.name.clone(), ..Summary::default() };
        Session {
            profile,
            reader,
            cluster: ClusterState::default(),
            gpus: BTreeMap::new(),
            idle_window_ns,
            policy: None,
            scalers: Scalers::new([]),
            util: Utilisation::default(),
            alloc: Allocation::default(),
            alloc_stale: false,
            twin_delta: BTreeMap::new(),
            clock: None,
            consolidate_every_ns: CONSOLIDATE_EVERY_NS,
            next_plan_ns: 0,
            plan_stale: true,
            summary,
        }
    }

    /// Judges each binding with Twin's placement policies too.
    pub fn with_policy(mut self, policy: PlacementPolicy) -> Session {
        self.policy = Some(policy);
        self
    }

    /// Runs Twin's autoscalers in shadow.
    pub fn with_autoscalers(mut self, scalers: Scalers) -> Session {
        let mut said: BTreeMap<String, String> = scalers.not_judged.iter().map(|(k, v)| (k.clone(), format!("not judged: {v}"))).collect();
        for s in scalers.services() {
            said.insert(s.to_string(), format!("judging Deployments labelled {}={s}, else named {s}", crate::autoscale::SERVICE_LABEL));
        }
        self.summary.autoscalers = said;
        self.scalers = scalers;
        self
    }

    /// Makes the consolidation plan again every `every_ns` of the session's
    /// clock (when the cluster changed); 0 or less: never.
    pub fn consolidate_every(mut self, every_ns: i64) -> Session {
        self.consolidate_every_ns = every_ns;
        self
    }

    /// The cluster as the watch has reported it.
    pub fn cluster(&self) -> &ClusterState {
        &self.cluster
    }

    /// Each source's last health, by source name.
    pub fn health(&self) -> &BTreeMap<String, String> {
        &self.summary.health
    }

    fn count(&mut self, d: &Divergence) {
        *self.summary.divergences.entry(d.kind().to_string()).or_default() += 1;
        if let Divergence::Placement(p) = d {
            self.summary.counterfactual_saving_per_hour += p.saving_per_hour().unwrap_or(0.0);
        }
    }

    /// Takes one telemetry event; returns the idle GPUs it revealed, in
    /// (host, GPU) order.
    pub fn on_telemetry(&mut self, event: &Event) -> Vec<Divergence> {
        let mut out = Vec::new();
        match event {
            Event::Readings { source, readings } => {
                *self.summary.samples_in.entry(source.clone()).or_default() += readings.len() as u64;
                for r in readings {
                    let g = self.gpus.entry((r.host.clone(), r.sample.gpu)).or_default();
                    if r.uuid.is_some() {
                        g.uuid.clone_from(&r.uuid);
                    }
                    g.last_ns = g.last_ns.max(r.sample.time_ns);
                    let util = r.sample.get(Field::UtilGpu);
                    g.util = util.or(g.util);
                    if let Some(u) = util {
                        self.util.note(&r.host, r.sample.gpu, r.pod.as_deref(), u);
                    }
                    if let Some(w) = r.sample.get(Field::Power) {
                        let t = r.sample.time_ns;
                        if let Some((t0, w0)) = g.power
                            && t > t0
                            && t - t0 <= ENERGY_SPAN_NS
                        {
                            self.summary.energy_kwh += (w0 + w) / 2.0 * (t - t0) as f64 / 1e9 / 3.6e6;
                        }
                        g.power = Some((t, w));
                    }
                    if let Some(m) = r.sample.get(Field::MemUsed) {
                        g.memory_mib = Some(m);
                    }
                    match util {
                        Some(u) if u <= 0.0 => {
                            let since = *g.idle_since.get_or_insert(r.sample.time_ns);
                            if self.idle_window_ns > 0 && !g.reported && r.sample.time_ns - since >= self.idle_window_ns {
                                g.reported = true;
                                out.push(Divergence::Idle {
                                    host: r.host.clone(),
                                    gpu: r.sample.gpu,
                                    uuid: g.uuid.clone(),
                                    since_ns: since,
                                    at_ns: r.sample.time_ns,
                                });
                            }
                        }
                        Some(_) => {
                            g.idle_since = None;
                            g.reported = false;
                        }
                        None => {}
                    }
                }
                self.summary.gpus = self.gpus.len();
                self.summary.memory_used_mib = self.gpus.values().filter_map(|g| g.memory_mib).fold(0.0, |a, b| a + b);
            }
            Event::Gap { source, .. } => {
                *self.summary.gaps.entry(source.clone()).or_default() += 1;
                // A gap breaks every spell the source was measuring: idle is
                // what was seen, never what is assumed through a gap.
                for g in self.gpus.values_mut() {
                    g.idle_since = None;
                    g.reported = false;
                    g.power = None;
                }
            }
            Event::Health { source, health } => {
                self.summary.health.insert(source.clone(), health_words(health));
            }
        }
        out.sort_by(|a, b| match (a, b) {
            (Divergence::Idle { host: h1, gpu: g1, .. }, Divergence::Idle { host: h2, gpu: g2, .. }) => (h1, g1).cmp(&(h2, g2)),
            _ => std::cmp::Ordering::Equal,
        });
        for d in &out {
            self.count(d);
        }
        out
    }

    /// Takes one cluster event; on a binding made while watching, judges it
    /// and returns the divergence, if Twin would have done otherwise.
    pub fn on_cluster(&mut self, event: &WatchEvent) -> Vec<Divergence> {
        let change = self.cluster.apply(event);
        if matches!(event.object, Object::Pod(_) | Object::Node(_)) {
            self.alloc_stale = true;
            self.plan_stale = true;
        }
        self.summary.nodes = self.cluster.nodes.len();
        self.summary.pods = self.cluster.pods.len();
        let (pod_key, node) = match change {
            Change::PodBound { pod_key, node } => (pod_key, node),
            Change::PodGone { pod_key, .. } => {
                self.twin_delta.remove(&pod_key);
                self.util.forget_pod(&pod_key);
                return Vec::new();
            }
            _ => return Vec::new(),
        };
        let Some(pod) = self.cluster.pods.get(&pod_key) else { return Vec::new() };
        let mut out = match divergence::judge(&mut self.profile, &self.reader, &self.cluster, pod, &node) {
            Ok(Verdict::Diverges(d)) => {
                if let Some(delta) = d.cost_per_hour_difference {
                    self.twin_delta.insert(pod_key.clone(), delta);
                }
                vec![Divergence::Placement(d)]
            }
            Ok(Verdict::TwinCouldNotPlace { reason }) => vec![Divergence::Unplaceable { pod: pod_key.clone(), node: node.clone(), reason }],
            Ok(Verdict::Agrees { .. }) => {
                self.summary.agreed += 1;
                Vec::new()
            }
            Ok(Verdict::NotJudged { .. }) => {
                self.summary.not_judged += 1;
                Vec::new()
            }
            Err(_) => {
                self.summary.errors += 1;
                Vec::new()
            }
        };
        out.extend(self.judge_policy(&pod_key, &node));
        for d in &out {
            self.count(d);
        }
        out
    }

    /// Twin's placement policies on the pod's real node.
    fn judge_policy(&mut self, pod_key: &str, node: &str) -> Vec<Divergence> {
        let Some(policy) = self.policy.as_mut() else { return Vec::new() };
        let (Some(pod), Some(n)) = (self.cluster.pods.get(pod_key), self.cluster.nodes.get(node)) else { return Vec::new() };
        let (Ok(Some(request)), Ok(record)) = (twin_extender::pod::read(pod, &[]), self.reader.read(n)) else { return Vec::new() };
        let input = PlacementInput { workload: placement::workload(pod, &request), pool: placement::pool(&record, request.resource) };
        match policy.judge(&input) {
            Ok(violations) => violations
                .into_iter()
                .map(|v| Divergence::Policy { pod: pod_key.to_string(), node: node.to_string(), policy: v.rule, message: v.message })
                .collect(),
            Err(_) => {
                self.summary.errors += 1;
                Vec::new()
            }
        }
    }

    /// Moves the session's clock to `now_ns` (wall clock, ns since the
    /// epoch; a time before the last tick is taken as the last tick):
    /// accrues the cost ledger over the span at the cluster's rates, runs
    /// Twin's autoscalers whose interval has come, and makes the
    /// consolidation plan again when it is due and the cluster changed.
    /// Returns the divergences found, autoscalers' first.
    pub fn tick(&mut self, now_ns: i64) -> Vec<Divergence> {
        let (start, last) = *self.clock.get_or_insert((now_ns, now_ns));
        let now_ns = now_ns.max(last);
        if self.alloc_stale {
            self.alloc = Allocation::read(&self.cluster, &self.reader);
            self.alloc_stale = false;
        }
        let allocated = self.alloc.allocated_per_hour();
        let twin =
            allocated + self.twin_delta.iter().filter(|(k, _)| self.alloc.held.contains_key(*k)).map(|(_, d)| d).fold(0.0, |a, b| a + b);
        self.summary.cost.accrue(now_ns - last, Rates { nodes: self.alloc.nodes_per_hour(), allocated, twin });
        self.clock = Some((start, now_ns));
        let clock = now_ns - start;
        self.summary.clock_s = clock as f64 / 1e9;

        let mut out: Vec<Divergence> =
            self.scalers.look(clock, &self.cluster, &self.util).into_iter().map(|r| Divergence::Replicas(Box::new(r))).collect();
        if self.consolidate_every_ns > 0 && self.plan_stale && clock >= self.next_plan_ns && !self.alloc.nodes.is_empty() {
            self.plan_stale = false;
            self.next_plan_ns = clock.saturating_add(self.consolidate_every_ns);
            let plan = consolidation::plan(&self.alloc);
            if plan.nodes_freed != self.summary.consolidation.nodes_freed && !plan.nodes_freed.is_empty() {
                out.push(Divergence::Consolidation(Box::new(plan.clone())));
            }
            self.summary.consolidation = plan;
        }
        self.summary.idle_gpus = self
            .gpus
            .values()
            .filter(|g| self.idle_window_ns > 0 && g.idle_since.is_some_and(|s| g.last_ns - s >= self.idle_window_ns))
            .count();
        for d in &out {
            self.count(d);
        }
        out
    }

    /// The last tick, at the end of the session: as [`Session::tick`], and
    /// the consolidation plan is made again if the cluster changed since
    /// the last one, due or not, so that the summary holds the plan for
    /// the cluster as it ends.
    pub fn finish(&mut self, now_ns: i64) -> Vec<Divergence> {
        self.next_plan_ns = i64::MIN;
        self.tick(now_ns)
    }

    /// What the session saw so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::Reading;
    use crate::kubectl::WatchReader;
    use twin_replay::Sample;

    fn reader() -> NodeReader {
        NodeReader::new(BTreeMap::from([("p5.48xlarge".to_string(), 98.32), ("p4d.24xlarge".to_string(), 32.77)])).unwrap()
    }

    fn session() -> Session {
        Session::new(Profile::builtin("cost-aware").unwrap(), reader(), 60_000_000_000)
    }

    fn events(text: &str) -> Vec<WatchEvent> {
        let mut r = WatchReader::new();
        let mut out: Vec<_> = r.feed(text.as_bytes()).into_iter().map(|e| e.unwrap()).collect();
        out.extend(r.finish().into_iter().map(|e| e.unwrap()));
        out
    }

    fn node(name: &str, t: &str) -> String {
        format!(
            r#"{{"type":"ADDED","object":{{"kind":"Node","apiVersion":"v1","metadata":{{"name":"{name}","labels":{{"node.kubernetes.io/instance-type":"{t}"}}}},"status":{{"allocatable":{{"nvidia.com/gpu":"8","cpu":"96","memory":"1000Gi"}}}}}}}}"#
        )
    }

    fn pod(kind: &str, on: Option<&str>) -> String {
        let node = on.map_or(String::new(), |n| format!(r#""nodeName":"{n}","#));
        format!(
            r#"{{"type":"{kind}","object":{{"kind":"Pod","apiVersion":"v1","metadata":{{"name":"train","namespace":"ml"}},"spec":{{{node}"containers":[{{"name":"c","resources":{{"limits":{{"nvidia.com/gpu":"2"}}}}}}]}},"status":{{"phase":"Pending"}}}}}}"#
        )
    }

    #[test]
    fn a_binding_to_the_dear_node_is_a_placement_divergence_with_a_saving() {
        let mut s = session();
        let text =
            [node("cheap", "p4d.24xlarge"), node("dear", "p5.48xlarge"), pod("ADDED", None), pod("MODIFIED", Some("dear"))].join("\n");
        let found: Vec<Divergence> = events(&text).iter().flat_map(|e| s.on_cluster(e)).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        let Divergence::Placement(d) = &found[0] else { panic!("{found:?}") };
        assert_eq!((d.actual.name.as_str(), d.twin.name.as_str()), ("dear", "cheap"));
        let json = serde_json::to_value(&found[0]).unwrap();
        assert_eq!(json["kind"], "placement");
        assert_eq!(json["twin"]["name"], "cheap");
        let sum = s.summary();
        assert_eq!(sum.divergences.get("placement"), Some(&1));
        assert!((sum.counterfactual_saving_per_hour - (98.32 - 32.77) * 2.0 / 8.0).abs() < 1e-9);
        assert_eq!((sum.nodes, sum.pods), (2, 1));
    }

    #[test]
    fn a_binding_to_the_cheap_node_agrees_and_a_pod_first_seen_bound_is_not_judged() {
        let mut s = session();
        let text =
            [node("cheap", "p4d.24xlarge"), node("dear", "p5.48xlarge"), pod("ADDED", None), pod("MODIFIED", Some("cheap"))].join("\n");
        assert!(events(&text).iter().all(|e| s.on_cluster(e).is_empty()));
        assert_eq!(s.summary().agreed, 1);
        let mut s = session();
        let text = [node("dear", "p5.48xlarge"), pod("ADDED", Some("dear"))].join("\n");
        assert!(events(&text).iter().all(|e| s.on_cluster(e).is_empty()));
        assert_eq!((s.summary().agreed, s.summary().divergences.len()), (0, 0));
    }

    fn readings(t_s: i64, utils: &[f64]) -> Event {
        let readings = utils
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let mut sample = Sample::new(t_s * 1_000_000_000, i as u32);
                sample.set(Field::UtilGpu, *u);
                sample.set(Field::Power, 100.0 + *u * 4.0);
                sample.set(Field::MemUsed, 1024.0);
                Reading { host: "h".into(), uuid: Some(format!("GPU-{i}")), pod: None, sample }
            })
            .collect();
        Event::Readings { source: "s".into(), readings }
    }

    #[test]
    fn a_gpu_idle_for_the_window_is_reported_once_per_spell_and_a_gap_resets_it() {
        let mut s = session();
        assert!(s.on_telemetry(&readings(0, &[0.0, 50.0])).is_empty());
        assert!(s.on_telemetry(&readings(30, &[0.0, 0.0])).is_empty());
        // GPU 0 at 100 W for 30 s, GPU 1 from 300 W to 100 W: (3000 + 6000) J.
        assert!((s.summary().energy_kwh - 9_000.0 / 3.6e6).abs() < 1e-12, "{}", s.summary().energy_kwh);
        assert_eq!(s.summary().memory_used_mib, 2048.0);
        let idle = s.on_telemetry(&readings(60, &[0.0, 0.0]));
        assert_eq!(idle.len(), 1);
        assert!(matches!(&idle[0], Divergence::Idle { gpu: 0, since_ns: 0, .. }));
        assert!(s.on_telemetry(&readings(70, &[0.0, 0.0])).is_empty(), "once per spell");
        s.on_telemetry(&Event::Gap { source: "s".into(), from_ns: 0, to_ns: 1, why: "test".into() });
        assert!(s.on_telemetry(&readings(100, &[0.0, 0.0])).is_empty(), "the gap broke both spells");
        s.on_telemetry(&Event::Health { source: "s".into(), health: Health::Up });
        let sum = s.summary();
        assert_eq!((sum.samples_in["s"], sum.gaps["s"], sum.gpus), (10, 1, 2));
        assert_eq!((sum.divergences["idle"], sum.health["s"].as_str()), (1, "up"));
    }

    fn deployment(replicas: u32) -> String {
        format!(
            r#"{{"type":"MODIFIED","object":{{"kind":"Deployment","apiVersion":"apps/v1","metadata":{{"name":"llm","namespace":"ml","labels":{{"twin.dev/service":"chat"}}}},"spec":{{"replicas":{replicas},"selector":{{"matchLabels":{{"app":"llm"}}}},"template":{{}}}}}}}}"#
        )
    }

    fn replica(i: u32) -> String {
        format!(
            r#"{{"type":"ADDED","object":{{"kind":"Pod","apiVersion":"v1","metadata":{{"name":"llm-{i}","namespace":"ml","labels":{{"app":"llm"}}}},"spec":{{"nodeName":"cheap","containers":[{{"name":"c","resources":{{"limits":{{"nvidia.com/gpu":"1"}}}}}}]}},"status":{{"phase":"Running"}}}}}}"#
        )
    }

    fn pod_readings(t_s: i64, util: f64) -> Event {
        let readings = (0..4)
            .map(|i| {
                let mut sample = Sample::new(t_s * 1_000_000_000, i);
                sample.set(Field::UtilGpu, util);
                Reading { host: "cheap".into(), uuid: None, pod: Some(format!("ml/llm-{i}")), sample }
            })
            .collect();
        Event::Readings { source: "dcgm".into(), readings }
    }

    fn scalers() -> Scalers {
        let spec: twin_sim::scenario::spec::AutoscalerSpec =
            serde_json::from_str(r#"{"metric":"utilisation","target":0.6,"min":1,"max":8,"scale_down_window":"0s"}"#).unwrap();
        let ttft: twin_sim::scenario::spec::AutoscalerSpec =
            serde_json::from_str(r#"{"metric":"ttft","target":0.5,"min":1,"max":8}"#).unwrap();
        Scalers::new([("chat".to_string(), spec), ("search".to_string(), ttft)])
    }

    #[test]
    fn twins_autoscaler_judges_the_deployment_by_its_pods_gpu_utilisation_once_per_pair() {
        let mut s = session().with_autoscalers(scalers()).consolidate_every(0);
        let mut text = vec![node("cheap", "p4d.24xlarge"), deployment(4)];
        text.extend((0..4).map(replica));
        for e in events(&text.join("\n")) {
            s.on_cluster(&e);
        }
        assert!(s.tick(0).is_empty(), "no utilisation read yet: nothing judged, nothing assumed");
        s.on_telemetry(&pod_readings(1, 10.0));
        let found = s.tick(15_000_000_000);
        assert_eq!(found.len(), 1, "{found:?}");
        let Divergence::Replicas(r) = &found[0] else { panic!("{found:?}") };
        // 4 replicas at 10 %: ceil(0.4 / 0.6) = 1.
        assert_eq!((r.workload.as_str(), r.service.as_str(), r.actual, r.twin, r.ready), ("ml/llm", "chat", 4, 1, 4));
        assert!((r.value - 0.1).abs() < 1e-9, "{r:?}");
        assert_eq!(serde_json::to_value(&found[0]).unwrap()["kind"], "replicas");
        assert!(s.tick(30_000_000_000).is_empty(), "the same pair is not reported again");
        // The real cluster scales to 1: Twin agrees; back at 4 under 90 % load, Twin wants 6.
        for e in events(&deployment(1)) {
            s.on_cluster(&e);
        }
        assert!(s.tick(45_000_000_000).is_empty());
        for e in events(&deployment(4)) {
            s.on_cluster(&e);
        }
        s.on_telemetry(&pod_readings(50, 90.0));
        let found = s.tick(60_000_000_000);
        let Divergence::Replicas(r) = &found[0] else { panic!("{found:?}") };
        assert_eq!((r.actual, r.twin), (4, 6));
        let sum = s.summary();
        assert_eq!(sum.divergences["replicas"], 2);
        assert!(sum.autoscalers["search"].starts_with("not judged"), "{:?}", sum.autoscalers);
        assert!(sum.autoscalers["chat"].starts_with("judging"), "{:?}", sum.autoscalers);
    }

    #[test]
    fn the_ledger_accrues_nodes_allocations_and_idle_and_the_plan_frees_the_empty_node() {
        let mut s = session();
        let mut text = vec![node("cheap", "p4d.24xlarge"), node("dear", "p5.48xlarge")];
        text.extend((0..4).map(replica));
        for e in events(&text.join("\n")) {
            s.on_cluster(&e);
        }
        let found = s.tick(1_000);
        let [Divergence::Consolidation(plan)] = found.as_slice() else { panic!("{found:?}") };
        assert_eq!(plan.nodes_freed, vec!["dear".to_string()]);
        assert!((plan.saving_per_hour - 98.32).abs() < 1e-9);
        s.tick(1_000 + 3_600_000_000_000);
        let c = &s.summary().cost;
        assert!((c.hours - 1.0).abs() < 1e-9, "{c:?}");
        assert!((c.nodes_dollars - (98.32 + 32.77)).abs() < 1e-6, "{c:?}");
        assert!((c.allocated_dollars - 4.0 * 32.77 / 8.0).abs() < 1e-6, "{c:?}");
        assert!((c.idle_dollars - (98.32 + 32.77 - 4.0 * 32.77 / 8.0)).abs() < 1e-6, "{c:?}");
        assert!((c.twin_dollars - c.allocated_dollars).abs() < 1e-9, "no divergence: Twin allocates the same");
        assert!(s.tick(3 * 3_600_000_000_000).is_empty(), "the same plan is not reported again");
    }

    #[test]
    fn a_binding_a_placement_policy_denies_is_a_policy_divergence_and_twins_node_costs_less_over_time() {
        let rego = "package twin.placement\n\nviolation contains {\"msg\": sprintf(\"%v is over 10 $/GPU-h\", [input.pool.name]), \"details\": {\"rule\": \"gpu-price-cap\"}} if { input.pool.price_per_gpu_hour > 10 }\n";
        let policy = PlacementPolicy::compile(&[("cap.rego".into(), rego.into())], None).unwrap();
        let mut s = session().with_policy(policy).consolidate_every(0);
        s.tick(0);
        let text =
            [node("cheap", "p4d.24xlarge"), node("dear", "p5.48xlarge"), pod("ADDED", None), pod("MODIFIED", Some("dear"))].join("\n");
        let found: Vec<Divergence> = events(&text).iter().flat_map(|e| s.on_cluster(e)).collect();
        let kinds: Vec<&str> = found.iter().map(Divergence::kind).collect();
        assert_eq!(kinds, ["placement", "policy"]);
        let Divergence::Policy { pod: who, node, policy, message } = &found[1] else { panic!() };
        assert_eq!((who.as_str(), node.as_str(), policy.as_str()), ("ml/train", "dear", "gpu-price-cap"));
        assert!(message.contains("over 10"), "{message}");
        s.tick(7_200_000_000_000);
        let c = &s.summary().cost;
        let (dear, cheap) = (98.32 * 2.0 / 8.0, 32.77 * 2.0 / 8.0);
        assert!((c.allocated_dollars - 2.0 * dear).abs() < 1e-6 && (c.twin_dollars - 2.0 * cheap).abs() < 1e-6, "{c:?}");
        assert!((c.saving_dollars - 2.0 * (dear - cheap)).abs() < 1e-6, "{c:?}");
        // The pod gone: Twin's counterfactual ends with it.
        let gone = pod("DELETED", Some("dear"));
        for e in events(&gone) {
            s.on_cluster(&e);
        }
        s.tick(10_800_000_000_000);
        assert!((s.summary().cost.saving_dollars - 2.0 * (dear - cheap)).abs() < 1e-6);
    }
}
