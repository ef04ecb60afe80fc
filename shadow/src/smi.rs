//! `nvidia-smi:FILE`: the CSV that `nvidia-smi --query-gpu=... --format=csv
//! -lms 1000 > FILE` writes as it goes, followed live.
//!
//! The file is followed as `tail -F` follows it ([`crate::follow`]). Its
//! header names the columns (they are read by name, since nvidia-smi's are
//! not stable), and each data line after it becomes a [`Reading`] through
//! twin-replay's own reading of nvidia-smi lines
//! ([`twin_replay::nvidia_smi::LineReader`]): the same units, the same
//! checks. A file that starts over (truncated, rotated, or back after being
//! missing) is expected to start with a header again.
//!
//! What the source pushes, in order:
//!
//! - [`Event::Readings`]: one batch per look at the file;
//! - [`Event::Gap`] between the last reading before and the first after a
//!   truncation, a rotation or a period without the file: the gap is
//!   marked, never filled;
//! - [`Event::Health`]: [`Health::Up`] when the file is read,
//!   [`Health::Retrying`] while it is missing, [`Health::Degraded`] for
//!   lines skipped (with the last one's file, line and reason) and when the
//!   file was truncated or rotated, until readings flow again.
//!
//! Nothing in the file ends the run: it ends when told to stop.

use crate::feed::{Event, Feed, Health, Reading};
use crate::follow::{FollowEvent, Follower, Start};
use std::path::PathBuf;
use std::time::Duration;
use twin_replay::nvidia_smi::LineReader;

/// Readings pushed at most in one batch; a long backlog is pushed in
/// batches, yielding between them.
const BATCH: usize = 4096;

/// A followed nvidia-smi CSV (see the [module](self) docs).
#[derive(Clone, Debug)]
pub struct SmiSource {
    /// The file nvidia-smi writes.
    pub path: PathBuf,
    /// The host the GPUs are in; `None`: this machine's host name.
    pub host: Option<String>,
    /// How often the file is looked at.
    pub poll: Duration,
    /// The longest wait between tries while the file is missing.
    pub max_backoff: Duration,
}

/// What a run of [`SmiSource::run`] did, in counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmiStats {
    /// Readings pushed.
    pub readings: u64,
    /// Lines skipped: bad lines, data before any header, unfinished lines
    /// left behind by a truncation or rotation.
    pub skipped: u64,
    /// Gaps pushed.
    pub gaps: u64,
}

impl SmiSource {
    /// Follows `path`, looking every 250 ms and backing off to 5 s while it
    /// is missing, with this machine's host name.
    pub fn new(path: impl Into<PathBuf>) -> SmiSource {
        SmiSource { path: path.into(), host: None, poll: Duration::from_millis(250), max_backoff: Duration::from_secs(5) }
    }

    /// The source's name in events: `nvidia-smi:FILE`.
    pub fn name(&self) -> String {
        format!("nvidia-smi:{}", self.path.display())
    }

    /// Follows the file, pushing into `feed`, until `stop` turns true or
    /// its sender is dropped. Never fails: whatever the file does is
    /// reported as health and gaps. Returns the counts.
    pub async fn run(self, feed: Feed, mut stop: tokio::sync::watch::Receiver<bool>) -> SmiStats {
        let mut follower = Follower::new(&self.path).poll_every(self.poll).max_backoff(self.max_backoff);
        let host = self.host.clone().unwrap_or_else(this_host);
        let mut state = State::new(self.name(), self.path.display().to_string(), host);
        loop {
            if *stop.borrow() {
                break;
            }
            for event in follower.poll() {
                state.take(event, &feed);
                if state.batch.len() >= BATCH {
                    state.flush(&feed);
                    tokio::task::yield_now().await;
                }
            }
            state.end_look(&feed);
            tokio::select! {
                changed = stop.changed() => if changed.is_err() { break },
                () = tokio::time::sleep(follower.delay()) => {}
            }
        }
        state.flush(&feed);
        state.stats
    }
}

/// This machine's host name, or `localhost` when it cannot be told (the
/// host of the readings of this machine's own sources).
pub(crate) fn this_host() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".into())
}

/// The source between looks: the header in force, the batch being built,
/// what a gap would start from.
struct State {
    source: String,
    origin: String,
    host: String,
    reader: Option<LineReader>,
    /// Lines read since the file's start.
    line: usize,
    batch: Vec<Reading>,
    /// Time of the last reading pushed.
    last_ns: Option<i64>,
    /// Why the next reading follows a gap.
    gap: Option<String>,
    /// Lines skipped in this look, and the last one's reason.
    skipped_now: u64,
    last_problem: String,
    /// Readings in this look.
    read_now: u64,
    health: Option<Health>,
    stats: SmiStats,
}

impl State {
    fn new(source: String, origin: String, host: String) -> State {
        State {
            source,
            origin,
            host,
            reader: None,
            line: 0,
            batch: Vec::new(),
            last_ns: None,
            gap: None,
            skipped_now: 0,
            last_problem: String::new(),
            read_now: 0,
            health: None,
            stats: SmiStats::default(),
        }
    }

    /// Takes one event from the follower.
    fn take(&mut self, event: FollowEvent, feed: &Feed) {
        match event {
            FollowEvent::Line(text) => self.line(&text, feed),
            FollowEvent::Start { why, cut } => {
                self.reader = None;
                self.line = 0;
                if cut > 0 {
                    self.skip(format!(
                        "{}: an unfinished last line ({cut} bytes) was left behind: the file was {}",
                        self.origin,
                        why.describe()
                    ));
                }
                match why {
                    Start::Opened | Start::Reappeared => self.set_health(Health::Up, feed),
                    Start::Truncated | Start::Rotated => {
                        let what = format!("{} was {}: reading it again from its start", self.origin, why.describe());
                        self.set_health(Health::Degraded(what), feed);
                    }
                }
                if why != Start::Opened {
                    self.gap.get_or_insert_with(|| format!("the file was {}", why.describe()));
                }
            }
            FollowEvent::Missing { attempt, error } => {
                self.gap = Some("the file was missing".into());
                if attempt.is_power_of_two() {
                    self.set_health(Health::Retrying { attempt, error }, feed);
                }
            }
        }
    }

    /// A line: a header, data, or something to skip.
    fn line(&mut self, text: &str, feed: &Feed) {
        self.line += 1;
        // Data lines start with their timestamp's digits and headers with a
        // column name: a header is read again wherever it comes, and one with
        // no `timestamp` column is refused (with its hint) at the start.
        let starts_with_letter = text.trim_start_matches('\u{feff}').trim_start().starts_with(|c: char| c.is_alphabetic());
        if starts_with_letter && (self.reader.is_none() || LineReader::is_header(text)) {
            match LineReader::new(text, &self.origin, self.line) {
                Ok(r) => self.reader = Some(r),
                Err(e) => {
                    self.reader = None;
                    self.skip(e.to_string());
                }
            }
            return;
        }
        let Some(reader) = self.reader.as_mut() else {
            if !text.trim().is_empty() {
                self.skip(format!(
                    "{}:{}: a data line before any header; hint: record with `--format=csv` (not `noheader`), so that the file starts with the header",
                    self.origin, self.line
                ));
            }
            return;
        };
        match reader.read(text) {
            Ok(Some(sample)) => {
                let uuid = reader.text(text, "uuid").map(str::to_string);
                let reading = Reading { host: self.host.clone(), uuid, pod: None, sample };
                self.push_reading(reading, feed);
            }
            Ok(None) => {}
            Err(e) => self.skip(e.to_string()),
        }
    }

    fn push_reading(&mut self, reading: Reading, feed: &Feed) {
        let t = reading.sample.time_ns;
        if let Some(why) = self.gap.take()
            && let Some(from) = self.last_ns
        {
            self.flush(feed);
            feed.push(Event::Gap { source: self.source.clone(), from_ns: from, to_ns: t.max(from), why });
            self.stats.gaps += 1;
        }
        self.last_ns = Some(t);
        self.read_now += 1;
        self.batch.push(reading);
    }

    fn skip(&mut self, problem: String) {
        self.skipped_now += 1;
        self.stats.skipped += 1;
        self.last_problem = problem;
    }

    /// Pushes the readings built so far.
    fn flush(&mut self, feed: &Feed) {
        if !self.batch.is_empty() {
            self.stats.readings += self.batch.len() as u64;
            feed.push(Event::Readings { source: self.source.clone(), readings: std::mem::take(&mut self.batch) });
        }
    }

    /// The end of a look: the batch, and the health it shows.
    fn end_look(&mut self, feed: &Feed) {
        self.flush(feed);
        if self.skipped_now > 0 {
            let what = format!("{} line(s) skipped ({} in all); the last: {}", self.skipped_now, self.stats.skipped, self.last_problem);
            self.set_health(Health::Degraded(what), feed);
        } else if self.read_now > 0 {
            self.set_health(Health::Up, feed);
        }
        self.skipped_now = 0;
        self.read_now = 0;
    }

    /// Pushes `health` if it is news (after the readings before it).
    fn set_health(&mut self, health: Health, feed: &Feed) {
        if self.health.as_ref() != Some(&health) {
            self.flush(feed);
            feed.push_health_if_new(&self.source, &mut self.health, health);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::Path;
    use twin_replay::Field;

    const HEAD: &str = "timestamp, index, name, uuid, utilization.gpu [%], memory.used [MiB], power.draw [W]";
    /// Another column set, in another order, as after nvidia-smi is restarted with other flags.
    const HEAD2: &str = "timestamp, power.draw [W], uuid, index, pstate, utilization.gpu [%]";

    fn row(sec: u32, gpu: u32, watts: f64) -> String {
        format!("2026/12/07 10:00:{sec:02}.000, {gpu}, NVIDIA H100 80GB HBM3, GPU-{gpu}, 50 %, 1024 MiB, {watts} W\n")
    }

    fn row2(sec: u32, gpu: u32, watts: f64) -> String {
        format!("2026/12/07 10:00:{sec:02}.000, {watts:.2} W, GPU-{gpu}, {gpu}, P0, 60 %\n")
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// Everything the feed said, gathered as it comes.
    #[derive(Default)]
    struct Got(Vec<Event>);

    impl Got {
        /// Waits (10 s at most) until `done` holds of what came.
        async fn until(&mut self, feed: &Feed, what: &str, done: impl Fn(&Got) -> bool) {
            let wait = async {
                while !done(self) {
                    match feed.next().await {
                        Some(e) => self.0.push(e),
                        None => break,
                    }
                }
            };
            if tokio::time::timeout(Duration::from_secs(10), wait).await.is_err() {
                panic!("no {what} within 10 s; got {:#?}", self.0);
            }
        }

        fn readings(&self) -> Vec<&Reading> {
            self.0.iter().flat_map(|e| if let Event::Readings { readings, .. } = e { readings.iter().collect() } else { vec![] }).collect()
        }

        fn health(&self) -> Vec<&Health> {
            self.0.iter().filter_map(|e| if let Event::Health { health, .. } = e { Some(health) } else { None }).collect()
        }

        fn degraded(&self, word: &str) -> bool {
            self.health().iter().any(|h| matches!(h, Health::Degraded(m) if m.contains(word)))
        }
    }

    #[tokio::test]
    async fn follows_a_csv_through_partial_lines_garbage_truncation_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("smi.csv");
        let feed = Feed::new(1024);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let src = SmiSource {
            host: Some("node-1".into()),
            poll: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..SmiSource::new(&p)
        };
        let name = src.name();
        let task = tokio::spawn(src.run(feed.clone(), stopped));
        let mut got = Got::default();

        // Not there yet: retried, not an error.
        got.until(&feed, "retry", |g| g.health().iter().any(|h| matches!(h, Health::Retrying { .. }))).await;

        // Appended line by line, one line in two parts.
        let second = row(0, 1, 71.0);
        let (a, b) = second.split_at(25);
        append(&p, &format!("{HEAD}\n{}{a}", row(0, 0, 70.5)));
        got.until(&feed, "first reading", |g| !g.readings().is_empty()).await;
        append(&p, b);
        append(&p, &row(1, 0, 72.0));
        append(&p, "garbage, line\n");
        append(&p, &row(1, 1, 73.0));
        got.until(&feed, "4 readings and a skip", |g| g.readings().len() == 4 && g.degraded("skipped")).await;

        // Truncated, then written again with another header.
        std::fs::File::create(&p).unwrap();
        got.until(&feed, "truncation", |g| g.degraded("truncated")).await;
        append(&p, &format!("{HEAD2}\n{}{}", row2(2, 0, 80.0), row2(2, 1, 81.0)));
        got.until(&feed, "6 readings", |g| g.readings().len() == 6).await;

        // Rotated: the old file's last lines, then the new file.
        append(&p, &format!("{}{}", row2(3, 0, 82.0), row2(3, 1, 83.0)));
        std::fs::rename(&p, dir.path().join("smi.csv.1")).unwrap();
        append(&p, &format!("{HEAD}\n{}", row(4, 0, 90.0)));
        got.until(&feed, "9 readings", |g| g.readings().len() == 9).await;

        stop.send(true).unwrap();
        let stats = task.await.unwrap();
        got.0.extend(feed.drain());

        // Every complete line once, in order, with its values.
        let t0 = got.readings()[0].sample.time_ns;
        let seen: Vec<(i64, u32, Option<&str>, Option<f64>)> = got
            .readings()
            .iter()
            .map(|r| ((r.sample.time_ns - t0) / 1_000_000_000, r.sample.gpu, r.uuid.as_deref(), r.sample.get(Field::Power)))
            .collect();
        let want: Vec<(i64, u32, Option<&str>, Option<f64>)> =
            [(0, 0, 70.5), (0, 1, 71.0), (1, 0, 72.0), (1, 1, 73.0), (2, 0, 80.0), (2, 1, 81.0), (3, 0, 82.0), (3, 1, 83.0), (4, 0, 90.0)]
                .iter()
                .map(|&(s, g, w)| (s, g, Some(if g == 0 { "GPU-0" } else { "GPU-1" }), Some(w)))
                .collect();
        assert_eq!(seen, want);
        let r = got.readings();
        assert!(r.iter().all(|r| r.host == "node-1" && r.pod.is_none()));
        assert_eq!(r[0].sample.get(Field::MemUsed), Some(1024.0));
        assert_eq!(r[0].sample.gpu_name.as_deref(), Some("NVIDIA H100 80GB HBM3"));
        assert_eq!((r[4].sample.get(Field::UtilGpu), r[4].sample.get(Field::MemUsed)), (Some(60.0), None), "read by the new header");

        // Gaps exactly where the file started over, between the readings around them.
        let mut order = Vec::new();
        for e in &got.0 {
            match e {
                Event::Readings { source, readings } => {
                    assert_eq!(source, &name);
                    order.extend(readings.iter().map(|r| format!("{}", (r.sample.time_ns - t0) / 1_000_000_000)));
                }
                Event::Gap { source, from_ns, to_ns, why } => {
                    assert_eq!(source, &name);
                    order.push(format!("gap {}..{} ({why})", (from_ns - t0) / 1_000_000_000, (to_ns - t0) / 1_000_000_000));
                }
                Event::Health { .. } => {}
            }
        }
        let order: Vec<&str> = order.iter().map(|s| s.split(" (").next().unwrap()).collect();
        assert_eq!(order, ["0", "0", "1", "1", "gap 1..2", "2", "2", "3", "3", "gap 3..4", "4"]);

        // Health: retried, up, degraded by the garbage line (named by file and line), truncation.
        let h = got.health();
        assert!(matches!(h[0], Health::Retrying { attempt: 1, error } if error.contains("smi.csv: no such file (yet)")), "{h:?}");
        assert!(h.contains(&&Health::Up));
        assert!(got.degraded("smi.csv:5: 2 fields where the header has 7"), "{h:?}");
        assert_eq!(stats, SmiStats { readings: 9, skipped: 1, gaps: 2 });
    }

    #[test]
    fn data_before_a_header_and_a_header_without_time_are_skipped_with_a_hint() {
        let feed = Feed::new(64);
        let mut s = State::new("nvidia-smi:x.csv".into(), "x.csv".into(), "h".into());
        s.take(FollowEvent::Start { why: Start::Opened, cut: 0 }, &feed);
        let mut look = |lines: &[&str]| {
            for l in lines {
                s.take(FollowEvent::Line(l.to_string()), &feed);
            }
            s.end_look(&feed);
        };
        look(&["index, power.draw [W]"]);
        look(&["0, 70 W", ""]);
        look(&["timestamp, index", "2026/12/07 10:00:00.000, 0"]);
        assert_eq!(s.stats, SmiStats { readings: 1, skipped: 2, gaps: 0 });
        let health: Vec<Health> =
            feed.drain().into_iter().filter_map(|e| if let Event::Health { health, .. } = e { Some(health) } else { None }).collect();
        let [Health::Up, Health::Degraded(header), Health::Degraded(data), Health::Up] = &health[..] else { panic!("{health:?}") };
        assert!(header.contains("x.csv:1: the header has no `timestamp` column") && header.contains("hint"), "{header}");
        assert!(data.contains("x.csv:2: a data line before any header") && data.contains("noheader"), "{data}");
    }

    #[test]
    fn a_file_missing_for_a_while_is_a_gap_between_the_readings_around_it() {
        let feed = Feed::new(64);
        let mut s = State::new("nvidia-smi:x.csv".into(), "x.csv".into(), "h".into());
        let line = |t: &str| FollowEvent::Line(t.to_string());
        let missing = |attempt| FollowEvent::Missing { attempt, error: "x.csv: no such file (yet)".into() };
        s.take(FollowEvent::Start { why: Start::Opened, cut: 0 }, &feed);
        s.take(line("timestamp, index"), &feed);
        s.take(line("2026/12/07 10:00:00.000, 0"), &feed);
        s.end_look(&feed);
        for attempt in 1..=3 {
            s.take(missing(attempt), &feed);
            s.end_look(&feed);
        }
        s.take(FollowEvent::Start { why: Start::Reappeared, cut: 0 }, &feed);
        s.take(line("timestamp, index"), &feed);
        s.take(line("2026/12/07 10:00:05.000, 0"), &feed);
        s.end_look(&feed);
        let shape: Vec<String> = feed
            .drain()
            .into_iter()
            .map(|e| match e {
                Event::Readings { readings, .. } => format!("{} reading(s)", readings.len()),
                Event::Gap { from_ns, to_ns, why, .. } => format!("gap of {} s: {why}", (to_ns - from_ns) / 1_000_000_000),
                Event::Health { health: Health::Retrying { attempt, .. }, .. } => format!("retrying {attempt}"),
                Event::Health { health, .. } => format!("{health:?}"),
            })
            .collect();
        assert_eq!(shape, ["Up", "1 reading(s)", "retrying 1", "retrying 2", "Up", "gap of 5 s: the file was missing", "1 reading(s)"]);
        assert_eq!(s.stats, SmiStats { readings: 2, skipped: 0, gaps: 1 });
    }
}
