//! `nvml`: this machine's GPUs, sampled through NVML at an interval.
//!
//! NVML is twin-replay's [`Recorder`] (the one `twin record` uses), loaded
//! at run time from `libnvidia-ml.so.1`, so shadow builds and runs on
//! machines without the NVIDIA driver. Each tick looks at every GPU on
//! tokio's blocking pool (NVML calls take microseconds to milliseconds, but
//! a GPU that is going away can make one wait) and pushes one
//! [`Event::Readings`] with the host, each GPU's UUID and its canonical
//! [`Sample`](twin_replay::Sample).
//!
//! What NVML says goes wrong degrades the source instead of ending the run:
//!
//! | NVML error | what the source does |
//! | --- | --- |
//! | `LibloadingError`, `LibraryNotFound`, `DriverNotLoaded` at start | [`Health::Down`] naming `libnvidia-ml.so.1` and the fix; the source ends, the rest of shadow goes on |
//! | anything else at start (`NoPermission`, ...) | [`Health::Retrying`], NVML started again every `retry_every` ticks |
//! | `NotSupported` for a field | the field stays empty; one [`Health::Degraded`] note, once |
//! | `GpuLost`, `Unknown`, `Timeout` for a GPU | the GPU is left out of the readings, [`Health::Degraded`] names it, and it is looked at again every `retry_every` ticks |
//! | `NoPermission` for a field | [`Health::Degraded`] with the fix, while it lasts |
//!
//! A tick missed because the process was stalled (more than two intervals
//! between looks), or ticks in which no GPU could be read, are an
//! [`Event::Gap`] between the last reading before and the first after:
//! marked, never filled.

use crate::feed::{Event, Feed, Health, Reading};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::time::MissedTickBehavior;
use twin_replay::record::{Look, NvmlError, Recorder};

/// This machine's GPUs through NVML (see the [module](self) docs).
#[derive(Clone, Debug)]
pub struct NvmlSource {
    /// How often every GPU is looked at.
    pub interval: Duration,
    /// The host the GPUs are in; `None`: this machine's host name.
    pub host: Option<String>,
    /// Ticks between tries at a dropped GPU (or at NVML, when it failed to
    /// start for a reason other than a missing library); at least 1.
    pub retry_every: u32,
    /// NVML's library; `None`: `libnvidia-ml.so.1` from the loader's
    /// search path, as the NVIDIA driver installs it.
    pub library: Option<PathBuf>,
}

/// What a run of [`NvmlSource::run`] did, in counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NvmlStats {
    /// Looks at the GPUs (ticks with NVML started).
    pub ticks: u64,
    /// Readings pushed.
    pub readings: u64,
    /// Gaps pushed.
    pub gaps: u64,
}

impl NvmlSource {
    /// Every GPU every `interval`, with this machine's host name, a dropped
    /// GPU retried every 10 ticks.
    pub fn new(interval: Duration) -> NvmlSource {
        NvmlSource { interval, host: None, retry_every: 10, library: None }
    }

    /// The source's name in events: `nvml`.
    pub fn name(&self) -> String {
        "nvml".into()
    }

    /// Samples the GPUs into `feed` until `stop` turns true or its sender
    /// is dropped, or until NVML turns out not to be on this machine (one
    /// [`Health::Down`], then it returns at once). Never fails: whatever
    /// NVML says is reported as health and gaps. Returns the counts.
    pub async fn run(self, feed: Feed, mut stop: tokio::sync::watch::Receiver<bool>) -> NvmlStats {
        let host = self.host.clone().unwrap_or_else(crate::smi::this_host);
        let retry_every = self.retry_every.max(1);
        let mut state = State::new(self.name(), host, retry_every);
        let mut recorder: Option<Recorder> = None;
        let mut start_failures = 0u32;
        let mut ticks = tokio::time::interval(self.interval.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut last_look: Option<Instant> = None;
        let mut tick = 0u64;
        loop {
            if *stop.borrow() {
                break;
            }
            tokio::select! {
                changed = stop.changed() => if changed.is_err() { break } else { continue },
                _ = ticks.tick() => {}
            }
            tick += 1;
            let Some(rec) = recorder.take() else {
                // NVML not started yet: the first tick, then every `retry_every`.
                if start_failures > 0 && !(tick - 1).is_multiple_of(u64::from(retry_every)) {
                    continue;
                }
                let library = self.library.clone();
                let started = tokio::task::spawn_blocking(move || match library {
                    Some(lib) => Recorder::start_from(lib.as_os_str()),
                    None => Recorder::start(),
                })
                .await;
                match started {
                    Ok(Ok(rec)) if rec.gpus() == 0 => {
                        state.set_health(Health::Down("NVML started, but the NVIDIA driver reports no GPU on this machine".into()), &feed);
                        break;
                    }
                    Ok(Ok(rec)) => {
                        state.gpus = rec.gpus();
                        recorder = Some(rec);
                        // Looked at on the next tick.
                    }
                    Ok(Err(e)) => match start_trouble(&e) {
                        Start::Down(why) => {
                            state.set_health(Health::Down(why), &feed);
                            break;
                        }
                        Start::Retry(error) => {
                            start_failures += 1;
                            state.set_health(Health::Retrying { attempt: start_failures, error }, &feed);
                        }
                    },
                    Err(join) => {
                        state.set_health(Health::Down(format!("NVML could not be started: {join}")), &feed);
                        break;
                    }
                }
                continue;
            };
            let now = Instant::now();
            let stalled = last_look.is_some_and(|l| now.duration_since(l) > self.interval * 2);
            last_look = Some(now);
            let due = state.due();
            let looked = tokio::task::spawn_blocking(move || {
                let mut rec = rec;
                let time_ns = now_ns();
                let looks: Vec<(u32, Result<Look, NvmlError>)> = due.into_iter().map(|g| (g, rec.look(g, time_ns))).collect();
                (rec, time_ns, looks)
            })
            .await;
            match looked {
                Ok((rec, time_ns, looks)) => {
                    recorder = Some(rec);
                    state.take(time_ns, looks, stalled.then_some(self.interval), &feed);
                }
                Err(join) => {
                    state.set_health(Health::Down(format!("NVML stopped answering: {join}")), &feed);
                    break;
                }
            }
        }
        state.stats
    }
}

/// Nanoseconds since the epoch, now.
fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// What shadow tells the user to do when NVML is not allowed to read.
const PERMISSION_FIX: &str = "fix: run shadow as a user that can open /dev/nvidiactl and /dev/nvidia* (root, or a member of their group), or in a container started with the NVIDIA container runtime (`--gpus all`)";

/// What a failed start of NVML means.
#[derive(Debug, PartialEq, Eq)]
enum Start {
    /// No NVML here: the source ends.
    Down(String),
    /// Tried again later.
    Retry(String),
}

fn start_trouble(e: &NvmlError) -> Start {
    match e {
        NvmlError::LibloadingError(_) | NvmlError::LibraryNotFound | NvmlError::DriverNotLoaded | NvmlError::FailedToLoadSymbol(_) => {
            Start::Down(format!(
                "NVML cannot start ({e}): libnvidia-ml.so.1, the NVIDIA driver's NVML library, is missing or the driver is not loaded. \
                 Fix: install the NVIDIA driver and check that `nvidia-smi` works (in a container: the NVIDIA container runtime, `--gpus all`), \
                 or read this machine's GPUs another way (`nvidia-smi:FILE`, `dcgm:URL`). The rest of shadow goes on without this source"
            ))
        }
        NvmlError::NoPermission => Start::Retry(format!("NVML cannot start: no permission; {PERMISSION_FIX}")),
        _ => Start::Retry(format!("NVML cannot start: {e}")),
    }
}

/// What a failed query of one GPU field means.
#[derive(Debug, PartialEq, Eq)]
enum Field {
    /// The GPU cannot give it: empty, noted once.
    Unsupported,
    /// Not allowed: degraded while it lasts.
    Denied,
    /// Any other failure: degraded while it lasts.
    Failed,
}

fn field_trouble(e: &NvmlError) -> Field {
    match e {
        NvmlError::NotSupported | NvmlError::FunctionNotFound | NvmlError::FailedToLoadSymbol(_) => Field::Unsupported,
        NvmlError::NoPermission => Field::Denied,
        _ => Field::Failed,
    }
}

/// A GPU left out of the readings.
#[derive(Debug)]
struct Dropped {
    /// The tick it was dropped (or last failed) at.
    at: u64,
    /// Why, for the user.
    why: String,
}

/// The source between ticks: which GPUs are dropped, what was noted, what a
/// gap would start from.
struct State {
    source: String,
    host: String,
    retry_every: u32,
    /// GPUs NVML counted.
    gpus: u32,
    /// Looks taken.
    tick: u64,
    dropped: BTreeMap<u32, Dropped>,
    /// Unsupported (GPU, query) pairs already noted.
    noted: BTreeSet<(u32, &'static str)>,
    /// UUIDs seen, by GPU, to name a GPU once it is gone.
    uuids: BTreeMap<u32, String>,
    /// Time of the last reading pushed.
    last_ns: Option<i64>,
    /// Why the next readings follow a gap.
    gap: Option<String>,
    health: Option<Health>,
    stats: NvmlStats,
}

impl State {
    fn new(source: String, host: String, retry_every: u32) -> State {
        State {
            source,
            host,
            retry_every: retry_every.max(1),
            gpus: 0,
            tick: 0,
            dropped: BTreeMap::new(),
            noted: BTreeSet::new(),
            uuids: BTreeMap::new(),
            last_ns: None,
            gap: None,
            health: None,
            stats: NvmlStats::default(),
        }
    }

    /// The GPUs to look at on the next tick: all but the dropped ones,
    /// and those whose retry is due.
    fn due(&self) -> Vec<u32> {
        let next = self.tick + 1;
        (0..self.gpus).filter(|g| self.dropped.get(g).is_none_or(|d| (next - d.at).is_multiple_of(u64::from(self.retry_every)))).collect()
    }

    /// "GPU 1 (GPU-…)", or "GPU 1" before its UUID is known.
    fn label(&self, gpu: u32) -> String {
        match self.uuids.get(&gpu) {
            Some(u) => format!("GPU {gpu} ({u})"),
            None => format!("GPU {gpu}"),
        }
    }

    /// One tick's looks, taken at `time_ns`; `stalled`: the interval, when
    /// the look came more than two intervals after the last.
    fn take(&mut self, time_ns: i64, looks: Vec<(u32, Result<Look, NvmlError>)>, stalled: Option<Duration>, feed: &Feed) {
        self.tick += 1;
        self.stats.ticks += 1;
        if let Some(interval) = stalled {
            self.gap.get_or_insert_with(|| format!("ticks missed: the process was stalled for more than 2 intervals of {interval:?}"));
        }
        let mut readings = Vec::with_capacity(looks.len());
        let mut problems: Vec<String> = Vec::new();
        let mut notes: Vec<String> = Vec::new();
        for (gpu, look) in looks {
            match look {
                Ok(look) => {
                    self.dropped.remove(&gpu);
                    if let Some(u) = &look.uuid {
                        self.uuids.insert(gpu, u.clone());
                    }
                    let mut unsupported = Vec::new();
                    for (what, e) in &look.missing {
                        match field_trouble(e) {
                            Field::Unsupported => {
                                if self.noted.insert((gpu, *what)) {
                                    unsupported.push(*what);
                                }
                            }
                            Field::Denied => problems.push(format!("{}: {what}: no permission; {PERMISSION_FIX}", self.label(gpu))),
                            Field::Failed => problems.push(format!("{}: {what}: {e}", self.label(gpu))),
                        }
                    }
                    if !unsupported.is_empty() {
                        notes.push(format!("{} does not support {}: left empty", self.label(gpu), unsupported.join(", ")));
                    }
                    readings.push(Reading { host: self.host.clone(), uuid: look.uuid, pod: None, sample: look.sample });
                }
                Err(e) => {
                    let why = match e {
                        NvmlError::NoPermission => format!("no permission; {PERMISSION_FIX}"),
                        e => e.to_string(),
                    };
                    self.dropped.insert(gpu, Dropped { at: self.tick, why });
                }
            }
        }
        if readings.is_empty() {
            if self.gpus > 0 {
                self.gap.get_or_insert_with(|| "no GPU could be read".into());
            }
        } else {
            if let Some(why) = self.gap.take()
                && let Some(from) = self.last_ns
            {
                feed.push(Event::Gap { source: self.source.clone(), from_ns: from, to_ns: time_ns.max(from), why });
                self.stats.gaps += 1;
            }
            self.last_ns = Some(time_ns);
            self.stats.readings += readings.len() as u64;
            feed.push(Event::Readings { source: self.source.clone(), readings });
        }
        let mut lost: Vec<String> = self
            .dropped
            .iter()
            .map(|(g, d)| format!("{} dropped from the readings ({}); retried every {} ticks", self.label(*g), d.why, self.retry_every))
            .collect();
        lost.append(&mut problems);
        let health = if lost.is_empty() { Health::Up } else { Health::Degraded(lost.join("; ")) };
        if notes.is_empty() {
            self.set_health(health, feed);
        } else {
            // The note is said once: the health it stands for is `health`.
            let mut all = match &health {
                Health::Degraded(m) => vec![m.clone()],
                _ => vec![],
            };
            all.append(&mut notes);
            feed.push(Event::Health { source: self.source.clone(), health: Health::Degraded(all.join("; ")) });
            self.health = Some(health);
        }
    }

    /// Pushes `health` if it is news.
    fn set_health(&mut self, health: Health, feed: &Feed) {
        feed.push_health_if_new(&self.source, &mut self.health, health);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_replay::{Field as F, Sample};

    fn look(gpu: u32, t: i64, missing: Vec<(&'static str, NvmlError)>) -> Result<Look, NvmlError> {
        let mut sample = Sample::new(t, gpu);
        sample.set(F::Power, 70.0 + f64::from(gpu));
        Ok(Look { sample, uuid: Some(format!("GPU-{gpu}")), missing })
    }

    /// The events as short lines, for comparing whole runs.
    fn shape(feed: &Feed) -> Vec<String> {
        feed.drain()
            .into_iter()
            .map(|e| match e {
                Event::Readings { readings, .. } => {
                    let gpus: Vec<String> = readings.iter().map(|r| format!("{}@{}", r.sample.gpu, r.sample.time_ns)).collect();
                    format!("readings {}", gpus.join(" "))
                }
                Event::Gap { from_ns, to_ns, why, .. } => format!("gap {from_ns}..{to_ns}: {why}"),
                Event::Health { health: Health::Degraded(m), .. } => format!("degraded: {m}"),
                Event::Health { health, .. } => format!("{health:?}"),
            })
            .collect()
    }

    #[test]
    fn a_missing_library_or_driver_is_down_naming_the_library_and_the_fix() {
        // A real LibloadingError, from a library that is nowhere.
        let Err(e) = Recorder::start_from("/nonexistent/libnvidia-ml.so.1".as_ref()) else { panic!("NVML started from nowhere") };
        assert!(matches!(e, NvmlError::LibloadingError(_)), "{e:?}");
        for e in [e, NvmlError::DriverNotLoaded, NvmlError::LibraryNotFound] {
            let Start::Down(m) = start_trouble(&e) else { panic!("{e:?} is not down") };
            assert!(m.contains("libnvidia-ml.so.1") && m.contains("Fix: install the NVIDIA driver") && m.contains("nvidia-smi"), "{m}");
        }
        let Start::Retry(m) = start_trouble(&NvmlError::NoPermission) else { panic!("no permission is retried") };
        assert!(m.contains("no permission") && m.contains("/dev/nvidia"), "{m}");
        assert_eq!(start_trouble(&NvmlError::Unknown), Start::Retry("NVML cannot start: an internal driver error occurred".into()));
        assert_eq!(field_trouble(&NvmlError::NotSupported), Field::Unsupported);
        assert_eq!(field_trouble(&NvmlError::NoPermission), Field::Denied);
        assert_eq!(field_trouble(&NvmlError::InvalidArg), Field::Failed);
    }

    #[test]
    fn unsupported_fields_are_noted_once_and_a_lost_gpu_is_dropped_and_retried() {
        let feed = Feed::new(256);
        let mut s = State::new("nvml".into(), "node-1".into(), 3);
        s.gpus = 2;
        let power = || vec![("power limit", NvmlError::NotSupported)];

        // Tick 1: GPU 1 lacks the power limit: noted once, health up otherwise.
        assert_eq!(s.due(), [0, 1]);
        s.take(10, vec![(0, look(0, 10, vec![])), (1, look(1, 10, power()))], None, &feed);
        // Tick 2: the same again: nothing new.
        s.take(20, vec![(0, look(0, 20, vec![])), (1, look(1, 20, power()))], None, &feed);
        // Tick 3: GPU 1 falls off the bus.
        s.take(30, vec![(0, look(0, 30, vec![])), (1, Err(NvmlError::GpuLost))], None, &feed);
        // Ticks 4, 5: GPU 1 is not looked at; tick 6 it is, and it times out.
        assert_eq!(s.due(), [0]);
        s.take(40, vec![(0, look(0, 40, vec![]))], None, &feed);
        assert_eq!(s.due(), [0]);
        s.take(50, vec![(0, look(0, 50, vec![]))], None, &feed);
        assert_eq!(s.due(), [0, 1]);
        s.take(60, vec![(0, look(0, 60, vec![])), (1, Err(NvmlError::Timeout))], None, &feed);
        assert_eq!(s.due(), [0]);
        s.take(70, vec![(0, look(0, 70, vec![]))], None, &feed);
        s.take(80, vec![(0, look(0, 80, vec![]))], None, &feed);
        // Tick 9: back, its unsupported field not noted again.
        assert_eq!(s.due(), [0, 1]);
        s.take(90, vec![(0, look(0, 90, vec![])), (1, look(1, 90, power()))], None, &feed);

        let lost = "degraded: GPU 1 (GPU-1) dropped from the readings (device fell off the bus or has otherwise become inacessible); retried every 3 ticks";
        let timed_out = "degraded: GPU 1 (GPU-1) dropped from the readings (the provided timeout was reached); retried every 3 ticks";
        assert_eq!(
            shape(&feed),
            [
                "readings 0@10 1@10",
                "degraded: GPU 1 (GPU-1) does not support power limit: left empty",
                "readings 0@20 1@20",
                "readings 0@30",
                lost,
                "readings 0@40",
                "readings 0@50",
                "readings 0@60",
                timed_out,
                "readings 0@70",
                "readings 0@80",
                "readings 0@90 1@90",
                "Up",
            ]
        );
        assert_eq!(s.stats, NvmlStats { ticks: 9, readings: 12, gaps: 0 });
    }

    #[test]
    fn no_permission_is_degraded_with_the_fix_and_stalls_and_blank_ticks_are_gaps() {
        let feed = Feed::new(256);
        let mut s = State::new("nvml".into(), "h".into(), 2);
        s.gpus = 1;
        let denied = || vec![("compute processes", NvmlError::NoPermission)];
        s.take(10, vec![(0, look(0, 10, denied()))], None, &feed);
        s.take(20, vec![(0, look(0, 20, denied()))], None, &feed);
        // Stalled: a gap between the last reading and the next.
        s.take(90, vec![(0, look(0, 90, vec![]))], Some(Duration::from_millis(10)), &feed);
        // The only GPU unknown for two ticks: a gap over them.
        s.take(100, vec![(0, Err(NvmlError::Unknown))], None, &feed);
        assert!(s.due().is_empty());
        s.take(110, vec![], None, &feed);
        assert_eq!(s.due(), [0]);
        s.take(120, vec![(0, look(0, 120, vec![]))], None, &feed);
        let got = shape(&feed);
        assert_eq!(got.len(), 10, "{got:#?}");
        assert_eq!(got[0], "readings 0@10");
        assert!(
            got[1].starts_with("degraded: GPU 0 (GPU-0): compute processes: no permission; fix:") && got[1].contains("/dev/nvidia"),
            "{}",
            got[1]
        );
        assert_eq!(got[2], "readings 0@20");
        assert_eq!(got[3], "gap 20..90: ticks missed: the process was stalled for more than 2 intervals of 10ms");
        assert_eq!(got[4..6], ["readings 0@90", "Up"]);
        assert!(got[6].starts_with("degraded: GPU 0 (GPU-0) dropped from the readings (an internal driver error occurred)"), "{}", got[6]);
        assert_eq!(got[7..], ["gap 90..120: no GPU could be read", "readings 0@120", "Up"]);
        assert_eq!(s.stats, NvmlStats { ticks: 6, readings: 4, gaps: 2 });
    }

    /// On a machine without the NVIDIA driver, one `Down` naming the library
    /// and the fix, and the run ends by itself; with the driver, readings.
    #[tokio::test]
    async fn run_is_down_without_nvml_and_reads_with_it() {
        let feed = Feed::new(1024);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let src = NvmlSource { host: Some("node-1".into()), ..NvmlSource::new(Duration::from_millis(20)) };
        let task = tokio::spawn(src.run(feed.clone(), stopped));
        if Recorder::start().is_err() {
            let stats = tokio::time::timeout(Duration::from_secs(10), task).await.expect("returns promptly").unwrap();
            let got = feed.drain();
            let [Event::Health { source, health: Health::Down(m) }] = &got[..] else { panic!("{got:#?}") };
            assert_eq!(source, "nvml");
            assert!(m.contains("libnvidia-ml.so.1") && m.contains("Fix:"), "{m}");
            assert_eq!(stats, NvmlStats::default());
        } else {
            let mut readings = Vec::new();
            let wait = async {
                while readings.len() < 2 {
                    match feed.next().await {
                        Some(Event::Readings { readings: r, .. }) => readings.push(r),
                        Some(Event::Health { health: Health::Down(m), .. }) => panic!("NVML started here, yet: {m}"),
                        Some(_) => {}
                        None => break,
                    }
                }
            };
            tokio::time::timeout(Duration::from_secs(10), wait).await.expect("readings within 10 s");
            stop.send(true).unwrap();
            let stats = task.await.unwrap();
            assert!(stats.ticks >= 2 && stats.readings >= 2, "{stats:?}");
            for r in readings.iter().flatten() {
                assert_eq!(r.host, "node-1");
                assert!(r.uuid.as_deref().is_some_and(|u| u.starts_with("GPU-") || u.starts_with("MIG-")), "{r:?}");
                assert!(r.sample.get(F::MemTotal).is_some_and(|m| m > 0.0), "{r:?}");
            }
            assert!(readings[1][0].sample.time_ns > readings[0][0].sample.time_ns);
        }
    }

    /// A library path that is nowhere is down on every machine.
    #[tokio::test]
    async fn run_with_a_library_that_is_nowhere_is_down_once_and_ends() {
        let feed = Feed::new(16);
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let src = NvmlSource { library: Some("/nonexistent/libnvidia-ml.so.1".into()), ..NvmlSource::new(Duration::from_millis(5)) };
        let stats = tokio::time::timeout(Duration::from_secs(10), src.run(feed.clone(), stopped)).await.expect("returns promptly");
        let got = shape(&feed);
        assert_eq!(got.len(), 1, "{got:#?}");
        assert!(got[0].starts_with("Down(\"NVML cannot start (") && got[0].contains("libnvidia-ml.so.1"), "{}", got[0]);
        assert_eq!(stats, NvmlStats::default());
    }
}
