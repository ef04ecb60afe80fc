//! Runs in the background: a live run streaming what it records, and the
//! finished runs the Compare and What-if screens ask for.
//!
//! Each job runs on its own thread and reports through the app's channel as
//! [`Message`]s tagged with the job's id, so a cancelled job's last words
//! are recognised and dropped. The UI thread never waits for a job.

use crate::Message;
use crate::live::{Delta, LogLine, PoolPoint, RunInfo, ServicePoint};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
use twin_inputs::Loaded;
use twin_sim::metrics::{LatencyHistogram, Summary};
use twin_sim::placement::Placement;
use twin_sim::policy::PolicyHook;
use twin_sim::time::SimTime;
use twin_sim::{Run, RunOptions};

/// Makes the placement for a scenario that names an external scheduler
/// (the `twin` binary starts the process); `Ok(None)` means the scenario's
/// own scheduler.
pub type PlacementFactory = Arc<dyn Fn(&Loaded) -> Result<Option<Box<dyn Placement + Send>>, String> + Send + Sync>;

/// How fast a live run goes: simulated seconds per wall second, or as fast
/// as it can.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// This many simulated seconds per wall second.
    Times(f64),
    /// As fast as the engine goes.
    Max,
}

impl Speed {
    /// The speeds `+` and `-` step through.
    pub const STEPS: [Speed; 8] = [
        Speed::Times(1.0),
        Speed::Times(10.0),
        Speed::Times(100.0),
        Speed::Times(1_000.0),
        Speed::Times(10_000.0),
        Speed::Times(100_000.0),
        Speed::Times(1_000_000.0),
        Speed::Max,
    ];

    /// One step faster (`up`) or slower.
    pub fn stepped(self, up: bool) -> Speed {
        let i = Speed::STEPS.iter().position(|s| *s == self).unwrap_or(Speed::STEPS.len() - 1);
        let j = if up { (i + 1).min(Speed::STEPS.len() - 1) } else { i.saturating_sub(1) };
        Speed::STEPS[j]
    }

    /// "100×", "max".
    pub fn label(self) -> String {
        match self {
            Speed::Max => "max".into(),
            Speed::Times(x) if x >= 1e6 => format!("{}M×", x / 1e6),
            Speed::Times(x) if x >= 1e3 => format!("{}k×", x / 1e3),
            Speed::Times(x) => format!("{x}×"),
        }
    }
}

/// What the UI tells a live run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Control {
    /// Go at this speed.
    Speed(Speed),
    /// Pause (`true`) or resume.
    Pause(bool),
    /// While paused, advance by one sample interval.
    Step,
}

/// A job in the background: its id, a way to steer it and a way to stop it.
#[derive(Debug)]
pub struct Handle {
    /// The id its messages carry.
    pub id: u64,
    control: Option<Sender<Control>>,
    cancel: Arc<AtomicBool>,
}

impl Handle {
    /// Asks the job to stop; it stops at its next step and says nothing more.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Steers a live run (ignored by other jobs).
    pub fn send(&self, c: Control) {
        if let Some(tx) = &self.control {
            let _ = tx.send(c);
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// What a run needs: the scenario with its files read, a seed and how to
/// build an external scheduler.
#[derive(Clone)]
pub struct RunRequest {
    /// The scenario.
    pub loaded: Arc<Loaded>,
    /// The seed.
    pub seed: u64,
    /// Placement for external schedulers.
    pub factory: Option<PlacementFactory>,
}

impl RunRequest {
    /// Builds the run with the scenario's policies and scheduler.
    pub fn build(&self, options: RunOptions) -> Result<Run, String> {
        let policy: Option<Box<dyn PolicyHook + Send>> = match &self.loaded.policies {
            Some(p) => Some(Box::new(p.compile().map_err(|e| e.to_string())?)),
            None => None,
        };
        let placement = match (&self.factory, &self.loaded.scenario.spec.scheduler.external) {
            (Some(f), Some(_)) => f(&self.loaded)?,
            (None, Some(_)) => return Err("this scenario names an external scheduler, which only the `twin` binary can start".into()),
            _ => None,
        };
        Run::with_extensions(&self.loaded.scenario, self.seed, options, placement, policy).map_err(|e| e.to_string())
    }
}

/// What a live run records: series and decisions, not requests or ledger lines.
pub fn live_options() -> RunOptions {
    RunOptions { record_requests: false, record_ledger: false, record_series: true, record_decisions: true }
}

/// Starts a live run: it streams a [`Delta`] each step, paced by its speed.
pub fn spawn_live(id: u64, req: RunRequest, speed: Speed, tx: Sender<Message>) -> Handle {
    let cancel = Arc::new(AtomicBool::new(false));
    let (ctx, crx) = std::sync::mpsc::channel();
    let stop = cancel.clone();
    std::thread::spawn(move || live(id, req, speed, &crx, &stop, &tx));
    Handle { id, control: Some(ctx), cancel }
}

/// Chunks a run at full speed is cut into: each ends in a [`Delta`].
pub const MAX_SPEED_CHUNKS: u64 = 500;
/// Wall time between deltas of a paced run.
const FRAME: Duration = Duration::from_millis(40);

fn live(id: u64, req: RunRequest, mut speed: Speed, controls: &Receiver<Control>, cancel: &AtomicBool, tx: &Sender<Message>) {
    let mut run = match req.build(live_options()) {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(Message::RunFailed { id, error: e });
            return;
        }
    };
    let mut watch = Watch::new(&run);
    if tx.send(Message::RunStarted { id, info: Box::new(watch.info.clone()) }).is_err() {
        return;
    }
    let horizon = run.horizon().as_nanos();
    let chunk = (horizon / MAX_SPEED_CHUNKS).max(1);
    let step = watch.step_ns.max(1);
    let mut paused = false;
    let mut last_wall = Instant::now();
    loop {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let mut step_once = false;
        loop {
            let c = if paused && !step_once {
                match controls.recv_timeout(Duration::from_millis(100)) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => {
                        if cancel.load(Ordering::Relaxed) {
                            return;
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            } else {
                controls.try_recv().ok()
            };
            match c {
                Some(Control::Speed(s)) => speed = s,
                Some(Control::Pause(p)) => {
                    paused = p;
                    last_wall = Instant::now();
                }
                Some(Control::Step) => step_once = true,
                None => break,
            }
        }
        let now = run.now().as_nanos();
        let target = if step_once {
            now.saturating_add(step)
        } else {
            match speed {
                Speed::Max => now.saturating_add(chunk),
                Speed::Times(x) => {
                    let elapsed = last_wall.elapsed();
                    if elapsed < FRAME {
                        std::thread::sleep(FRAME - elapsed);
                    }
                    let wall = last_wall.elapsed();
                    last_wall = Instant::now();
                    now.saturating_add((wall.as_secs_f64() * x * 1e9) as u64).max(now + 1)
                }
            }
        };
        run.advance_to(SimTime(target.min(horizon)));
        let delta = watch.delta(&mut run);
        if tx.send(Message::RunProgress { id, delta: Box::new(delta) }).is_err() {
            return;
        }
        if let Some(e) = run.error() {
            let _ = tx.send(Message::RunFailed { id, error: e.to_string() });
            return;
        }
        if target >= horizon {
            let done = match run.finish() {
                Ok(out) => Message::RunFinished { id, summary: Box::new(out.summary) },
                Err(e) => Message::RunFailed { id, error: e.to_string() },
            };
            let _ = tx.send(done);
            return;
        }
    }
}

/// What the worker remembers between deltas to turn the run's cumulative
/// counters into windows.
struct Watch {
    info: RunInfo,
    step_ns: u64,
    ttft: Vec<LatencyHistogram>,
    ttft_at: SimTime,
    busy: Vec<(f64, u128)>,
}

impl Watch {
    fn new(run: &Run) -> Watch {
        let f = run.fabric();
        let info = RunInfo::of(f);
        let step_ns = info.sample_interval_ns.max(run.horizon().as_nanos() / MAX_SPEED_CHUNKS);
        Watch {
            ttft: f.services().iter().map(|s| s.stats.ttft.clone()).collect(),
            ttft_at: run.now(),
            busy: f.pools().iter().map(|p| (p.stats.busy_gpu_secs, p.stats.gpu_ns)).collect(),
            info,
            step_ns,
        }
    }

    fn delta(&mut self, run: &mut Run) -> Delta {
        let obs = run.take_observations();
        let now = run.now();
        let f = run.fabric();
        let mut cost_by_capacity: Vec<(String, f64)> = Vec::new();
        for p in f.pools() {
            let c = f.ledger().pool_total(p.id).total().to_currency();
            let cap = p.capacity.as_str();
            match cost_by_capacity.iter_mut().find(|(k, _)| k == cap) {
                Some(e) => e.1 += c,
                None => cost_by_capacity.push((cap.to_string(), c)),
            }
        }
        let pools = f
            .pools()
            .iter()
            .zip(self.busy.iter_mut())
            .map(|(p, prev)| {
                let (busy, gpu_ns) = (p.stats.busy_gpu_secs, p.stats.gpu_ns);
                let d_ns = gpu_ns.saturating_sub(prev.1);
                let busy_share = (d_ns > 0).then(|| ((busy - prev.0) * 1e9 / d_ns as f64).clamp(0.0, 1.0));
                if d_ns > 0 {
                    *prev = (busy, gpu_ns);
                }
                PoolPoint { price: p.price.current(), stocked_out: p.stocked_out, busy_share }
            })
            .collect();
        let window_done = now.saturating_since(self.ttft_at).as_nanos() >= self.info.sample_interval_ns.max(1);
        let services = f
            .services()
            .iter()
            .zip(self.ttft.iter_mut())
            .map(|(s, prev)| {
                let p99 = if window_done {
                    let w = s.stats.ttft.since(prev);
                    *prev = s.stats.ttft.clone();
                    (w.count() > 0).then(|| w.quantile_secs(0.99))
                } else {
                    None
                };
                ServicePoint { p99_ttft_s: p99, attainment: attainment(s) }
            })
            .collect();
        if window_done {
            self.ttft_at = now;
        }
        let mut log: Vec<LogLine> = obs.decisions.iter().filter(|d| LogLine::worth_showing(d)).map(LogLine::of).collect();
        for s in &obs.service_series {
            if s.dropped > 0 {
                log.push(LogLine::drops(s, &self.info));
            }
        }
        log.sort_by_key(|l| l.time_ns);
        Delta {
            now_s: now.as_secs_f64(),
            events: run.events_handled(),
            cost_by_capacity,
            pools,
            services,
            pool_series: obs.pool_series,
            service_series: obs.service_series,
            decisions: obs.decisions,
            log,
        }
    }
}

fn attainment(s: &twin_sim::workload::Service) -> f64 {
    let st = &s.stats;
    let ended = st.finished + st.dropped.iter().sum::<u64>();
    if ended == 0 { 1.0 } else { st.slo_met as f64 / ended as f64 }
}

/// Runs a scenario to the end without pacing (Compare, What-if): the
/// summary and the decision trace, or why not. Stops early when `cancel`.
pub fn run_to_end(req: &RunRequest, cancel: &AtomicBool) -> Result<Option<(Summary, Vec<twin_sim::metrics::DecisionRecord>)>, String> {
    let options = RunOptions { record_requests: false, record_ledger: false, record_series: false, record_decisions: true };
    let mut run = req.build(options)?;
    let horizon = run.horizon().as_nanos();
    let mut decisions = Vec::new();
    for i in 1..=MAX_SPEED_CHUNKS {
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        run.advance_to(SimTime((u128::from(horizon) * u128::from(i) / u128::from(MAX_SPEED_CHUNKS)) as u64));
        decisions.extend(run.take_observations().decisions);
        if run.error().is_some() {
            break;
        }
    }
    let out = run.finish().map_err(|e| e.to_string())?;
    Ok(Some((out.summary, decisions)))
}

/// Starts a job that runs `f` on its own thread and sends what it returns
/// (nothing when cancelled).
pub fn spawn_job(id: u64, tx: Sender<Message>, f: impl FnOnce(&AtomicBool) -> Option<Message> + Send + 'static) -> Handle {
    let cancel = Arc::new(AtomicBool::new(false));
    let stop = cancel.clone();
    std::thread::spawn(move || {
        if let Some(m) = f(&stop)
            && !stop.load(Ordering::Relaxed)
        {
            let _ = tx.send(m);
        }
    });
    Handle { id, control: None, cancel }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_step_and_stop_at_the_ends() {
        assert_eq!(Speed::Times(1.0).stepped(false), Speed::Times(1.0));
        assert_eq!(Speed::Max.stepped(true), Speed::Max);
        assert_eq!(Speed::Times(10.0).stepped(true), Speed::Times(100.0));
        assert_eq!(Speed::Times(1_000_000.0).stepped(true), Speed::Max);
        assert_eq!(Speed::Times(1000.0).label(), "1k×");
        assert_eq!(Speed::Max.label(), "max");
    }
}
