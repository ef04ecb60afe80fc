//! `twin extender`: a scheduler profile served to kube-scheduler as a
//! scheduler extender (extender v1 over HTTP/1.1), with `/healthz` and
//! Prometheus `/metrics`.
//!
//! The decisions are `twin-extender`'s; this module only serves them. The
//! [`Extender`] takes `&mut self` (its node cache, the profile's observed
//! workload), so it sits behind a [`Mutex`]. Each request is decoded,
//! decided and encoded on tokio's blocking pool, so a long decision never
//! holds up the workers that read other connections; hyper reads each
//! connection's body on its own task, so a slow client stalls only itself.

use crate::args::ExtenderArgs;
use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use twin_extender::wire::{self, ExtenderFilterResult, HostPriority, decode};
use twin_extender::{Decision, Extender, NodeCache, NodeReader, Verdict};
use twin_scheduler::{Profile, ProfileSpec};

/// The largest request body read: a `Nodes` list of some thousands of nodes
/// is a few MiB.
const BODY_LIMIT: usize = 64 << 20;

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
    /// or `error` (a pod that cannot be read; counted once, not per node).
    verdict: &'static str,
    /// What refused the node ([`twin_extender::Rejection::source`]), `pod`
    /// for `error`, else empty.
    source: &'static str,
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
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<VerbLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register("twin_extender_requests", "HTTP requests by verb and status", requests.clone());
        registry.register(
            "twin_extender_request_duration_seconds",
            "Time from a whole request body to its answer, by verb",
            latency.clone(),
        );
        registry.register(
            "twin_extender_decisions",
            "Nodes judged, by verb, verdict and what refused them (a pod that cannot be read counts once as error)",
            decisions.clone(),
        );
        Metrics { registry, requests, latency, decisions }
    }

    fn request(&self, verb: &'static str, status: StatusCode, started: Instant) {
        self.requests.get_or_create(&RequestLabels { verb, status: status.as_u16() }).inc();
        self.latency.get_or_create(&VerbLabels { verb }).observe(started.elapsed().as_secs_f64());
    }

    /// Counts a decision's verdicts, a label set at a time.
    fn decision(&self, verb: Verb, decision: &Decision) {
        let mut counts: BTreeMap<DecisionLabels, u64> = BTreeMap::new();
        for (_, verdict) in &decision.verdicts {
            let (verdict, source) = match verdict {
                Verdict::Fits { .. } if decision.passthrough => ("passthrough", ""),
                Verdict::Fits { .. } => ("fits", ""),
                Verdict::Refused(r) => ("refused", r.source()),
            };
            *counts.entry(DecisionLabels { verb: verb.name(), verdict, source }).or_default() += 1;
        }
        for (labels, n) in counts {
            self.decisions.get_or_create(&labels).inc_by(n);
        }
    }

    fn pod_error(&self, verb: Verb) {
        self.decisions.get_or_create(&DecisionLabels { verb: verb.name(), verdict: "error", source: "pod" }).inc();
    }
}

/// What every handler shares.
struct Shared {
    extender: Mutex<Extender>,
    metrics: Metrics,
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
    let encoded = match verb {
        Verb::Filter => {
            let decided = extender.decide(&args, true);
            drop(extender);
            let result = match decided {
                Ok(d) => {
                    shared.metrics.decision(verb, &d);
                    Extender::filter_result(&args, &d)
                }
                Err(e) => {
                    shared.metrics.pod_error(verb);
                    ExtenderFilterResult { error: e.to_string(), ..ExtenderFilterResult::default() }
                }
            };
            serde_json::to_vec(&result)
        }
        Verb::Prioritize => {
            let scores: Vec<HostPriority> = match extender.decide(&args, false) {
                Ok(d) => {
                    drop(extender);
                    shared.metrics.decision(verb, &d);
                    d.verdicts.into_iter().filter(|(n, _)| !n.is_empty()).map(|(host, v)| HostPriority { host, score: v.score() }).collect()
                }
                Err(_) => {
                    // Every candidate scores 0; filter has said why.
                    let scores = extender.prioritize(&args);
                    drop(extender);
                    shared.metrics.pod_error(verb);
                    scores
                }
            };
            serde_json::to_vec(&scores)
        }
    };
    match encoded {
        Ok(body) => (StatusCode::OK, JSON, body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, TEXT, format!("cannot encode the answer: {e}\n").into_bytes()),
    }
}

async fn decide(shared: Arc<Shared>, verb: Verb, body: Result<Bytes, BytesRejection>) -> Response {
    let started = Instant::now();
    let answered = match body {
        Err(rejection) => (rejection.status(), TEXT, format!("bad {} request: {}\n", verb.name(), rejection.body_text()).into_bytes()),
        Ok(body) => {
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

async fn filter(State(shared): State<Arc<Shared>>, body: Result<Bytes, BytesRejection>) -> Response {
    decide(shared, Verb::Filter, body).await
}

async fn prioritize(State(shared): State<Arc<Shared>>, body: Result<Bytes, BytesRejection>) -> Response {
    decide(shared, Verb::Prioritize, body).await
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

/// A built-in profile by name, or a profile file: a path ending in `.toml`
/// or naming an existing file.
fn load_profile(choice: &str) -> anyhow::Result<Profile> {
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
fn load_prices(path: &Path) -> anyhow::Result<BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--prices {}", path.display()))?;
    let prices = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        serde_json::from_str(&text).with_context(|| format!("price file {} (JSON: instance type to price)", path.display()))?
    } else {
        toml::from_str(&text).with_context(|| format!("price file {} (TOML: instance type = price)", path.display()))?
    };
    Ok(prices)
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
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
    eprintln!("shutting down: finishing the requests in flight");
}

pub fn extender(a: ExtenderArgs) -> anyhow::Result<ExitCode> {
    let profile = load_profile(&a.profile)?;
    let prices = a.prices.as_deref().map(load_prices).transpose()?.unwrap_or_default();
    let reader = NodeReader::new(prices)?;
    eprintln!("twin extender: {profile:?}");
    let shared = Arc::new(Shared { extender: Mutex::new(Extender::new(profile, NodeCache::new(reader))), metrics: Metrics::new() });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the tokio runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(a.listen).await.with_context(|| format!("--listen {}", a.listen))?;
        let bound = listener.local_addr().context("the bound address")?;
        eprintln!("listening on {bound}");
        axum::serve(listener, router(shared)).with_graceful_shutdown(shutdown_signal()).await.context("serving")
    })?;
    Ok(ExitCode::SUCCESS)
}
