//! Twin's autoscalers in shadow: for each real Deployment that serves one
//! of the scenario's services, the replica count Twin's autoscaler would
//! set from the utilisation the telemetry reads, against the count the
//! cluster really asks for.
//!
//! A Deployment serves service `S` when it carries the label
//! `twin.dev/service: S`, or else when it is named `S`. Its pods are those
//! its `spec.selector` matches in its namespace; the ready ones (`Running`,
//! bound, not being deleted) are its replicas. Each looks at the
//! autoscaler's interval, on the session's clock:
//!
//! - the metric is `utilisation`: a replica's is the mean GPU utilisation
//!   (0 to 1) of its pod's GPUs, as DCGM's pod labels map them, or else the
//!   mean of its node's GPUs (nvidia-smi and NVML know hosts, not pods).
//!   Summed over the ready replicas, it goes to
//!   [`twin_sim::workload::Autoscaler::decide`], the simulation's own
//!   HPA-shaped autoscaler, with its windows, tolerance and steps;
//! - the real count is the Deployment's `spec.replicas` (what its HPA, or
//!   whoever, last set); a real HPA targeting it is quoted beside it.
//!
//! A divergence is reported when Twin's count differs from the real one,
//! once per distinct (real, Twin) pair: a count that stays different is
//! not reported again each look. Services whose autoscaler watches request
//! metrics (`concurrency`, `queue`, `ttft`, `e2e`) are not judged (GPU
//! telemetry does not carry them), and say so.

use crate::cluster::{ClusterState, object_key};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;
use std::collections::BTreeMap;
use twin_sim::scenario::spec::{AutoscalerSpec, ScaleMetric};
use twin_sim::time::SimTime;
use twin_sim::workload::Autoscaler;

/// The label naming the scenario service a Deployment serves.
pub const SERVICE_LABEL: &str = "twin.dev/service";

/// Twin's autoscaler would have set another replica count.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplicasDivergence {
    /// The Deployment, `namespace/name`.
    pub workload: String,
    /// The scenario service whose autoscaler judged.
    pub service: String,
    /// The replicas the cluster asks for (`spec.replicas`).
    pub actual: u32,
    /// The replicas Twin's autoscaler would set.
    pub twin: u32,
    /// Ready replicas now.
    pub ready: u32,
    /// What a real HPA targeting the Deployment wants, if one does.
    pub hpa_desired: Option<u32>,
    /// The metric, `utilisation`.
    pub metric: String,
    /// Its value per ready replica now.
    pub value: f64,
    /// Twin's target for it.
    pub target: f64,
    /// One line, in words.
    pub why: String,
}

/// One service's autoscaler, with what it last said per Deployment.
struct Scaler {
    service: String,
    spec: AutoscalerSpec,
    /// Per Deployment key: its autoscaler state and the last pair reported.
    per: BTreeMap<String, (Autoscaler, Option<(u32, u32)>)>,
    next_look_ns: i64,
}

/// Twin's autoscalers, one per scenario service that has one.
pub struct Scalers {
    scalers: Vec<Scaler>,
    /// Services not judged, and why.
    pub not_judged: BTreeMap<String, String>,
}

/// Utilisation readings the session keeps: per pod and per host, the latest
/// utilisation of each GPU (0 to 1).
#[derive(Clone, Debug, Default)]
pub struct Utilisation {
    /// By pod key, then GPU (host, index).
    pub by_pod: BTreeMap<String, BTreeMap<(String, u32), f64>>,
    /// By host, then GPU index.
    pub by_host: BTreeMap<String, BTreeMap<u32, f64>>,
}

impl Utilisation {
    /// Notes one reading (`util` in percent).
    pub fn note(&mut self, host: &str, gpu: u32, pod: Option<&str>, util: f64) {
        let u = (util / 100.0).clamp(0.0, 1.0);
        self.by_host.entry(host.to_string()).or_default().insert(gpu, u);
        if let Some(p) = pod {
            self.by_pod.entry(p.to_string()).or_default().insert((host.to_string(), gpu), u);
        }
    }

    /// Forgets a pod that is gone.
    pub fn forget_pod(&mut self, pod: &str) {
        self.by_pod.remove(pod);
    }

    /// A pod's utilisation: its GPUs' mean, else its node's GPUs' mean.
    pub fn of_pod(&self, key: &str, node: Option<&str>) -> Option<f64> {
        let mean = |v: &mut dyn Iterator<Item = f64>| {
            let (s, n) = v.fold((0.0, 0u32), |(s, n), x| (s + x, n + 1));
            (n > 0).then(|| s / f64::from(n))
        };
        if let Some(g) = self.by_pod.get(key)
            && let Some(m) = mean(&mut g.values().copied())
        {
            return Some(m);
        }
        self.by_host.get(node?).and_then(|g| mean(&mut g.values().copied()))
    }
}

/// Whether `selector` selects `labels` (matchLabels and matchExpressions;
/// an empty selector selects nothing, as for a Deployment it cannot be).
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let ml = selector.match_labels.as_ref();
    let me = selector.match_expressions.as_deref().unwrap_or(&[]);
    if ml.is_none_or(BTreeMap::is_empty) && me.is_empty() {
        return false;
    }
    ml.is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)))
        && me.iter().all(|r| {
            let values = r.values.as_deref().unwrap_or(&[]);
            let value = labels.get(&r.key);
            match r.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

fn ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty())
        && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

/// The scenario service a Deployment serves, among `services`.
fn service_of<'a>(d: &Deployment, services: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let label = d.metadata.labels.as_ref().and_then(|l| l.get(SERVICE_LABEL));
    let name = d.metadata.name.as_deref();
    let mut by_name = None;
    for s in services {
        if label.map(String::as_str) == Some(s) {
            return Some(s);
        }
        if label.is_none() && name == Some(s) {
            by_name = Some(s);
        }
    }
    by_name
}

impl Scalers {
    /// Twin's autoscalers for `services`: (service name, its autoscaler).
    pub fn new(services: impl IntoIterator<Item = (String, AutoscalerSpec)>) -> Scalers {
        let mut scalers = Vec::new();
        let mut not_judged = BTreeMap::new();
        for (service, spec) in services {
            if spec.metric == ScaleMetric::Utilisation {
                scalers.push(Scaler { service, spec, per: BTreeMap::new(), next_look_ns: i64::MIN });
            } else {
                let why = format!(
                    "its autoscaler watches `{}`, a request metric GPU telemetry does not carry; only `utilisation` is judged in shadow",
                    spec.metric.as_str()
                );
                not_judged.insert(service, why);
            }
        }
        Scalers { scalers, not_judged }
    }

    /// Whether any autoscaler judges.
    pub fn is_empty(&self) -> bool {
        self.scalers.is_empty()
    }

    /// The services judged, by name.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.scalers.iter().map(|s| s.service.as_str())
    }

    /// Looks, for each autoscaler whose interval has come at `now_ns` (the
    /// session's clock, ns since it started), at each Deployment serving
    /// its service; returns the divergences found, by service then
    /// Deployment.
    pub fn look(&mut self, now_ns: i64, cluster: &ClusterState, util: &Utilisation) -> Vec<ReplicasDivergence> {
        let mut out = Vec::new();
        let names: Vec<String> = self.scalers.iter().map(|s| s.service.clone()).collect();
        for s in &mut self.scalers {
            if now_ns < s.next_look_ns {
                continue;
            }
            let interval = i64::try_from(s.spec.interval.get().as_nanos()).unwrap_or(i64::MAX).max(1);
            s.next_look_ns = now_ns.saturating_add(interval);
            let now = SimTime(u64::try_from(now_ns).unwrap_or(0));
            for (key, d) in &cluster.deployments {
                if service_of(d, names.iter().map(String::as_str)) != Some(s.service.as_str()) {
                    continue;
                }
                let spec = &d.spec;
                let namespace = d.metadata.namespace.as_deref().unwrap_or("default");
                let pods: Vec<&Pod> = cluster
                    .pods
                    .values()
                    .filter(|p| p.metadata.namespace.as_deref().unwrap_or("default") == namespace)
                    .filter(|p| selects(&spec.selector, p.metadata.labels.as_ref().unwrap_or(&BTreeMap::new())))
                    .filter(|p| ready(p))
                    .collect();
                let utils: Vec<f64> = pods
                    .iter()
                    .filter_map(|p| util.of_pod(&crate::cluster::pod_key(p), p.spec.as_ref().and_then(|s| s.node_name.as_deref())))
                    .collect();
                if pods.is_empty() || utils.len() < pods.len() {
                    // No reading for some replica: nothing to judge by, and nothing assumed.
                    continue;
                }
                let total: f64 = utils.iter().fold(0.0, |a, b| a + b);
                let ready = u32::try_from(pods.len()).unwrap_or(u32::MAX);
                let actual = spec.replicas.map_or(1, |r| u32::try_from(r).unwrap_or(0));
                let (auto, last) = s.per.entry(key.clone()).or_insert_with(|| (Autoscaler::new(&s.spec), None));
                let twin = auto.decide(now, total, ready, actual);
                if twin == actual {
                    *last = None;
                    continue;
                }
                if *last == Some((actual, twin)) {
                    continue;
                }
                *last = Some((actual, twin));
                let hpa_desired = cluster
                    .hpas
                    .values()
                    .filter(|h| h.metadata.namespace.as_deref().unwrap_or("default") == namespace)
                    .find(|h| {
                        let t = &h.spec.scale_target_ref;
                        t.kind == "Deployment" && Some(&t.name) == d.metadata.name.as_ref()
                    })
                    .and_then(|h| h.status.as_ref())
                    .and_then(|st| u32::try_from(st.desired_replicas).ok());
                let value = total / f64::from(ready);
                let why = format!(
                    "{ready} ready replica(s) at {:.0} % GPU utilisation against Twin's target of {:.0} %: Twin's autoscaler (service {}, min {}, max {}) would run {twin}, the cluster asks for {actual}{}",
                    value * 100.0,
                    s.spec.target * 100.0,
                    s.service,
                    s.spec.min,
                    s.spec.max,
                    hpa_desired.map_or(String::new(), |h| format!(" (its HPA wants {h})"))
                );
                out.push(ReplicasDivergence {
                    workload: object_key(&d.metadata),
                    service: s.service.clone(),
                    actual,
                    twin,
                    ready,
                    hpa_desired,
                    metric: "utilisation".into(),
                    value,
                    target: s.spec.target,
                    why,
                });
            }
            // Deployments gone: forget them.
            s.per.retain(|k, _| cluster.deployments.contains_key(k));
        }
        out
    }
}
