//! `kube` / `kube:KUBECONFIG`: the real cluster's Pods, Nodes, Deployments
//! and HorizontalPodAutoscalers (`autoscaling/v2`), in all namespaces,
//! watched through the Kubernetes API itself.
//!
//! [`KubeSource`] sends the same [`WatchEvent`]s as the `kubectl` source
//! ([`crate::kubectl`]), so [`crate::cluster::ClusterState::apply`] folds
//! either. Each kind is watched by `kube`'s
//! [`watcher`](kube::runtime::watcher()): a list, then a watch from the
//! list's resourceVersion, resumed when the connection ends, listed again
//! when the watch expires (`410 Gone`), and retried after an error with
//! `kube`'s default backoff (800 ms doubling to 30 s, with jitter).
//!
//! The watcher's events become:
//!
//! - a listed object (`InitApply`) and an added or changed one (`Apply`):
//!   [`WatchKind::Modified`], an upsert. A pod that exists when the watch
//!   starts is thus first seen as it is, bound or not, which
//!   [`ClusterState::apply`](crate::cluster::ClusterState::apply) reports as
//!   no change; a list after an expiry upserts pods already known, and a
//!   pod known bound stays bound: neither reads as a new placement;
//! - a deleted object (`Delete`): [`WatchKind::Deleted`];
//! - the end of a list (`InitDone`): a [`WatchKind::Deleted`] for each
//!   object known before the list and missing from it (deleted while the
//!   watch was down). Such an event carries the object as the source keeps
//!   it: its name, namespace and uid, and a pod's `spec.nodeName`.
//!
//! Cluster events are never dropped: the channel's back-pressure slows the
//! watch instead. The source's health goes to the [`Feed`] as
//! [`Event::Health`](crate::feed::Event::Health): [`Health::Up`] while events flow,
//! [`Health::Retrying`] after a watcher error (the API server unreachable,
//! `403 Forbidden` naming the RBAC rule that is missing, a watch expired),
//! with the attempt and the error of every kind failing now, and
//! [`Health::Up`] again once each of them delivers again.
//! [`Health::Down`] only when the configuration cannot be loaded at all.
//!
//! Costs and limits: one list and one long-lived watch connection per kind
//! (four), HTTP/1.1, TLS by rustls on ring; a re-list reads every object
//! of the kind again (the watcher pages lists by 500). The source keeps the
//! name, namespace and uid of every object it has seen, to notice deletions
//! missed while the watch was down. HPAs are read as `autoscaling/v2` only
//! (Kubernetes 1.23 or later).

use crate::feed::{Feed, Health};
use crate::kubectl::{Object, WatchEvent, WatchKind};
use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Config};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, watch};

/// Why [`KubeSource::connect`] could not make a client.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The kubeconfig named by `kube:PATH` cannot be read or is not a kubeconfig.
    #[error(
        "cannot read the kubeconfig {}: {reason}; `kube:PATH` names a kubeconfig file (as `kubectl --kubeconfig PATH` takes); check the path, or write `kube` alone to use KUBECONFIG or ~/.kube/config",
        path.display()
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The kubeconfig reads, but gives no usable cluster (no current
    /// context, a context naming a cluster it lacks, a certificate file missing).
    #[error(
        "the kubeconfig {} gives no usable cluster: {reason}; check it with `kubectl --kubeconfig {} config view --minify`",
        path.display(),
        path.display()
    )]
    Config {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// No configuration found where `kube` alone looks: KUBECONFIG,
    /// ~/.kube/config, then the pod's service account.
    #[error(
        "no Kubernetes configuration found: {reason}; set KUBECONFIG or write ~/.kube/config (what `kubectl` uses), run Twin in a pod with a service account, or name a kubeconfig with `kube:PATH`"
    )]
    Infer {
        /// What each place said.
        reason: String,
    },
    /// The configuration reads, but no client can be made from it (its
    /// client certificate or key does not read, say).
    #[error("cannot make a Kubernetes client for {server}: {reason}; check the kubeconfig's certificates and keys")]
    Client {
        /// The API server's URL.
        server: String,
        /// What went wrong.
        reason: String,
    },
}

/// What a run of [`KubeSource::run`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubeStats {
    /// Events sent.
    pub events: u64,
    /// Watcher errors met (each retried).
    pub errors: u64,
    /// The last error, with the source's name.
    pub last_error: Option<String>,
    /// Lists completed after the first of each kind (a watch expired).
    pub relists: u64,
}

/// The real cluster through the Kubernetes API (see the [module](self) docs).
#[derive(Clone)]
pub struct KubeSource {
    /// The kubeconfig; `None`: kube's inference (KUBECONFIG, ~/.kube/config, in-cluster).
    kubeconfig: Option<PathBuf>,
    /// A client made already ([`KubeSource::with_client`]).
    client: Option<Client>,
    /// The API server's URL, once [`KubeSource::connect`] has read it (for errors).
    server: Arc<OnceLock<String>>,
}

impl Debug for KubeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeSource")
            .field("kubeconfig", &self.kubeconfig)
            .field("client", &self.client.as_ref().map(|_| "connected"))
            .field("server", &self.server.get())
            .finish()
    }
}

impl KubeSource {
    /// The source for `kube:PATH` (`Some(PATH)`: that kubeconfig, its
    /// current context) or `kube` (`None`: KUBECONFIG, else ~/.kube/config,
    /// else the service account of the pod Twin runs in).
    pub fn new(kubeconfig: Option<PathBuf>) -> KubeSource {
        KubeSource { kubeconfig, client: None, server: Arc::default() }
    }

    /// The source's name in health events and errors: `kube` or `kube:PATH`.
    pub fn name(&self) -> String {
        match &self.kubeconfig {
            Some(p) => format!("kube:{}", p.display()),
            None => "kube".into(),
        }
    }

    /// Loads the configuration and makes a client, without a request to
    /// the API server (an unreachable server is the run's to retry): the
    /// check a command makes before it starts. Installs ring as rustls's
    /// process-wide crypto provider unless one is installed already.
    pub async fn connect(&self) -> Result<Client, KubeError> {
        let config = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
                    let reason = match &e {
                        kube::config::KubeconfigError::ReadConfig(io, _) => io.to_string(), // kube's own text repeats the path
                        // The YAML parser's first line says where; the rest quotes the file.
                        other => chain(other).lines().next().unwrap_or_default().to_string(),
                    };
                    KubeError::Read { path: path.clone(), reason }
                })?;
                Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| KubeError::Config { path: path.clone(), reason: chain(&e) })?
            }
            None => Config::infer().await.map_err(|e| KubeError::Infer { reason: chain(&e) })?,
        };
        let server = config.cluster_url.to_string();
        // kube's rustls needs a provider; only ring is built, and naming it
        // keeps a second one in the build (aws-lc-rs) from making rustls panic.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::try_from(config).map_err(|e| KubeError::Client { server: server.clone(), reason: chain(&e) })?;
        let _ = self.server.set(server);
        Ok(client)
    }

    /// The source with a client made already (by [`KubeSource::connect`]),
    /// which [`KubeSource::run`] then uses instead of connecting again.
    pub fn with_client(mut self, client: Client) -> KubeSource {
        self.client = Some(client);
        self
    }

    /// Watches until `stop` turns true or its sender is dropped, or the
    /// receiver of `events` is dropped; sends each event to `events`
    /// (waiting when it is full: cluster events are never dropped) and the
    /// source's health to `feed`. Connects first unless
    /// [`KubeSource::with_client`] gave a client; a configuration that
    /// cannot be loaded is [`Health::Down`] and ends the run. Never fails
    /// otherwise: errors are retried. Returns the counts.
    pub async fn run(self, events: mpsc::Sender<WatchEvent>, feed: Feed, mut stop: watch::Receiver<bool>) -> KubeStats {
        let mut state = State::new(self.name());
        let client = match &self.client {
            Some(client) => client.clone(),
            None => {
                let connected = tokio::select! {
                    biased;
                    () = stopped(&mut stop) => return state.stats,
                    connected = self.connect() => connected,
                };
                match connected {
                    Ok(client) => client,
                    Err(e) => {
                        let message = e.to_string();
                        state.stats.last_error = Some(format!("{}: {message}", state.source));
                        state.set_health(Health::Down(message), &feed);
                        return state.stats;
                    }
                }
            }
        };
        state.server = self.server.get().cloned();
        let mut streams = futures::stream::select_all([
            watch_all(&client, Watched::Pods, |p: Pod| Object::Pod(Box::new(p))),
            watch_all(&client, Watched::Nodes, |n: Node| Object::Node(Box::new(n))),
            watch_all(&client, Watched::Deployments, |d: Deployment| Object::Deployment(Box::new(d))),
            watch_all(&client, Watched::Hpas, |h: HorizontalPodAutoscaler| Object::Hpa(Box::new(h))),
        ]);
        loop {
            let next = tokio::select! {
                biased;
                () = stopped(&mut stop) => break,
                () = events.closed() => break,
                next = streams.next() => next,
            };
            // The watchers never end; all four ending would be the end too.
            let Some((watched, result)) = next else { break };
            match result {
                Ok(event) => {
                    if !state.on_event(watched, event, &events, &feed, &mut stop).await {
                        break;
                    }
                }
                Err(error) => state.on_error(watched, &error, &feed),
            }
        }
        state.stats
    }
}

/// Resolves once `stop` is true or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The kinds watched, in the order health messages name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Watched {
    Pods,
    Nodes,
    Deployments,
    Hpas,
}

impl Watched {
    /// The resource as RBAC rules and `kubectl auth can-i` name it.
    fn resource(self) -> &'static str {
        match self {
            Watched::Pods => "pods",
            Watched::Nodes => "nodes",
            Watched::Deployments => "deployments.apps",
            Watched::Hpas => "horizontalpodautoscalers.autoscaling",
        }
    }

    /// Where the API server serves it.
    fn path(self) -> &'static str {
        match self {
            Watched::Pods => "/api/v1/pods",
            Watched::Nodes => "/api/v1/nodes",
            Watched::Deployments => "/apis/apps/v1/deployments",
            Watched::Hpas => "/apis/autoscaling/v2/horizontalpodautoscalers",
        }
    }

    fn namespaced(self) -> bool {
        self != Watched::Nodes
    }
}

/// One watcher's item, its objects made [`Object`]s.
type Item = (Watched, Result<watcher::Event<Object>, watcher::Error>);

/// Every object of kind `K` (all namespaces), watched with kube's default backoff.
fn watch_all<K>(client: &Client, watched: Watched, wrap: fn(K) -> Object) -> BoxStream<'static, Item>
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watcher(Api::<K>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .map(move |result| {
            let event = result.map(|event| match event {
                watcher::Event::Apply(k) => watcher::Event::Apply(wrap(k)),
                watcher::Event::Delete(k) => watcher::Event::Delete(wrap(k)),
                watcher::Event::Init => watcher::Event::Init,
                watcher::Event::InitApply(k) => watcher::Event::InitApply(wrap(k)),
                watcher::Event::InitDone => watcher::Event::InitDone,
            });
            (watched, event)
        })
        .boxed()
}

/// A run in progress: the counts, the health said last, what each kind
/// is failing with, and the objects known.
struct State {
    source: String,
    /// The API server's URL, when known.
    server: Option<String>,
    stats: KubeStats,
    health: Option<Health>,
    /// Kinds whose last item was an error: failures in a row, the last error.
    failing: BTreeMap<Watched, (u32, String)>,
    /// Every object seen and not deleted, by kind and key, as [`skeleton`] keeps it.
    known: BTreeMap<Watched, BTreeMap<String, Object>>,
    /// Keys listed so far, for each kind whose list is in progress.
    listing: BTreeMap<Watched, BTreeSet<String>>,
    /// Kinds listed to the end at least once.
    listed: BTreeSet<Watched>,
}

impl State {
    fn new(source: String) -> State {
        State {
            source,
            server: None,
            stats: KubeStats::default(),
            health: None,
            failing: BTreeMap::new(),
            known: BTreeMap::new(),
            listing: BTreeMap::new(),
            listed: BTreeSet::new(),
        }
    }

    /// Sends what `event` means; false when the run is to end.
    async fn on_event(
        &mut self,
        watched: Watched,
        event: watcher::Event<Object>,
        events: &mpsc::Sender<WatchEvent>,
        feed: &Feed,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let mut out = Vec::new();
        match event {
            // Comes before the list is even tried (after an error too): not a sign of health.
            watcher::Event::Init => {
                self.listing.insert(watched, BTreeSet::new());
                return true;
            }
            watcher::Event::InitApply(object) => {
                if let Some((key, kept)) = skeleton(&object) {
                    self.listing.entry(watched).or_default().insert(key.clone());
                    self.known.entry(watched).or_default().insert(key, kept);
                }
                out.push(WatchEvent { kind: WatchKind::Modified, object });
            }
            watcher::Event::InitDone => {
                if !self.listed.insert(watched) {
                    self.stats.relists += 1;
                }
                let listed = self.listing.remove(&watched).unwrap_or_default();
                let known = self.known.entry(watched).or_default();
                let gone: Vec<String> = known.keys().filter(|k| !listed.contains(*k)).cloned().collect();
                for key in gone {
                    if let Some(object) = known.remove(&key) {
                        out.push(WatchEvent { kind: WatchKind::Deleted, object });
                    }
                }
            }
            watcher::Event::Apply(object) => {
                if let Some((key, kept)) = skeleton(&object) {
                    self.known.entry(watched).or_default().insert(key, kept);
                }
                out.push(WatchEvent { kind: WatchKind::Modified, object });
            }
            watcher::Event::Delete(object) => {
                if let Some((key, _)) = skeleton(&object) {
                    self.known.entry(watched).or_default().remove(&key);
                }
                out.push(WatchEvent { kind: WatchKind::Deleted, object });
            }
        }
        for event in out {
            let sent = tokio::select! {
                biased;
                () = stopped(stop) => false,
                sent = events.send(event) => sent.is_ok(),
            };
            if !sent {
                return false;
            }
            self.stats.events += 1;
        }
        self.failing.remove(&watched);
        self.set_health(self.health_now(), feed);
        true
    }

    /// Counts and reports a watcher error (the watcher retries after its backoff).
    fn on_error(&mut self, watched: Watched, error: &watcher::Error, feed: &Feed) {
        let message = describe(watched, error, self.server.as_deref());
        let failing = self.failing.entry(watched).or_insert((0, String::new()));
        failing.0 += 1;
        failing.1 = message.clone();
        self.stats.errors += 1;
        self.stats.last_error = Some(format!("{}: {message}", self.source));
        self.set_health(self.health_now(), feed);
    }

    /// Up when no kind is failing; else retrying, with the most failures
    /// in a row among them and each one's last error.
    fn health_now(&self) -> Health {
        if self.failing.is_empty() {
            return Health::Up;
        }
        let attempt = self.failing.values().map(|(n, _)| *n).max().unwrap_or(1);
        let error = self.failing.values().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; ");
        Health::Retrying { attempt, error }
    }

    /// Pushes `health` when it differs from what was said last.
    fn set_health(&mut self, health: Health, feed: &Feed) {
        feed.push_health_if_new(&self.source, &mut self.health, health);
    }
}

/// An object's key (`namespace/name`; `/name` for a node) and what the
/// source keeps of it: its name, namespace and uid, and a pod's node.
fn skeleton(object: &Object) -> Option<(String, Object)> {
    fn meta(m: &ObjectMeta) -> ObjectMeta {
        ObjectMeta { name: m.name.clone(), namespace: m.namespace.clone(), uid: m.uid.clone(), ..ObjectMeta::default() }
    }
    fn key(m: &ObjectMeta) -> String {
        format!("{}/{}", m.namespace.as_deref().unwrap_or(""), m.name.as_deref().unwrap_or(""))
    }
    let kept = match object {
        Object::Pod(p) => {
            let spec = p.spec.as_ref().map(|s| PodSpec { node_name: s.node_name.clone(), ..PodSpec::default() });
            (key(&p.metadata), Object::Pod(Box::new(Pod { metadata: meta(&p.metadata), spec, ..Pod::default() })))
        }
        Object::Node(n) => (key(&n.metadata), Object::Node(Box::new(Node { metadata: meta(&n.metadata), ..Node::default() }))),
        Object::Deployment(d) => {
            (key(&d.metadata), Object::Deployment(Box::new(Deployment { metadata: meta(&d.metadata), ..Deployment::default() })))
        }
        Object::Hpa(h) => (
            key(&h.metadata),
            Object::Hpa(Box::new(HorizontalPodAutoscaler { metadata: meta(&h.metadata), ..HorizontalPodAutoscaler::default() })),
        ),
        Object::Other(_) => return None,
    };
    Some(kept)
}

/// A watcher error, for the user: what failed, why, and what to do.
fn describe(watched: Watched, error: &watcher::Error, server: Option<&str>) -> String {
    let res = watched.resource();
    match error {
        watcher::Error::InitialListFailed(e) => format!("cannot list {res}: {}", client_error(watched, "list", e, server)),
        watcher::Error::WatchStartFailed(e) => format!("cannot watch {res}: {}", client_error(watched, "watch", e, server)),
        watcher::Error::WatchFailed(e) => format!("the watch on {res} broke: {}", client_error(watched, "watch", e, server)),
        watcher::Error::WatchError(status) if status.code == 410 => {
            format!("the watch on {res} expired (410 Gone: {}); listing them again", status.message)
        }
        watcher::Error::WatchError(status) => format!("the API server ended the watch on {res}: {}", status_text(watched, "watch", status)),
        watcher::Error::NoResourceVersion => {
            format!("the API server gave {res} without a resourceVersion; listing them again (is it a Kubernetes API server?)")
        }
    }
}

/// A client error: an API status, or the server out of reach.
fn client_error(watched: Watched, verb: &str, error: &kube::Error, server: Option<&str>) -> String {
    let at = server.map(|s| format!(" at {s}")).unwrap_or_default();
    match error {
        kube::Error::Api(status) => status_text(watched, verb, status),
        kube::Error::HyperError(_) | kube::Error::Service(_) => format!("cannot reach the API server{at}: {}", chain(error)),
        kube::Error::SerdeError(_) => {
            format!("the answer from the API server{at} does not read as {}: {}", watched.resource(), chain(error))
        }
        kube::Error::Auth(_) => format!(
            "cannot authenticate to the API server{at}: {}; check the kubeconfig's user (an exec plugin such as `aws eks get-token` must be on PATH)",
            chain(error)
        ),
        _ => chain(error),
    }
}

/// An API status, with the fix for the usual ones.
fn status_text(watched: Watched, verb: &str, status: &kube::core::Status) -> String {
    let res = watched.resource();
    let what = if status.message.is_empty() { status.reason.as_str() } else { status.message.as_str() };
    let (scope, flag) = if watched.namespaced() { (" in all namespaces", " --all-namespaces") } else { (" (cluster-scoped)", "") };
    match status.code {
        401 => format!(
            "401 Unauthorized ({what}): the API server refused the kubeconfig's credentials; are they expired? (`kubectl get --raw /version` checks them)"
        ),
        403 => format!(
            "403 Forbidden ({what}): the credentials need the verbs `list` and `watch` on `{res}`{scope} (an RBAC ClusterRole with them, bound by a ClusterRoleBinding); `kubectl auth can-i {verb} {res}{flag}` checks"
        ),
        404 => {
            let hint = if watched == Watched::Hpas { "; Twin reads HPAs as autoscaling/v2 (Kubernetes 1.23 or later)" } else { "" };
            format!("404 Not Found ({what}): the API server does not serve {}{hint}", watched.path())
        }
        0 => what.to_string(),
        code => format!("{code} {} ({what})", status.reason),
    }
}

/// An error and its sources, each said once.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// A kubeconfig for an API server at `addr` over plain HTTP, without
/// authentication: for tests and demonstrations against a fake or local
/// server (`kubectl proxy` serves one).
pub fn loopback_kubeconfig(addr: std::net::SocketAddr) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: http://{addr}
contexts:
- name: fake
  context:
    cluster: fake
    user: nobody
current-context: fake
users:
- name: nobody
  user: {{}}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Change, ClusterState};
    use crate::feed::Event;
    use bytes::Bytes;
    use http_body_util::combinators::BoxBody;
    use http_body_util::{BodyExt, Full, StreamBody};
    use hyper::body::{Frame, Incoming};
    use hyper::{Request, Response, StatusCode};
    use hyper_util::rt::TokioIo;
    use serde_json::{Value, json};
    use std::collections::{HashMap, VecDeque};
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::path::Path;
    use std::sync::Mutex;
    use std::time::Duration;
    use tokio::net::TcpListener;

    const PODS: &str = "/api/v1/pods";
    const NODES: &str = "/api/v1/nodes";
    const DEPLOYMENTS: &str = "/apis/apps/v1/deployments";
    const HPAS: &str = "/apis/autoscaling/v2/horizontalpodautoscalers";

    /// What the fake API server answers for one resource.
    #[derive(Default)]
    struct Script {
        /// List answers in turn (items, resourceVersion); the last one repeats.
        lists: VecDeque<(Vec<Value>, String)>,
        /// Watch answers in turn: the events each streams before it holds
        /// the connection open; once none are left, a watch streams nothing.
        watches: VecDeque<Vec<Value>>,
        /// Answer 403 to list and watch.
        forbidden: bool,
    }

    /// A Kubernetes API server on loopback, plain HTTP, no auth: lists and
    /// watches as scripted, and every request it got.
    #[derive(Default)]
    struct Fake {
        scripts: Mutex<HashMap<&'static str, Script>>,
        requests: Mutex<Vec<String>>,
    }

    type Body = BoxBody<Bytes, Infallible>;

    impl Fake {
        fn script<R>(&self, path: &'static str, f: impl FnOnce(&mut Script) -> R) -> R {
            f(self.scripts.lock().unwrap().entry(path).or_default())
        }

        fn list(&self, path: &'static str, items: Vec<Value>, rv: &str) {
            self.script(path, |s| s.lists.push_back((items, rv.to_string())));
        }

        fn watch(&self, path: &'static str, events: Vec<Value>) {
            self.script(path, |s| s.watches.push_back(events));
        }

        fn forbid(&self, path: &'static str, forbidden: bool) {
            self.script(path, |s| s.forbidden = forbidden);
        }

        fn requests(&self) -> Vec<String> {
            self.requests.lock().unwrap().clone()
        }

        fn answer(&self, req: &Request<Incoming>) -> Response<Body> {
            self.requests.lock().unwrap().push(req.uri().to_string());
            let path = req.uri().path();
            let watching = req.uri().query().unwrap_or("").split('&').any(|p| p == "watch=true");
            let Some(&known) = [PODS, NODES, DEPLOYMENTS, HPAS].iter().find(|&&p| p == path) else {
                return status(404, "NotFound", &format!("the server could not find the requested resource ({path})"));
            };
            let (api_version, kind, group) = match known {
                PODS => ("v1", "PodList", ""),
                NODES => ("v1", "NodeList", ""),
                DEPLOYMENTS => ("apps/v1", "DeploymentList", "apps"),
                _ => ("autoscaling/v2", "HorizontalPodAutoscalerList", "autoscaling"),
            };
            self.script(known, |s| {
                let resource = known.rsplit('/').next().unwrap_or_default();
                let verb = if watching { "watch" } else { "list" };
                if s.forbidden {
                    let message = format!(
                        "{resource} is forbidden: User \"system:anonymous\" cannot {verb} resource \"{resource}\" in API group \"{group}\" at the cluster scope"
                    );
                    return status(403, "Forbidden", &message);
                }
                if watching {
                    let lines: Vec<Result<Frame<Bytes>, Infallible>> =
                        s.watches.pop_front().unwrap_or_default().iter().map(|e| Ok(Frame::data(Bytes::from(format!("{e}\n"))))).collect();
                    let stream = futures::stream::iter(lines).chain(futures::stream::pending());
                    return Response::builder()
                        .header("content-type", "application/json")
                        .body(BodyExt::boxed(StreamBody::new(stream)))
                        .unwrap_or_default();
                }
                let (items, rv) = if s.lists.len() > 1 { s.lists.pop_front() } else { s.lists.front().cloned() }.unwrap_or_default();
                let list = json!({"apiVersion": api_version, "kind": kind, "metadata": {"resourceVersion": rv}, "items": items});
                json_response(200, &list)
            })
        }
    }

    fn json_response(code: u16, value: &Value) -> Response<Body> {
        Response::builder()
            .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(value.to_string())).boxed())
            .unwrap_or_default()
    }

    fn status_json(code: u16, reason: &str, message: &str) -> Value {
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code})
    }

    fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
        json_response(code, &status_json(code, reason, message))
    }

    /// Serves `fake` on `listener` until the test ends.
    fn serve(listener: TcpListener, fake: Arc<Fake>) {
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let fake = fake.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let answer = fake.answer(&req);
                        async move { Ok::<_, Infallible>(answer) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
    }

    async fn start(fake: Arc<Fake>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        serve(listener, fake);
        addr
    }

    /// A kubeconfig for the server at `addr`, plain HTTP, no credentials.
    fn kubeconfig(dir: &Path, addr: SocketAddr) -> PathBuf {
        let path = dir.join("kubeconfig.yaml");
        let text = loopback_kubeconfig(addr);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn pod(name: &str, node: Option<&str>, rv: &str) -> Value {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "ml", "uid": format!("uid-{name}"), "resourceVersion": rv},
            "spec": {"containers": [{"name": "main", "image": "llm:1"}]},
            "status": {"phase": "Pending"}
        });
        if let Some(n) = node {
            v["spec"]["nodeName"] = n.into();
        }
        v
    }

    fn node(name: &str, rv: &str) -> Value {
        json!({"metadata": {"name": name, "resourceVersion": rv}, "status": {"allocatable": {"nvidia.com/gpu": "8"}}})
    }

    fn deployment(rv: &str) -> Value {
        json!({
            "metadata": {"name": "llm", "namespace": "ml", "resourceVersion": rv},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "llm"}},
                "template": {"metadata": {"labels": {"app": "llm"}}, "spec": {"containers": [{"name": "main", "image": "llm:1"}]}}
            },
            "status": {"replicas": 2, "readyReplicas": 2}
        })
    }

    fn hpa(rv: &str) -> Value {
        json!({
            "metadata": {"name": "llm", "namespace": "ml", "resourceVersion": rv},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"},
                "minReplicas": 1,
                "maxReplicas": 4,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]
            },
            "status": {"currentReplicas": 2, "desiredReplicas": 3}
        })
    }

    /// A watch event as the API server streams it (objects carry their kind there).
    fn event(kind: &str, mut object: Value) -> Value {
        object["apiVersion"] = "v1".into();
        object["kind"] = "Pod".into();
        json!({"type": kind, "object": object})
    }

    /// A scripted cluster: two nodes, a Deployment and its HPA, and pods.
    fn cluster(fake: &Fake) {
        fake.list(NODES, vec![node("gpu-a", "3"), node("gpu-b", "4")], "5");
        fake.list(DEPLOYMENTS, vec![deployment("7")], "7");
        fake.list(HPAS, vec![hpa("8")], "8");
        fake.list(PODS, vec![pod("p0", Some("gpu-a"), "10")], "10");
    }

    fn summary(e: &WatchEvent) -> String {
        match &e.object {
            Object::Pod(p) => format!(
                "{:?} pod {} on {:?}",
                e.kind,
                p.metadata.name.as_deref().unwrap_or(""),
                p.spec.as_ref().and_then(|s| s.node_name.as_deref())
            ),
            Object::Node(n) => format!("{:?} node {}", e.kind, n.metadata.name.as_deref().unwrap_or("")),
            Object::Deployment(d) => format!("{:?} deployment {}", e.kind, d.metadata.name.as_deref().unwrap_or("")),
            Object::Hpa(h) => format!("{:?} hpa {}", e.kind, h.metadata.name.as_deref().unwrap_or("")),
            Object::Other(k) => format!("{:?} {k}", e.kind),
        }
    }

    /// Health events from `feed`, waiting (10 s at most) until `done` says
    /// the ones so far are enough.
    async fn health_until(feed: &Feed, done: impl Fn(&[Health]) -> bool) -> Vec<Health> {
        let mut got = Vec::new();
        let wait = async {
            while !done(&got) {
                if let Some(Event::Health { health, .. }) = feed.next().await {
                    got.push(health);
                }
            }
        };
        let timed_out = tokio::time::timeout(Duration::from_secs(10), wait).await.is_err();
        assert!(!timed_out, "health so far: {got:?}");
        got
    }

    #[tokio::test]
    async fn the_cluster_is_listed_then_watched_and_a_relist_after_410_gives_no_false_binding() {
        let fake = Arc::new(Fake::default());
        cluster(&fake);
        // Watching from the list: p1 created unbound, then bound; then the watch expires.
        fake.watch(
            PODS,
            vec![
                event("ADDED", pod("p1", None, "11")),
                event("MODIFIED", pod("p1", Some("gpu-a"), "12")),
                json!({"type": "ERROR", "object": status_json(410, "Expired", "too old resource version: 12 (15)")}),
            ],
        );
        // Listed again: p1 deleted meanwhile, p2 created and bound meanwhile.
        fake.list(PODS, vec![pod("p0", Some("gpu-a"), "10"), pod("p2", Some("gpu-b"), "15")], "20");
        let addr = start(fake.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let path = kubeconfig(dir.path(), addr);
        let source = KubeSource::new(Some(path.clone()));
        assert_eq!(source.name(), format!("kube:{}", path.display()));
        let client = source.connect().await.expect("the kubeconfig reads");
        let source = source.with_client(client);
        let (tx, mut rx) = mpsc::channel(64);
        let feed = Feed::new(64);
        let (_stop_tx, stop) = watch::channel(false);
        let run = tokio::spawn(source.run(tx, feed.clone(), stop));

        let mut state = ClusterState::default();
        let mut got: Vec<(WatchEvent, Change)> = Vec::new();
        let wait = async {
            loop {
                let event = rx.recv().await.expect("the source runs");
                let change = state.apply(&event);
                let last = matches!(&change, Change::PodGone { pod_key, .. } if pod_key == "ml/p1");
                got.push((event, change));
                if last && state.nodes.len() == 2 && state.deployments.len() == 1 && state.hpas.len() == 1 {
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait).await.expect("the cluster within 10 s");

        let pods: Vec<String> = got.iter().filter(|(e, _)| matches!(e.object, Object::Pod(_))).map(|(e, _)| summary(e)).collect();
        assert_eq!(
            pods,
            [
                "Modified pod p0 on Some(\"gpu-a\")",
                "Modified pod p1 on None",
                "Modified pod p1 on Some(\"gpu-a\")",
                "Modified pod p0 on Some(\"gpu-a\")",
                "Modified pod p2 on Some(\"gpu-b\")",
                "Deleted pod p1 on Some(\"gpu-a\")",
            ]
        );
        let changes: Vec<&Change> = got.iter().map(|(_, c)| c).filter(|c| **c != Change::None).collect();
        let bound: Vec<&&Change> = changes.iter().filter(|c| matches!(c, Change::PodBound { .. })).collect();
        assert_eq!(bound, [&&Change::PodBound { pod_key: "ml/p1".into(), node: "gpu-a".into() }], "one binding, none from the lists");
        assert!(changes.contains(&&Change::PodGone { pod_key: "ml/p1".into(), node: Some("gpu-a".into()) }));
        assert!(changes.contains(&&Change::NodeAdded { node: "gpu-b".into() }));
        assert_eq!(state.pods.keys().collect::<Vec<_>>(), ["ml/p0", "ml/p2"]);
        let deployment = &state.deployments["ml/llm"];
        assert_eq!(deployment.spec.replicas, Some(2));
        let hpa = &state.hpas["ml/llm"];
        assert_eq!((hpa.spec.max_replicas, hpa.spec.scale_target_ref.name.as_str()), (4, "llm"));
        assert_eq!(hpa.status.as_ref().map(|s| s.desired_replicas), Some(3));

        let requests = fake.requests();
        assert_eq!(requests.iter().filter(|r| r.starts_with("/api/v1/pods?") && !r.contains("watch=true")).count(), 2, "{requests:#?}");
        assert!(requests.iter().any(|r| r.starts_with("/api/v1/pods?") && r.contains("watch=true") && r.contains("resourceVersion=10")));
        assert!(requests.iter().any(|r| r.starts_with(HPAS)), "HPAs through autoscaling/v2: {requests:#?}");

        let health = health_until(&feed, |h| h.len() >= 3).await;
        assert_eq!(health[0], Health::Up);
        assert!(matches!(&health[1], Health::Retrying { attempt: 1, error } if error.contains("the watch on pods expired (410 Gone")));
        assert_eq!(health[2], Health::Up);

        // The consumer goes: the source ends, though its stop sender lives.
        drop(rx);
        let stats = tokio::time::timeout(Duration::from_secs(2), run).await.expect("ends when nobody listens").unwrap();
        assert_eq!(stats.events, got.len() as u64);
        assert_eq!((stats.errors, stats.relists), (1, 1));
        assert!(stats.last_error.as_deref().unwrap().starts_with(&format!("kube:{}: the watch on pods expired", path.display())));
    }

    #[tokio::test]
    async fn forbidden_kinds_are_retried_naming_the_rbac_rule_and_recover_when_granted() {
        let fake = Arc::new(Fake::default());
        cluster(&fake);
        fake.forbid(NODES, true);
        let addr = start(fake.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let source = KubeSource::new(Some(kubeconfig(dir.path(), addr)));
        let (tx, mut rx) = mpsc::channel(64);
        let feed = Feed::new(64);
        let (stop_tx, stop) = watch::channel(false);
        let run = tokio::spawn(source.run(tx, feed.clone(), stop));

        let retrying = |h: &Health| matches!(h, Health::Retrying { .. });
        let health = health_until(&feed, |h| h.iter().any(retrying)).await;
        let Some(Health::Retrying { error, .. }) = health.iter().find(|h| retrying(h)) else { unreachable!() };
        assert!(error.starts_with("cannot list nodes: 403 Forbidden (nodes is forbidden: User \"system:anonymous\""), "{error}");
        assert!(error.contains("the verbs `list` and `watch` on `nodes` (cluster-scoped)"), "{error}");
        assert!(error.contains("`kubectl auth can-i list nodes` checks"), "{error}");
        // The other kinds flow meanwhile.
        let first = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        assert!(!matches!(first.object, Object::Node(_)), "{}", summary(&first));

        fake.forbid(NODES, false);
        let health = health_until(&feed, |h| h.last() == Some(&Health::Up)).await;
        assert!(!health.is_empty());
        let mut nodes = 0;
        let wait = async {
            while nodes < 2 {
                let e = rx.recv().await.expect("the source runs");
                nodes += usize::from(matches!(e.object, Object::Node(_)));
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait).await.expect("the nodes, once granted");

        stop_tx.send(true).unwrap();
        let stats = tokio::time::timeout(Duration::from_secs(2), run).await.expect("stops on stop").unwrap();
        assert!(stats.errors >= 1, "{stats:?}");
        assert!(stats.last_error.as_deref().unwrap().contains("403 Forbidden"), "{stats:?}");
    }

    #[tokio::test]
    async fn a_server_that_is_down_is_retried_until_it_comes_up() {
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // closed again
        let dir = tempfile::tempdir().unwrap();
        let source = KubeSource::new(Some(kubeconfig(dir.path(), addr)));
        let (tx, mut rx) = mpsc::channel(64);
        let feed = Feed::new(64);
        let (stop_tx, stop) = watch::channel(false);
        // No client given: the run connects itself.
        let run = tokio::spawn(source.run(tx, feed.clone(), stop));

        let health = health_until(&feed, |h| !h.is_empty()).await;
        let Health::Retrying { attempt: 1, error } = &health[0] else { panic!("{health:?}") };
        // Whichever kind failed first.
        assert!(error.starts_with("cannot list "), "{error}");
        assert!(error.contains(&format!(": cannot reach the API server at http://{addr}/: ")), "{error}");
        assert!(error.to_lowercase().contains("connection refused"), "{error}");
        for kind in ["pods", "nodes", "deployments.apps", "horizontalpodautoscalers.autoscaling"] {
            let more = health_until(&feed, |h| {
                h.iter().any(|h| matches!(h, Health::Retrying { error, .. } if error.contains(&format!("cannot list {kind}: "))))
            })
            .await;
            assert!(!more.is_empty());
        }

        let fake = Arc::new(Fake::default());
        cluster(&fake);
        serve(TcpListener::bind(addr).await.unwrap(), fake);
        health_until(&feed, |h| h.last() == Some(&Health::Up)).await;
        let event = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        assert_eq!(event.kind, WatchKind::Modified);

        stop_tx.send(true).unwrap();
        let stats = tokio::time::timeout(Duration::from_secs(2), run).await.expect("stops on stop").unwrap();
        assert!(stats.errors >= 4, "{stats:?}");
        assert_eq!(stats.relists, 0, "failed lists are tried again, not counted as lists again");
    }

    #[tokio::test]
    async fn the_run_stops_while_retrying_when_its_stop_sender_is_dropped() {
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let source = KubeSource::new(Some(kubeconfig(dir.path(), addr)));
        let (tx, _rx) = mpsc::channel(64);
        let feed = Feed::new(64);
        let (stop_tx, stop) = watch::channel(false);
        let run = tokio::spawn(source.run(tx, feed.clone(), stop));
        health_until(&feed, |h| !h.is_empty()).await;
        drop(stop_tx);
        let stats = tokio::time::timeout(Duration::from_secs(2), run).await.expect("stops").unwrap();
        assert_eq!(stats.events, 0);
    }

    #[tokio::test]
    async fn a_kubeconfig_that_cannot_be_read_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.yaml");
        let error = KubeSource::new(Some(missing.clone())).connect().await.err().expect("an error");
        assert!(matches!(&error, KubeError::Read { path, .. } if *path == missing), "{error:?}");
        let text = error.to_string();
        assert!(text.starts_with(&format!("cannot read the kubeconfig {}: ", missing.display())), "{text}");
        assert!(text.contains("No such file") && text.contains("write `kube` alone to use KUBECONFIG or ~/.kube/config"), "{text}");

        let garbage = dir.path().join("garbage.yaml");
        std::fs::write(&garbage, "clusters: [\n  - {name: a\n").unwrap();
        let error = KubeSource::new(Some(garbage.clone())).connect().await.err().expect("an error");
        assert!(matches!(&error, KubeError::Read { path, .. } if *path == garbage), "{error:?}");
        let text = error.to_string();
        assert!(text.contains("failed to parse kubeconfig YAML: error: line 2 column 3") && !text.contains('\n'), "{text}");

        let no_context = dir.path().join("empty.yaml");
        std::fs::write(&no_context, "apiVersion: v1\nkind: Config\nclusters: []\n").unwrap();
        let error = KubeSource::new(Some(no_context.clone())).connect().await.err().expect("an error");
        assert!(matches!(&error, KubeError::Config { path, .. } if *path == no_context), "{error:?}");
        assert!(error.to_string().contains("current context"), "{error}");

        // The run says Down and ends.
        let (tx, _rx) = mpsc::channel(4);
        let feed = Feed::new(8);
        let (_stop_tx, stop) = watch::channel(false);
        let stats = tokio::time::timeout(Duration::from_secs(5), KubeSource::new(Some(missing.clone())).run(tx, feed.clone(), stop))
            .await
            .expect("ends at once");
        assert_eq!(stats.events, 0);
        let health: Vec<Health> =
            feed.drain().into_iter().filter_map(|e| if let Event::Health { health, .. } = e { Some(health) } else { None }).collect();
        assert!(matches!(&health[..], [Health::Down(m)] if m.contains(&missing.display().to_string())), "{health:?}");
        assert_eq!(KubeSource::new(None).name(), "kube");
    }
}
