//! `twin shadow`: Twin beside a real fleet (docs/shadow.md).
//!
//! Each telemetry source runs as a tokio task into one [`Feed`]; the
//! cluster source sends its watch events on a channel. One loop hands both
//! to a [`Session`] in the order they arrive and logs each divergence as it
//! is found: one JSON line, to `DIR/divergences.jsonl` (flushed line by
//! line, synced at the end) or to stderr. Ctrl-C, SIGTERM or `--duration`
//! stop the sources; what they had sent is still judged, then the summary
//! is printed and written atomically to `DIR/shadow-summary.json`.
//! `--listen` serves `/metrics` (prometheus-client) and `/healthz`.

use crate::args::ShadowArgs;
use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};
use twin_extender::nodes::NodeReader;
use twin_extender::placement::{PlacementPolicy, PlacementPolicyError};
use twin_scheduler::Profile;
use twin_shadow::autoscale::Scalers;
use twin_shadow::dcgm::DcgmSource;
use twin_shadow::feed::{Event, Feed};
use twin_shadow::kube_api::KubeSource;
use twin_shadow::kubectl::{KubectlSource, WatchEvent};
use twin_shadow::nvml::NvmlSource;
use twin_shadow::session::{Divergence, Session, health_value};
use twin_shadow::smi::SmiSource;

/// Events the feed holds before the oldest readings turn into a gap.
const FEED_CAPACITY: usize = 65_536;
/// Cluster events waiting to be judged before the watch reader waits.
const CLUSTER_QUEUE: usize = 1024;
/// How often the session's clock follows the wall clock.
const TICK: Duration = Duration::from_secs(1);
/// How long a `/metrics` client may take to send its request head.
const METRICS_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the sources get to stop once told to.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A telemetry source as given on the command line.
enum Telemetry {
    Dcgm(DcgmSource),
    Smi(SmiSource),
    Nvml(NvmlSource),
}

/// Reads one `--telemetry` argument.
fn telemetry(arg: &str) -> anyhow::Result<Telemetry> {
    let (kind, rest) = arg.split_once(':').unwrap_or((arg, ""));
    match kind {
        "dcgm" => Ok(Telemetry::Dcgm(DcgmSource::new(rest).with_context(|| format!("--telemetry {arg}"))?)),
        "nvidia-smi" if !rest.is_empty() => Ok(Telemetry::Smi(SmiSource::new(rest))),
        "nvidia-smi" => anyhow::bail!("--telemetry {arg}: name the CSV file, as nvidia-smi:FILE"),
        "nvml" if rest.is_empty() => Ok(Telemetry::Nvml(NvmlSource::new(Duration::from_secs(1)))),
        "nvml" => {
            let every = parse_duration("telemetry nvml:INTERVAL", rest)?;
            anyhow::ensure!(every >= Duration::from_millis(10), "--telemetry {arg}: below 10ms, faster than NVML refreshes its counters");
            Ok(Telemetry::Nvml(NvmlSource::new(every)))
        }
        _ => anyhow::bail!("--telemetry {arg}: not a source; write dcgm:URL, nvidia-smi:FILE or nvml[:INTERVAL]"),
    }
}

/// A cluster source as given on the command line.
enum Cluster {
    Kubectl(KubectlSource),
    Kube(KubeSource),
}

/// Reads `--cluster`.
fn cluster(arg: &str) -> anyhow::Result<Cluster> {
    match arg.split_once(':') {
        None if arg == "kube" => Ok(Cluster::Kube(KubeSource::new(None))),
        Some(("kube", rest)) if !rest.is_empty() => Ok(Cluster::Kube(KubeSource::new(Some(PathBuf::from(rest))))),
        Some(("kubectl", rest)) if !rest.is_empty() => Ok(Cluster::Kubectl(KubectlSource::from_arg(rest))),
        _ => anyhow::bail!(
            "--cluster {arg}: not a source; write kube (the API server of the current kubeconfig context, or in-cluster), kube:KUBECONFIG, kubectl:FILE or kubectl:- (standard input)"
        ),
    }
}

use crate::extender::{load_prices, load_profile};

/// The profile of Twin's scheduler that scenario `name` runs with
/// (`default` when it names none).
fn scenario_profile(name: &str, loaded: &twin_inputs::Loaded) -> anyhow::Result<Profile> {
    use twin_sim::scenario::spec::ProfileChoice;
    let sched = &loaded.scenario.spec.scheduler;
    anyhow::ensure!(
        sched.external.is_none(),
        "--scenario {name}: its scheduler is an external one, which shadow cannot run yet; give --profile"
    );
    match &sched.profile {
        None => Ok(Profile::builtin("default")?),
        Some(ProfileChoice::Builtin(n)) => Profile::builtin(n)
            .with_context(|| format!("--scenario {name}: its profile {n:?} is not one of Twin's scheduler; give --profile")),
        Some(ProfileChoice::Custom(spec)) => Profile::from_spec(spec).with_context(|| format!("--scenario {name}: its profile")),
    }
}

fn parse_duration(what: &str, v: &str) -> anyhow::Result<Duration> {
    let d = twin_sim::scenario::duration::parse_duration(v).map_err(|e| anyhow::anyhow!("--{what} `{v}`: {e}"))?;
    Ok(Duration::from_nanos(d.as_nanos()))
}

/// Everything checked before the session starts.
struct Setup {
    telemetry: Vec<Telemetry>,
    cluster: Option<Cluster>,
    session: Session,
    /// What the session judges with, in words, for the start message.
    judges: Vec<String>,
    duration: Option<Duration>,
    out: Option<PathBuf>,
}

fn setup(a: &ShadowArgs) -> anyhow::Result<Setup> {
    let telemetry = a.telemetry.iter().map(|t| telemetry(t)).collect::<anyhow::Result<Vec<_>>>()?;
    let cluster = a.cluster.as_deref().map(cluster).transpose()?;
    let loaded = a.scenario.as_deref().map(|name| twin_inputs::load(name).with_context(|| format!("--scenario {name}"))).transpose()?;
    let profile = match (&a.profile, &loaded) {
        (Some(p), _) => load_profile(p)?,
        (None, Some(l)) => scenario_profile(a.scenario.as_deref().unwrap_or_default(), l)?,
        (None, None) => load_profile("cost-aware")?,
    };
    let mut judges = vec![format!("profile {}", profile.name)];
    // Placement policies: --policies, else the scenario's (when they place).
    let policy = if !a.policies.is_empty() {
        Some(crate::extender::load_policies(&a.policies)?)
    } else if let Some(sources) = loaded.as_ref().and_then(|l| l.policies.as_ref()) {
        match PlacementPolicy::compile(&sources.files, sources.data.as_deref()) {
            Ok(p) => Some(p),
            Err(PlacementPolicyError::NoPlacement { .. }) => None,
            Err(e) => return Err(anyhow::Error::new(e).context("--scenario: its policies")),
        }
    } else {
        None
    };
    if policy.is_some() {
        judges.push("placement policies".into());
    }
    // Twin's autoscalers: the scenario's services that have one.
    let services: Vec<(String, twin_sim::scenario::spec::AutoscalerSpec)> = loaded
        .as_ref()
        .map(|l| l.scenario.spec.services.iter().filter_map(|s| s.autoscaler.clone().map(|a| (s.name.clone(), a))).collect())
        .unwrap_or_default();
    let scalers = Scalers::new(services);
    if !scalers.is_empty() {
        judges.push(format!("autoscalers of {}", scalers.services().collect::<Vec<_>>().join(", ")));
    }
    let consolidate = parse_duration("consolidate-every", &a.consolidate_every)?;
    anyhow::ensure!(
        !a.telemetry.is_empty() || a.cluster.is_some(),
        "nothing to shadow: give --telemetry SOURCE (repeatable) and/or --cluster kube|kubectl:FILE"
    );
    let prices = a.prices.as_deref().map(load_prices).transpose()?.unwrap_or_default();
    let reader = NodeReader::new(prices)?;
    let duration = a.duration.as_deref().map(|d| parse_duration("duration", d)).transpose()?;
    let idle = parse_duration("idle-after", &a.idle_after)?;
    let idle_ns = i64::try_from(idle.as_nanos()).unwrap_or(i64::MAX);
    let mut session = Session::new(profile, reader, idle_ns)
        .with_autoscalers(scalers)
        .consolidate_every(i64::try_from(consolidate.as_nanos()).unwrap_or(i64::MAX));
    if let Some(p) = policy {
        session = session.with_policy(p);
    }
    Ok(Setup { telemetry, cluster, session, judges, duration, out: a.out.clone() })
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

/// What `/metrics` shows.
struct Metrics {
    registry: Registry,
    samples: Family<SourceLabel, Counter>,
    gaps: Family<SourceLabel, Counter>,
    divergences: Family<KindLabel, Counter>,
    saving: Gauge<f64, AtomicU64>,
    health: Family<SourceLabel, Gauge<f64, AtomicU64>>,
    cost: Family<LedgerLabel, Gauge<f64, AtomicU64>>,
    idle_gpus: Gauge,
    consolidation: Gauge<f64, AtomicU64>,
    cluster_events: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LedgerLabel {
    ledger: &'static str,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("twin_shadow");
        let samples = Family::<SourceLabel, Counter>::default();
        let gaps = Family::<SourceLabel, Counter>::default();
        let divergences = Family::<KindLabel, Counter>::default();
        let saving = Gauge::<f64, AtomicU64>::default();
        let health = Family::<SourceLabel, Gauge<f64, AtomicU64>>::default();
        registry.register("samples", "Readings received, by source", samples.clone());
        registry.register("gaps", "Gaps in a source's readings, by source", gaps.clone());
        registry.register("divergences", "Divergences found, by kind (placement, unplaceable, idle)", divergences.clone());
        registry.register(
            "counterfactual_saving_dollars_per_hour",
            "Sum over placement divergences of what Twin's choice would save per hour",
            saving.clone(),
        );
        registry.register("source_health", "Each source's health: 1 up, 0.5 degraded or retrying, 0 down", health.clone());
        let cost = Family::<LedgerLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "cost_dollars",
            "The session's OpenCost-style cost so far: nodes, allocated to pods, idle, and allocated where Twin would have placed the pods",
            cost.clone(),
        );
        let idle_gpus = Gauge::default();
        registry.register("idle_gpus", "GPUs reading 0 % utilisation for the whole idle window now", idle_gpus.clone());
        let consolidation = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "consolidation_saving_dollars_per_hour",
            "What emptying the nodes of the latest consolidation plan would save per hour",
            consolidation.clone(),
        );
        let cluster_events = Counter::default();
        registry.register("cluster_events", "Cluster watch events received", cluster_events.clone());
        Metrics { registry, samples, gaps, divergences, saving, health, cost, idle_gpus, consolidation, cluster_events }
    }

    /// The session's gauges, after a tick.
    fn session(&self, s: &twin_shadow::session::Summary) {
        let c = &s.cost;
        for (ledger, v) in
            [("nodes", c.nodes_dollars), ("allocated", c.allocated_dollars), ("idle", c.idle_dollars), ("twin", c.twin_dollars)]
        {
            self.cost.get_or_create(&LedgerLabel { ledger }).set(v);
        }
        self.idle_gpus.set(i64::try_from(s.idle_gpus).unwrap_or(i64::MAX));
        self.consolidation.set(s.consolidation.saving_per_hour);
        self.saving.set(s.counterfactual_saving_per_hour);
    }

    fn telemetry(&self, event: &Event) {
        match event {
            Event::Readings { source, readings } => {
                self.samples.get_or_create(&SourceLabel { source: source.clone() }).inc_by(readings.len() as u64);
            }
            Event::Gap { source, .. } => {
                self.gaps.get_or_create(&SourceLabel { source: source.clone() }).inc();
            }
            Event::Health { source, health } => {
                self.health.get_or_create(&SourceLabel { source: source.clone() }).set(health_value(health));
            }
        }
    }
}

async fn serve_metrics(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &m.registry) {
        Ok(()) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("cannot encode metrics: {e}\n"),
        ),
    }
}

/// The wall clock, ns since the epoch.
fn wall_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Where divergences go as they are found.
enum Log {
    File(std::io::BufWriter<std::fs::File>),
    Stderr,
}

impl Log {
    fn write(&mut self, d: &Divergence) -> anyhow::Result<()> {
        let mut v = serde_json::to_value(d).context("a divergence as JSON")?;
        if let Some(o) = v.as_object_mut() {
            o.insert("observed_ns".into(), wall_ns().into());
        }
        let line = serde_json::to_string(&v).context("a divergence as JSON")?;
        match self {
            Log::File(f) => {
                writeln!(f, "{line}").and_then(|()| f.flush()).context("writing divergences.jsonl")?;
            }
            Log::Stderr => eprintln!("{line}"),
        }
        Ok(())
    }

    fn sync(&mut self) -> anyhow::Result<()> {
        if let Log::File(f) = self {
            f.flush().and_then(|()| f.get_ref().sync_all()).context("syncing divergences.jsonl")?;
        }
        Ok(())
    }
}

/// Ctrl-C or SIGTERM.
async fn signal() {
    crate::extender::ctrl_c_or_term().await;
}

/// The session, one event at a time, with its log and metrics.
struct Loop {
    session: Session,
    log: Log,
    metrics: Arc<Metrics>,
}

impl Loop {
    fn found(&mut self, found: Vec<Divergence>) -> anyhow::Result<()> {
        for d in &found {
            self.metrics.divergences.get_or_create(&KindLabel { kind: d.kind().into() }).inc();
            self.log.write(d)?;
        }
        if !found.is_empty() {
            self.metrics.saving.set(self.session.summary().counterfactual_saving_per_hour);
        }
        Ok(())
    }

    fn telemetry(&mut self, e: &Event) -> anyhow::Result<()> {
        self.metrics.telemetry(e);
        let found = self.session.on_telemetry(e);
        self.found(found)
    }

    fn cluster(&mut self, e: &WatchEvent) -> anyhow::Result<()> {
        self.metrics.cluster_events.inc();
        let found = self.session.on_cluster(e);
        self.found(found)
    }

    /// The session's clock moved to the wall clock's now (`last`: the end
    /// of the session).
    fn tick(&mut self, last: bool) -> anyhow::Result<()> {
        let found = if last { self.session.finish(wall_ns()) } else { self.session.tick(wall_ns()) };
        self.found(found)?;
        self.metrics.session(self.session.summary());
        Ok(())
    }
}

pub fn shadow(a: ShadowArgs) -> anyhow::Result<ExitCode> {
    let s = match setup(&a) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(crate::EXIT_BAD_INPUT));
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the tokio runtime")?;
    // A kubeconfig that does not load is bad input, found before anything
    // is written. The client lives on this runtime, which runs the session.
    let kube_client = match &s.cluster {
        Some(Cluster::Kube(src)) => match runtime.block_on(src.connect()) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("error: --cluster {}: {e}", src.name());
                return Ok(ExitCode::from(crate::EXIT_BAD_INPUT));
            }
        },
        _ => None,
    };
    let log = match &s.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("--out {}", dir.display()))?;
            let path = dir.join("divergences.jsonl");
            let f = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            Log::File(std::io::BufWriter::new(f))
        }
        None => Log::Stderr,
    };
    eprintln!("twin shadow: judging with {}", s.judges.join(", "));
    let metrics = Arc::new(Metrics::new());
    let mut run = Loop { session: s.session, log, metrics: Arc::clone(&metrics) };
    let result = runtime.block_on(async {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut server = None;
        if let Some(addr) = a.listen {
            let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("--listen {addr}"))?;
            eprintln!("listening on {}", listener.local_addr().context("the bound address")?);
            let app = Router::new()
                .route("/metrics", get(serve_metrics))
                .route("/healthz", get(|| async { "ok\n" }))
                .with_state(Arc::clone(&run.metrics));
            let mut stop = stop_rx.clone();
            server = Some(tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                crate::extender::serve_router(listener, app, METRICS_READ_TIMEOUT, shutdown).await;
            }));
        }
        let feed = Feed::new(FEED_CAPACITY);
        let mut tasks = Vec::new();
        for t in s.telemetry {
            let (feed, mut stop) = (feed.clone(), stop_rx.clone());
            tasks.push(match t {
                Telemetry::Smi(src) => {
                    eprintln!("twin shadow: following {}", src.name());
                    tokio::spawn(async move {
                        src.run(feed, stop).await;
                    })
                }
                Telemetry::Nvml(src) => {
                    eprintln!("twin shadow: sampling this machine's GPUs through NVML every {:?}", src.interval);
                    tokio::spawn(async move {
                        src.run(feed, stop).await;
                    })
                }
                Telemetry::Dcgm(src) => {
                    eprintln!("twin shadow: scraping {}", src.name());
                    tokio::spawn(src.run(feed, async move {
                        let _ = stop.wait_for(|s| *s).await;
                    }))
                }
            });
        }
        let (cluster_tx, mut cluster_rx) = mpsc::channel::<WatchEvent>(CLUSTER_QUEUE);
        let mut cluster_open = false;
        match (s.cluster, kube_client) {
            (Some(Cluster::Kubectl(src)), _) => {
                eprintln!("twin shadow: watching {}", src.name());
                cluster_open = true;
                let (feed, stop) = (feed.clone(), stop_rx.clone());
                tasks.push(tokio::spawn(async move {
                    src.run(cluster_tx, feed, stop).await;
                }));
            }
            (Some(Cluster::Kube(src)), Some(client)) => {
                eprintln!("twin shadow: watching the Kubernetes API ({}): pods, nodes, deployments, horizontalpodautoscalers", src.name());
                cluster_open = true;
                let (feed, stop, src) = (feed.clone(), stop_rx.clone(), src.with_client(client));
                tasks.push(tokio::spawn(async move {
                    src.run(cluster_tx, feed, stop).await;
                }));
            }
            _ => drop(cluster_tx),
        }
        let deadline = async {
            match s.duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        let interrupted = signal();
        tokio::pin!(interrupted);
        let mut clock = tokio::time::interval(TICK);
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = &mut interrupted => {
                    eprintln!("twin shadow: stopping: flushing what the sources sent");
                    break;
                }
                () = &mut deadline => break,
                e = cluster_rx.recv(), if cluster_open => match e {
                    Some(e) => run.cluster(&e)?,
                    None => cluster_open = false,
                },
                e = feed.next() => match e {
                    Some(e) => run.telemetry(&e)?,
                    None => break,
                },
                // Last: what came before the tick is judged before it.
                _ = clock.tick() => run.tick(false)?,
            }
        }
        // Stop the sources, then judge what they had sent.
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = tokio::time::timeout(STOP_GRACE, t).await;
        }
        while let Ok(e) = cluster_rx.try_recv() {
            run.cluster(&e)?;
        }
        for e in feed.drain() {
            run.telemetry(&e)?;
        }
        run.tick(true)?;
        if let Some(server) = server {
            let _ = tokio::time::timeout(STOP_GRACE, server).await;
        }
        anyhow::Ok(())
    });
    // The log is synced and the summary written even when the loop failed.
    let synced = run.log.sync();
    let summary = run.session.summary();
    let json = serde_json::to_string_pretty(summary).context("the summary as JSON")?;
    if let Some(dir) = &s.out {
        let path = dir.join("shadow-summary.json");
        twin_replay::atomic::write_text(&path, &format!("{json}\n")).with_context(|| format!("writing {}", path.display()))?;
    }
    result?;
    synced?;
    let kinds: Vec<String> = summary.divergences.iter().map(|(k, n)| format!("{n} {k}")).collect();
    outln!(
        "twin shadow: {} divergence(s){}; counterfactual saving {:.2} $/h; {} binding(s) agreed, {} not judged; {} reading(s) in",
        summary.divergences.values().sum::<u64>(),
        if kinds.is_empty() { String::new() } else { format!(" ({})", kinds.join(", ")) },
        summary.counterfactual_saving_per_hour,
        summary.agreed,
        summary.not_judged,
        summary.samples_in.values().sum::<u64>(),
    );
    let c = &summary.cost;
    outln!(
        "twin shadow: over {:.2} h: nodes {:.2} $, allocated to pods {:.2} $ ({:.2} $ idle), where Twin would have placed them {:.2} $ (saving {:.2} $); consolidation could free {} node(s), {:.2} $/h; GPUs drew {:.3} kWh",
        c.hours,
        c.nodes_dollars,
        c.allocated_dollars,
        c.idle_dollars,
        c.twin_dollars,
        c.saving_dollars,
        summary.consolidation.nodes_freed.len(),
        summary.consolidation.saving_per_hour,
        summary.energy_kwh,
    );
    Ok(ExitCode::SUCCESS)
}
