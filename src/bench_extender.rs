//! `twin bench --only extender`: the real extender server in this process
//! on loopback, under an open-loop load of kube-scheduler's requests.
//!
//! The server is `twin extender`'s own (`crate::extender::serve`) on
//! 127.0.0.1:0, its cache fed with the 1,000 nodes of
//! [`twin_extender::benchmarks`], deciding with the cost-aware profile.
//! The load generator sends filter and prioritize requests in turn, each
//! with the pod and 1,000 node names (`nodeCacheCapable: true`), at a fixed
//! rate: request *i* is due at *start + i / rate*, whether or not earlier
//! answers have come, and its latency runs from when it was due, not from
//! when it went out, so a server that falls behind shows as queueing
//! instead of slowing the generator down (no coordinated omission). Several
//! keep-alive connections take the due requests in turn, each one request
//! at a time, over plain HTTP/1.1 on `std::net::TcpStream`; a due request
//! waits for a free connection, and that wait counts. The generator's
//! threads sleep until each request is due (`thread::sleep`, tens of
//! microseconds late at most on Linux; tokio's timer would be up to a
//! millisecond late).
//!
//! The rate steps up until p99 passes 5 ms. The baseline in the same run:
//! the same pod with the 1,000 nodes in full (`nodeCacheCapable: false`,
//! about 5 MB a request), at lower rates.

use crate::extender::{Shared, serve};
use anyhow::Context;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use twin_extender::{Extender, NodeCache, NodeReader, benchmarks};
use twin_scheduler::Profile;

const NODES: usize = 1_000;

/// Connections the generator keeps open.
const CONNECTIONS: usize = 8;

/// The latency goal: p99 under this many milliseconds.
const GOAL_MS: f64 = 5.0;

/// Requests to send, as whole HTTP/1.1 messages, sent in turn.
struct Load {
    messages: Vec<Vec<u8>>,
}

impl Load {
    fn new(addr: SocketAddr, requests: &[(&str, &[u8])]) -> Load {
        let messages = requests
            .iter()
            .map(|(path, body)| {
                let mut m = format!(
                    "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                m.extend_from_slice(body);
                m
            })
            .collect();
        Load { messages }
    }
}

/// One step's figures.
struct Step {
    rate: f64,
    achieved: f64,
    sent: usize,
    errors: usize,
    /// Latencies from due time to whole answer, sorted, in microseconds.
    latencies: Vec<u64>,
}

impl Step {
    fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[i] as f64 / 1e3
    }

    fn p99_ms(&self) -> f64 {
        self.quantile_ms(0.99)
    }

    fn passes(&self) -> bool {
        self.errors == 0 && self.p99_ms() < GOAL_MS && self.achieved >= 0.95 * self.rate
    }

    fn line(&self) -> String {
        format!(
            "{:>7.0} req/s asked, {:>7.0} achieved · p50 {:>7.2} ms · p99 {:>7.2} ms · p99.9 {:>7.2} ms · max {:>7.2} ms · {} requests{}",
            self.rate,
            self.achieved,
            self.quantile_ms(0.5),
            self.p99_ms(),
            self.quantile_ms(0.999),
            self.latencies.last().map_or(f64::NAN, |l| *l as f64 / 1e3),
            self.sent,
            if self.errors > 0 { format!(" · {} errors", self.errors) } else { String::new() }
        )
    }
}

/// One keep-alive connection of the generator.
struct Connection {
    addr: SocketAddr,
    stream: Option<(TcpStream, BufReader<TcpStream>)>,
    body: Vec<u8>,
}

impl Connection {
    /// Sends a message and reads the whole answer; whether it was a 200.
    fn exchange(&mut self, message: &[u8]) -> std::io::Result<bool> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
            let r = BufReader::with_capacity(1 << 16, s.try_clone()?);
            self.stream = Some((s, r));
        }
        let result = match &mut self.stream {
            Some((w, r)) => Connection::round_trip(w, r, message, &mut self.body),
            None => Ok(false),
        };
        if !matches!(result, Ok(true)) {
            self.stream = None;
        }
        result
    }

    fn round_trip(w: &mut TcpStream, r: &mut BufReader<TcpStream>, message: &[u8], body: &mut Vec<u8>) -> std::io::Result<bool> {
        w.write_all(message)?;
        let mut line = String::new();
        r.read_line(&mut line)?;
        let ok = line.split(' ').nth(1) == Some("200");
        let mut length = 0usize;
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().map_err(|_| std::io::Error::other("a bad Content-Length"))?;
            }
        }
        body.resize(length, 0);
        r.read_exact(body)?;
        Ok(ok)
    }
}

/// Sends `load`'s messages in turn at `rate` for `secs` seconds over
/// [`CONNECTIONS`] connections; latency from each request's due time.
fn step(addr: SocketAddr, load: &Arc<Load>, rate: f64, secs: f64) -> Step {
    let total = (rate * secs).round().max(1.0) as u64;
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(20);
    let period = 1.0 / rate;
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (next, load) = (Arc::clone(&next), Arc::clone(load));
            std::thread::spawn(move || {
                let mut c = Connection { addr, stream: None, body: Vec::new() };
                let (mut latencies, mut errors, mut last) = (Vec::new(), 0usize, start);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let due = start + Duration::from_secs_f64(i as f64 * period);
                    let wait = due.saturating_duration_since(Instant::now());
                    if !wait.is_zero() {
                        std::thread::sleep(wait);
                    }
                    let message = &load.messages[i as usize % load.messages.len()];
                    let ok = c.exchange(message);
                    last = Instant::now();
                    latencies.push(last.saturating_duration_since(due).as_micros() as u64);
                    errors += usize::from(!matches!(ok, Ok(true)));
                }
                (latencies, errors, last)
            })
        })
        .collect();
    let mut s = Step { rate, achieved: 0.0, sent: 0, errors: 0, latencies: Vec::with_capacity(total as usize) };
    let mut end = start;
    for t in threads {
        match t.join() {
            Ok((l, e, last)) => {
                s.latencies.extend(l);
                s.errors += e;
                end = end.max(last);
            }
            Err(_) => s.errors += 1,
        }
    }
    s.latencies.sort_unstable();
    s.sent = s.latencies.len();
    s.achieved = s.sent as f64 / end.saturating_duration_since(start).as_secs_f64().max(1e-9);
    s
}

/// The server in this process: a runtime on its own threads, serving
/// until the returned sender is dropped.
fn start_server() -> anyhow::Result<(SocketAddr, tokio::sync::oneshot::Sender<()>, std::thread::JoinHandle<()>)> {
    let prices = benchmarks::PRICES.iter().map(|(t, p)| (t.to_string(), *p)).collect();
    let mut extender = Extender::new(Profile::builtin("cost-aware")?, NodeCache::new(NodeReader::new(prices)?));
    for node in &benchmarks::fleet(NODES) {
        let _ = extender.cache.feed(node);
    }
    anyhow::ensure!(extender.cache.len() == NODES, "the fleet reads");
    let shared = Arc::new(Shared::new(extender, Duration::from_secs(10)));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the tokio runtime")?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).context("binding 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        runtime.block_on(serve(listener, shared, async {
            let _ = stopped.await;
        }))
    });
    Ok((addr, stop, server))
}

pub fn bench() -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    outln!(
        "extender: the real server in this process on 127.0.0.1, {NODES} nodes in its cache, cost-aware profile; an open-loop generator \
         ({CONNECTIONS} keep-alive connections, latency from each request's due time); generator and server share this machine's {cores} cores"
    );
    let (addr, stop, server) = start_server()?;
    let by_names = serde_json::to_vec(&benchmarks::by_names(NODES))?;
    let full = serde_json::to_vec(&benchmarks::full(NODES))?;

    // The answers are what they should be before anything is timed.
    let mut c = Connection { addr, stream: None, body: Vec::new() };
    let check = Load::new(addr, &[("/filter", &by_names), ("/filter", &full)]);
    anyhow::ensure!(c.exchange(&check.messages[0])?, "the filter request by names fails");
    let answer: twin_extender::wire::ExtenderFilterResult = twin_extender::wire::decode(&c.body)?;
    let fits = answer.node_names.as_ref().map_or(0, Vec::len);
    anyhow::ensure!(fits > 0 && answer.error.is_empty(), "the filter answer by names is empty: {}", String::from_utf8_lossy(&c.body));
    anyhow::ensure!(c.exchange(&check.messages[1])?, "the filter request with full nodes fails");
    let answer: twin_extender::wire::ExtenderFilterResult = twin_extender::wire::decode(&c.body)?;
    anyhow::ensure!(answer.nodes.as_ref().map_or(0, |l| l.items.len()) == fits, "the two requests disagree");
    drop(c);
    outln!(
        "  requests: filter and prioritize in turn, one pod (8 GPUs) over {NODES} nodes ({fits} fit); by names {} KB, full nodes {:.1} MB",
        by_names.len() / 1024,
        full.len() as f64 / (1 << 20) as f64
    );

    let names = Arc::new(Load::new(addr, &[("/filter", &by_names), ("/prioritize", &by_names)]));
    // Warm up: connections, the allocator, the cores' clocks.
    step(addr, &names, 500.0, 1.0);
    outln!("  nodeCacheCapable (1,000 node names a request):");
    let first = step(addr, &names, 1_000.0, 10.0);
    outln!("    {} · {}", first.line(), if first.passes() { "p99 under 5 ms" } else { "p99 NOT under 5 ms" });
    let (mut best, mut failed) = (first.passes().then_some(first.rate), None);
    if first.passes() {
        for rate in [1_500.0, 2_000.0, 2_500.0, 3_000.0, 3_500.0, 4_000.0, 5_000.0, 6_000.0, 8_000.0, 12_000.0, 16_000.0] {
            let s = step(addr, &names, rate, 5.0);
            outln!("    {}", s.line());
            if s.passes() {
                best = Some(rate);
            } else {
                failed = Some(s.rate);
                break;
            }
        }
    }
    match (best, failed) {
        (Some(b), Some(f)) => {
            outln!("    highest rate with p99 under 5 ms: {b:.0} req/s; p99 passes 5 ms (or the rate is not reached) at {f:.0} req/s")
        }
        (Some(b), None) => outln!("    p99 stays under 5 ms up to {b:.0} req/s, the highest rate tried"),
        (None, _) => outln!("    p99 passes 5 ms already at 1,000 req/s"),
    }

    let full_load = Arc::new(Load::new(addr, &[("/filter", &full), ("/prioritize", &full)]));
    outln!("  baseline, nodeCacheCapable false (the same 1,000 nodes in full a request):");
    step(addr, &full_load, 10.0, 1.0);
    for rate in [10.0, 25.0, 50.0] {
        let s = step(addr, &full_load, rate, 5.0);
        outln!("    {}", s.line());
        if s.achieved < 0.95 * rate {
            break;
        }
    }
    drop(stop);
    server.join().map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
    Ok(())
}
