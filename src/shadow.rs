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
use twin_scheduler::Profile;
use twin_shadow::dcgm::DcgmSource;
use twin_shadow::feed::{Event, Feed};
use twin_shadow::kubectl::{KubectlSource, WatchEvent};
use twin_shadow::nvml::NvmlSource;
use twin_shadow::session::{Divergence, Session, health_value};
use twin_shadow::smi::SmiSource;

/// Events the feed holds before the oldest readings turn into a gap.
const FEED_CAPACITY: usize = 65_536;
/// Cluster events waiting to be judged before the watch reader waits.
const CLUSTER_QUEUE: usize = 1024;
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

/// Reads `--cluster`.
fn cluster(arg: &str) -> anyhow::Result<KubectlSource> {
    match arg.split_once(':') {
        Some(("kubectl", rest)) if !rest.is_empty() => Ok(KubectlSource::from_arg(rest)),
        _ => anyhow::bail!("--cluster {arg}: not a source; write kubectl:FILE or kubectl:- (standard input)"),
    }
}

use crate::extender::{load_prices, load_profile};

/// The profile of Twin's scheduler that scenario `name` runs with
/// (`default` when it names none).
fn scenario_profile(name: &str) -> anyhow::Result<Profile> {
    use twin_sim::scenario::spec::ProfileChoice;
    let loaded = twin_inputs::load(name).with_context(|| format!("--scenario {name}"))?;
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
    cluster: Option<KubectlSource>,
    session: Session,
    duration: Option<Duration>,
    out: Option<PathBuf>,
}

fn setup(a: &ShadowArgs) -> anyhow::Result<Setup> {
    let telemetry = a.telemetry.iter().map(|t| telemetry(t)).collect::<anyhow::Result<Vec<_>>>()?;
    let cluster = a.cluster.as_deref().map(cluster).transpose()?;
    let profile = match (&a.profile, &a.scenario) {
        (Some(p), _) => load_profile(p)?,
        (None, Some(name)) => scenario_profile(name)?,
        (None, None) => load_profile("cost-aware")?,
    };
    anyhow::ensure!(
        !a.telemetry.is_empty() || a.cluster.is_some(),
        "nothing to shadow: give --telemetry SOURCE (repeatable) and/or --cluster kubectl:FILE"
    );
    let prices = a.prices.as_deref().map(load_prices).transpose()?.unwrap_or_default();
    let reader = NodeReader::new(prices)?;
    let duration = a.duration.as_deref().map(|d| parse_duration("duration", d)).transpose()?;
    let idle = parse_duration("idle-after", &a.idle_after)?;
    let idle_ns = i64::try_from(idle.as_nanos()).unwrap_or(i64::MAX);
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).with_context(|| format!("--out {}", dir.display()))?;
    }
    Ok(Setup { telemetry, cluster, session: Session::new(profile, reader, idle_ns), duration, out: a.out.clone() })
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
        Metrics { registry, samples, gaps, divergences, saving, health }
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

/// Where divergences go as they are found.
enum Log {
    File(std::io::BufWriter<std::fs::File>),
    Stderr,
}

impl Log {
    fn write(&mut self, d: &Divergence) -> anyhow::Result<()> {
        let mut v = serde_json::to_value(d).context("a divergence as JSON")?;
        if let Some(o) = v.as_object_mut() {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
            o.insert("observed_ns".into(), now.into());
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
        let found = self.session.on_cluster(e);
        self.found(found)
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
    let log = match &s.out {
        Some(dir) => {
            let path = dir.join("divergences.jsonl");
            let f = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            Log::File(std::io::BufWriter::new(f))
        }
        None => Log::Stderr,
    };
    let metrics = Arc::new(Metrics::new());
    let mut run = Loop { session: s.session, log, metrics: Arc::clone(&metrics) };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the tokio runtime")?;
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
                if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                    eprintln!("twin shadow: serving /metrics: {e}");
                }
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
        if let Some(src) = s.cluster {
            eprintln!("twin shadow: watching {}", src.name());
            cluster_open = true;
            let (feed, stop) = (feed.clone(), stop_rx.clone());
            tasks.push(tokio::spawn(async move {
                src.run(cluster_tx, feed, stop).await;
            }));
        } else {
            drop(cluster_tx);
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
    Ok(ExitCode::SUCCESS)
}
