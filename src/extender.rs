//! `twin extender`: a scheduler profile served to kube-scheduler as a
//! scheduler extender (extender v1 over HTTP/1.1), with `/healthz` and
//! Prometheus `/metrics`.
//!
//! The decisions are `twin-extender`'s; this module only serves them. The
//! [`Extender`] takes `&mut self` (its node cache, the profile's observed
//! workload, the policies' cache), so it sits behind a [`Mutex`]. Each
//! request is decoded, decided and encoded on tokio's blocking pool, so a
//! long decision never holds up the workers that read other connections.
//!
//! Connections are accepted here and served by hyper one task each, with a
//! read timeout: a connection that has not sent a whole request head within
//! it is closed (hyper's header timeout, which also closes idle keep-alive
//! connections), and a body not whole within it is answered `408` and its
//! connection closed. So a slow client holds up only its own connection,
//! and not for long.
//!
//! With `--nodes FILE` a thread checks the file once a second and reloads
//! the node cache when it changes ([`twin_extender::feed`]).

use crate::args::ExtenderArgs;
use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};
use twin_extender::feed::{self, NodeFeed};
use twin_extender::placement::PlacementPolicy;
use twin_extender::wire::{self, ExtenderFilterResult, HostPriority, decode};
use twin_extender::{Decision, Extender, NodeCache, NodeReader, Verdict};
use twin_scheduler::{Profile, ProfileSpec};

/// The largest request body read: a `Nodes` list of some thousands of nodes
/// is a few MiB.
const BODY_LIMIT: usize = 64 << 20;

/// How often the node feed file is checked for changes.
const FEED_CHECK: Duration = Duration::from_secs(1);

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The two verbs that decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Filter,
    Prioritize,
}

impl Verb {
    fn name(self) -> &'static str {
        match self {
            Verb::Filter => "filter",
            Verb::Prioritize => "prioritize",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerbLabels {
    verb: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct DecisionLabels {
    verb: &'static str,
    /// `fits`, `refused`, `passthrough` (a pod asking for no accelerator),
    /// or `error` (a request that cannot be decided; counted once, not per node).
    verdict: &'static str,
    /// What refused the node ([`twin_extender::Rejection::source`]), `pod`
    /// or `policy` for `error`, else empty.
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedLabels {
    /// `ok` or `error`.
    result: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 1.6 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// The metrics, and the registry that writes them out.
struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<VerbLabels, Histogram, fn() -> Histogram>,
    decisions: Family<DecisionLabels, Counter>,
    feed_loads: Family<FeedLabels, Counter>,
    cached_nodes: Gauge,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<VerbLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let decisions = Family::<DecisionLabels, Counter>::default();
        let feed_loads = Family::<FeedLabels, Counter>::default();
        let cached_nodes = Gauge::default();
        registry.register("twin_extender_requests", "HTTP requests by verb and status", requests.clone());
        registry.register(
            "twin_extender_request_duration_seconds",
            "Time from a whole request body to its answer, by verb",
            latency.clone(),
        );
        registry.register(
            "twin_extender_decisions",
            "Nodes judged, by verb, verdict and what refused them (a request that cannot be decided counts once as error)",
            decisions.clone(),
        );
        registry.register("twin_extender_node_feed_loads", "Loads of the --nodes file, by result", feed_loads.clone());
        registry.register("twin_extender_cached_nodes", "Nodes in the extender's node cache", cached_nodes.clone());
        Metrics { registry, requests, latency, decisions, feed_loads, cached_nodes }
    }

    fn request(&self, verb: &'static str, status: StatusCode, started: Instant) {
        self.requests.get_or_create(&RequestLabels { verb, status: status.as_u16() }).inc();
        self.latency.get_or_create(&VerbLabels { verb }).observe(started.elapsed().as_secs_f64());
    }

    /// Counts a decision's verdicts, a label set at a time.
    fn decision(&self, verb: Verb, decision: &Decision) {
        let mut counts: BTreeMap<DecisionLabels, u64> = BTreeMap::new();
        let mut last: Option<(DecisionLabels, u64)> = None;
        for (_, verdict) in &decision.verdicts {
            let (verdict, source) = match verdict {
                Verdict::Fits { .. } if decision.passthrough => ("passthrough", ""),
                Verdict::Fits { .. } => ("fits", ""),
                Verdict::Refused(r) => ("refused", r.source()),
            };
            let labels = DecisionLabels { verb: verb.name(), verdict, source };
            // Runs of the same verdict are common: count them before the map.
            match &mut last {
                Some((l, n)) if *l == labels => *n += 1,
                _ => {
                    if let Some((l, n)) = last.replace((labels, 1)) {
                        *counts.entry(l).or_default() += n;
                    }
                }
            }
        }
        if let Some((l, n)) = last {
            *counts.entry(l).or_default() += n;
        }
        for (labels, n) in counts {
            self.decisions.get_or_create(&labels).inc_by(n);
        }
    }

    fn decide_error(&self, verb: Verb, source: &'static str) {
        self.decisions.get_or_create(&DecisionLabels { verb: verb.name(), verdict: "error", source }).inc();
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    extender: Mutex<Extender>,
    metrics: Metrics,
    /// How long a request's body may take to arrive.
    read_timeout: Duration,
}

impl Shared {
    /// The state of a server deciding with `extender`.
    pub(crate) fn new(extender: Extender, read_timeout: Duration) -> Shared {
        let metrics = Metrics::new();
        metrics.cached_nodes.set(extender.cache.len() as i64);
        Shared { extender: Mutex::new(extender), metrics, read_timeout }
    }
}

/// A status, a content type and a body.
type Answer = (StatusCode, &'static str, Vec<u8>);

fn reply((status, content_type, body): Answer) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Decodes, decides and encodes one request (on the blocking pool).
fn answer(shared: &Shared, verb: Verb, body: &[u8]) -> Answer {
    let args: wire::ExtenderArgs = match decode(body) {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_REQUEST, TEXT, format!("bad {} request: {e}\n", verb.name()).into_bytes()),
    };
    let mut extender = shared.extender.lock().unwrap_or_else(PoisonError::into_inner);
    let decided = extender.decide(&args, verb == Verb::Filter);
    if args.nodes.is_some() {
        shared.metrics.cached_nodes.set(extender.cache.len() as i64);
    }
    drop(extender);
    let encoded = match (verb, decided) {
        (Verb::Filter, Ok(d)) => {
            shared.metrics.decision(verb, &d);
            serde_json::to_vec(&Extender::filter_result(&args, &d))
        }
        (Verb::Filter, Err(e)) => {
            shared.metrics.decide_error(verb, e.source());
            serde_json::to_vec(&ExtenderFilterResult { error: e.to_string(), ..ExtenderFilterResult::default() })
        }
        (Verb::Prioritize, Ok(d)) => {
            shared.metrics.decision(verb, &d);
            let scores: Vec<HostPriority> =
                d.verdicts.into_iter().filter(|(n, _)| !n.is_empty()).map(|(host, v)| HostPriority { host, score: v.score() }).collect();
            serde_json::to_vec(&scores)
        }
        (Verb::Prioritize, Err(e)) => {
            // Every candidate scores 0; filter has said why.
            shared.metrics.decide_error(verb, e.source());
            serde_json::to_vec(&Extender::zero_scores(&args))
        }
    };
    match encoded {
        Ok(body) => (StatusCode::OK, JSON, body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, TEXT, format!("cannot encode the answer: {e}\n").into_bytes()),
    }
}

async fn decide(shared: Arc<Shared>, verb: Verb, request: Request) -> Response {
    let read = tokio::time::timeout(shared.read_timeout, Bytes::from_request(request, &())).await;
    let started = Instant::now();
    let answered = match read {
        Err(_) => {
            let why = format!("bad {} request: the body did not arrive within {:?}\n", verb.name(), shared.read_timeout);
            shared.metrics.request(verb.name(), StatusCode::REQUEST_TIMEOUT, started);
            let mut response = reply((StatusCode::REQUEST_TIMEOUT, TEXT, why.into_bytes()));
            // The rest of the body is not read: the connection cannot serve another request.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        Ok(Err(rejection)) => (rejection.status(), TEXT, format!("bad {} request: {}\n", verb.name(), rejection.body_text()).into_bytes()),
        Ok(Ok(body)) => {
            let shared = Arc::clone(&shared);
            match tokio::task::spawn_blocking(move || answer(&shared, verb, &body)).await {
                Ok(a) => a,
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, TEXT, format!("the decision failed: {e}\n").into_bytes()),
            }
        }
    };
    shared.metrics.request(verb.name(), answered.0, started);
    reply(answered)
}

async fn filter(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    decide(shared, Verb::Filter, request).await
}

async fn prioritize(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    decide(shared, Verb::Prioritize, request).await
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    shared.metrics.request("healthz", StatusCode::OK, Instant::now());
    reply((StatusCode::OK, TEXT, b"ok\n".to_vec()))
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    shared.metrics.request("metrics", StatusCode::OK, Instant::now());
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &shared.metrics.registry) {
        Ok(()) => reply((StatusCode::OK, OPENMETRICS, text.into_bytes())),
        Err(e) => reply((StatusCode::INTERNAL_SERVER_ERROR, TEXT, format!("cannot encode metrics: {e}\n").into_bytes())),
    }
}

/// The routes, with their shared state.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/filter", post(filter))
        .route("/prioritize", post(prioritize))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

/// Serves on `listener` until `shutdown` completes, then stops accepting
/// and waits for the connections' requests in flight (an idle or stalled
/// connection is closed; none waits longer than the read timeout).
pub(crate) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>, shutdown: impl Future<Output = ()>) {
    let read_timeout = shared.read_timeout;
    serve_router(listener, router(shared), read_timeout, shutdown).await;
}

/// Serves `router` on `listener` as [`serve`] does, with `read_timeout` for
/// each request head: `twin shadow`'s `/metrics` shares it.
pub(crate) async fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
    read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let service = TowerToHyperService::new(router);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(read_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Answers go out whole at once: no reason to wait for more to send.
                    let _ = stream.set_nodelay(true);
                    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
                    tokio::spawn(async move {
                        // A client that goes away or times out ends only its own connection.
                        let _ = connection.await;
                    });
                }
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    eprintln!("twin: accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(read_timeout + Duration::from_secs(5), graceful.shutdown()).await.is_err() {
        eprintln!("twin: some connections did not finish; closing them");
    }
}

/// A built-in profile by name, or a profile file: a path ending in `.toml`
/// or naming an existing file.
pub(crate) fn load_profile(choice: &str) -> anyhow::Result<Profile> {
    let path = Path::new(choice);
    if choice.ends_with(".toml") || path.is_file() {
        let text = std::fs::read_to_string(path).with_context(|| format!("--profile {choice}"))?;
        let spec: ProfileSpec = toml::from_str(&text).with_context(|| format!("profile file {choice}"))?;
        Ok(Profile::from_spec(&spec).with_context(|| format!("profile file {choice}"))?)
    } else {
        Ok(Profile::builtin(choice).with_context(|| format!("--profile {choice}"))?)
    }
}

/// Prices per node-hour by instance type: JSON for a `.json` file, else TOML.
pub(crate) fn load_prices(path: &Path) -> anyhow::Result<BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--prices {}", path.display()))?;
    let prices = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        serde_json::from_str(&text).with_context(|| format!("price file {} (JSON: instance type to price)", path.display()))?
    } else {
        toml::from_str(&text).with_context(|| format!("price file {} (TOML: instance type = price)", path.display()))?
    };
    Ok(prices)
}

/// Placement policies from files and folders, read as a scenario's
/// `[policies]` are (`.rego` files, tests left out), with the `data.json`
/// of the first folder that has one.
pub(crate) fn load_policies(paths: &[PathBuf]) -> anyhow::Result<PlacementPolicy> {
    let mut files = Vec::new();
    let mut data = None;
    for path in paths {
        anyhow::ensure!(path.exists(), "--policies {}: no such file or folder", path.display());
        if path.is_dir() && data.is_none() && path.join("data.json").is_file() {
            data = Some(path.join("data.json").display().to_string());
        }
        files.push(path.display().to_string());
    }
    let spec = twin_sim::scenario::spec::PoliciesSpec { files, data };
    let sources =
        twin_inputs::policies::PolicySources::read(&twin_inputs::Source::Dir(PathBuf::from(".")), &spec).with_context(|| "--policies")?;
    anyhow::ensure!(
        !sources.files.is_empty(),
        "--policies {}: no .rego files (test files, *_test.rego, are left out)",
        paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    );
    PlacementPolicy::compile(&sources.files, sources.data.as_deref()).context("--policies")
}

/// When a file was last seen as it was: modified time and length, or why
/// it could not be looked at.
type Stamp = Result<(SystemTime, u64), std::io::ErrorKind>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).map_err(|e| e.kind())?;
    Ok((m.modified().map_err(|e| e.kind())?, m.len()))
}

/// The `--nodes` file and what was last read from it.
struct NodeFile {
    path: PathBuf,
    reader: NodeReader,
    feed: NodeFeed,
    seen: Option<Stamp>,
}

impl NodeFile {
    /// Reads the file and its nodes (without the cache).
    fn read(&self) -> anyhow::Result<feed::ReadNodes> {
        let bytes = std::fs::read(&self.path).with_context(|| format!("--nodes {}", self.path.display()))?;
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let nodes = feed::parse(&bytes, feed::Format::of_name(&name)).with_context(|| format!("node file {}", self.path.display()))?;
        Ok(NodeFeed::read(&self.reader, &nodes))
    }

    /// Reads the file again if it changed since last seen; `None` if it
    /// did not.
    fn reload(&mut self) -> anyhow::Result<Option<feed::ReadNodes>> {
        let now = stamp(&self.path);
        if self.seen.as_ref() == Some(&now) {
            return Ok(None);
        }
        self.seen = Some(now);
        self.read().map(Some)
    }

    /// Checks the file once a second for as long as the process runs; a
    /// file that cannot be read keeps the nodes read before.
    fn watch(mut self, shared: Arc<Shared>) {
        loop {
            std::thread::sleep(FEED_CHECK);
            match self.reload() {
                Ok(None) => {}
                Ok(Some(read)) => {
                    let mut x = shared.extender.lock().unwrap_or_else(PoisonError::into_inner);
                    let s = self.feed.apply(&mut x.cache, read);
                    shared.metrics.cached_nodes.set(x.cache.len() as i64);
                    drop(x);
                    shared.metrics.feed_loads.get_or_create(&FeedLabels { result: "ok" }).inc();
                    eprintln!(
                        "twin extender: reloaded {}: {} nodes ({} unreadable, {} dropped)",
                        self.path.display(),
                        s.nodes,
                        s.unreadable,
                        s.removed
                    );
                }
                Err(e) => {
                    shared.metrics.feed_loads.get_or_create(&FeedLabels { result: "error" }).inc();
                    eprintln!("twin extender: error: reloading {e:#}; keeping the nodes read before");
                }
            }
        }
    }
}

/// Parses `--read-timeout`: seconds, more than 0.
pub(crate) fn parse_timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!("{text} s: the read timeout is more than 0 and at most a day"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The server's state from the flags, and the node file to watch.
fn setup(a: &ExtenderArgs) -> anyhow::Result<(Arc<Shared>, Option<NodeFile>)> {
    let profile = load_profile(&a.profile)?;
    let prices = a.prices.as_deref().map(load_prices).transpose()?.unwrap_or_default();
    let reader = NodeReader::new(prices)?;
    let mut extender = Extender::new(profile, NodeCache::new(reader.clone()));
    if !a.policies.is_empty() {
        extender = extender.with_policy(load_policies(&a.policies)?);
    }
    let mut node_file = None;
    if let Some(path) = &a.nodes {
        let mut file = NodeFile { path: path.clone(), reader, feed: NodeFeed::default(), seen: None };
        let read = file.reload()?.unwrap_or_default();
        let s = file.feed.apply(&mut extender.cache, read);
        eprintln!("twin extender: read {}: {} nodes ({} unreadable)", path.display(), s.nodes, s.unreadable);
        node_file = Some(file);
    }
    eprintln!("twin extender: {:?}{}", extender.profile, if extender.policy.is_some() { ", with placement policies" } else { "" });
    Ok((Arc::new(Shared::new(extender, a.read_timeout)), node_file))
}

/// Ctrl-C or SIGTERM, then a line saying so.
async fn shutdown_signal() {
    ctrl_c_or_term().await;
    eprintln!("shutting down: finishing the requests in flight");
}

/// Ctrl-C or SIGTERM (the one stop signal of the long-running commands).
pub(crate) async fn ctrl_c_or_term() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

pub fn extender(a: ExtenderArgs) -> anyhow::Result<ExitCode> {
    let (shared, node_file) = match setup(&a) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(crate::EXIT_BAD_INPUT));
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the tokio runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(a.listen).await.with_context(|| format!("--listen {}", a.listen))?;
        let bound = listener.local_addr().context("the bound address")?;
        if let Some(file) = node_file {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new().name("node-feed".into()).spawn(move || file.watch(shared)).context("starting the node feed")?;
        }
        eprintln!("listening on {bound}");
        serve(listener, shared, shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
