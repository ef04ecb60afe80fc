//! One shadow session: what the live sources said, folded into what Twin
//! would have done differently.
//!
//! A [`Session`] is tokio-free: the binary's driver hands it each
//! telemetry [`Event`] ([`Session::on_telemetry`]) and each cluster
//! [`WatchEvent`] ([`Session::on_cluster`]) in the order they arrive, and
//! gets back the [`Divergence`]s they revealed, to log as they happen.
//! [`Session::summary`] says what the session saw so far.
//!
//! Two kinds of divergence are found now:
//!
//! - `placement`: the real scheduler bound a pod to a node Twin's profile
//!   would not have chosen ([`crate::divergence::judge`]), and
//!   `unplaceable`, where Twin's profile would not have placed it at all;
//! - `idle`: a GPU whose utilisation has read 0 for the whole of the idle
//!   window (one record per idle spell).

use crate::cluster::{Change, ClusterState};
use crate::divergence::{self, PlacementDivergence, Verdict};
use crate::feed::{Event, Health};
use crate::kubectl::WatchEvent;
use serde::Serialize;
use std::collections::BTreeMap;
use twin_extender::nodes::NodeReader;
use twin_replay::Field;
use twin_scheduler::Profile;

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
}

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

/// The shadow session's state (see the [module](self) docs).
pub struct Session {
    profile: Profile,
    reader: NodeReader,
    cluster: ClusterState,
    gpus: BTreeMap<(String, u32), Gpu>,
    idle_window_ns: i64,
    summary: Summary,
}

impl Session {
    /// A session judging with `profile`, reading nodes with `reader`,
    /// reporting GPUs idle for `idle_window_ns` (0 or less: never).
    pub fn new(profile: Profile, reader: NodeReader, idle_window_ns: i64) -> Session {
        let summary = Summary { profile: profile.name.clone(), ..Summary::default() };
        Session { profile, reader, cluster: ClusterState::default(), gpus: BTreeMap::new(), idle_window_ns, summary }
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
            }
            Event::Gap { source, .. } => {
                *self.summary.gaps.entry(source.clone()).or_default() += 1;
                // A gap breaks every spell the source was measuring: idle is
                // what was seen, never what is assumed through a gap.
                for g in self.gpus.values_mut() {
                    g.idle_since = None;
                    g.reported = false;
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
        let Change::PodBound { pod_key, node } = self.cluster.apply(event) else {
            self.summary.nodes = self.cluster.nodes.len();
            self.summary.pods = self.cluster.pods.len();
            return Vec::new();
        };
        self.summary.nodes = self.cluster.nodes.len();
        self.summary.pods = self.cluster.pods.len();
        let Some(pod) = self.cluster.pods.get(&pod_key) else { return Vec::new() };
        let out = match divergence::judge(&mut self.profile, &self.reader, &self.cluster, pod, &node) {
            Ok(Verdict::Diverges(d)) => vec![Divergence::Placement(d)],
            Ok(Verdict::TwinCouldNotPlace { reason }) => vec![Divergence::Unplaceable { pod: pod_key, node, reason }],
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
        for d in &out {
            self.count(d);
        }
        out
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
}
