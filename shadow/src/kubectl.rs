//! `kubectl:FILE|-`: the stream `kubectl get pods,nodes --all-namespaces
//! --watch -o json` writes, read as it comes.
//!
//! kubectl writes one pretty-printed JSON object after another, with no
//! separator: a Pod or a Node, or, with `--output-watch-events`, a wrapper
//! `{"type": "ADDED"|"MODIFIED"|"DELETED", "object": {...}}`. Without
//! `--watch` it writes one `List` whose items are the objects.
//!
//! Two layers:
//!
//! - [`WatchReader`] is pure: fed bytes in chunks of any size, it yields one
//!   [`WatchEvent`] per complete object (a `List` yields its items). A value
//!   cut mid-way waits for the rest. Garbage (a line that is not JSON,
//!   broken JSON, JSON of another shape) is a [`WatchError`] naming its line
//!   and byte, and reading goes on at the next line that starts with `{`:
//!   nothing ends the stream and nothing panics. Any chunking of the same
//!   bytes gives the same results (short of objects over 64 MiB, which are
//!   given up on as soon as that many bytes are held unfinished).
//! - [`KubectlSource`] runs on tokio: a file followed as `tail -F` follows
//!   it ([`crate::follow`]), or standard input, through a reader, into a
//!   channel of [`WatchEvent`]s. Cluster events are never dropped (the
//!   channel's back-pressure slows the reading instead); the source's
//!   health goes to the [`Feed`] the telemetry sources share, as
//!   [`Event::Health`](crate::feed::Event::Health): [`Health::Degraded`] with the last error (file, line,
//!   byte) for a look that met garbage, [`Health::Retrying`] while the file
//!   is missing, [`Health::Up`] when objects read cleanly again.
//!
//! [`crate::cluster::ClusterState::apply`] folds the events into the
//! cluster as shadow mode knows it.
//!
//! Costs and limits: an unfinished object is parsed again from its start
//! whenever a chunk brings a `}` (cheap for kubectl's objects of a few KiB).
//! A followed file is read in lines ([`Follower`]), which passes a line
//! over 1 MiB on in pieces: a one-line object that long (`jq -c` output)
//! reads as broken there; pipe it to `kubectl:-` instead. A file that
//! starts over (truncated, rotated) is read as a new stream: an object cut
//! by it is reported and lost.

use crate::feed::{Feed, Health};
use crate::follow::{FollowEvent, Follower, Start};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// A JSON value still unfinished after this many bytes is given up on
/// (reported and skipped), so that garbage cannot take all memory.
const MAX_VALUE: usize = 64 * 1024 * 1024;
/// Bytes of a garbage line quoted in its error.
const SNIPPET: usize = 60;

/// What a watch event says happened to its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchKind {
    /// The object appeared (`"type": "ADDED"`).
    Added,
    /// The object changed (`"type": "MODIFIED"`), or an object without a
    /// wrapper (plain `--watch` output, a `List`'s item): either way an
    /// upsert.
    Modified,
    /// The object is gone (`"type": "DELETED"`); the object is its last state.
    Deleted,
}

/// The object a watch event is about.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    /// A Pod.
    Pod(Box<Pod>),
    /// A Node.
    Node(Box<Node>),
    /// A Deployment (`kubectl get ...,deployments`): the replicas it asks for and runs.
    Deployment(Box<Deployment>),
    /// A HorizontalPodAutoscaler (`autoscaling/v2`; `kubectl get ...,hpa`):
    /// the real autoscaler's target and its decision.
    Hpa(Box<HorizontalPodAutoscaler>),
    /// An object of another kind (its `kind`), which shadow mode ignores.
    Other(String),
}

/// One object from the stream, and what happened to it.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchEvent {
    /// Added, changed (or upserted) or deleted.
    pub kind: WatchKind,
    /// The object, as the event reports it.
    pub object: Object,
}

/// Something in the stream that is not a Pod, a Node, a List or a watch
/// event. `line` is 1-based and `offset` the byte where the skipped part
/// starts, both counted from the start of the stream (of the file, since
/// it last started over). Never fatal: reading goes on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// A line that is not JSON, such as a message kubectl printed.
    #[error(
        "line {line} (byte {offset}): not JSON: `{snippet}`; skipped to the next line starting with `{{`; give Twin only kubectl's standard output (`kubectl get pods,nodes --all-namespaces --watch -o json 2>/dev/null`)"
    )]
    NotJson {
        /// The line.
        line: u64,
        /// Where the line's garbage starts.
        offset: u64,
        /// Its first bytes.
        snippet: String,
    },
    /// An object whose JSON breaks off or is malformed (kubectl killed
    /// mid-write and started again, or the file edited).
    #[error(
        "line {line} (the object from byte {offset}): broken JSON: {message}; skipped to the next line starting with `{{`; check that only one kubectl writes the file and that it writes `-o json`"
    )]
    Syntax {
        /// Where the JSON goes wrong.
        line: u64,
        /// Where the skipped object starts.
        offset: u64,
        /// serde_json's message, without its position.
        message: String,
    },
    /// JSON, but not a Pod, a Node, a List or a watch event, or one of
    /// these that does not read as one.
    #[error(
        "line {line} (byte {offset}): {what}; skipped this object; expected what `kubectl get pods,nodes --watch -o json` writes: Pods, Nodes, Lists of them, or `{{\"type\": ..., \"object\": ...}}` with `--output-watch-events`"
    )]
    Shape {
        /// Where the object starts.
        line: u64,
        /// Where the object starts.
        offset: u64,
        /// What is wrong with it.
        what: String,
    },
    /// A watch event of type `ERROR`: the API server ended the watch.
    #[error(
        "line {line} (byte {offset}): the watch reported an error: {message}; restart kubectl (a `410 Gone` / `too old resource version` means the watch expired)"
    )]
    Status {
        /// Where the event starts.
        line: u64,
        /// Where the event starts.
        offset: u64,
        /// The Status object's message.
        message: String,
    },
    /// The stream ended (or the file started over) inside an object.
    #[error(
        "line {line} (byte {offset}): the stream ended inside an object ({bytes} bytes unfinished); the object is lost; was kubectl stopped mid-write?"
    )]
    Unfinished {
        /// Where the object starts.
        line: u64,
        /// Where the object starts.
        offset: u64,
        /// Its bytes read.
        bytes: usize,
    },
    /// An object longer than the reader holds (64 MiB): no `kubectl` object is.
    #[error(
        "line {line} (byte {offset}): an object longer than 64 MiB; skipped to the next line starting with `{{`; is this a kubectl JSON stream?"
    )]
    TooLong {
        /// Where the object starts.
        line: u64,
        /// Where the object starts.
        offset: u64,
    },
}

/// What [`WatchReader::feed`] yields: an event, or garbage reported.
pub type WatchItem = Result<WatchEvent, WatchError>;

/// An incremental reader of a kubectl JSON stream (see the [module](self)
/// docs): bytes in, [`WatchItem`]s out.
#[derive(Debug)]
pub struct WatchReader {
    /// Bytes not consumed yet.
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Newlines before `buf[0]`.
    base_lines: u64,
    /// Whether `buf[0]` starts a line.
    line_start: bool,
    /// Skipping garbage up to a line that starts with `{`.
    skipping: bool,
    /// Whether parsing again could succeed (a `}` arrived since the last
    /// try ran out of bytes).
    ready: bool,
}

impl Default for WatchReader {
    fn default() -> Self {
        WatchReader::new()
    }
}

/// Line numbers of positions in the buffer, counted forward only.
struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
    lines: u64,
}

impl Lines<'_> {
    /// The 1-based line of `pos` (at or after the last position asked).
    fn at(&mut self, pos: usize) -> u64 {
        if pos > self.pos {
            self.lines += self.buf[self.pos..pos].iter().filter(|&&b| b == b'\n').count() as u64;
            self.pos = pos;
        }
        self.lines + 1
    }
}

impl WatchReader {
    /// A reader at the start of a stream.
    pub fn new() -> WatchReader {
        WatchReader { buf: Vec::new(), base: 0, base_lines: 0, line_start: true, skipping: false, ready: false }
    }

    /// Bytes read and not yet consumed (part of an unfinished object).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Reads `chunk`, the stream's next bytes: the objects it completes, in
    /// order, and the garbage it met.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<WatchItem> {
        self.buf.extend_from_slice(chunk);
        self.ready |= chunk.contains(&b'}');
        let mut out = Vec::new();
        let buf = std::mem::take(&mut self.buf);
        let mut lines = Lines { buf: &buf, pos: 0, lines: self.base_lines };
        let mut pos = 0;
        loop {
            if self.skipping {
                match self.resync(&buf, pos) {
                    Some(p) => {
                        pos = p;
                        self.skipping = false;
                    }
                    None => {
                        pos = buf.len();
                        break;
                    }
                }
            }
            while pos < buf.len() && buf[pos].is_ascii_whitespace() {
                pos += 1;
            }
            if pos == buf.len() {
                break;
            }
            let offset = self.base + pos as u64;
            if buf[pos] != b'{' {
                let end = buf[pos..].iter().position(|&b| b == b'\n').map(|i| pos + i);
                if end.is_none() && buf.len() - pos < SNIPPET {
                    break; // the rest of the line may still come
                }
                let end = end.unwrap_or(buf.len()).min(pos + SNIPPET);
                let snippet = String::from_utf8_lossy(&buf[pos..end]).trim_end().to_string();
                out.push(Err(WatchError::NotJson { line: lines.at(pos), offset, snippet }));
                self.skipping = true;
                pos += 1;
                continue;
            }
            if !self.ready {
                if buf.len() - pos > MAX_VALUE {
                    out.push(Err(WatchError::TooLong { line: lines.at(pos), offset }));
                    self.skipping = true;
                    pos += 1;
                    continue;
                }
                break;
            }
            let mut values = serde_json::Deserializer::from_slice(&buf[pos..]).into_iter::<Value>();
            match values.next() {
                Some(Ok(value)) => {
                    let used = values.byte_offset();
                    let line = lines.at(pos);
                    out.extend(events(value, line, offset));
                    pos += used;
                }
                Some(Err(e)) if e.is_eof() => {
                    self.ready = false;
                    if buf.len() - pos > MAX_VALUE {
                        out.push(Err(WatchError::TooLong { line: lines.at(pos), offset }));
                        self.skipping = true;
                        pos += 1;
                        continue;
                    }
                    break;
                }
                Some(Err(e)) => {
                    let line = lines.at(pos) + e.line().saturating_sub(1) as u64;
                    let message = e.to_string();
                    let message = message.rsplit_once(" at line ").map_or(message.as_str(), |(m, _)| m).to_string();
                    out.push(Err(WatchError::Syntax { line, offset, message }));
                    self.skipping = true;
                    pos += 1;
                }
                None => break,
            }
        }
        self.base_lines = lines.at(pos) - 1;
        if pos > 0 {
            self.line_start = buf[pos - 1] == b'\n';
        }
        self.base += pos as u64;
        self.buf = buf;
        self.buf.drain(..pos);
        out
    }

    /// The position of the next line start holding `{`, from `pos`; `None`
    /// when the bytes so far hold none (the rest are dropped).
    fn resync(&self, buf: &[u8], mut pos: usize) -> Option<usize> {
        loop {
            let at_start = if pos == 0 { self.line_start } else { buf[pos - 1] == b'\n' };
            if at_start && pos < buf.len() && buf[pos] == b'{' {
                return Some(pos);
            }
            if at_start && pos == buf.len() {
                return None;
            }
            pos += buf[pos..].iter().position(|&b| b == b'\n')? + 1;
        }
    }

    /// The stream ended (or starts over, as a truncated or rotated file
    /// does): what the bytes held still say, then an unfinished object
    /// reported and dropped; the next bytes are read as a new stream (lines
    /// and bytes counted from 0).
    pub fn finish(&mut self) -> Vec<WatchItem> {
        // Broken JSON is found without waiting for a `}`.
        self.ready = true;
        let mut out = self.feed(&[]);
        let start = self.buf.iter().position(|b| !b.is_ascii_whitespace());
        let error = match start {
            Some(i) if !self.skipping => {
                let line = self.base_lines + self.buf[..i].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
                let offset = self.base + i as u64;
                if self.buf[i] == b'{' {
                    Some(WatchError::Unfinished { line, offset, bytes: self.buf.len() - i })
                } else {
                    let end = self.buf[i..].iter().position(|&b| b == b'\n').map_or(self.buf.len(), |e| i + e).min(i + SNIPPET);
                    Some(WatchError::NotJson { line, offset, snippet: String::from_utf8_lossy(&self.buf[i..end]).trim_end().to_string() })
                }
            }
            _ => None,
        };
        *self = WatchReader::new();
        out.extend(error.map(Err));
        out
    }
}

/// The events one complete JSON value holds.
fn events(value: Value, line: u64, offset: u64) -> Vec<WatchItem> {
    let shape = |what: String| vec![Err(WatchError::Shape { line, offset, what })];
    let Value::Object(mut map) = value else { return shape("not a JSON object".into()) };
    let wrapped = map.get("kind").is_none() && map.contains_key("object");
    if wrapped {
        let Some(Value::String(ty)) = map.get("type") else { return shape("a watch event without a `type` string".into()) };
        let kind = match ty.as_str() {
            "ADDED" => WatchKind::Added,
            "MODIFIED" => WatchKind::Modified,
            "DELETED" => WatchKind::Deleted,
            "BOOKMARK" => return Vec::new(),
            "ERROR" => {
                let status = &map["object"];
                let message = status.get("message").and_then(Value::as_str).unwrap_or("(no message)");
                let message = match status.get("code").and_then(Value::as_u64) {
                    Some(code) => format!("{code} {message}"),
                    None => message.to_string(),
                };
                return vec![Err(WatchError::Status { line, offset, message })];
            }
            other => return shape(format!("a watch event of unknown type `{other}`")),
        };
        let object = map.remove("object").unwrap_or_default();
        return vec![read_object(object, None).map(|object| WatchEvent { kind, object }).map_err(|what| WatchError::Shape {
            line,
            offset,
            what,
        })];
    }
    let Some(kind) = map.get("kind").and_then(Value::as_str).map(str::to_string) else {
        return shape("a JSON object without `kind`".into());
    };
    if let Some(item_kind) = kind.strip_suffix("List") {
        let Some(Value::Array(items)) = map.remove("items") else { return shape(format!("a `{kind}` without `items`")) };
        let item_kind = (!item_kind.is_empty()).then_some(item_kind);
        return items
            .into_iter()
            .map(|item| {
                read_object(item, item_kind)
                    .map(|object| WatchEvent { kind: WatchKind::Modified, object })
                    .map_err(|what| WatchError::Shape { line, offset, what: format!("in the `{kind}`: {what}") })
            })
            .collect();
    }
    vec![
        read_object(Value::Object(map), None)
            .map(|object| WatchEvent { kind: WatchKind::Modified, object })
            .map_err(|what| WatchError::Shape { line, offset, what }),
    ]
}

/// A Pod, a Node or another kind; `default_kind` for a typed List's items,
/// which may omit theirs.
fn read_object(value: Value, default_kind: Option<&str>) -> Result<Object, String> {
    let kind = value.get("kind").and_then(Value::as_str).or(default_kind).map(str::to_string);
    let name = value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("(unnamed)").to_string();
    match kind.as_deref() {
        Some("Pod") => serde_json::from_value::<Pod>(value)
            .map(|p| Object::Pod(Box::new(p)))
            .map_err(|e| format!("Pod `{name}` does not read as a Pod: {e}")),
        Some("Node") => serde_json::from_value::<Node>(value)
            .map(|n| Object::Node(Box::new(n)))
            .map_err(|e| format!("Node `{name}` does not read as a Node: {e}")),
        Some("Deployment") => serde_json::from_value::<Deployment>(value)
            .map(|d| Object::Deployment(Box::new(d)))
            .map_err(|e| format!("Deployment `{name}` does not read as a Deployment: {e}")),
        // Only autoscaling/v2 reads as an HPA (v1's shape differs; kubectl
        // writes the version the server prefers, v2 since Kubernetes 1.23).
        Some("HorizontalPodAutoscaler") if value.get("apiVersion").and_then(Value::as_str) == Some("autoscaling/v2") => {
            serde_json::from_value::<HorizontalPodAutoscaler>(value)
                .map(|h| Object::Hpa(Box::new(h)))
                .map_err(|e| format!("HorizontalPodAutoscaler `{name}` does not read as one (autoscaling/v2): {e}"))
        }
        Some(other) => Ok(Object::Other(other.to_string())),
        None => Err("an object without `kind`".into()),
    }
}

/// Where [`KubectlSource`] reads, and how it follows a file.
#[derive(Clone, Debug)]
pub struct KubectlSource {
    /// The file kubectl writes (`kubectl ... > FILE`), followed as `tail -F`
    /// follows it; `None`: standard input (`kubectl ... | twin shadow ...
    /// --cluster kubectl:-`).
    pub path: Option<PathBuf>,
    /// How often the file is looked at.
    pub poll: Duration,
    /// The longest wait between tries while the file is missing.
    pub max_backoff: Duration,
}

/// What a run of [`KubectlSource::run`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubectlStats {
    /// Events sent.
    pub events: u64,
    /// Garbage met ([`WatchError`]s), unfinished objects included.
    pub errors: u64,
    /// The last error, with the source's name.
    pub last_error: Option<String>,
}

impl KubectlSource {
    /// The source a `kubectl:` argument names: `-` for standard input,
    /// else a file; looking every 250 ms, backing off to 5 s while the
    /// file is missing.
    pub fn from_arg(arg: &str) -> KubectlSource {
        let path = (arg != "-").then(|| PathBuf::from(arg));
        KubectlSource { path, poll: Duration::from_millis(250), max_backoff: Duration::from_secs(5) }
    }

    /// The source's name in health events and errors: `kubectl:FILE` or `kubectl:-`.
    pub fn name(&self) -> String {
        match &self.path {
            Some(p) => format!("kubectl:{}", p.display()),
            None => "kubectl:-".into(),
        }
    }

    /// Reads until `stop` turns true or its sender is dropped, the receiver
    /// of `events` is dropped, or standard input ends; sends each event to
    /// `events` (waiting when it is full: cluster events are never dropped)
    /// and the source's health to `feed`. Never fails. Returns the counts.
    ///
    /// Standard input is read on a thread of its own (a blocking read
    /// cannot be cancelled; the thread ends with the input or the process).
    pub async fn run(self, events: mpsc::Sender<WatchEvent>, feed: Feed, mut stop: watch::Receiver<bool>) -> KubectlStats {
        let mut state =
            State { source: self.name(), reader: WatchReader::new(), stats: KubectlStats::default(), health: None, clean_now: 0 };
        match &self.path {
            Some(path) => {
                let mut follower = Follower::new(path).poll_every(self.poll).max_backoff(self.max_backoff);
                let mut line = Vec::new();
                'run: loop {
                    if *stop.borrow() {
                        break;
                    }
                    for event in follower.poll() {
                        let items = match event {
                            FollowEvent::Line(text) => {
                                line.clear();
                                line.extend_from_slice(text.as_bytes());
                                line.push(b'\n');
                                state.reader.feed(&line)
                            }
                            FollowEvent::Start { why, .. } => {
                                let health = match why {
                                    Start::Opened | Start::Reappeared => Health::Up,
                                    Start::Truncated | Start::Rotated => {
                                        Health::Degraded(format!("{}: {}; reading it again from its start", state.source, why.describe()))
                                    }
                                };
                                state.set_health(health, &feed);
                                state.reader.finish()
                            }
                            FollowEvent::Missing { attempt, error } => {
                                state.set_health(Health::Retrying { attempt, error }, &feed);
                                Vec::new()
                            }
                        };
                        if !state.send(items, &events, &feed).await {
                            break 'run;
                        }
                    }
                    state.end_look(&feed);
                    tokio::select! {
                        changed = stop.changed() => if changed.is_err() { break },
                        () = tokio::time::sleep(follower.delay()) => {}
                    }
                }
            }
            None => {
                let (tx, rx) = mpsc::channel::<Vec<u8>>(16);
                std::thread::spawn(move || read_stdin(tx));
                state.read_chunks(rx, &events, &feed, stop).await;
            }
        }
        state.stats
    }
}

/// Standard input, in chunks, until it ends or nobody listens.
fn read_stdin(tx: mpsc::Sender<Vec<u8>>) {
    use std::io::Read;
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0; 64 * 1024];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if tx.blocking_send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// A run in progress: the reader, the counts, the health said last.
struct State {
    source: String,
    reader: WatchReader,
    stats: KubectlStats,
    health: Option<Health>,
    /// Events read in this look since its last error.
    clean_now: u64,
}

impl State {
    /// Sends the events, counts the errors; false when nobody listens.
    async fn send(&mut self, items: Vec<WatchItem>, events: &mpsc::Sender<WatchEvent>, feed: &Feed) -> bool {
        for item in items {
            match item {
                Ok(event) => {
                    if events.send(event).await.is_err() {
                        return false;
                    }
                    self.stats.events += 1;
                    self.clean_now += 1;
                }
                Err(error) => {
                    let message = format!("{}: {error}", self.source);
                    self.stats.errors += 1;
                    self.clean_now = 0;
                    self.stats.last_error = Some(message.clone());
                    self.set_health(Health::Degraded(message), feed);
                }
            }
        }
        true
    }

    /// Reads `chunks` until they end (then [`Health::Down`]), `stop`
    /// turns true or nobody listens to `events`.
    async fn read_chunks(
        &mut self,
        mut chunks: mpsc::Receiver<Vec<u8>>,
        events: &mpsc::Sender<WatchEvent>,
        feed: &Feed,
        mut stop: watch::Receiver<bool>,
    ) {
        self.set_health(Health::Up, feed);
        loop {
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                changed = stop.changed() => if changed.is_err() { return },
                chunk = chunks.recv() => {
                    let Some(chunk) = chunk else {
                        let items = self.reader.finish();
                        self.send(items, events, feed).await;
                        self.set_health(Health::Down(format!("{}: standard input ended; restart kubectl and Twin", self.source)), feed);
                        return;
                    };
                    let items = self.reader.feed(&chunk);
                    if !self.send(items, events, feed).await {
                        return;
                    }
                    self.end_look(feed);
                }
            }
        }
    }

    /// After a look: up again when objects read cleanly after the last error.
    fn end_look(&mut self, feed: &Feed) {
        if self.clean_now > 0 {
            self.set_health(Health::Up, feed);
        }
        self.clean_now = 0;
    }

    /// Pushes `health` when it differs from what was said last.
    fn set_health(&mut self, health: Health, feed: &Feed) {
        feed.push_health_if_new(&self.source, &mut self.health, health);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Change, ClusterState};
    use crate::feed::Event;
    use proptest::prelude::*;
    use std::io::Write;

    /// A recorded `kubectl get pods,nodes --all-namespaces --watch -o json`
    /// session (trimmed), with kubectl's own complaint in the middle and,
    /// at the end, one event from a run with `--output-watch-events`.
    const STREAM: &str = r#"{
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {
        "labels": {
            "kubernetes.io/hostname": "gpu-a",
            "node.kubernetes.io/instance-type": "p4d.24xlarge",
            "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB",
            "topology.kubernetes.io/zone": "us-east-1a"
        },
        "name": "gpu-a",
        "resourceVersion": "1001",
        "uid": "0b6c6a1e-1111-4d3e-9c1b-8a0c1d2e3f40"
    },
    "spec": {
        "providerID": "aws:///us-east-1a/i-0a1b2c3d4e5f60001"
    },
    "status": {
        "allocatable": {
            "cpu": "95690m",
            "memory": "1097548364Ki",
            "nvidia.com/gpu": "8",
            "pods": "110"
        },
        "capacity": {
            "cpu": "96",
            "memory": "1143522764Ki",
            "nvidia.com/gpu": "8",
            "pods": "110"
        },
        "conditions": [
            {
                "lastHeartbeatTime": "2026-12-07T14:00:00Z",
                "lastTransitionTime": "2026-12-01T09:00:00Z",
                "message": "kubelet is posting ready status",
                "reason": "KubeletReady",
                "status": "True",
                "type": "Ready"
            }
        ]
    }
}
{
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {
        "labels": {
            "kubernetes.io/hostname": "gpu-b",
            "node.kubernetes.io/instance-type": "g5.12xlarge",
            "nvidia.com/gpu.product": "NVIDIA-A10G",
            "topology.kubernetes.io/zone": "us-east-1b"
        },
        "name": "gpu-b",
        "resourceVersion": "1002"
    },
    "status": {
        "allocatable": {
            "cpu": "47810m",
            "memory": "191298268Ki",
            "nvidia.com/gpu": "4",
            "pods": "110"
        }
    }
}
{
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "creationTimestamp": "2026-12-07T14:01:02Z",
        "labels": {
            "app": "llm-serve",
            "pod-template-hash": "5d8f7c9b4"
        },
        "name": "llm-serve-5d8f7c9b4-x2x9q",
        "namespace": "inference",
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "blockOwnerDeletion": true,
                "controller": true,
                "kind": "ReplicaSet",
                "name": "llm-serve-5d8f7c9b4",
                "uid": "9f1e2d3c-2222-4b5a-8c7d-6e5f4a3b2c1d"
            }
        ],
        "resourceVersion": "2001"
    },
    "spec": {
        "containers": [
            {
                "image": "vllm/vllm-openai:v0.6.3",
                "name": "vllm",
                "resources": {
                    "limits": {
                        "nvidia.com/gpu": "2"
                    },
                    "requests": {
                        "cpu": "8",
                        "memory": "64Gi",
                        "nvidia.com/gpu": "2"
                    }
                }
            }
        ],
        "schedulerName": "default-scheduler"
    },
    "status": {
        "phase": "Pending",
        "qosClass": "Burstable"
    }
}
E1207 14:01:03.512345   4242 reflector.go:158] "Unhandled Error" err="watch of *v1.Pod ended with: an error on the server (\"unable to decode an event from the watch stream\")"
{
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "creationTimestamp": "2026-12-07T14:01:02Z",
        "labels": {
            "app": "llm-serve",
            "pod-template-hash": "5d8f7c9b4"
        },
        "name": "llm-serve-5d8f7c9b4-x2x9q",
        "namespace": "inference",
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "controller": true,
                "kind": "ReplicaSet",
                "name": "llm-serve-5d8f7c9b4",
                "uid": "9f1e2d3c-2222-4b5a-8c7d-6e5f4a3b2c1d"
            }
        ],
        "resourceVersion": "2002"
    },
    "spec": {
        "containers": [
            {
                "image": "vllm/vllm-openai:v0.6.3",
                "name": "vllm",
                "resources": {
                    "limits": {
                        "nvidia.com/gpu": "2"
                    }
                }
            }
        ],
        "nodeName": "gpu-a",
        "schedulerName": "default-scheduler"
    },
    "status": {
        "conditions": [
            {
                "lastTransitionTime": "2026-12-07T14:01:03Z",
                "status": "True",
                "type": "PodScheduled"
            }
        ],
        "phase": "Pending",
        "qosClass": "Burstable"
    }
}
{
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "trainer-0",
        "namespace": "training",
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "controller": true,
                "kind": "StatefulSet",
                "name": "trainer",
                "uid": "1a2b3c4d-3333-4e5f-9a8b-7c6d5e4f3a2b"
            }
        ],
        "resourceVersion": "2003"
    },
    "spec": {
        "containers": [
            {
                "image": "nvcr.io/nvidia/pytorch:24.10-py3",
                "name": "train",
                "resources": {
                    "limits": {
                        "nvidia.com/gpu": "4"
                    }
                }
            }
        ]
    },
    "status": {
        "phase": "Pending"
    }
}
{
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "trainer-0",
        "namespace": "training",
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "controller": true,
                "kind": "StatefulSet",
                "name": "trainer",
                "uid": "1a2b3c4d-3333-4e5f-9a8b-7c6d5e4f3a2b"
            }
        ],
        "resourceVersion": "2004"
    },
    "spec": {
        "containers": [
            {
                "image": "nvcr.io/nvidia/pytorch:24.10-py3",
                "name": "train",
                "resources": {
                    "limits": {
                        "nvidia.com/gpu": "4"
                    }
                }
            }
        ],
        "nodeName": "gpu-b"
    },
    "status": {
        "phase": "Running"
    }
}
{
    "object": {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "labels": {
                "node.kubernetes.io/instance-type": "g5.12xlarge"
            },
            "name": "gpu-b",
            "resourceVersion": "1003"
        }
    },
    "type": "DELETED"
}
"#;

    /// The stream, each item shortened to a line.
    fn summary(items: &[WatchItem]) -> Vec<String> {
        items
            .iter()
            .map(|item| match item {
                Ok(WatchEvent { kind, object: Object::Pod(p) }) => {
                    format!("{kind:?} pod {} on {:?}", crate::cluster::pod_key(p), p.spec.as_ref().and_then(|s| s.node_name.clone()))
                }
                Ok(WatchEvent { kind, object: Object::Node(n) }) => format!("{kind:?} node {}", n.metadata.name.as_deref().unwrap_or("")),
                Ok(WatchEvent { kind, object: Object::Deployment(d) }) => {
                    format!("{kind:?} deployment {} replicas {:?}", d.metadata.name.as_deref().unwrap_or(""), d.spec.replicas)
                }
                Ok(WatchEvent { kind, object: Object::Hpa(h) }) => {
                    format!("{kind:?} hpa {} -> {}", h.metadata.name.as_deref().unwrap_or(""), h.spec.scale_target_ref.name)
                }
                Ok(WatchEvent { kind, object: Object::Other(k) }) => format!("{kind:?} {k}"),
                Err(e) => format!("error: {e}"),
            })
            .collect()
    }

    fn read_all(bytes: &[u8]) -> Vec<WatchItem> {
        let mut r = WatchReader::new();
        let mut items = r.feed(bytes);
        items.extend(r.finish());
        items
    }

    fn read_chunked(bytes: &[u8], cuts: &[usize]) -> Vec<WatchItem> {
        let mut r = WatchReader::new();
        let mut items = Vec::new();
        let mut rest = bytes;
        for &c in cuts {
            let (now, later) = rest.split_at(c.min(rest.len()));
            items.extend(r.feed(now));
            rest = later;
        }
        items.extend(r.feed(rest));
        items.extend(r.finish());
        items
    }

    #[test]
    fn a_recorded_watch_stream_reads_as_its_objects_with_the_garbage_reported() {
        let items = read_all(STREAM.as_bytes());
        let got = summary(&items);
        assert_eq!(got.len(), 8, "{got:#?}");
        assert_eq!(got[0], "Modified node gpu-a");
        assert_eq!(got[1], "Modified node gpu-b");
        assert_eq!(got[2], "Modified pod inference/llm-serve-5d8f7c9b4-x2x9q on None");
        let garbage_line = STREAM.lines().position(|l| l.starts_with("E1207")).unwrap() as u64 + 1;
        let Err(WatchError::NotJson { line, offset, snippet }) = &items[3] else { panic!("{got:#?}") };
        assert_eq!(*line, garbage_line);
        assert_eq!(*offset as usize, STREAM.find("E1207").unwrap());
        assert!(snippet.starts_with("E1207 14:01:03.512345") && snippet.len() <= SNIPPET, "{snippet}");
        assert!(got[3].contains(&format!("line {garbage_line}")) && got[3].contains("2>/dev/null"), "{}", got[3]);
        assert_eq!(got[4], "Modified pod inference/llm-serve-5d8f7c9b4-x2x9q on Some(\"gpu-a\")");
        assert_eq!(got[5], "Modified pod training/trainer-0 on None");
        assert_eq!(got[6], "Modified pod training/trainer-0 on Some(\"gpu-b\")");
        assert_eq!(got[7], "Deleted node gpu-b");
        // The typed objects hold what shadow mode reads.
        let Ok(WatchEvent { object: Object::Node(a), .. }) = &items[0] else { unreachable!() };
        let alloc = a.status.as_ref().and_then(|s| s.allocatable.as_ref()).unwrap();
        assert_eq!(alloc["nvidia.com/gpu"].0, "8");
        assert_eq!(a.metadata.labels.as_ref().unwrap()["node.kubernetes.io/instance-type"], "p4d.24xlarge");
    }

    #[test]
    fn the_cluster_state_follows_the_stream_with_one_bound_change_per_placement() {
        let mut cluster = ClusterState::default();
        let changes: Vec<Change> = read_all(STREAM.as_bytes()).iter().filter_map(|i| i.as_ref().ok()).map(|e| cluster.apply(e)).collect();
        let bound: Vec<&Change> = changes.iter().filter(|c| matches!(c, Change::PodBound { .. })).collect();
        assert_eq!(
            bound,
            [
                &Change::PodBound { pod_key: "inference/llm-serve-5d8f7c9b4-x2x9q".into(), node: "gpu-a".into() },
                &Change::PodBound { pod_key: "training/trainer-0".into(), node: "gpu-b".into() },
            ]
        );
        assert_eq!(changes[0], Change::NodeAdded { node: "gpu-a".into() });
        assert_eq!(changes[1], Change::NodeAdded { node: "gpu-b".into() });
        assert_eq!(changes.last(), Some(&Change::NodeRemoved { node: "gpu-b".into() }));
        assert_eq!(changes.iter().filter(|c| **c != Change::None).count(), 5, "{changes:#?}");
        assert_eq!(cluster.nodes.keys().collect::<Vec<_>>(), ["gpu-a"]);
        assert_eq!(cluster.pods.len(), 2);
        assert_eq!(cluster.pods_on("gpu-a").count(), 1);
        assert_eq!(cluster.replicas_of("inference", "llm-serve-5d8f7c9b4"), 1);
        assert_eq!(cluster.replicas_of("training", "trainer"), 1);
        assert_eq!(cluster.replicas_of("inference", "trainer"), 0);
        // The last state again (kubectl restarted lists it): nothing is placed anew.
        let items = read_all(STREAM.as_bytes());
        let again: Vec<Change> = [&items[4], &items[6]].into_iter().filter_map(|i| i.as_ref().ok()).map(|e| cluster.apply(e)).collect();
        assert_eq!(again, [Change::None, Change::None]);
    }

    #[test]
    fn pods_first_seen_bound_and_deleted_pods() {
        let mut cluster = ClusterState::default();
        let pod = |node: Option<&str>| -> Pod {
            let mut v = serde_json::json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": []}});
            if let Some(n) = node {
                v["spec"]["nodeName"] = n.into();
            }
            serde_json::from_value(v).unwrap()
        };
        let ev = |kind, p: Pod| WatchEvent { kind, object: Object::Pod(Box::new(p)) };
        assert_eq!(cluster.apply(&ev(WatchKind::Added, pod(Some("n1")))), Change::None, "placed before the watch");
        assert_eq!(
            cluster.apply(&ev(WatchKind::Deleted, pod(Some("n1")))),
            Change::PodGone { pod_key: "ns/p".into(), node: Some("n1".into()) }
        );
        assert_eq!(cluster.apply(&ev(WatchKind::Deleted, pod(None))), Change::None, "not known");
        assert_eq!(cluster.apply(&ev(WatchKind::Added, pod(None))), Change::None);
        assert_eq!(
            cluster.apply(&ev(WatchKind::Modified, pod(Some("n2")))),
            Change::PodBound { pod_key: "ns/p".into(), node: "n2".into() }
        );
        assert_eq!(cluster.apply(&ev(WatchKind::Modified, pod(Some("n2")))), Change::None);
        assert_eq!(cluster.apply(&WatchEvent { kind: WatchKind::Added, object: Object::Other("Event".into()) }), Change::None);
    }

    #[test]
    fn a_list_yields_its_items_and_other_kinds_pass_as_other() {
        let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
        ], "metadata": {"resourceVersion": ""}}
{"kind": "PodList", "items": [{"metadata": {"name": "q"}}]}
"#;
        assert_eq!(
            summary(&read_all(list.as_bytes())),
            ["Modified node n1", "Modified pod a/p on None", "Modified Service", "Modified pod default/q on None"]
        );
    }

    #[test]
    fn deployments_and_autoscaling_v2_hpas_read_and_v1_hpas_pass_as_other() {
        let text = r#"{"type": "ADDED", "object": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "llm", "namespace": "ml"},
  "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "llm"}}, "template": {}}}}
{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "llm", "namespace": "ml"},
  "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"}, "minReplicas": 1, "maxReplicas": 8},
  "status": {"currentReplicas": 3, "desiredReplicas": 5}}
{"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "old"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 2}}
{"type": "DELETED", "object": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "llm", "namespace": "ml"}, "spec": {"selector": {}, "template": {}}}}
"#;
        let items = read_all(text.as_bytes());
        assert_eq!(
            summary(&items),
            [
                "Added deployment llm replicas Some(3)",
                "Modified hpa llm -> llm",
                "Modified HorizontalPodAutoscaler",
                "Deleted deployment llm replicas None"
            ]
        );
        let mut cluster = ClusterState::default();
        for item in &items[..2] {
            cluster.apply(item.as_ref().unwrap());
        }
        assert_eq!((cluster.deployments.len(), cluster.hpas["ml/llm"].status.as_ref().map(|s| s.desired_replicas)), (1, Some(5)));
        cluster.apply(items[3].as_ref().unwrap());
        assert!(cluster.deployments.is_empty());
    }

    #[test]
    fn garbage_of_every_kind_is_reported_at_its_line_and_reading_goes_on() {
        let text = concat!(
            "{\"kind\": \"Node\", \"metadata\": {\"name\": \"a\"}}\n",
            "{\"kind\": \"Node\", \"metadata\": {\"na\n",              // cut off: kubectl killed
            "{\"kind\": \"Node\", \"metadata\": {\"name\": \"b\"}}\n", // line 3
            "[1, 2]\n",                                                // line 4: not an object
            "{\"metadata\": {\"name\": \"c\"}}\n",                     // line 5: no kind
            "{\"kind\": \"Pod\", \"metadata\": {\"name\": 7}}\n",      // line 6: not a Pod
            "{\"type\": \"ERROR\", \"object\": {\"kind\": \"Status\", \"code\": 410, \"message\": \"too old resource version\"}}\n",
            "{\"type\": \"BOOKMARK\", \"object\": {\"kind\": \"Pod\", \"metadata\": {\"resourceVersion\": \"9\"}}}\n",
            "{\"type\": \"ADDED\", \"object\": {\"kind\": \"Node\", \"metadata\": {\"name\": \"d\"}}}\n",
            "{\"kind\": \"Node\", \"metad",
        );
        let got = summary(&read_all(text.as_bytes()));
        assert_eq!(got.len(), 9, "{got:#?}");
        assert_eq!(got[0], "Modified node a");
        assert!(got[1].starts_with("error: line 3 (the object from byte 44): broken JSON:"), "{}", got[1]);
        assert_eq!(got[2], "Modified node b");
        assert!(got[3].starts_with("error: line 4 ") && got[3].contains("not JSON: `[1, 2]`"), "{}", got[3]);
        assert!(got[4].starts_with("error: line 5 ") && got[4].contains("without `kind`"), "{}", got[4]);
        assert!(got[5].starts_with("error: line 6 ") && got[5].contains("Pod `(unnamed)` does not read as a Pod"), "{}", got[5]);
        assert!(got[6].starts_with("error: line 7 ") && got[6].contains("410 too old resource version"), "{}", got[6]);
        assert_eq!(got[7], "Added node d");
        assert!(got[8].starts_with("error: line 10 ") && got[8].contains("ended inside an object (23 bytes unfinished)"), "{}", got[8]);
    }

    #[test]
    fn binary_garbage_and_a_line_without_an_end_never_stop_the_reader() {
        let mut r = WatchReader::new();
        let mut items = r.feed(&[0xff, 0xfe, 0, b'x']);
        items.extend(r.feed(&[b'y'; 200]));
        items.extend(r.feed(b"\n{\"kind\": \"Node\", \"metadata\": {\"name\": \"a\"}}\n"));
        let got = summary(&items);
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(got[0].starts_with("error: line 1 (byte 0): not JSON"), "{}", got[0]);
        assert_eq!(got[1], "Modified node a");
        assert_eq!(r.pending(), 0);
        assert!(r.feed(b"{\"kind\"").is_empty());
        assert_eq!(r.pending(), 7, "an unfinished object waits");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_chunking_reads_the_same(cuts in proptest::collection::vec(0usize..400, 0..60)) {
            let bytes = STREAM.as_bytes();
            prop_assert_eq!(read_chunked(bytes, &cuts), read_all(bytes));
        }

        #[test]
        fn any_chunking_of_garbage_reads_the_same(cuts in proptest::collection::vec(0usize..40, 0..30), junk in "[ -~\n{}\"]{0,120}") {
            let text = format!("{junk}\n{{\"kind\": \"Node\", \"metadata\": {{\"name\": \"z\"}}}}\n{junk}");
            prop_assert_eq!(read_chunked(text.as_bytes(), &cuts), read_all(text.as_bytes()));
        }
    }

    fn append(path: &std::path::Path, text: &str) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[tokio::test]
    async fn the_source_follows_a_file_appended_while_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("watch.json");
        let (half, rest) = STREAM.split_at(STREAM.find("E1207").unwrap() + 10);
        append(&path, half);
        let source = KubectlSource { path: Some(path.clone()), poll: Duration::from_millis(5), max_backoff: Duration::from_millis(20) };
        assert_eq!(source.name(), format!("kubectl:{}", path.display()));
        let (tx, mut rx) = mpsc::channel(4);
        let feed = Feed::new(64);
        let (stop_tx, stop) = watch::channel(false);
        let run = tokio::spawn(source.run(tx, feed.clone(), stop));
        let mut cluster = ClusterState::default();
        let mut changes = Vec::new();
        let mut events = 0;
        let wait = async {
            while events < 7 {
                let event = rx.recv().await.expect("the source runs");
                events += 1;
                changes.push(cluster.apply(&event));
                if events == 3 {
                    append(&path, rest);
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait).await.expect("7 events within 10 s");
        stop_tx.send(true).unwrap();
        let stats = run.await.unwrap();
        assert_eq!(stats.events, 7);
        assert_eq!(stats.errors, 1);
        assert!(stats.last_error.as_deref().unwrap().contains("watch.json: line "), "{stats:?}");
        assert_eq!(changes.iter().filter(|c| matches!(c, Change::PodBound { .. })).count(), 2);
        assert_eq!(cluster.nodes.len(), 1);
        let health: Vec<Health> =
            feed.drain().into_iter().filter_map(|e| if let Event::Health { health, .. } = e { Some(health) } else { None }).collect();
        assert_eq!(health.first(), Some(&Health::Up), "{health:?}");
        assert!(health.iter().any(|h| matches!(h, Health::Degraded(m) if m.contains("not JSON"))), "{health:?}");
        assert_eq!(health.last(), Some(&Health::Up), "up again after the garbage: {health:?}");
    }

    #[tokio::test]
    async fn standard_input_is_read_in_chunks_until_it_ends() {
        let (events_tx, mut events_rx) = mpsc::channel(64);
        let (chunks_tx, chunks_rx) = mpsc::channel(4);
        let feed = Feed::new(64);
        let (_stop_tx, stop) = watch::channel(false);
        let mut state =
            State { source: "kubectl:-".into(), reader: WatchReader::new(), stats: KubectlStats::default(), health: None, clean_now: 0 };
        let bytes = STREAM.as_bytes().to_vec();
        let writer = tokio::spawn(async move {
            for chunk in bytes.chunks(777) {
                chunks_tx.send(chunk.to_vec()).await.unwrap();
            }
            chunks_tx.send(b"{\"kind\": \"Pod\"".to_vec()).await.unwrap();
        });
        state.read_chunks(chunks_rx, &events_tx, &feed, stop).await;
        writer.await.unwrap();
        assert_eq!(state.stats.events, 7);
        assert_eq!(state.stats.errors, 2, "the garbage line and the unfinished pod");
        assert!(state.stats.last_error.as_deref().unwrap().starts_with("kubectl:-: line "), "{:?}", state.stats);
        let mut cluster = ClusterState::default();
        while let Ok(e) = events_rx.try_recv() {
            cluster.apply(&e);
        }
        assert_eq!(cluster.pods.len(), 2);
        let health: Vec<Health> =
            feed.drain().into_iter().filter_map(|e| if let Event::Health { health, .. } = e { Some(health) } else { None }).collect();
        assert!(matches!(health.last(), Some(Health::Down(m)) if m.contains("standard input ended")), "{health:?}");
    }

    #[tokio::test]
    async fn a_missing_file_is_retried_and_a_truncated_one_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("watch.json");
        let source = KubectlSource { path: Some(path.clone()), poll: Duration::from_millis(5), max_backoff: Duration::from_millis(20) };
        let (tx, mut rx) = mpsc::channel(4);
        let feed = Feed::new(64);
        let (stop_tx, stop) = watch::channel(false);
        let run = tokio::spawn(source.run(tx, feed.clone(), stop));
        tokio::time::sleep(Duration::from_millis(30)).await;
        append(&path, "{\"kind\": \"Node\", \"metadata\": {\"name\": \"a\"}}\n{\"kind\": \"No");
        let first = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        assert!(matches!(first.object, Object::Node(_)));
        std::fs::File::create(&path).unwrap();
        append(&path, "{\"kind\": \"Node\", \"metadata\": {\"name\": \"b\"}}\n");
        let second = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        let Object::Node(b) = second.object else { panic!() };
        assert_eq!(b.metadata.name.as_deref(), Some("b"));
        stop_tx.send(true).unwrap();
        let stats = run.await.unwrap();
        assert_eq!(stats.events, 2);
        let health: Vec<Health> =
            feed.drain().into_iter().filter_map(|e| if let Event::Health { health, .. } = e { Some(health) } else { None }).collect();
        assert!(matches!(&health[0], Health::Retrying { attempt: 1, .. }), "{health:?}");
        assert!(health.iter().any(|h| matches!(h, Health::Degraded(m) if m.contains("truncated"))), "{health:?}");
    }
}
