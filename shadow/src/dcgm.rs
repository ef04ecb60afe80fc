//! A DCGM exporter (or any Prometheus endpoint serving DCGM metrics),
//! scraped at an interval.
//!
//! ```text
//!   DcgmSource::run ──GET url──► dcgm-exporter (:9400/metrics)
//!        │  every interval; each scrape bounded by a timeout and a body limit
//!        ▼
//!   ScrapeReader::read ── twin_replay::dcgm::parse_line / target ──► Reading per (host, GPU, time)
//!        │
//!        ▼
//!   Feed ◄── Readings · Health (Up, Retrying, Degraded) · Gap (a failed stretch, marked)
//! ```
//!
//! Lines are read with `twin-replay`'s exposition line reader and metric
//! mapping (the table in [`twin_replay::dcgm`]); this module adds what a live
//! fleet needs and a recording does not: the host (`Hostname`, or
//! `hostname` in newer exporters), the GPU's `UUID`, the Kubernetes pod
//! (`namespace`/`pod`, or `pod_namespace`/`pod_name`), DCGM's blank
//! sentinels, and energy counter resets.
//!
//! - **Time**: a line's Prometheus timestamp when it has one, else the wall
//!   time at which the scrape began. The wall clock is read here, at the
//!   edge, never in the model.
//! - **Blanks**: DCGM writes "no value" (blank, not found, not supported,
//!   not permissioned) as huge sentinels: integers from
//!   [`DCGM_INT32_BLANK`] (`0x7ffffff0`) or [`DCGM_INT64_BLANK`]
//!   (`0x7ffffffffffffff0`) up, floats from [`DCGM_FP64_BLANK`] (2⁴⁷) up.
//!   Such a value is missing, never a reading; [`Scrape::blanks`] counts them.
//!   The 64-bit threshold applies to the 64-bit fields (the energy counter,
//!   throttle reasons) and the 32-bit one to the rest (no utilisation, MiB,
//!   W, °C or MHz reaches 2³¹ honestly).
//! - **Energy**: `DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION` is mJ since the
//!   driver loaded. When it goes down (a driver reload, a GPU reset), the
//!   scrape says so in [`Scrape::resets`] and the source reports
//!   [`Health::Degraded`]: an energy delta is taken from the new reading on,
//!   never across the reset, so never negative.
//! - **MIG**: lines of a MIG instance (a non-empty `GPU_I_ID`) are left out
//!   (counted in [`Scrape::mig_lines`]): a [`Reading`] is a whole GPU.
//! - **Failures**: a refused connection, a stall past the timeout, an answer
//!   broken off, a status other than 200, a body over the limit, or a body
//!   with no GPU readings is a [`DcgmError`]; the source reports
//!   [`Health::Retrying`] and tries again after an exponential backoff
//!   (from the interval, doubling, capped). When readings resume, an
//!   [`Event::Gap`] marks the failed stretch, then readings continue.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::header::{ACCEPT, HeaderValue};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use twin_replay::dcgm::{Target, parse_line, target};
use twin_replay::{Field, Sample};

use crate::feed::{Event, Feed, Health, Reading};

/// DCGM's blank 32-bit integer (`DCGM_INT32_BLANK`, `0x7ffffff0`); values
/// from it up are DCGM's "no value" codes.
pub const DCGM_INT32_BLANK: f64 = 2_147_483_632.0;
/// DCGM's blank 64-bit integer (`DCGM_INT64_BLANK`, `0x7ffffffffffffff0`);
/// values from it up are DCGM's "no value" codes.
pub const DCGM_INT64_BLANK: f64 = 9_223_372_036_854_775_792.0;
/// DCGM's blank double (`DCGM_FP64_BLANK`, 2⁴⁷); values from it up are
/// DCGM's "no value" codes.
pub const DCGM_FP64_BLANK: f64 = 140_737_488_355_328.0;

/// Whether `value` of a metric going to `target` is one of DCGM's blank
/// sentinels (see the module documentation).
pub fn is_blank(target: Target, value: f64) -> bool {
    let wide = matches!(target, Target::Throttle | Target::Value(Field::Energy, _));
    value >= if wide { DCGM_INT64_BLANK } else { DCGM_INT32_BLANK }
}

/// What one scrape held.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape {
    /// One reading per (host, GPU, time), in order of first appearance.
    pub readings: Vec<Reading>,
    /// Metric lines (not blank, not comments).
    pub lines: usize,
    /// Lines that could not be read (a bad number, unclosed quotes, a
    /// mapped metric without a `gpu` index, a fractional bitmask).
    pub skipped: usize,
    /// The first unreadable line, as `line N: what`.
    pub first_problem: Option<String>,
    /// Values left out as DCGM blank sentinels.
    pub blanks: usize,
    /// Lines of MIG instances, left out.
    pub mig_lines: usize,
    /// One note per GPU whose energy counter went back since the last
    /// scrape.
    pub resets: Vec<String>,
}

/// Readings by (host, GPU, time) while a scrape is read.
#[derive(Default)]
struct Builder {
    readings: Vec<Reading>,
    /// Free, reserved and total MiB, by reading.
    fb: Vec<[Option<f64>; 3]>,
    at: HashMap<String, HashMap<(u32, i64), usize>>,
}

impl Builder {
    fn get(&mut self, host: &str, gpu: u32, time_ns: i64) -> usize {
        let n = self.readings.len();
        let by_gpu = match self.at.get_mut(host) {
            Some(m) => m,
            None => self.at.entry(host.to_string()).or_default(),
        };
        let i = *by_gpu.entry((gpu, time_ns)).or_insert(n);
        if i == n {
            self.readings.push(Reading { host: host.to_string(), uuid: None, pod: None, sample: Sample::new(time_ns, gpu) });
            self.fb.push([None; 3]);
        }
        i
    }

    fn finish(mut self) -> Vec<Reading> {
        for (r, [free, reserved, total]) in self.readings.iter_mut().zip(self.fb) {
            let s = &mut r.sample;
            let sum = s.get(Field::MemUsed).zip(free).map(|(u, f)| u + f + reserved.unwrap_or(0.0));
            if let Some(t) = total.or(sum) {
                s.set(Field::MemTotal, t);
            }
        }
        self.readings
    }
}

fn non_empty(v: Option<&str>) -> Option<&str> {
    v.filter(|v| !v.is_empty())
}

/// `namespace/pod`, or the pod alone without a namespace.
fn pod_of(l: &twin_replay::dcgm::Line<'_>) -> Option<String> {
    let pod = non_empty(l.label("pod")).or_else(|| non_empty(l.label("pod_name")))?;
    match non_empty(l.label("namespace")).or_else(|| non_empty(l.label("pod_namespace"))) {
        Some(ns) => Some(format!("{ns}/{pod}")),
        None => Some(pod.to_string()),
    }
}

/// Reads scrapes of one source, remembering what spans them (the energy
/// counters, to notice resets).
#[derive(Clone, Debug, Default)]
pub struct ScrapeReader {
    /// The host of lines without a `Hostname`/`hostname` label.
    default_host: String,
    /// The last energy counter (J) by (host, GPU).
    energy: HashMap<(String, u32), f64>,
}

impl ScrapeReader {
    /// A reader whose lines without a host label are from `default_host`
    /// (the scraped endpoint's host).
    pub fn new(default_host: impl Into<String>) -> ScrapeReader {
        ScrapeReader { default_host: default_host.into(), energy: HashMap::new() }
    }

    /// Reads one scrape's exposition text; lines without a timestamp are at
    /// `now_ns` (ns since the epoch). Never fails: what cannot be read is
    /// counted in the [`Scrape`], and a scrape without readings is the
    /// caller's to judge.
    pub fn read(&mut self, text: &str, now_ns: i64) -> Scrape {
        let mut out = Scrape::default();
        let mut b = Builder::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            out.lines += 1;
            if let Err(problem) = self.file(line, now_ns, &mut b, &mut out) {
                out.skipped += 1;
                if out.first_problem.is_none() {
                    out.first_problem = Some(format!("line {}: {problem}", i + 1));
                }
            }
        }
        out.readings = b.finish();
        self.check_energy(&mut out);
        out
    }

    /// Files one line into its reading.
    fn file(&self, line: &str, now_ns: i64, b: &mut Builder, out: &mut Scrape) -> Result<(), String> {
        let l = parse_line(line).map_err(|(field, message)| match field {
            Some(f) => format!("`{f}`: {message}"),
            None => message,
        })?;
        let Some(target) = target(l.metric) else { return Ok(()) };
        if non_empty(l.label("GPU_I_ID")).is_some() {
            out.mig_lines += 1;
            return Ok(());
        }
        let gpu = l.label("gpu").ok_or_else(|| format!("`{}` has no gpu label", l.metric))?;
        let gpu = gpu.trim().parse::<u32>().map_err(|_| format!("`{gpu}` is not a GPU index"))?;
        let time_ns = match l.ms {
            Some(ms) => ms.checked_mul(1_000_000).ok_or_else(|| format!("timestamp {ms} ms is out of range"))?,
            None => now_ns,
        };
        let mut value = Some(l.value).filter(|v| v.is_finite());
        if value.is_some_and(|v| is_blank(target, v)) {
            out.blanks += 1;
            value = None;
        }
        let throttle = match (target, value) {
            (Target::Throttle, Some(v)) if v < 0.0 || v.fract() != 0.0 || v >= 18_446_744_073_709_551_616.0 => {
                return Err(format!("`{}`: `{v}` is not a bitmask", l.metric));
            }
            // In range and whole: the cast is exact.
            (Target::Throttle, Some(v)) => Some(v as u64),
            _ => None,
        };
        let host = non_empty(l.label("Hostname")).or_else(|| non_empty(l.label("hostname"))).unwrap_or(&self.default_host);
        let i = b.get(host, gpu, time_ns);
        let (Some(r), Some(fb)) = (b.readings.get_mut(i), b.fb.get_mut(i)) else { return Ok(()) };
        if r.uuid.is_none() {
            r.uuid = non_empty(l.label("UUID")).map(str::to_string);
        }
        if r.pod.is_none() {
            r.pod = pod_of(&l);
        }
        if r.sample.gpu_name.is_none() {
            r.sample.gpu_name = non_empty(l.label("modelName")).map(str::to_string);
        }
        match (target, value) {
            (Target::Value(f, scale), Some(v)) => r.sample.set(f, v * scale),
            (Target::Throttle, _) => r.sample.throttle_reasons = throttle,
            (Target::FbFree, v) => fb[0] = v,
            (Target::FbReserved, v) => fb[1] = v,
            (Target::FbTotal, v) => fb[2] = v,
            (Target::Value(..), None) => {}
        }
        Ok(())
    }

    /// Notes every GPU whose energy counter went back, and remembers the
    /// counters.
    fn check_energy(&mut self, out: &mut Scrape) {
        for r in &out.readings {
            let Some(now) = r.sample.get(Field::Energy) else { continue };
            let key = (r.host.clone(), r.sample.gpu);
            if let Some(before) = self.energy.insert(key, now)
                && now < before
            {
                out.resets.push(format!(
                    "energy counter of GPU {} on {} went back from {before:.3} J to {now:.3} J (driver reload or GPU reset): energy is counted from the new reading, not across the reset",
                    r.sample.gpu, r.host
                ));
            }
        }
    }
}

/// Why a scrape failed; each names the endpoint and what to check.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DcgmError {
    /// The source's URL cannot be scraped.
    #[error("dcgm source `{url}`: {reason}; write it as dcgm:http://HOST:9400/metrics")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No connection, or the request could not be sent.
    #[error("{url}: cannot connect: {message}; is dcgm-exporter running and listening there (default port 9400)?")]
    Connect {
        /// The endpoint.
        url: String,
        /// The error and its causes.
        message: String,
    },
    /// No complete answer within the scrape timeout.
    #[error(
        "{url}: no complete answer within {timeout:?}: the exporter stalled or the network is slow; raise the scrape timeout if it is only slow"
    )]
    Timeout {
        /// The endpoint.
        url: String,
        /// The scrape timeout.
        timeout: Duration,
    },
    /// An HTTP status other than 200.
    #[error("{url}: answered HTTP {status}, not 200: check the path (dcgm-exporter serves /metrics)")]
    Status {
        /// The endpoint.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The answer broke off (the connection closed mid-body).
    #[error("{url}: the answer broke off: {message}; the exporter may have restarted")]
    Body {
        /// The endpoint.
        url: String,
        /// The error and its causes.
        message: String,
    },
    /// The answer is larger than the body limit.
    #[error("{url}: the answer is over the limit of {limit} bytes; raise the body limit if the endpoint really serves this much")]
    TooLarge {
        /// The endpoint.
        url: String,
        /// The body limit, bytes.
        limit: usize,
    },
    /// The answer is not UTF-8 text.
    #[error("{url}: the answer is not UTF-8 text; is this a Prometheus endpoint?")]
    NotText {
        /// The endpoint.
        url: String,
    },
    /// The answer holds no GPU readings.
    #[error("{url}: no DCGM GPU readings in the answer ({detail}); is this a dcgm-exporter endpoint (metrics DCGM_FI_*{{gpu=\"0\",...}})?")]
    NoReadings {
        /// The endpoint.
        url: String,
        /// Lines read, and the first that could not be.
        detail: String,
    },
}

/// An error and its causes, joined.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// Now, in ns since the epoch (0 before it, saturating far after).
fn wall_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// The wait after the `attempt`-th failure in a row (from 1): the interval,
/// doubling, at most `cap` (and at least the interval).
pub fn backoff(interval: Duration, cap: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(30);
    interval.saturating_mul(1 << doublings).min(cap.max(interval))
}

/// A DCGM exporter scraped at an interval: see the module documentation.
#[derive(Clone, Debug)]
pub struct DcgmSource {
    url: Uri,
    name: String,
    /// Time from the start of one scrape to the next (default 1 s; the
    /// exporter itself refreshes every 30 s unless run with `-c MS`).
    pub interval: Duration,
    /// Longest wait for one complete answer (default 10 s).
    pub timeout: Duration,
    /// Longest wait between retries after failures (default 30 s).
    pub max_backoff: Duration,
    /// Largest answer accepted, bytes (default 64 MiB).
    pub body_limit: usize,
}

impl DcgmSource {
    /// A source for `url`: `http://HOST:PORT/PATH`, with or without a
    /// `dcgm:` prefix; a missing scheme means `http://`, a missing path
    /// `/metrics`. HTTPS is not supported (plain HTTP only).
    pub fn new(url: &str) -> Result<DcgmSource, DcgmError> {
        let given = url;
        let bad = |reason: &str| DcgmError::BadUrl { url: given.to_string(), reason: reason.to_string() };
        let url = url.trim();
        let url = url.strip_prefix("dcgm:").unwrap_or(url);
        if url.starts_with("https://") {
            return Err(bad("HTTPS is not supported, only plain HTTP"));
        }
        let full = if url.contains("://") { url.to_string() } else { format!("http://{url}") };
        let uri: Uri = full.parse().map_err(|e: hyper::http::uri::InvalidUri| bad(&format!("not a URL ({e})")))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("only http:// URLs can be scraped"));
        }
        let Some(authority) = uri.authority().cloned() else { return Err(bad("no host")) };
        let uri = match uri.path_and_query().map(|p| p.as_str()) {
            None | Some("/") | Some("") => Uri::builder()
                .scheme("http")
                .authority(authority)
                .path_and_query("/metrics")
                .build()
                .map_err(|e| bad(&format!("not a URL ({e})")))?,
            Some(_) => uri,
        };
        Ok(DcgmSource {
            name: format!("dcgm:{uri}"),
            url: uri,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(30),
            body_limit: 64 << 20,
        })
    }

    /// The source's name in events: `dcgm:` and the URL scraped.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL scraped.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// Scrapes until `stop` completes, pushing what happens into `feed`
    /// (see the module documentation). Returns when `stop` does; the feed
    /// is left open.
    pub async fn run(self, feed: Feed, stop: impl Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        let client: Client<HttpConnector, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let mut reader = ScrapeReader::new(self.url.host().unwrap_or_default());
        let mut last_health: Option<Health> = None;
        // The failed stretch: when it began, failures, the last error.
        let mut outage: Option<(i64, u32, String)> = None;
        loop {
            let started = Instant::now();
            let now_ns = wall_ns();
            let got = tokio::select! {
                _ = &mut stop => return,
                got = self.fetch(&client) => got,
            };
            let wait = match got.and_then(|text| self.read(&mut reader, &text, now_ns)) {
                Ok(scrape) => {
                    if let Some((from_ns, failures, error)) = outage.take() {
                        let why = format!("{failures} scrape(s) failed; the last: {error}");
                        feed.push(Event::Gap { source: self.name.clone(), from_ns, to_ns: now_ns, why });
                    }
                    let health = if !scrape.resets.is_empty() {
                        Health::Degraded(scrape.resets.join("; "))
                    } else if scrape.skipped > 0 {
                        let first = scrape.first_problem.as_deref().unwrap_or("");
                        Health::Degraded(format!("{} of {} lines unreadable, the first at {first}", scrape.skipped, scrape.lines))
                    } else {
                        Health::Up
                    };
                    if last_health.as_ref() != Some(&health) {
                        feed.push(Event::Health { source: self.name.clone(), health: health.clone() });
                        last_health = Some(health);
                    }
                    feed.push(Event::Readings { source: self.name.clone(), readings: scrape.readings });
                    self.interval.saturating_sub(started.elapsed())
                }
                Err(e) => {
                    let error = e.to_string();
                    let (_, failures, last) = outage.get_or_insert((now_ns, 0, String::new()));
                    *failures += 1;
                    *last = error.clone();
                    let attempt = *failures;
                    let health = Health::Retrying { attempt, error };
                    feed.push(Event::Health { source: self.name.clone(), health: health.clone() });
                    last_health = Some(health);
                    backoff(self.interval, self.max_backoff, attempt)
                }
            };
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One GET, within the timeout and the body limit.
    async fn fetch(&self, client: &Client<HttpConnector, Empty<Bytes>>) -> Result<Bytes, DcgmError> {
        let url = || self.url.to_string();
        let mut req = Request::new(Empty::new());
        *req.uri_mut() = self.url.clone();
        req.headers_mut().insert(ACCEPT, HeaderValue::from_static("text/plain;version=0.0.4;q=1,*/*;q=0.1"));
        let work = async {
            let resp = client.request(req).await.map_err(|e| DcgmError::Connect { url: url(), message: chain(&e) })?;
            if resp.status() != StatusCode::OK {
                return Err(DcgmError::Status { url: url(), status: resp.status().as_u16() });
            }
            let body = Limited::new(resp.into_body(), self.body_limit).collect().await.map_err(|e| {
                if e.downcast_ref::<LengthLimitError>().is_some() {
                    DcgmError::TooLarge { url: url(), limit: self.body_limit }
                } else {
                    DcgmError::Body { url: url(), message: chain(e.as_ref()) }
                }
            })?;
            Ok(body.to_bytes())
        };
        tokio::time::timeout(self.timeout, work).await.map_err(|_| DcgmError::Timeout { url: url(), timeout: self.timeout })?
    }

    /// Reads an answer; one without GPU readings is an error.
    fn read(&self, reader: &mut ScrapeReader, body: &[u8], now_ns: i64) -> Result<Scrape, DcgmError> {
        let text = std::str::from_utf8(body).map_err(|_| DcgmError::NotText { url: self.url.to_string() })?;
        let scrape = reader.read(text, now_ns);
        if scrape.readings.is_empty() {
            let mut detail = format!("{} metric lines", scrape.lines);
            if let Some(p) = &scrape.first_problem {
                detail += &format!(", the first unreadable at {p}");
            }
            return Err(DcgmError::NoReadings { url: self.url.to_string(), detail });
        }
        Ok(scrape)
    }
}

/// A dcgm-exporter scrape of `hosts` × `gpus_per_host` H100s, ten metrics
/// each with `# HELP` and `# TYPE`, values varying with `tick`: for tests
/// and benchmarks.
pub fn example_scrape(hosts: usize, gpus_per_host: usize, tick: u64) -> String {
    const METRICS: [(&str, &str, &str); 10] = [
        ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM frequency (in MHz)."),
        ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
        ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
        ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
        ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
        ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
        ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
        ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
        ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active."),
        ("DCGM_FI_PROF_SM_ACTIVE", "gauge", "The ratio of cycles an SM has at least 1 warp assigned."),
    ];
    let mut s = String::with_capacity(hosts * gpus_per_host * METRICS.len() * 260);
    for (m, (metric, kind, help)) in METRICS.iter().enumerate() {
        s += &format!("# HELP {metric} {help}\n# TYPE {metric} {kind}\n");
        for h in 0..hosts {
            for g in 0..gpus_per_host {
                let k = (h * gpus_per_host + g) as u64;
                let busy = !(k + tick).is_multiple_of(4);
                let value = match m {
                    0 => format!("{}", if busy { 1980 } else { 345 }),
                    1 => format!("{}", 30 + (k + tick) % 40),
                    2 => format!("{:.3}", if busy { 650.0 } else { 70.0 } + (k % 7) as f64),
                    3 => format!("{}", 1_000_000_000 + k * 1000 + tick * 650_000),
                    4 => format!("{}", if busy { 90 + k % 10 } else { 0 }),
                    5 => format!("{}", (k + tick) % 50),
                    6 => format!("{}", 81559 - 60000 * u64::from(busy)),
                    7 => format!("{}", 60000 * u64::from(busy)),
                    8 => format!("{:.6}", if busy { 0.93 } else { 0.0 }),
                    _ => format!("{:.6}", if busy { 0.71 } else { 0.0 }),
                };
                let pod = if busy { format!("namespace=\"ml\",pod=\"llm-{h}\"") } else { "namespace=\"\",pod=\"\"".into() };
                s += &format!(
                    "{metric}{{gpu=\"{g}\",UUID=\"GPU-{h:04x}{g:04x}-5fd4-8c2a-0000-00000000{k:04x}\",pci_bus_id=\"00000000:{:02X}:00.0\",device=\"nvidia{g}\",modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"node-{h}\",DCGM_FI_DRIVER_VERSION=\"550.54.15\",container=\"\",{pod}}} {value}\n",
                    0x18 + g * 0x10
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A recorded-style scrape of one 8-GPU host: host label `host_label`
    /// (`Hostname` or `hostname`), GPU 0 in pod `ml/llama-0`, energy
    /// counters `energy_mj[g]`; GPU 5's power and GPU 6's utilisation and
    /// GPU 7's energy are DCGM blanks.
    fn fixture(host_label: &str, util: u32, energy_mj: [u64; 8]) -> String {
        let mut s = String::new();
        let families: [(&str, &str, &str); 6] = [
            ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
            ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
            ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
            ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
            ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
            ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active."),
        ];
        for (metric, kind, help) in families {
            s += &format!("# HELP {metric} {help}\n# TYPE {metric} {kind}\n");
            for g in 0..8u32 {
                let value = match metric {
                    "DCGM_FI_DEV_GPU_UTIL" if g == 6 => "2147483632".to_string(),
                    "DCGM_FI_DEV_GPU_UTIL" => format!("{}", util + g),
                    "DCGM_FI_DEV_POWER_USAGE" if g == 5 => "140737488355328".to_string(),
                    "DCGM_FI_DEV_POWER_USAGE" => format!("{}.5", 300 + g),
                    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" if g == 7 => "9223372036854775792".to_string(),
                    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" => format!("{}", energy_mj[g as usize]),
                    "DCGM_FI_DEV_FB_FREE" => "30000".to_string(),
                    "DCGM_FI_DEV_FB_USED" => "51559".to_string(),
                    _ => "0.875000".to_string(),
                };
                let (ns, pod) = if g == 0 { ("ml", "llama-0") } else { ("", "") };
                s += &format!(
                    "{metric}{{gpu=\"{g}\",UUID=\"GPU-5fd4a3c2-8c2a-11ee-b9d1-0242ac12000{g}\",pci_bus_id=\"00000000:{:02X}:00.0\",device=\"nvidia{g}\",modelName=\"NVIDIA H100 80GB HBM3\",{host_label}=\"gpu-node-7\",DCGM_FI_DRIVER_VERSION=\"550.54.15\",container=\"\",namespace=\"{ns}\",pod=\"{pod}\"}} {value}\n",
                    0x18 + g * 0x10
                );
            }
        }
        s
    }

    const ENERGY: [u64; 8] = [5_000_000, 6_000_000, 7_000_000, 8_000_000, 9_000_000, 10_000_000, 11_000_000, 0];

    fn value(r: &Reading, f: Field) -> Option<f64> {
        r.sample.get(f)
    }

    #[test]
    fn a_scrape_reads_hosts_uuids_pods_and_leaves_blanks_out() {
        let mut reader = ScrapeReader::new("10.0.0.7");
        let s = reader.read(&fixture("Hostname", 40, ENERGY), 77);
        assert_eq!((s.readings.len(), s.lines, s.skipped, s.blanks, s.resets.len()), (8, 48, 0, 3, 0));
        let g0 = &s.readings[0];
        assert_eq!((g0.host.as_str(), g0.sample.gpu, g0.sample.time_ns), ("gpu-node-7", 0, 77));
        assert_eq!(g0.uuid.as_deref(), Some("GPU-5fd4a3c2-8c2a-11ee-b9d1-0242ac120000"));
        assert_eq!((g0.pod.as_deref(), s.readings[1].pod.as_deref()), (Some("ml/llama-0"), None));
        assert_eq!(g0.sample.gpu_name.as_deref(), Some("NVIDIA H100 80GB HBM3"));
        assert_eq!(
            [Field::UtilGpu, Field::Power, Field::Energy, Field::MemUsed, Field::MemTotal].map(|f| value(g0, f)),
            [Some(40.0), Some(300.5), Some(5000.0), Some(51559.0), Some(81559.0)]
        );
        assert_eq!(value(&s.readings[5], Field::Power), None, "FP64 blank");
        assert_eq!(value(&s.readings[6], Field::UtilGpu), None, "INT32 blank");
        assert_eq!(value(&s.readings[7], Field::Energy), None, "INT64 blank");
        assert_eq!(value(&s.readings[6], Field::Energy), Some(11_000.0), "an energy counter past 2^31 mJ is no blank");
        let s = ScrapeReader::new("x").read(&fixture("hostname", 40, ENERGY), 0);
        assert!(s.readings.iter().all(|r| r.host == "gpu-node-7"), "newer exporters' `hostname`");
    }

    #[test]
    fn energy_going_back_is_a_reset_noted_once() {
        let mut reader = ScrapeReader::new("h");
        assert!(reader.read(&fixture("Hostname", 1, ENERGY), 1).resets.is_empty());
        let mut back = ENERGY;
        back[2] = 12_000;
        let s = reader.read(&fixture("Hostname", 1, back), 2);
        assert_eq!(s.resets.len(), 1, "{:?}", s.resets);
        assert!(s.resets[0].starts_with("energy counter of GPU 2 on gpu-node-7 went back from 7000.000 J to 12.000 J"), "{}", s.resets[0]);
        let mut on = back;
        on[2] = 20_000;
        assert!(reader.read(&fixture("Hostname", 1, on), 3).resets.is_empty(), "counting resumes from the new reading");
    }

    #[test]
    fn lines_without_host_timestamps_and_mig_and_bad_lines() {
        let text = "DCGM_FI_DEV_POWER_USAGE{gpu=\"0\"} 100 1732665600000\nDCGM_FI_DEV_POWER_USAGE{gpu=\"0\",GPU_I_ID=\"3\",GPU_I_PROFILE=\"1g.10gb\"} 5\nDCGM_FI_DEV_GPU_UTIL{gpu=\"1\",pod=\"p\"} 7\nDCGM_FI_DEV_GPU_UTIL{UUID=\"x\"} 7\nDCGM_FI_DEV_GPU_UTIL{gpu=\"1\"} lots\ngo_goroutines 12\nDCGM_FI_DEV_CLOCKS_EVENT_REASONS{gpu=\"1\"} 4\n";
        let s = ScrapeReader::new("10.1.2.3").read(text, 5);
        assert_eq!((s.readings.len(), s.lines, s.skipped, s.mig_lines), (2, 7, 2, 1));
        assert_eq!(s.first_problem.as_deref(), Some("line 4: `DCGM_FI_DEV_GPU_UTIL` has no gpu label"));
        let r = &s.readings;
        assert_eq!(
            (r[0].host.as_str(), r[0].sample.time_ns, value(&r[0], Field::Power)),
            ("10.1.2.3", 1_732_665_600_000_000_000, Some(100.0))
        );
        assert_eq!((r[1].sample.time_ns, r[1].pod.as_deref(), r[1].sample.throttle_reasons), (5, Some("p"), Some(4)));
    }

    #[test]
    fn a_thousand_gpus_from_many_hosts_stay_apart() {
        let s = ScrapeReader::new("h").read(&example_scrape(125, 8, 0), 0);
        assert_eq!((s.readings.len(), s.lines, s.skipped, s.blanks), (1000, 10_000, 0, 0));
        assert_eq!((s.readings[999].host.as_str(), s.readings[999].sample.gpu), ("node-124", 7));
        assert!(s.readings.iter().all(|r| r.sample.get(Field::MemTotal) == Some(81559.0)));
    }

    #[test]
    fn urls_are_completed_or_refused_with_the_fix() {
        let s = DcgmSource::new("dcgm:gpu-node-7:9400").unwrap();
        assert_eq!(s.name(), "dcgm:http://gpu-node-7:9400/metrics");
        assert_eq!(DcgmSource::new("http://h:1/federate?x=1").unwrap().url().to_string(), "http://h:1/federate?x=1");
        for bad in ["https://h/metrics", "ftp://h/x", "http://", "dcgm:"] {
            let e = DcgmSource::new(bad).unwrap_err();
            assert!(e.to_string().ends_with("write it as dcgm:http://HOST:9400/metrics"), "{bad}: {e}");
        }
    }

    #[test]
    fn backoff_doubles_from_the_interval_to_the_cap() {
        let ms = Duration::from_millis;
        let got: Vec<Duration> = (1..=6).map(|a| backoff(ms(100), ms(1000), a)).collect();
        assert_eq!(got, [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]);
        assert_eq!(backoff(ms(100), ms(10), u32::MAX), ms(100));
    }

    /// What the fake exporter does with one connection.
    #[derive(Clone)]
    enum Step {
        /// Answers 200 with the text.
        Serve(String),
        /// Answers only after a delay (past the scrape timeout).
        Stall(Duration, String),
        /// Sends the headers and half the body, then hangs up.
        Cut(String),
        /// Answers this status.
        Status(u16),
    }

    fn response(status: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    /// A fake exporter on 127.0.0.1:0 taking one step per connection, the
    /// last step again once the script is done.
    async fn exporter(script: Vec<Step>) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut steps = script.into_iter();
            let mut last = None;
            while let Ok((mut conn, _)) = listener.accept().await {
                let step = steps.next().or_else(|| last.clone());
                last = step.clone();
                tokio::spawn(async move {
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let out = match step {
                        Some(Step::Serve(body)) => response("200 OK", &body),
                        Some(Step::Stall(d, body)) => {
                            tokio::time::sleep(d).await;
                            response("200 OK", &body)
                        }
                        Some(Step::Cut(body)) => {
                            let full = response("200 OK", &body);
                            full[..full.len() - body.len() / 2].to_string()
                        }
                        Some(Step::Status(code)) => response(&format!("{code} Service Unavailable"), "exporter not ready\n"),
                        None => return,
                    };
                    let _ = conn.write_all(out.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn faults_are_retried_marked_as_a_gap_and_recovered_from() {
        let good = fixture("Hostname", 40, ENERGY);
        let mut reset = ENERGY;
        reset[2] = 12_000;
        let script = vec![
            Step::Serve(good.clone()),
            Step::Stall(Duration::from_millis(1500), good.clone()),
            Step::Cut(good.clone()),
            Step::Serve("<html><body>502 Bad Gateway</body></html>\n".into()),
            Step::Status(503),
            Step::Serve(fixture("hostname", 50, reset)),
            Step::Serve(fixture("Hostname", 60, reset)),
        ];
        let addr = exporter(script).await;
        let mut source = DcgmSource::new(&format!("http://{addr}/metrics")).unwrap();
        source.interval = Duration::from_millis(20);
        source.timeout = Duration::from_millis(300);
        source.max_backoff = Duration::from_millis(40);
        let name = source.name().to_string();
        let feed = Feed::new(1024);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(source.run(feed.clone(), async move {
            let _ = stop_rx.await;
        }));
        let mut events = Vec::new();
        let collect = async {
            while let Some(e) = feed.next().await {
                let done = matches!(&e, Event::Readings { readings, .. } if readings.first().and_then(|r| r.sample.get(Field::UtilGpu)) == Some(60.0));
                events.push(e);
                if done {
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), collect).await.expect("the scrapes end within 20 s");
        let _ = stop_tx.send(());
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("run stops").unwrap();

        assert!(events.iter().all(|e| match e {
            Event::Readings { source, .. } | Event::Gap { source, .. } | Event::Health { source, .. } => *source == name,
        }));
        let kinds: Vec<String> = events
            .iter()
            .map(|e| match e {
                Event::Readings { readings, .. } => format!("readings {}", readings.len()),
                Event::Gap { .. } => "gap".into(),
                Event::Health { health: Health::Retrying { attempt, .. }, .. } => format!("retrying {attempt}"),
                Event::Health { health: Health::Degraded(_), .. } => "degraded".into(),
                Event::Health { health, .. } => format!("{health:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "Up",
                "readings 8",
                "retrying 1",
                "retrying 2",
                "retrying 3",
                "retrying 4",
                "gap",
                "degraded",
                "readings 8",
                "Up",
                "readings 8"
            ]
        );
        let errors: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::Health { health: Health::Retrying { error, .. }, .. } => Some(error.as_str()),
                _ => None,
            })
            .collect();
        assert!(errors[0].contains("no complete answer within 300ms"), "{}", errors[0]);
        assert!(errors[1].contains("the answer broke off"), "{}", errors[1]);
        assert!(errors[2].contains("no DCGM GPU readings in the answer (1 metric lines, the first unreadable at line 1"), "{}", errors[2]);
        assert!(errors[3].contains("answered HTTP 503"), "{}", errors[3]);
        let Event::Gap { from_ns, to_ns, why, .. } = &events[6] else { unreachable!() };
        assert!(from_ns < to_ns && why.starts_with("4 scrape(s) failed; the last: ") && why.contains("503"), "{from_ns} {to_ns} {why}");
        let times: Vec<i64> = events
            .iter()
            .filter_map(|e| match e {
                Event::Readings { readings, .. } => Some(readings[0].sample.time_ns),
                _ => None,
            })
            .collect();
        assert!(times[0] < *from_ns && *to_ns == times[1] && times[1] < times[2], "{times:?} {from_ns} {to_ns}");
        let Event::Health { health: Health::Degraded(note), .. } = &events[7] else { unreachable!() };
        assert!(note.contains("energy counter of GPU 2 on gpu-node-7 went back"), "{note}");
        let Event::Readings { readings, .. } = &events[8] else { unreachable!() };
        assert_eq!(readings[0].host, "gpu-node-7");
        assert_eq!(
            readings.iter().map(|r| r.sample.get(Field::Power)).collect::<Vec<_>>(),
            [Some(300.5), Some(301.5), Some(302.5), Some(303.5), Some(304.5), None, Some(306.5), Some(307.5)]
        );
        assert_eq!((readings[2].sample.get(Field::Energy), readings[7].sample.get(Field::Energy)), (Some(12.0), None));
    }

    #[tokio::test]
    async fn a_refused_connection_and_an_oversized_body_are_retried_with_their_reasons() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed = listener.local_addr().unwrap();
        drop(listener);
        let big = exporter(vec![Step::Serve(fixture("Hostname", 1, ENERGY))]).await;
        for (addr, limit, want) in [(closed, 1 << 20, "cannot connect"), (big, 100, "over the limit of 100 bytes")] {
            let mut source = DcgmSource::new(&format!("{addr}")).unwrap();
            source.interval = Duration::from_millis(10);
            source.body_limit = limit;
            let feed = Feed::new(64);
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(source.run(feed.clone(), async move {
                let _ = rx.await;
            }));
            let first = tokio::time::timeout(Duration::from_secs(10), feed.next()).await.unwrap();
            let _ = tx.send(());
            task.await.unwrap();
            let Some(Event::Health { health: Health::Retrying { attempt: 1, error }, .. }) = first else { panic!("{first:?}") };
            assert!(error.contains(want), "{error}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".*") {
            let _ = ScrapeReader::new("h").read(&text, 0);
        }
    }
}
